"""A learner's Keras model as data, for assignments 05 and 06 (lessons 05-06).

Kernel side, :func:`record_model`: the core record
(:func:`convclinic.judging.kernel.model_record`: config, weights, compile config)
of a Keras 3 model, plus whether a layer was given ``input_shape=`` (Keras 3
keeps that argument as ``_input_shape_arg``; assignment 05 asks for a
``keras.Input`` instead). It records, never judges.

Clean side: the model is rebuilt by :func:`convclinic.judging.truth.rebuild_model`
(``safe_mode``, default ``keras.config``); :func:`layers_of` lists its layers with
nested models expanded.
"""

from __future__ import annotations


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


def layers_of(model):
    """Every layer of ``model``, nested models expanded (in order)."""
    result = []
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers") and layer.layers:
            result.extend(layers_of(layer))
        else:
            result.append(layer)
    return result
