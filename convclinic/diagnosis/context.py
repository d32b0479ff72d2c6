"""What a diagnosis knows: the target, the input, the layers, and what the walk found.

Duck-typed on purpose (lesson 06 works for Keras 3 and Keras 2 objects): a
layer is anything with ``get_config``, ``built`` and a call; nothing here
imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convclinic import shapes

__all__ = ["Context", "context_for", "is_layer", "is_model", "is_conv", "is_legacy_object",
           "keras_for", "shape_of", "dtype_of", "looks_like_shape", "materialise",
           "model_layers", "CHANNEL_COUNTS"]

#: What an image's channel axis usually holds: grayscale, RGB, RGBA.
CHANNEL_COUNTS = (1, 3, 4)


@dataclass
class Context:
    """The evidence gathered for one diagnosis.

    ``trace`` is the real per-layer walk (a :class:`convclinic.shapes.Trace`
    of what Keras returned); ``predicted`` is the arithmetic trace of the
    layers' configs (:func:`convclinic.shapes.trace`), which says where the
    rules put the first failure even when Keras 2 runs on silently.
    """

    target: object = None
    legacy: bool = False
    x: object = None
    x_shape: tuple | None = None
    x_dtype: str | None = None
    declared: tuple | None = None  # the model's declared input shape, batch included
    layers: list = field(default_factory=list)  # non-input layers, in order
    failing: object = None  # the first failing layer (object), when found
    failing_input: tuple | None = None  # what it received
    init_args: dict | None = None  # a layer constructor's arguments (construct phase)
    trace: shapes.Trace | None = None
    predicted: shapes.Trace | None = None

    @property
    def is_model(self):
        return is_model(self.target)

    def layer_names(self):
        return [layer.name for layer in self.layers]

    def first_conv(self):
        return next((layer for layer in self.layers if is_conv(layer)), None)

    def first_format(self):
        conv = self.first_conv()
        return getattr(conv, "data_format", None) if conv is not None else None

    def layer_kind(self, name):
        """The class name of the layer called ``name``, or None."""
        return next((type(layer).__name__ for layer in self.layers if layer.name == name), None)

    def layer_named(self, name):
        return next((layer for layer in self.layers if layer.name == name), None)

    def predicted_step(self, name):
        """The arithmetic trace's row for layer ``name``, or None."""
        if self.predicted is None:
            return None
        return next((step for step in self.predicted.steps if step.name == name), None)


def is_layer(obj):
    return hasattr(obj, "get_config") and hasattr(obj, "built") and callable(obj)


def is_model(obj):
    return is_layer(obj) and any(
        cls.__name__ in ("Model", "Functional", "Sequential") for cls in type(obj).__mro__
    )


def is_conv(layer):
    return hasattr(layer, "kernel_size") and hasattr(layer, "filters")


def is_legacy_object(obj):
    return type(obj).__module__.startswith("tf_keras")


def keras_for(legacy):
    from convclinic.runtime import import_keras

    return import_keras(legacy=legacy)


def shape_of(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        try:
            shape = shape.as_list()
        except ValueError:
            return None
    return tuple(None if v is None else int(v) for v in shape)


def dtype_of(x):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return None
    return str(getattr(dtype, "name", None) or dtype)


def looks_like_shape(x):
    if hasattr(x, "as_list") and not hasattr(x, "dtype"):  # tf.TensorShape
        return True
    return (
        isinstance(x, tuple | list)
        and len(x) <= 8
        and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in x)
    )


def materialise(x):
    """An input array for ``x``: arrays and tensors as they are, a shape made concrete."""
    if x is None:
        return None
    if looks_like_shape(x):
        from convclinic.probe import make_input

        dims = list(x.as_list()) if hasattr(x, "as_list") else list(x)
        return make_input(tuple(1 if v is None else v for v in dims))
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    return np.asarray(x)


def declared_input(model):
    try:
        inputs = model.inputs
    except Exception:  # noqa: BLE001 - an unbuilt Sequential has none
        return None
    if not inputs or len(inputs) != 1:
        return None
    return shape_of(inputs[0])


def model_layers(model):
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def context_for(target, x):
    """A :class:`Context` for ``target`` (model, layer or None) run on ``x``."""
    ctx = Context(target=target)
    if target is not None:
        ctx.legacy = is_legacy_object(target)
        if is_model(target):
            ctx.declared = declared_input(target)
            ctx.layers = model_layers(target)
        elif is_layer(target):
            ctx.layers = [target]
    if x is not None:
        ctx.x = materialise(x)
        ctx.x_shape = shape_of(ctx.x)
        ctx.x_dtype = dtype_of(ctx.x)
    return ctx
