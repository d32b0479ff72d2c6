"""The Conv2D drawing: input grid with padding and kernel taps, and the output map.

Used by lesson 00 (the playground), lesson 02 (TF's SAME padding) and lesson
03 (the sampling grid of stride and dilation), and by
:class:`convclinic.widgets.ConvExplorer` in every lesson. Every number it
draws comes from :class:`convclinic.shapes.ConvGeometry`.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from convclinic import shapes
from convclinic.plots.paint import TAP, TAP2, paint_grid
from convclinic.plots.render import OKABE_ITO, enable_notebook_display, figure_to_png, hex_colour

__all__ = ["ConvFigure", "coverage_image", "draw_conv", "draw_sampling_grid"]


def coverage_image(geometry):
    """The output panel's picture: :attr:`ConvGeometry.coverage` as a float array (lesson 02)."""
    return np.asarray(geometry.coverage, dtype=float).reshape(geometry.out)


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
        enable_notebook_display()
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
                       markerfacecolor=hex_colour(TAP), markersize=7,
                       label="x: kernel taps of output (0, 0)"),
                Line2D([], [], linestyle="none", marker="o", color="black",
                       markerfacecolor=hex_colour(TAP2), markersize=7,
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
        """Move the artists to a new setting; ``result`` (a probe Outcome) decides the output panel.

        When ``result`` is given and failed, the output panel says so in words
        (error type and phase) whatever the arithmetic says.
        """
        height, width = max(int(height), 1), max(int(width), 1)
        geometry = shapes.conv_geometry(height, width, kernel_size, strides, dilation_rate, padding)
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
        (top, bottom), (left, right) = g.pad
        height, width = g.height, g.width
        n_rows, n_cols = g.out
        rows = np.arange(-top, height + bottom)
        cols = np.arange(-left, width + right)
        extent = (-left - 0.5, width + right - 0.5, height + bottom - 0.5, -top - 0.5)
        tap_rows, tap_cols = g.taps(0, 0)
        k_rows, k_cols = g.k_eff
        fits = n_rows > 0 and n_cols > 0 and len(tap_rows) and len(tap_cols)
        # rule 2 fails: draw the kernel where it would start, sticking out of the input
        self.kernel_too_big = bool(not fits and g.kernel_too_big)
        view_right, view_bottom = extent[1], extent[2]
        if self.kernel_too_big:
            view_right = max(extent[1], -left - 0.5 + k_cols) + 0.5
            view_bottom = max(extent[2], -top - 0.5 + k_rows) + 0.5
        cell = self._fit_view(ax, extent[0], view_right, extent[3], view_bottom)
        self.input_image.set_data(paint_grid(g, rows, cols, cell))
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
            f"input {height}\u00d7{width}, kernel {g.kernel[0]}\u00d7{g.kernel[1]}"
            f" (covers {g.k_eff[0]}\u00d7{g.k_eff[1]}), stride "
            f"{_pair_text(g.strides)}, dilation {_pair_text(g.dilation)}; "
            f"{g.padding}: {pad_text}"
        )
        if self.kernel_too_big:
            self.input_text += (
                f"; the kernel ({g.k_eff[0]}\u00d7{g.k_eff[1]}, dashed frame) does not "
                f"fit in the {g.padded[0]}\u00d7{g.padded[1]} (padded) input"
            )
        if self.annotate:
            ax.set_title(self.input_text.replace("; ", "\n").replace(" (TF", "\n(TF"),
                         fontsize=9)

    def _label_padding(self, g):
        (top, bottom), (left, right) = g.pad
        height, width = g.height, g.width
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
        n_rows, n_cols = g.out
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
        coverage = coverage_image(g)
        taps = max(g.tap_count, 1)
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
            n_rows, n_cols = self.geometry.out
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
