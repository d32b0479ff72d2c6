"""Fixes in machine form: input transforms and config changes that ``Report.apply_fix`` applies.

Each ``*_fix`` returns a function of the input array (what the fix text
says in code: ``np.expand_dims``, ``np.transpose``, a cast...). Layout
permutations come from :func:`convclinic.shapes.layout_permutation`
(lesson 04); :func:`rebuild` makes a new model from a config with changes
(lesson 02: a Dense rebuilt for the size it now receives).
"""

from __future__ import annotations

import numpy as np

from convclinic import shapes

__all__ = ["expand_fix", "two_axes_fix", "transpose_fix", "repeat_fix", "slice_fix",
           "gray_fix", "cast_fix", "merge_leading_fix", "squeeze_fix", "to_layout",
           "format_config_fix", "rebuild"]


def _as_array(x):
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def expand_fix(axis, repeat=None):
    def fix(x):
        out = np.expand_dims(_as_array(x), axis)
        return np.repeat(out, repeat, axis=axis) if repeat else out

    return fix


def two_axes_fix(channel_axis):
    def fix(x):
        return np.expand_dims(np.expand_dims(_as_array(x), 0), channel_axis)

    return fix


def transpose_fix(perm):
    def fix(x):
        return np.transpose(_as_array(x), perm)

    return fix


def repeat_fix(count, axis):
    def fix(x):
        return np.repeat(_as_array(x), count, axis=axis)

    return fix


def slice_fix(count):
    def fix(x):
        return _as_array(x)[..., :count]

    return fix


def gray_fix():
    def fix(x):
        return _as_array(x)[..., :3].mean(axis=-1, keepdims=True)

    return fix


def cast_fix(scale):
    def fix(x):
        out = _as_array(x).astype("float32")
        return out / 255.0 if scale else out

    return fix


def merge_leading_fix():
    """A batch of batches ``(A, B, H, W, C)`` -> one batch ``(A*B, H, W, C)``."""

    def fix(x):
        array = _as_array(x)
        return array.reshape((-1,) + array.shape[2:])

    return fix


def squeeze_fix(axis):
    def fix(x):
        return np.squeeze(_as_array(x), axis=axis)

    return fix


def to_layout(shape, source, target):
    """``shape`` moved from data format ``source`` to ``target`` (None stays None)."""
    if shape is None or len(shape) != 4:
        return shape
    return shapes.permute_shape(shape, shapes.layout_permutation(source, target))


def format_config_fix(ctx, data_format):
    """Every layer with a data_format set to ``data_format``, and the declared input moved."""
    names = [layer.name for layer in ctx.layers if hasattr(layer, "data_format")]
    if not names and ctx.failing is not None:
        names = [ctx.failing.name]
    if not names:
        return None
    fix = {name: {"data_format": data_format} for name in names}
    if ctx.is_model and ctx.declared is not None and len(ctx.declared) == 4:
        other = "channels_first" if data_format == "channels_last" else "channels_last"
        fix["__input_shape__"] = to_layout(ctx.declared, other, data_format)
    return fix


def rebuild(target, config_fix):
    """A new model/layer from ``target``'s config with ``config_fix`` applied (fresh weights)."""
    config = target.get_config()
    input_shape = config_fix.get("__input_shape__")
    if "layers" in config:
        for entry in config["layers"]:
            inner = entry.get("config", {})
            entry.pop("build_config", None)
            if entry.get("class_name") == "InputLayer" and input_shape is not None:
                key = "batch_shape" if "batch_shape" in inner else "batch_input_shape"
                inner[key] = tuple(input_shape)
            inner.update(config_fix.get(inner.get("name"), {}))
        config.pop("build_input_shape", None)
    else:
        config.update(config_fix.get(config.get("name"), {}))
    return type(target).from_config(config)
