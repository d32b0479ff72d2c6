"""Read a real Keras layer as a :mod:`convclinic.shapes` spec, without importing Keras.

Lesson 06 (shape detective) traces a learner's model layer by layer with
:func:`convclinic.shapes.trace`; :func:`spec_from_layer` turns each Keras
layer into the matching spec. It is duck-typed: it reads only the layer's
class name, ``layer.get_config()`` and, for a built ``Dense``, the size of
its kernel, so it works for Keras 3 and for Keras 2 (``tf_keras``) alike and
this module never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

from convclinic.shapes.stack import (
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
    ZeroPadding2D,
)

__all__ = ["SameShape", "SAME_SHAPE_LAYERS", "spec_from_layer", "specs_from_layers"]

#: Keras layers (class names) whose output shape is their input shape.
SAME_SHAPE_LAYERS = (
    "Activation", "ReLU", "Dropout", "BatchNormalization", "LeakyReLU",
    "LayerNormalization", "Rescaling", "SpatialDropout2D",
)


@dataclass(frozen=True)
class SameShape:
    """A layer that keeps the shape (activation, dropout, normalisation...)."""

    name: str

    def output_shape(self, input_shape):
        return tuple(input_shape)


def _config(layer):
    try:
        return dict(layer.get_config())
    except Exception:  # noqa: BLE001 - a layer without a readable config has no spec
        return None


def _pairs(padding):
    """ZeroPadding2D's config padding as ((top, bottom), (left, right))."""
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    rows, cols = padding
    if isinstance(rows, int):
        return ((rows, rows), (cols, cols))
    return (tuple(rows), tuple(cols))


def _built_for(layer):
    """The input size a built Dense's weights were made for, or None when not built."""
    if not getattr(layer, "built", False):
        return None
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    return int(kernel.shape[0])


def spec_from_layer(layer):
    """The :mod:`convclinic.shapes` spec of a Keras layer, or ``None`` when there is none.

    Known layers: Conv2D, MaxPooling2D/AveragePooling2D, ZeroPadding2D,
    Flatten, Dense (``built_for`` is read from a built layer's kernel) and
    the shape-keeping layers of :data:`SAME_SHAPE_LAYERS`. Any other layer, or
    one whose config cannot be read, gives ``None``: a trace then cannot be
    made from the configs alone (lesson 06 falls back to running the model).
    """
    kind = type(layer).__name__
    config = _config(layer)
    if config is None:
        return None
    name = config.get("name") or getattr(layer, "name", None)
    fmt = config.get("data_format") or "channels_last"
    if kind == "Conv2D":
        return Conv2D(
            config["filters"], tuple(config["kernel_size"]), tuple(config["strides"]),
            config["padding"], tuple(config["dilation_rate"]), fmt, name=name,
        )
    if kind in ("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D"):
        strides = config.get("strides")
        return MaxPooling2D(
            tuple(config["pool_size"]), None if strides is None else tuple(strides),
            config["padding"], fmt, name=name,
        )
    if kind == "ZeroPadding2D":
        return ZeroPadding2D(_pairs(config["padding"]), fmt, name=name)
    if kind == "Flatten":
        return Flatten(name=name)
    if kind == "Dense":
        return Dense(config["units"], built_for=_built_for(layer), name=name)
    if kind in SAME_SHAPE_LAYERS:
        return SameShape(name)
    return None


def specs_from_layers(layers):
    """Specs for a list of Keras layers, or ``None`` when any layer has no spec."""
    specs = [spec_from_layer(layer) for layer in layers]
    if any(spec is None for spec in specs):
        return None
    return specs
