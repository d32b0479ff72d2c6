"""The NHWC photo of lesson 00: Grace Hopper's portrait, shipped inside matplotlib."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convclinic.plots.render import enable_notebook_display

__all__ = ["load_photo", "photo_batch", "draw_photo_axes"]


def load_photo():
    """Grace Hopper's portrait as a ``uint8`` array of shape (height, width, 3).

    The JPEG ships inside matplotlib (``sample_data/grace_hopper.jpg``): no download.
    Lesson 00 uses it to show the four axes of an NHWC tensor; lesson 01 feeds it
    to a Conv2D without its batch axis.
    """
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def photo_batch(dtype="float32"):
    """The photo as a batch of one: shape (1, height, width, 3), values in [0, 1] (lesson 00)."""
    photo = load_photo()
    if np.dtype(dtype).kind == "f":
        return (photo[None, ...] / 255.0).astype(dtype)
    return photo[None, ...].astype(dtype)


def draw_photo_axes(batch=None):
    """Lesson 00: the four axes of an NHWC tensor, drawn on a real photo.

    Panel 1 is the image with its height (axis 1) and width (axis 2) arrows;
    panels 2-4 are the three channels (axis 3), each in grey levels and
    labelled with its index, so nothing depends on seeing colour.
    """
    batch = photo_batch() if batch is None else np.asarray(batch)
    if batch.ndim != 4:
        raise ValueError(f"expected an NHWC batch (4 axes), got shape {batch.shape}")
    n, height, width, channels = batch.shape
    figure = Figure(figsize=(10, 3.3), dpi=72)
    FigureCanvasAgg(figure)
    enable_notebook_display()
    axes = figure.subplots(1, 1 + channels)
    figure.subplots_adjust(left=0.03, right=0.99, top=0.78, bottom=0.08, wspace=0.08)
    image = batch[0]
    shown = image if image.dtype.kind == "f" else image / 255.0
    axes[0].imshow(np.clip(shown, 0, 1))
    axes[0].set_xlabel(f"batch[0]: axis 0 = batch (N={n}), this is image 0", fontsize=8)
    axes[0].annotate("", xy=(width - 1, -0.06 * height), xytext=(0, -0.06 * height),
                     arrowprops=dict(arrowstyle="->", color="black"), annotation_clip=False)
    axes[0].text(width / 2, -0.09 * height, f"axis 2: width W={width}", ha="center",
                 va="bottom", fontsize=8)
    axes[0].annotate("", xy=(-0.04 * width, height - 1), xytext=(-0.04 * width, 0),
                     arrowprops=dict(arrowstyle="->", color="black"), annotation_clip=False)
    axes[0].text(-0.07 * width, height / 2, f"axis 1: height H={height}", ha="right",
                 va="center", rotation=90, fontsize=8)
    names = ("red", "green", "blue") if channels == 3 else tuple(str(c) for c in range(channels))
    for channel, ax in enumerate(axes[1:]):
        ax.imshow(image[..., channel], cmap="gray")
        ax.set_title(f"axis 3 = channel: batch[0, :, :, {channel}]\n({names[channel]})",
                     fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(f"NHWC: shape {tuple(batch.shape)} = (N, H, W, C)", fontsize=10)
    return figure
