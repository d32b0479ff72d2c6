"""The output size of ``Conv2DTranspose`` along one axis (lesson 07), as Keras computes it.

A transposed convolution runs a convolution's gradient, so its size rule is
the Conv2D rule of :mod:`convclinic.shapes.rules` read backwards; the check
that a Conv2D takes the result back uses that rule itself.
"""

from __future__ import annotations

from convclinic.shapes.rules import (
    conv_output_size,
    effective_kernel_size,
    normalize_padding,
    positive_int,
)

__all__ = ["conv_transpose_output_size"]


def conv_transpose_output_size(size, kernel, stride=1, padding="valid", output_padding=None,
                               dilation=1):
    """Output size of ``Conv2DTranspose`` along one axis (lesson 07, "Conv2DTranspose: output sizes").

    With ``output_padding=None`` (the default):

    - ``padding="same"``: ``size * stride``;
    - ``padding="valid"``: ``size * stride + max(k_eff - stride, 0)``, i.e.
      ``(size - 1) * stride + k_eff`` whenever the kernel is at least as wide as the stride;

    with an ``output_padding`` (which must be smaller than the stride):
    ``(size - 1) * stride + k_eff - 2 * pad + output_padding``, where ``pad`` is
    ``k_eff // 2`` for same and 0 for valid. ``k_eff = dilation * (kernel - 1) + 1``.
    A size that no Conv2D with the same settings takes back to ``size`` raises
    ``ValueError``, as the real layer does when it runs; an empty output (size
    1, an even kernel, same, ``output_padding=0``) is 0, as Keras returns it.

    >>> [conv_transpose_output_size(7, 3, 2, "same"), conv_transpose_output_size(7, 3, 2, "valid")]
    [14, 15]
    >>> conv_transpose_output_size(14, 3, 2, "same", output_padding=0)
    27
    """
    size, stride = positive_int(size, "size"), positive_int(stride, "strides")
    padding = normalize_padding(padding)
    k_eff = effective_kernel_size(kernel, dilation)
    if output_padding is None:
        if padding == "same":
            return size * stride
        return size * stride + max(k_eff - stride, 0)
    if not 0 <= output_padding < stride:
        raise ValueError(
            f"output_padding must be strictly less than strides: got {output_padding} for stride {stride}"
        )
    pad = k_eff // 2 if padding == "same" else 0
    out = (size - 1) * stride + k_eff - 2 * pad + output_padding
    if out == 0:
        # size 1, an even kernel, 'same', output_padding=0: Keras returns an EMPTY output
        # (shape (1, 0, 0, filters)) without raising
        return 0
    _check_reachable(out, size, kernel, stride, padding, dilation)
    return out


def _check_reachable(out, size, kernel, stride, padding, dilation):
    """A transposed convolution runs a convolution's gradient: a Conv2D with the same settings must
    take ``out`` back to ``size``, or TensorFlow refuses the call ("Size of out_backprop doesn't
    match computed"). It happens with an even kernel, padding='same' and output_padding=0."""
    try:
        back = conv_output_size(out, kernel, stride, padding, dilation) if out > 0 else None
    except ValueError:
        back = None
    if back != size:
        raise ValueError(
            f"no Conv2D with these settings takes {out} back to {size}: TensorFlow refuses this "
            f"output_padding when the layer runs. Use another output_padding (or None)."
        )

