"""Pictures for lessons 01 and 02: grayscale crops of the sample photo, TF's SAME padding.

- :func:`grayscale_images`: a batch of real grayscale pictures as an image
  loader gives them, ``(N, H, W)`` ``uint8`` (lesson 01, "A grayscale batch").
  They are cut from the photo of :func:`convclinic.plots.load_photo`, which
  ships with matplotlib: nothing is downloaded.
- :func:`draw_same_padding`: TF's SAME padding beside a symmetric split
  (lesson 02). Like every drawing in :mod:`convclinic.plots` it is a plain
  :class:`matplotlib.figure.Figure` with an Agg canvas: no pyplot state, so it
  works headless, in Voila and in the handouts.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import numpy as np

from convclinic.shapes import conv_output_size, same_padding

__all__ = ["grayscale_images", "draw_same_padding"]

#: ITU-R BT.601 luma weights: RGB -> grey as most image loaders compute it.
LUMA = np.array([0.299, 0.587, 0.114])


def grayscale_images(count=4, size=28):
    """``count`` grayscale crops of the sample photo, shape ``(count, size, size)``, uint8.

    Lesson 01: this is what most image loaders hand you for grayscale pictures:
    no channel axis and integer pixels. The photo is block-averaged 4x4
    (600x512 -> 150x128) and cut along a diagonal, so the crops differ.
    """
    from convclinic.plots import load_photo

    gray = load_photo()[..., :3].astype(np.float64) @ LUMA
    step = 4
    height, width = (gray.shape[0] // step) * step, (gray.shape[1] // step) * step
    small = gray[:height, :width].reshape(height // step, step, width // step, step).mean(axis=(1, 3))
    rows = np.linspace(0, small.shape[0] - size, count).astype(int)
    cols = np.linspace(0, small.shape[1] - size, count).astype(int)[::-1]
    crops = [small[r : r + size, c : c + size] for r, c in zip(rows, cols, strict=True)]
    return np.clip(np.rint(np.stack(crops)), 0, 255).astype(np.uint8)


def _new_figure(figsize):
    """A pyplot-free Figure that IPython shows as PNG (:mod:`convclinic.plots.render`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from convclinic.plots.render import enable_notebook_display

    figure = Figure(figsize=figsize, dpi=72)
    FigureCanvasAgg(figure)
    enable_notebook_display()
    return figure


def _draw_padded_grid(axis, size, before, after, kernel, stride):
    """One panel: the input (grey), hatched padding cells, the first and last kernel windows."""
    from matplotlib.patches import Rectangle

    padded = size + before + after
    for r in range(padded):
        for c in range(padded):
            inside = before <= r < before + size and before <= c < before + size
            axis.add_patch(
                Rectangle((c, r), 1, 1, facecolor="#dddddd" if inside else "white",
                          hatch=None if inside else "///", edgecolor="#999999", lw=0.5)
            )
    outputs = conv_output_size(padded, kernel, stride)  # "valid" over the padded input
    for index, style in ((0, "-"), (outputs - 1, "--")):
        axis.add_patch(
            Rectangle((index * stride, 0), kernel, kernel, fill=False, edgecolor="#0072B2",
                      lw=2.5, linestyle=style)
        )
    axis.set_xlim(-0.2, padded + 0.2)
    axis.set_ylim(padded + 0.2, -0.2)
    axis.set_aspect("equal")
    axis.axis("off")
    return outputs


def draw_same_padding(size=6, kernel=3, stride=2):
    """Draw TF's SAME padding beside a symmetric split, for a ``size`` x ``size`` input (lesson 02).

    (``convclinic.plots.draw_conv`` draws TF's padding alone, with the output map.)

    Left: TensorFlow, where the odd padding row/column goes at the bottom/right
    (:func:`convclinic.shapes.same_padding`). Right: a symmetric split, as
    PyTorch's ``padding=1`` does. Padding cells are hatched; the first and last
    kernel windows along the top row are outlined. Returns the figure.
    """
    before, after = same_padding(size, kernel, stride)
    symmetric = (before + after + 1) // 2
    layouts = [
        (f"TensorFlow SAME: pad {before} before, {after} after", before, after),
        (f"symmetric (PyTorch padding={symmetric}): {symmetric} each side", symmetric, symmetric),
    ]
    figure = _new_figure((8, 4))
    axes = figure.subplots(1, 2)
    for axis, (title, top, bottom) in zip(axes, layouts, strict=True):
        outputs = _draw_padded_grid(axis, size, top, bottom, kernel, stride)
        axis.set_title(f"{title}\n{outputs}x{outputs} outputs", fontsize=9)
    figure.tight_layout()
    return figure
