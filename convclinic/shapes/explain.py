"""The numbered rules in words, with a setting's numbers filled in (lesson 00).

:func:`rule_text` is what lesson 00 prints under each question and what the
explorer widget of lessons 00-05 shows under its readout. The numbers come
from :mod:`convclinic.shapes.rules`; this module only writes them out.
"""

from __future__ import annotations

from convclinic.shapes.rules import (
    SPATIAL_NAMES,
    check_stride_dilation,
    conv2d_output_shape,
    conv_output_size,
    effective_kernel_size,
    normalize_data_format,
    normalize_padding,
    pair,
    same_padding,
    split_shape,
)

__all__ = ["rule_text"]

_SIDES = (("top", "bottom"), ("left", "right"))


def _rule_1(axis, k, d, kernel, dilation):
    """Rule 1 for one axis: only for the height, and for the width when it differs."""
    if axis == 1 and (k, d) == (kernel[0], dilation[0]):
        return []
    k_eff = effective_kernel_size(k, d)
    named = kernel[0] != kernel[1] or dilation[0] != dilation[1]
    suffix = f" ({SPATIAL_NAMES[axis]})" if named else ""
    return [f"Rule 1: k_eff = d*(k-1)+1 = {d}*({k}-1)+1 = {k_eff}{suffix}"]


def _valid_lines(name, n, k, s, d):
    """Rule 2 for one axis, or the negative difference that makes Keras raise."""
    k_eff = effective_kernel_size(k, d)
    try:
        out = conv_output_size(n, k, s, "valid", d)
    except ValueError:
        return [
            f"Rule 2 (valid), {name}: n - k_eff = {n} - {k_eff} = {n - k_eff} < 0: "
            f"the kernel covers more than the input, Keras raises."
        ]
    return [
        f"Rule 2 (valid), {name}: out = floor((n - k_eff)/s) + 1 = "
        f"floor(({n} - {k_eff})/{s}) + 1 = {out}"
    ]


def _same_lines(axis, n, k, s, d):
    """Rules 3 and 4 for one axis: the output size and TF's padding split."""
    name, (first, last) = SPATIAL_NAMES[axis], _SIDES[axis]
    k_eff = effective_kernel_size(k, d)
    out = conv_output_size(n, k, s, "same", d)
    before, after = same_padding(n, k, s, d)
    extra = f" (the extra one goes {last})" if after > before else ""
    return [
        f"Rule 3 (same), {name}: out = ceil(n/s) = ceil({n}/{s}) = {out}",
        f"Rule 4 (same), {name}: padding = max((out-1)*s + k_eff - n, 0) = "
        f"max(({out}-1)*{s} + {k_eff} - {n}, 0) = {before + after}: {first} {before}, "
        f"{last} {after}{extra}",
    ]


def _axis_lines(spatial, kernel, stride, dilation, mode):
    lines = []
    for axis, n in enumerate(spatial):
        k, s, d = kernel[axis], stride[axis], dilation[axis]
        lines += _rule_1(axis, k, d, kernel, dilation)
        name = SPATIAL_NAMES[axis]
        if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
            lines.append(f"{name}: size {n!r} is not a positive number of pixels.")
        elif mode == "valid":
            lines += _valid_lines(name, n, k, s, d)
        else:
            lines += _same_lines(axis, n, k, s, d)
    return lines


def _read(normalise, *args):
    try:
        return normalise(*args)
    except ValueError:
        return None


def _refuses(check, *args):
    try:
        check(*args)
    except ValueError:
        return True
    return False


def _numbers(input_shape, kernel_size, strides, dilation_rate, padding, data_format):
    """(spatial, kernel, stride, dilation, mode): ``None`` for what the rules cannot read."""
    kernel = _read(pair, kernel_size, "kernel_size")
    stride = _read(pair, strides, "strides")
    dilation = _read(pair, dilation_rate, "dilation_rate")
    mode = _read(normalize_padding, padding)
    data_format = _read(normalize_data_format, data_format)
    spatial = None
    if data_format is not None and len(input_shape) == 4:
        spatial = split_shape(input_shape, data_format)[1]
    return spatial, kernel, stride, dilation, mode


def rule_text(input_shape, filters=8, kernel_size=3, strides=1, dilation_rate=1,
              padding="valid", data_format="channels_last"):
    """Rules 1-5 with this setting's numbers filled in (lesson 00).

    The last line is what :func:`convclinic.shapes.conv2d_output_shape` predicts,
    or the message it raises.

    >>> print(rule_text((1, 28, 28, 1), kernel_size=3, strides=2, padding="same"))
    Rule 1: k_eff = d*(k-1)+1 = 1*(3-1)+1 = 3
    Rule 3 (same), height: out = ceil(n/s) = ceil(28/2) = 14
    Rule 4 (same), height: padding = max((out-1)*s + k_eff - n, 0) = max((14-1)*2 + 3 - 28, 0) = 1: top 0, bottom 1 (the extra one goes bottom)
    Rule 3 (same), width: out = ceil(n/s) = ceil(28/2) = 14
    Rule 4 (same), width: padding = max((out-1)*s + k_eff - n, 0) = max((14-1)*2 + 3 - 28, 0) = 1: left 0, right 1 (the extra one goes right)
    Predicted output shape: (1, 14, 14, 8)
    """
    input_shape = tuple(input_shape)
    lines = []
    spatial, kernel, stride, dilation, mode = _numbers(
        input_shape, kernel_size, strides, dilation_rate, padding, data_format
    )
    if None not in (kernel, stride, dilation):
        if _refuses(check_stride_dilation, stride, dilation):
            lines.append(
                f"Rule 5: strides > 1 together with dilation_rate > 1 is refused "
                f"(here strides={strides}, dilation_rate={dilation_rate})."
            )
        elif spatial is not None and mode is not None:
            lines += _axis_lines(spatial, kernel, stride, dilation, mode)
    try:
        prediction = conv2d_output_shape(
            input_shape, filters, kernel_size, strides, padding, dilation_rate, data_format
        )
    except ValueError as error:
        lines.append(f"The rules refuse this setting: {error}")
    else:
        lines.append(f"Predicted output shape: {prediction}")
    return "\n".join(lines)
