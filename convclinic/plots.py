"""Matplotlib drawings of what a Conv2D does: input grid, kernel taps, padding, output map.

Used by lesson 00 (the playground and the NHWC photo), lesson 02 (TF's
asymmetric SAME padding), lesson 03 (the sampling grid of stride and dilation)
and by :class:`convclinic.widgets.ConvExplorer` in every lesson.

Design rules kept here:

- The figure is created ONCE and later updates only move artists
  (``set_data``, ``set_extent``, ``set_offsets``, patch bounds): a full
  clear-and-redraw costs about 160 ms on the course machine, an artist update
  plus PNG encode about 15 ms (``benchmarks/bench_widgets.py`` measures both).
- Colour-blind-safe colours (Okabe-Ito, ``cividis``) and never colour alone:
  padding is hatched and labelled, kernel taps carry an ``x`` marker, the
  output panel states its size and any error in words.
- No pyplot state: figures are plain :class:`matplotlib.figure.Figure` objects
  with an Agg canvas, so they work headless, in Voila and in handouts.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from convclinic import shapes

__all__ = [
    "OKABE_ITO",
    "ConvFigure",
    "conv_geometry",
    "draw_conv",
    "draw_sampling_grid",
    "draw_photo_axes",
    "load_photo",
    "photo_batch",
    "figure_to_png",
]

#: Okabe-Ito palette (colour-blind safe), by name.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}

_INPUT_LIGHT = np.array([0.86, 0.92, 0.97])  # light and dark cells: a checkerboard of pixels
_INPUT_DARK = np.array([0.74, 0.84, 0.93])
_PADDING = np.array([1.0, 1.0, 1.0])
_TAP = np.array([0xE6, 0x9F, 0x00]) / 255.0  # Okabe-Ito orange
_TAP2 = np.array([0xCC, 0x79, 0xA7]) / 255.0  # Okabe-Ito reddish purple


def _pair(value):
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return int(value[0]), int(value[1])
    return int(value), int(value)


def conv_geometry(height, width, kernel_size=3, strides=1, dilation_rate=1, padding="valid"):
    """Where a Conv2D's kernel lands, per spatial axis, computed with :mod:`convclinic.shapes`.

    Returns a dict with ``pad`` ((top, bottom), (left, right)), ``out`` (rows, cols; 0 when
    Keras would refuse), ``kernel``, ``strides``, ``dilation``, ``k_eff`` and ``error``
    (the message of :mod:`convclinic.shapes` when the setting is refused, else ``None``).
    Lessons 00, 02 and 03 draw from it.
    """
    kernel, strides, dilation = _pair(kernel_size), _pair(strides), _pair(dilation_rate)
    error = None
    pads, outs = [], []
    try:
        padding = shapes.normalize_padding(padding)
        if max(strides) > 1 and max(dilation) > 1:
            shapes.conv2d_output_shape(
                (1, height, width, 1), 1, kernel, strides, padding, dilation
            )
    except ValueError as exc:
        error = str(exc)
        padding = "valid"
    for n, k, s, d in zip((height, width), kernel, strides, dilation, strict=True):
        pad = (0, 0)
        try:
            if padding == "same":
                pad = shapes.same_padding(n, k, s, d)
            outs.append(shapes.conv_output_size(n, k, s, padding, d))
        except ValueError as exc:
            error = error or str(exc)
            outs.append(0)
        pads.append(pad)
    if error is not None and max(strides) > 1 and max(dilation) > 1:
        outs = [0, 0]
    k_eff = tuple(d * (k - 1) + 1 if k > 0 and d > 0 else 0 for k, d in zip(kernel, dilation, strict=True))
    return {
        "height": height,
        "width": width,
        "pad": tuple(pads),
        "out": tuple(outs),
        "kernel": kernel,
        "strides": strides,
        "dilation": dilation,
        "k_eff": k_eff,
        "padding": padding,
        "error": error,
    }


def _taps(geometry, row, col):
    """Input coordinates (rows, cols) of the kernel taps for output position (row, col)."""
    (top, _), (left, _) = geometry["pad"]
    (kh, kw), (sh, sw), (dh, dw) = geometry["kernel"], geometry["strides"], geometry["dilation"]
    rows = row * sh - top + dh * np.arange(max(kh, 0))
    cols = col * sw - left + dw * np.arange(max(kw, 0))
    return rows, cols


def _coverage(geometry):
    """For each output cell: how many kernel taps land on real pixels (not padding).

    Lesson 02: with ``same`` padding the border outputs see fewer real pixels,
    and the extra (bottom/right) padding shows up as a lighter last row/column.
    """
    rows_out, cols_out = geometry["out"]
    counts = []
    for axis, n_out in enumerate((rows_out, cols_out)):
        size = (geometry["height"], geometry["width"])[axis]
        before = geometry["pad"][axis][0]
        k, s, d = geometry["kernel"][axis], geometry["strides"][axis], geometry["dilation"][axis]
        starts = np.arange(n_out) * s - before
        taps = starts[:, None] + d * np.arange(max(k, 0))[None, :]
        counts.append(((taps >= 0) & (taps < size)).sum(axis=1))
    return np.outer(counts[0], counts[1]).astype(float)


def _enable_notebook_display():
    """Let IPython show the plain ``Figure`` objects returned here as PNG (no pyplot needed).

    matplotlib-inline registers such a formatter only once pyplot is imported; the
    lessons and Voila should not depend on that. An existing formatter is kept.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        formatter.lookup_by_type(Figure)
    except KeyError:
        formatter.for_type(Figure, lambda figure: figure_to_png(figure, dpi=figure.dpi))


def figure_to_png(figure, dpi=72):
    """Render a figure to PNG bytes (for an ``ipywidgets.Image``; works headless and in Voila)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class ConvFigure:
    """Input grid with padding and kernel taps (left) and the output map (right).

    Lesson 00's playground (through :class:`convclinic.widgets.ConvExplorer`),
    lesson 02 (SAME padding, extra row/column at the bottom/right) and lesson 03
    (stride and dilation: the taps of the first two output positions and the
    place of every output position are marked).

    The figure is built once; :meth:`update` paints the grid, the hatched
    padding, the ``x``/``o`` tap glyphs and the output dots into one RGB array
    (numpy, about 1 ms) and hands it to the existing image artist with
    ``set_data``/``set_extent``; two frames are moved with ``set_bounds``.
    Matplotlib then draws two images and a few patches instead of hundreds of
    markers, which keeps a widget update far below a clear-and-redraw.

    >>> figure = ConvFigure()                             # doctest: +SKIP
    >>> figure.update(height=6, width=6, kernel_size=3, strides=2, padding="same")  # doctest: +SKIP
    >>> png = figure.to_png()                             # doctest: +SKIP
    """

    #: most screen pixels a grid cell is painted with (fewer for large inputs)
    MAX_CELL_PIXELS = 28

    def __init__(self, show_output=True, figsize=None, annotate=True):
        self.show_output = show_output
        self.annotate = annotate
        if figsize is None:
            figsize = (9.5, 4.6) if show_output else (5.0, 5.0)
            if not annotate:
                figsize = (figsize[0], figsize[1] - 0.9)
        self.figure = Figure(figsize=figsize, dpi=72, layout=None)
        FigureCanvasAgg(self.figure)
        _enable_notebook_display()
        bottom, top = (0.16, 0.8) if annotate else (0.02, 0.98)
        if show_output:
            self.figure.subplots_adjust(left=0.02, right=0.98, bottom=bottom, top=top, wspace=0.12)
            self.ax_input, self.ax_output = self.figure.subplots(1, 2)
        else:
            self.figure.subplots_adjust(left=0.04, right=0.96, bottom=bottom, top=top)
            self.ax_input, self.ax_output = self.figure.subplots(1, 1), None
        self.geometry = None
        self.input_text = ""
        self.output_text = ""
        self._build_artists()
        self._snap_axes()

    def _snap_axes(self):
        """Put the axes on whole pixels, so a cell of n pixels is drawn as exactly n pixels."""
        width, height = self.figure.bbox.width, self.figure.bbox.height
        for ax in (self.ax_input, self.ax_output):
            if ax is None:
                continue
            box = ax.get_position()
            x0, y0 = round(box.x0 * width), round(box.y0 * height)
            x1, y1 = round(box.x1 * width), round(box.y1 * height)
            ax.set_position([x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height])
        self.ax_input.set_aspect("auto")  # _fit_view keeps the cells square itself

    # -- construction ------------------------------------------------------------------
    def _build_artists(self):
        ax = self.ax_input
        ax.set_axis_off()  # no ticks or spines to lay out on every draw; frames are patches
        self.input_image = ax.imshow(
            np.zeros((1, 1, 4), dtype=np.uint8), interpolation="nearest",
            extent=(-0.5, 0.5, 0.5, -0.5),
        )
        self.input_outline = ax.add_patch(
            Rectangle((-0.5, -0.5), 1, 1, fill=False, edgecolor=OKABE_ITO["blue"], linewidth=1.5)
        )
        self.footprint = ax.add_patch(
            Rectangle((0, 0), 1, 1, fill=False, edgecolor=OKABE_ITO["vermillion"],
                      linewidth=2.0, zorder=5)
        )
        self.pad_labels = [
            ax.text(0, 0, "", ha="center", va="center", fontsize=8, color="#222222",
                    visible=False, zorder=6)
            for _ in range(2)
        ]
        if self.annotate:
            handles = [
                Line2D([], [], linestyle="none", marker="x", color="black",
                       markerfacecolor=_hex(_TAP), markersize=7,
                       label="x: kernel taps of output (0, 0)"),
                Line2D([], [], linestyle="none", marker="o", color="black",
                       markerfacecolor=_hex(_TAP2), markersize=7,
                       label="o: kernel taps of output (0, 1)"),
                Line2D([], [], linestyle="none", marker=".", color="black",
                       label="dot: where each output is computed"),
                Patch(facecolor="white", edgecolor="#777777", hatch="///", label="padding"),
            ]
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01),
                      ncol=2, fontsize=7, frameon=False, handlelength=1.5, columnspacing=1.0)
        if self.ax_output is not None:
            out = self.ax_output
            out.set_axis_off()
            self.output_frame = out.add_patch(
                Rectangle((0, 0), 1, 1, transform=out.transAxes, fill=False,
                          edgecolor="#444444", linewidth=1.0, clip_on=False, visible=False)
            )
            self.output_image = out.imshow(
                np.zeros((1, 1)), cmap="cividis", vmin=0, vmax=1, interpolation="nearest",
                extent=(-0.5, 0.5, 0.5, -0.5),
            )
            self.output_message = out.text(
                0.5, 0.5, "", transform=out.transAxes, ha="center", va="center", fontsize=10,
            )
            self.output_caption = out.text(
                0.5, -0.04, "", transform=out.transAxes, ha="center", va="top", fontsize=7,
                visible=self.annotate,
            )

    # -- updates -----------------------------------------------------------------------
    def update(self, height=28, width=28, kernel_size=3, strides=1, dilation_rate=1,
               padding="valid", result=None):
        """Move the artists to a new setting; ``result`` (a ProbeResult) decides the output panel.

        When ``result`` is given and failed, the output panel says so in words
        (error type and phase) whatever the arithmetic says.
        """
        height, width = max(int(height), 1), max(int(width), 1)
        geometry = conv_geometry(height, width, kernel_size, strides, dilation_rate, padding)
        self.geometry = geometry
        self._update_input(geometry)
        if self.ax_output is not None:
            self._update_output(geometry, result)
        return self

    def _axes_pixels(self, ax):
        """Width and height of an axes in figure pixels."""
        box = ax.get_position()
        return box.width * self.figure.bbox.width, box.height * self.figure.bbox.height

    def _fit_view(self, ax, x0, x1, y_top, y_bottom):
        """Set limits so that one grid cell is a whole number of pixels; return that number.

        The painted image is then drawn 1:1 (no uneven nearest-neighbour
        scaling that would make the dots and glyphs wobble), centred in the axes.
        """
        width_px, height_px = self._axes_pixels(ax)
        cols, rows = x1 - x0, y_bottom - y_top
        cell = int(max(1, min(self.MAX_CELL_PIXELS, width_px // cols, height_px // rows)))
        margin_x = ((width_px - cols * cell) // 2) / cell
        margin_y = ((height_px - rows * cell) // 2) / cell
        left = x0 - margin_x
        top = y_top - margin_y
        ax.set_xlim(left, left + width_px / cell)
        ax.set_ylim(top + height_px / cell, top)
        return cell

    def _update_input(self, g):
        ax = self.ax_input
        (top, bottom), (left, right) = g["pad"]
        height, width = g["height"], g["width"]
        n_rows, n_cols = g["out"]
        rows = np.arange(-top, height + bottom)
        cols = np.arange(-left, width + right)
        extent = (-left - 0.5, width + right - 0.5, height + bottom - 0.5, -top - 0.5)
        tap_rows, tap_cols = _taps(g, 0, 0)
        k_rows, k_cols = g["k_eff"]
        fits = n_rows > 0 and n_cols > 0 and len(tap_rows) and len(tap_cols)
        # rule 2 fails: draw the kernel where it would start, sticking out of the input
        self.kernel_too_big = bool(
            not fits and min(k_rows, k_cols) > 0
            and (k_rows > height + top + bottom or k_cols > width + left + right)
        )
        view_right, view_bottom = extent[1], extent[2]
        if self.kernel_too_big:
            view_right = max(extent[1], -left - 0.5 + k_cols) + 0.5
            view_bottom = max(extent[2], -top - 0.5 + k_rows) + 0.5
        cell = self._fit_view(ax, extent[0], view_right, extent[3], view_bottom)
        self.input_image.set_data(_paint_grid(g, rows, cols, cell))
        self.input_image.set_extent(extent)
        self.input_outline.set_bounds(-0.5, -0.5, width, height)
        if fits:
            self.footprint.set_bounds(tap_cols[0] - 0.5, tap_rows[0] - 0.5, k_cols, k_rows)
            self.footprint.set_linestyle("-")
            self.footprint.set_visible(True)
        elif self.kernel_too_big:
            self.footprint.set_bounds(-left - 0.5, -top - 0.5, k_cols, k_rows)
            self.footprint.set_linestyle("--")
            self.footprint.set_visible(True)
        else:
            self.footprint.set_visible(False)
        self._label_padding(g)
        pad_text = (
            f"padding top {top}, bottom {bottom}, left {left}, right {right}"
            if top or bottom or left or right else "no padding"
        )
        if bottom > top or right > left:
            pad_text += " (TF puts the extra row/column at the bottom/right)"
        self.input_text = (
            f"input {height}\u00d7{width}, kernel {g['kernel'][0]}\u00d7{g['kernel'][1]}"
            f" (covers {g['k_eff'][0]}\u00d7{g['k_eff'][1]}), stride "
            f"{_pair_text(g['strides'])}, dilation {_pair_text(g['dilation'])}; "
            f"{g['padding']}: {pad_text}"
        )
        if self.kernel_too_big:
            self.input_text += (
                f"; the kernel ({g['k_eff'][0]}\u00d7{g['k_eff'][1]}, dashed frame) does not "
                f"fit in the {height + top + bottom}\u00d7{width + left + right} (padded) input"
            )
        if self.annotate:
            ax.set_title(self.input_text.replace("; ", "\n").replace(" (TF", "\n(TF"),
                         fontsize=9)

    def _label_padding(self, g):
        (top, bottom), (left, right) = g["pad"]
        height, width = g["height"], g["width"]
        label_bottom, label_right = self.pad_labels
        show = self.annotate and max(height, width) <= 32
        label_bottom.set_visible(bool(show and bottom))
        label_right.set_visible(bool(show and right))
        if show and bottom:
            label_bottom.set_position(((width - 1) / 2, height - 0.5 + bottom / 2))
            label_bottom.set_text("padding: extra row" if bottom > top else "padding")
        if show and right:
            label_right.set_position((width - 0.5 + right / 2, (height - 1) / 2))
            label_right.set_text("padding: extra column" if right > left else "padding")
            label_right.set_rotation(90)

    def _update_output(self, g, result):
        out = self.ax_output
        failed = result is not None and not result.ok
        n_rows, n_cols = g["out"]
        if failed or n_rows <= 0 or n_cols <= 0:
            self.output_image.set_visible(False)
            self.output_frame.set_visible(True)
            if failed:
                text = f"no output:\n{result.error_type} at {result.phase}"
            else:
                text = "no output:\nthe shape rules refuse this setting"
            self.output_message.set_text(text)
            self.output_caption.set_text("")
            self.output_text = "output: none (" + text.replace("\n", " ") + ")"
            if self.annotate:
                out.set_title("output: none", fontsize=9)
            out.set_xlim(0, 1)
            out.set_ylim(1, 0)
            return
        coverage = _coverage(g)
        taps = max(g["kernel"][0] * g["kernel"][1], 1)
        self.output_image.set_visible(True)
        self.output_frame.set_visible(False)
        self.output_image.set_data(coverage)
        self.output_image.set_clim(0, taps)
        extent = (-0.5, n_cols - 0.5, n_rows - 0.5, -0.5)
        self.output_image.set_extent(extent)
        out.set_xlim(extent[0], extent[1])
        out.set_ylim(extent[2], extent[3])
        self.output_message.set_text("")
        shape = f" {result.output_shape}" if result is not None and result.ok else ""
        low = int(coverage.min()) if coverage.size else 0
        self.output_text = (
            f"output {n_rows}\u00d7{n_cols}{shape}; shade = kernel taps on real pixels, "
            f"from {low} (dark, near padding) to {taps} (bright)"
        )
        if self.annotate:
            out.set_title(f"output {n_rows}\u00d7{n_cols}{shape}", fontsize=9)
        self.output_caption.set_text(self.output_text.split("; ", 1)[1])

    def update_output_shape(self, result):
        """Only the output's shape text changed (filters, batch...): no redraw needed."""
        if result is not None and result.ok and self.geometry is not None:
            n_rows, n_cols = self.geometry["out"]
            head, _, tail = self.output_text.partition("; ")
            self.output_text = f"output {n_rows}\u00d7{n_cols} {result.output_shape}; {tail}"

    def caption(self):
        """The drawing in words (a widget's caption under the image; screen readers).

        Lines: the input and padding, the output, and a key to the marks.
        """
        return "\n".join([
            self.input_text,
            self.output_text,
            "key: x = kernel taps of output (0, 0) (orange, red frame); o = taps of "
            "output (0, 1) (purple); dots = where each output is computed; "
            "hatched white = padding",
        ])

    def to_png(self, dpi=72):
        """PNG bytes of the current state through ``savefig`` (static figures)."""
        return figure_to_png(self.figure, dpi=dpi)

    def to_png_fast(self):
        """PNG bytes at the figure's own dpi, encoded with low compression (widgets).

        ``canvas.draw()`` then Pillow with ``compress_level=1``: faster than
        ``savefig`` for this size of image, and the bytes are only sent to a browser.
        """
        from PIL import Image

        canvas = self.figure.canvas
        canvas.draw()
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def _pair_text(pair):
    """``2`` for (2, 2), ``1\u00d72`` for (1, 2)."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}\u00d7{pair[1]}"


def _hex(colour):
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in colour)


@functools.lru_cache(maxsize=64)
def _glyphs(size):
    """Boolean masks (size x size) for the x, o and dot marks painted into grid cells."""
    index = np.arange(size)
    r, c = np.meshgrid(index, index, indexing="ij")
    width = max(size / 8, 0.6)
    margin = size * 0.18
    inside = (r >= margin - 0.5) & (r <= size - margin - 0.5) & (c >= margin - 0.5) & (
        c <= size - margin - 0.5)
    cross = inside & ((np.abs(r - c) <= width) | (np.abs(r + c - (size - 1)) <= width))
    centre = (size - 1) / 2
    distance = np.hypot(r - centre, c - centre)
    radius = size * 0.32
    ring = np.abs(distance - radius) <= max(width, 0.7)
    dot = distance <= max(size * 0.12, 0.5)
    return cross, ring, dot


@functools.lru_cache(maxsize=16)
def _stripes(shape, period):
    """Diagonal hatch lines for a picture of ``shape`` (cached: the grid size repeats)."""
    yy, xx = np.indices(shape)
    return ((xx + yy) % period) == 0


def _paint_grid(g, rows, cols, cell):
    """The input panel as a uint8 RGBA image, ``cell`` pixels per grid cell (lessons 00, 02, 03).

    Checkerboard pixels, hatched padding, ``x`` on the taps of output (0, 0),
    ``o`` on those of output (0, 1), a dot where each output is computed.
    """
    height, width = g["height"], g["width"]
    n_rows, n_cols = g["out"]
    inside_r = (rows >= 0) & (rows < height)
    inside_c = (cols >= 0) & (cols < width)
    checker = ((rows[:, None] + cols[None, :]) % 2).astype(bool)
    colours = np.where(checker[..., None], _INPUT_DARK, _INPUT_LIGHT)
    inside = inside_r[:, None] & inside_c[None, :]
    colours = np.where(inside[..., None], colours, _PADDING)
    marks = np.zeros(colours.shape[:2], dtype=np.int8)  # 1: x, 2: o, 3: dot
    if n_rows > 0 and n_cols > 0:
        for mark, colour, (col_index) in ((2, _TAP2, 1), (1, _TAP, 0)):
            if col_index >= n_cols:
                continue
            tap_rows, tap_cols = _taps(g, 0, col_index)
            r_index = tap_rows - rows[0]
            c_index = tap_cols - cols[0]
            r_ok = r_index[(r_index >= 0) & (r_index < len(rows))]
            c_ok = c_index[(c_index >= 0) & (c_index < len(cols))]
            if len(r_ok) and len(c_ok):
                colours[np.ix_(r_ok, c_ok)] = colour
                marks[np.ix_(r_ok, c_ok)] = mark
    # RGBA uint8: matplotlib then skips its float conversion and alpha stacking
    colours = np.concatenate([colours, np.ones(colours.shape[:2] + (1,))], axis=-1)
    image = np.repeat(np.repeat((colours * 255).astype(np.uint8), cell, axis=0), cell, axis=1)
    rgb = image[..., :3]
    if cell >= 4:
        # hatch the padding: diagonal grey lines, so padding never relies on colour alone
        pad = np.repeat(np.repeat(~inside, cell, axis=0), cell, axis=1)
        stripes = pad & _stripes(pad.shape, max(cell // 2, 3))
        rgb[stripes] = 120
        cross, ring, _ = _glyphs(cell)
        for mark, glyph in ((1, cross), (2, ring)):
            where = np.repeat(np.repeat(marks == mark, cell, axis=0), cell, axis=1)
            rgb[where & np.tile(glyph, (len(rows), len(cols)))] = 0
    if n_rows > 0 and n_cols > 0 and cell >= 3:
        # a dot where each output is computed (the sampling grid of lesson 03)
        (sh, sw), (top, left) = g["strides"], (g["pad"][0][0], g["pad"][1][0])
        centre_r = (np.arange(n_rows) * sh + (g["k_eff"][0] - 1) / 2 - top - rows[0] + 0.5) * cell
        centre_c = (np.arange(n_cols) * sw + (g["k_eff"][1] - 1) / 2 - left - cols[0] + 0.5) * cell
        radius = max(cell * 0.12, 0.8)
        span = np.arange(-int(np.ceil(radius)), int(np.ceil(radius)) + 1)
        for dr in span:
            for dc in span:
                if dr * dr + dc * dc > radius * radius + 0.25:
                    continue
                pr = np.clip(np.floor(centre_r - 0.5 + dr + 0.5).astype(int), 0, image.shape[0] - 1)
                pc = np.clip(np.floor(centre_c - 0.5 + dc + 0.5).astype(int), 0, image.shape[1] - 1)
                rgb[np.ix_(pr, pc)] = 0
    return image


def draw_conv(height=6, width=6, kernel_size=3, strides=1, dilation_rate=1, padding="valid",
              show_output=True):
    """One static drawing of a setting: lesson 02 (SAME padding), lesson 03 (stride/dilation).

    Returns the :class:`matplotlib.figure.Figure` (displayed by Jupyter).
    """
    drawing = ConvFigure(show_output=show_output)
    drawing.update(height, width, kernel_size, strides, dilation_rate, padding)
    return drawing.figure


def draw_sampling_grid(size=9, kernel_size=3, strides=2, dilation_rate=1, padding="valid"):
    """Lesson 03: where a strided or dilated kernel samples a ``size`` x ``size`` input.

    The taps of the first output position are marked ``x``, those of the next
    output position along the width ``o``; a dot marks where every output is
    computed. Rows and columns that no tap reaches are the information a large
    stride throws away.
    """
    return draw_conv(size, size, kernel_size, strides, dilation_rate, padding, show_output=False)


# --- The NHWC photo (lesson 00) ---------------------------------------------------------


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
    _enable_notebook_display()
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
