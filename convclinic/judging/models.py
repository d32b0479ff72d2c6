"""A learner's Keras model as plain data, and back (assignments 05 and 06; lessons 05-06).

- kernel side, :func:`record_model`: ``model.to_json()``, the weights as arrays,
  the compile config (JSON text) and whether a layer was given ``input_shape=``
  (Keras 3 keeps it as ``_input_shape_arg``). It records, never judges.
- clean side, :func:`build_recorded`: the model rebuilt with
  ``keras.saving.deserialize_keras_object(..., safe_mode=True)`` (no code from the
  record runs: a ``Lambda`` layer is refused), its weights loaded and, on request,
  compiled from the recorded compile config. Every layer's config names its
  ``data_format`` and dtype policy, so the learner's global ``keras.config``
  never changes what is rebuilt. Anything malformed gives ``None``.
"""

from __future__ import annotations

import json

import numpy as np

MAX_JSON = 400_000


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def record_model(model):
    """Kernel side: the data of a Keras 3 model (TypeError for anything else)."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    if not isinstance(model, keras.Model):
        raise TypeError(f"returned {type(model).__name__}, not a Keras 3 model (keras.Sequential / keras.Model)")
    compile_config = None
    if getattr(model, "compiled", False) and getattr(model, "optimizer", None) is not None:
        try:
            compile_config = json.dumps(model.get_compile_config())
        except (TypeError, ValueError):
            compile_config = "unreadable"
    return {
        "json": model.to_json(),
        "weights": [np.asarray(weight) for weight in model.get_weights()],
        "compile": compile_config,
        "input_shape_arg": any(getattr(layer, "_input_shape_arg", None) is not None
                               for layer in _all_layers(model)),
    }


def build_recorded(recorded, with_weights=False):
    """Clean side: the rebuilt Keras model of a :func:`record_model` record, or None."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    if not isinstance(recorded, dict) or not isinstance(recorded.get("json"), str):
        return None
    if len(recorded["json"]) > MAX_JSON:
        return None
    try:
        model = keras.saving.deserialize_keras_object(json.loads(recorded["json"]), safe_mode=True)
        if not isinstance(model, keras.Model):
            return None
        if with_weights:
            weights = recorded.get("weights")
            if not isinstance(weights, list) or not all(isinstance(w, np.ndarray) for w in weights):
                return None
            model.set_weights(weights)
    except Exception:  # noqa: BLE001 - a record that does not rebuild is an unreadable answer
        return None
    return model


def compile_recorded(model, recorded):
    """Compile ``model`` like the learner's (True), or False when it was not compiled/unreadable."""
    text = recorded.get("compile") if isinstance(recorded, dict) else None
    if not isinstance(text, str) or len(text) > MAX_JSON:
        return False
    try:
        model.compile_from_config(json.loads(text))
    except Exception:  # noqa: BLE001 - an unreadable compile config is "not compiled like asked"
        return False
    return getattr(model, "optimizer", None) is not None


def layers_of(model):
    """Every layer of ``model``, nested models expanded (in order)."""
    result = []
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers") and layer.layers:
            result.extend(layers_of(layer))
        else:
            result.append(layer)
    return result
