"""Helpers for lesson 07 (Conv2D in real pipelines, ``notebooks/07-data-pipelines.ipynb``).

- :func:`write_image_folder`: a small labelled folder of PNG images, drawn here
  (nothing is downloaded), laid out the way
  ``keras.utils.image_dataset_from_directory`` expects: one sub-folder per class.

The ``Conv2DTranspose`` size rule that lesson 07 teaches lives with the other rules, in
:func:`convclinic.shapes.conv_transpose_output_size`.
"""

from __future__ import annotations

import pathlib

import numpy as np

__all__ = ["write_image_folder"]

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
