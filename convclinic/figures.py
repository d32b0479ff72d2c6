"""Explanatory pictures for lessons 00, 01 and 04, where prose struggles.

- :func:`draw_phases` (lesson 00, "Three phases: construct, build, call"): what
  exists after each phase of a layer's life, and which error each phase raises.
- :func:`draw_number_map` (lesson 00, "Trace 3: stride"): a small output map with
  its numbers written in the cells (the 9/6/4 of TF's SAME padding).
- :func:`draw_axis_readings` (lesson 01, "One image without its batch axis"): one
  shape read two ways, axis by axis, e.g. ``(28, 28, 1, 1)`` meant as one image
  and read by the model as a batch of 28 images 1 pixel wide.
- :func:`photo_thumbnail` and :func:`draw_misread_image` (lesson 04, "The failure,
  live"): the real photo as an NHWC image, and the 28 x 3 "pictures" a
  channels_first layer sees in it.
- :func:`grayscale_images` (lesson 01, "A grayscale batch"): grayscale crops of the
  sample photo, ``(N, H, W)`` uint8, as an image loader gives them.
- :func:`draw_same_padding` (lesson 02): TF's SAME padding beside a symmetric split.

Every function draws numbers it is GIVEN, reads from the array it is given, or asks
:mod:`convclinic.shapes`: none of them computes a Conv2D rule itself, so a picture cannot disagree with the real
layer the lesson ran. Figures are plain :class:`matplotlib.figure.Figure` objects
with an Agg canvas (no pyplot state), shown by IPython as PNG. Importing this
module does not import TensorFlow.
"""

from __future__ import annotations

import numpy as np

from convclinic.plots.render import OKABE_ITO
from convclinic.shapes import conv_output_size, same_padding

__all__ = [
    "PHASES",
    "draw_phases",
    "draw_number_map",
    "draw_axis_readings",
    "photo_thumbnail",
    "draw_misread_image",
    "grayscale_images",
    "draw_same_padding",
]

#: The three phases of a Keras layer's life, as lesson 00 teaches them:
#: (name, the code that triggers it, what exists afterwards, an error raised there).
PHASES = (
    ("1. construct", "conv = layers.Conv2D(8, 3)",
     "the arguments are checked;\nno weights yet: conv.weights == []",
     "strides=2 with dilation_rate=2"),
    ("2. build", "first call: conv(x)",
     "the input shape is known:\nkernel (3, 3, C, 8) and bias (8,)\nare created",
     "a kernel larger than the input"),
    ("3. call", "every call: conv(x)",
     "the convolution runs\non the numbers",
     "uint8 pixels into a float32 kernel"),
)


def _new_figure(figsize):
    """A pyplot-free Figure that IPython shows as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from convclinic.plots.render import enable_notebook_display

    figure = Figure(figsize=figsize, dpi=72)
    FigureCanvasAgg(figure)
    enable_notebook_display()
    return figure


def draw_phases(phases=PHASES):
    """Lesson 00: three boxes, construct -> build -> call, with what exists after each.

    Each box names the code that triggers the phase, what exists afterwards and one
    failure that happens there (the lesson pins each of those in a contract test).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    figure = _new_figure((10, 3.2))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, 3 * 3.4)
    axis.set_ylim(0, 3.2)
    axis.axis("off")
    colours = (OKABE_ITO["sky_blue"], OKABE_ITO["orange"], OKABE_ITO["green"])
    for index, ((name, code, exists, failure), colour) in enumerate(zip(phases, colours, strict=True)):
        left = 0.15 + index * 3.4
        axis.add_patch(FancyBboxPatch((left, 0.25), 2.9, 2.7, boxstyle="round,pad=0.05",
                                      facecolor=colour, alpha=0.25, edgecolor=colour, lw=2))
        axis.text(left + 1.45, 2.7, name, ha="center", va="center", fontsize=12, weight="bold")
        axis.text(left + 1.45, 2.3, code, ha="center", va="center", fontsize=9, family="monospace")
        axis.text(left + 1.45, 1.45, exists, ha="center", va="center", fontsize=9)
        axis.text(left + 1.45, 0.5, f"fails here: {failure}", ha="center", va="center",
                  fontsize=8, style="italic", wrap=True)
        if index < len(phases) - 1:
            axis.add_patch(FancyArrowPatch((left + 3.0, 1.6), (left + 3.5, 1.6),
                                           arrowstyle="-|>", mutation_scale=18, color="black"))
    return figure


def draw_number_map(values, title, labels=None):
    """Lesson 00: a small 2-D array drawn as a grid with each number written in its cell.

    ``values`` is what the real layer returned (for example the output of a kernel of
    ones), ``labels`` an optional ``(row label, column label)`` pair.
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of numbers, got shape {values.shape}")
    rows, cols = values.shape
    figure = _new_figure((1.2 + 0.8 * cols, 1.0 + 0.8 * rows))
    axis = figure.subplots()
    axis.imshow(values, cmap="cividis", vmin=0, vmax=max(float(values.max()), 1.0))
    middle = (float(values.max()) + float(values.min())) / 2
    for r in range(rows):
        for c in range(cols):
            number = values[r, c]
            text = f"{number:g}" if np.issubdtype(values.dtype, np.floating) else str(number)
            axis.text(c, r, text, ha="center", va="center", fontsize=14,
                      color="black" if number > middle else "white", weight="bold")
    axis.set_xticks(range(cols))
    axis.set_yticks(range(rows))
    if labels:
        axis.set_ylabel(labels[0])
        axis.set_xlabel(labels[1])
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def draw_axis_readings(shape, readings):
    """Lesson 01: one shape, read axis by axis in several ways.

    ``readings`` maps a row label to one name per axis, e.g.
    ``{"you meant": ["height", "width", "channels", "(added)"],
    "the Conv2D reads": ["batch", "height", "width", "channels"]}``. Columns whose
    names differ between the first and the last row are outlined in orange.
    """
    from matplotlib.patches import Rectangle

    shape = tuple(shape)
    rows = list(readings.items())
    if any(len(names) != len(shape) for _, names in rows):
        raise ValueError("every reading needs one name per axis of the shape")
    figure = _new_figure((2.2 + 1.9 * len(shape), 0.9 + 0.7 * (len(rows) + 1)))
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(-2.2, 1.9 * len(shape))
    axis.set_ylim(-(len(rows) + 1) - 0.2, 0.8)
    axis.axis("off")
    first, last = rows[0][1], rows[-1][1]
    for column, size in enumerate(shape):
        left = column * 1.9
        changed = first[column] != last[column]
        axis.add_patch(Rectangle((left, -len(rows) - 0.9), 1.7, len(rows) + 1.5, fill=False,
                                 edgecolor=OKABE_ITO["orange"] if changed else "#999999",
                                 lw=3 if changed else 1))
        axis.text(left + 0.85, 0.2, f"axis {column}: {size}", ha="center", va="center",
                  fontsize=11, weight="bold")
        for row, (_, names) in enumerate(rows, start=1):
            axis.text(left + 0.85, -row, names[column], ha="center", va="center", fontsize=10)
    axis.text(-0.2, 0.2, f"shape {shape}", ha="right", va="center", fontsize=10, weight="bold")
    for row, (label, _) in enumerate(rows, start=1):
        axis.text(-0.2, -row, label, ha="right", va="center", fontsize=10, style="italic")
    return figure


def photo_thumbnail(size=28):
    """Lesson 04: the sample photo's face as one NHWC image, shape ``(1, size, size, 3)``, in [0, 1].

    A square crop of the photo, block-averaged down to ``size`` x ``size`` pixels.
    """
    from convclinic.plots import load_photo

    photo = load_photo().astype(np.float64) / 255.0
    side = min(photo.shape[:2]) // size * size
    top = (photo.shape[0] - side) // 2
    left = (photo.shape[1] - side) // 2
    crop = photo[top : top + side, left : left + side]
    step = side // size
    small = crop.reshape(size, step, size, step, 3).mean(axis=(1, 3))
    return small[None].astype("float32")


def draw_misread_image(image, shown=6):
    """Lesson 04: an NHWC image beside what a channels_first layer reads in it.

    ``image`` has shape ``(1, H, W, C)``. Read as channels_first it is ``H``
    "channels", each a picture of ``W`` rows and ``C`` columns: channel ``i`` is
    row ``i`` of the photo, its colour values laid out as 3 columns. The first
    ``shown`` of those thin "pictures" are drawn next to the real image.
    """
    image = np.asarray(image)
    if image.ndim != 4:
        raise ValueError(f"expected an NHWC batch of one image, got shape {image.shape}")
    _, height, width, channels = image.shape
    figure = _new_figure((2.6 + 0.9 * shown, 3.4))
    axes = figure.subplots(1, 1 + shown, gridspec_kw={"width_ratios": [4] + [1] * shown})
    axes[0].imshow(np.clip(image[0], 0, 1))
    axes[0].set_title(f"what you have:\none {height} x {width} image,\n{channels} colour channels",
                      fontsize=9)
    as_read = image[0]  # channels_first reads axis 1 (the rows) as channels
    for index, axis in enumerate(axes[1:]):
        axis.imshow(as_read[index], cmap="gray", vmin=0, vmax=1, aspect="auto")
        axis.set_title(f"channel {index}\n{width} x {channels}", fontsize=8)
    figure.suptitle(f"what a channels_first layer reads: {height} channels, each a "
                    f"{width} x {channels} picture (first {shown} shown)", fontsize=10)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure


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
