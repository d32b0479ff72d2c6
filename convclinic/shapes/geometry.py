"""Where a Conv2D's kernel lands: padding, output size, taps and coverage, as numbers.

:class:`ConvGeometry` is what lesson 00's playground, lesson 02 (TF's
asymmetric SAME padding) and lesson 03 (the sampling grid of stride and
dilation) draw: :mod:`convclinic.plots` turns it into pixels and computes
nothing of its own. Every number comes from :mod:`convclinic.shapes.rules`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from convclinic.shapes.rules import (
    SPATIAL_NAMES,
    check_stride_dilation,
    conv_output_size,
    effective_kernel,
    normalize_padding,
    pair,
    same_padding,
)

__all__ = ["ConvGeometry", "conv_geometry"]


@dataclass(frozen=True)
class ConvGeometry:
    """One Conv2D setting on a ``height`` x ``width`` input, per spatial axis (rows, cols).

    ``pad`` is ((top, bottom), (left, right)) (TF puts the odd pixel after),
    ``out`` the output size (``(0, 0)`` whenever Keras refuses the setting,
    and then ``error`` holds the message of :mod:`convclinic.shapes`),
    ``k_eff`` the effective kernel (rule 1; ``(0, 0)`` when the kernel itself
    is refused). ``padding`` is the padding drawn: ``"valid"`` when refused.
    """

    height: int
    width: int
    kernel: tuple
    strides: tuple
    dilation: tuple
    padding: str
    pad: tuple
    out: tuple
    k_eff: tuple
    error: str | None = None

    @property
    def ok(self):
        """True when Keras accepts the setting (the output is not empty)."""
        return self.error is None

    @property
    def padded(self):
        """(rows, cols) of the input with its padding."""
        (top, bottom), (left, right) = self.pad
        return self.height + top + bottom, self.width + left + right

    @property
    def tap_count(self):
        """Taps of one kernel window (rows x cols): the most real pixels an output can see."""
        return self.kernel[0] * self.kernel[1]

    @property
    def kernel_too_big(self):
        """Rule 2 fails: the (dilated) kernel is larger than the padded input on some axis."""
        return min(self.k_eff) > 0 and any(
            k > n for k, n in zip(self.k_eff, self.padded, strict=True)
        )

    def axis_taps(self, axis, index):
        """Input coordinates (padding is negative or >= size) of the taps of output ``index``."""
        start = index * self.strides[axis] - self.pad[axis][0]
        return tuple(start + self.dilation[axis] * tap for tap in range(self.kernel[axis]))

    def taps(self, row, col):
        """Input (rows, cols) the kernel taps of output position (row, col) land on."""
        return self.axis_taps(0, row), self.axis_taps(1, col)

    def centres(self, axis):
        """Input coordinate of the centre of every output position along ``axis``."""
        first = (self.k_eff[axis] - 1) / 2 - self.pad[axis][0]
        return tuple(first + index * self.strides[axis] for index in range(self.out[axis]))

    def axis_coverage(self, axis):
        """For each output position along ``axis``: how many taps land on real pixels."""
        size = (self.height, self.width)[axis]
        return tuple(
            sum(0 <= tap < size for tap in self.axis_taps(axis, index))
            for index in range(self.out[axis])
        )

    @functools.cached_property
    def coverage(self):
        """Rows x cols of taps on real pixels (not padding), one number per output cell.

        Lesson 02: equals a Keras all-ones Conv2D applied to an all-ones image;
        with ``same`` padding the border outputs see fewer real pixels, the
        extra bottom/right padding shows as a lower last row/column.
        """
        rows, cols = self.axis_coverage(0), self.axis_coverage(1)
        return tuple(tuple(r * c for c in cols) for r in rows)


def _arguments(kernel_size, strides, dilation_rate, padding):
    """The normalised arguments, or neutral ones and the first message refusing them."""
    error = None
    values = []
    for value, name, neutral in ((kernel_size, "kernel_size", (0, 0)), (strides, "strides", (1, 1)),
                                 (dilation_rate, "dilation_rate", (1, 1))):
        try:
            values.append(pair(value, name))
        except ValueError as exc:
            error = error or str(exc)
            values.append(neutral)
    try:
        padding = normalize_padding(padding)
    except ValueError as exc:
        error = error or str(exc)
        padding = "valid"
    if error is None:
        try:
            check_stride_dilation(values[1], values[2])
        except ValueError as exc:
            error = str(exc)
    return (*values, padding, error)


def conv_geometry(height, width, kernel_size=3, strides=1, dilation_rate=1, padding="valid"):
    """The :class:`ConvGeometry` of a setting; never raises for a refused one (``error`` says why).

    >>> g = conv_geometry(6, 6, 3, strides=2, padding="same")
    >>> g.pad, g.out, g.coverage
    (((0, 1), (0, 1)), (3, 3), ((9, 9, 6), (9, 9, 6), (6, 6, 4)))
    """
    kernel, strides, dilation, padding, error = _arguments(
        kernel_size, strides, dilation_rate, padding
    )
    k_eff = effective_kernel(kernel, dilation) if min(kernel) > 0 else (0, 0)
    if error is not None:
        padding = "valid"
    pads, outs = [], []
    for axis, n in enumerate((height, width)):
        args = (n, kernel[axis], strides[axis])
        pad, out = (0, 0), 0
        try:
            if padding == "same":
                pad = same_padding(*args, dilation[axis])
            if error is None:
                out = conv_output_size(*args, padding, dilation[axis])
        except ValueError as exc:
            error = error or f"{SPATIAL_NAMES[axis]}: {exc}"
        pads.append(pad)
        outs.append(out)
    if error is not None:
        outs = [0, 0]
    return ConvGeometry(
        height=height, width=width, kernel=kernel, strides=strides, dilation=dilation,
        padding=padding, pad=tuple(pads), out=tuple(outs), k_eff=k_eff, error=error,
    )
