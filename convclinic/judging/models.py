"""A learner's Keras model as data, for assignments 05-07 (lessons 05-07).

Kernel side, :func:`record_model`: the core record
(:func:`convclinic.judging.kernel.model_record`: config, weights, compile config)
of a Keras 3 model, plus whether a layer was given ``input_shape=`` (Keras 3
keeps that argument as ``_input_shape_arg``; assignment 05 asks for a
``keras.Input`` instead). It records, never judges.

Clean side: the model is rebuilt by :func:`convclinic.judging.truth.rebuild_model`
(``safe_mode``, default ``keras.config``); :func:`rebuilt` does it for a judge (or
fails the requirements that need the model); :func:`layers_of` lists its layers
with nested models expanded.
"""

from __future__ import annotations

from convclinic.judging.casework import error_text, hint_of


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def record_model(model):
    """Kernel side: the data of a Keras 3 model (TypeError for anything else)."""
    from convclinic.judging.kernel import model_record
    from convclinic.runtime import import_keras

    if not isinstance(model, import_keras().Model):
        raise TypeError(f"returned {type(model).__name__}, not a Keras 3 model (keras.Sequential / keras.Model)")
    record = model_record(model)
    record["input_shape_arg"] = any(getattr(layer, "_input_shape_arg", None) is not None
                                    for layer in _all_layers(model))
    return record


def rebuilt(verdicts, row, function, indices):
    """Clean side: ``(model, recorded)``, the learner's model rebuilt from the ``row``
    :func:`record_model` made of what ``function`` returned, or ``(None, None)`` after failing
    every requirement in ``indices`` (an error raised, or a model that cannot be rebuilt)."""
    from convclinic.judging.truth import ModelError, rebuild_model

    error = error_text(row, function)
    recorded = row.get("value") if isinstance(row, dict) else None
    if not error:
        try:
            return rebuild_model(recorded, compile=True), recorded
        except ModelError as problem:
            error = str(problem)
    for index in indices:
        verdicts.fail(index, error, hint_of(error))
    return None, None


def layers_of(model):
    """Every layer of ``model``, nested models expanded (in order)."""
    result = []
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers") and layer.layers:
            result.extend(layers_of(layer))
        else:
            result.append(layer)
    return result
