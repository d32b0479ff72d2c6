"""Helpers for lesson 07 (Conv2D in real pipelines, ``notebooks/07-data-pipelines.ipynb``).

- :func:`write_image_folder`: a small labelled folder of PNG images, drawn here
  (nothing is downloaded), laid out the way
  ``keras.utils.image_dataset_from_directory`` expects: one sub-folder per class.
- :func:`conv_transpose_output_size`: the output size of ``Conv2DTranspose``
  along one axis, the rule Keras applies (pure arithmetic, no TensorFlow).
  Lesson 07 checks it against the real layer.
"""

from __future__ import annotations

import pathlib

import numpy as np

from convclinic.shapes import (
    conv_output_size,
    effective_kernel_size,
    normalize_padding,
    positive_int,
)

__all__ = ["write_image_folder", "conv_transpose_output_size"]

CLASSES = ("circle", "square")


def _draw(kind, size, rng):
    """One grayscale ``(size, size)`` uint8 picture: a bright circle or square on noise."""
    image = rng.integers(0, 40, size=(size, size)).astype(np.float64)
    centre = rng.uniform(size * 0.35, size * 0.65, size=2)
    radius = rng.uniform(size * 0.18, size * 0.3)
    rows, cols = np.mgrid[0:size, 0:size]
    if kind == "circle":
        inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    else:
        inside = (abs(rows - centre[0]) <= radius) & (abs(cols - centre[1]) <= radius)
    image[inside] = rng.integers(180, 256)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_image_folder(root, per_class=6, size=28, seed=0, mode="L"):
    """Write ``per_class`` PNGs of each class into ``root/<class>/`` and return ``root``.

    Lesson 07 and exercise 07: the folder a learner points
    ``image_dataset_from_directory`` at. The files are 8-bit PNGs of ``size`` x
    ``size`` pixels, grayscale (``mode="L"``) or colour (``mode="RGB"``: the same
    picture tinted), classes ``circle`` and ``square``. The same arguments write
    the same files.
    """
    from PIL import Image

    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
    root = pathlib.Path(root)
    rng = np.random.default_rng(seed)
    tint = np.array([1.0, 0.8, 0.6])
    for kind in CLASSES:
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            picture = _draw(kind, size, rng)
            if mode == "RGB":
                picture = np.rint(picture[..., np.newaxis] * tint).astype(np.uint8)
            Image.fromarray(picture).save(folder / f"{kind}-{index}.png")
    return root


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
    ``ValueError``, as the real layer does when it runs.
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

