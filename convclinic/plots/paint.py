"""The input panel of :class:`convclinic.plots.ConvFigure`, painted as one RGBA array.

Lessons 00, 02 and 03: a checkerboard of pixels, hatched padding, ``x`` on
the kernel taps of output (0, 0), ``o`` on those of output (0, 1) and a dot
where each output is computed. Where the taps land comes from
:class:`convclinic.shapes.ConvGeometry`; this module only turns grid cells
into screen pixels.
"""

from __future__ import annotations

import functools

import numpy as np

_INPUT_LIGHT = np.array([0.86, 0.92, 0.97])  # light and dark cells: a checkerboard of pixels
_INPUT_DARK = np.array([0.74, 0.84, 0.93])
_PADDING = np.array([1.0, 1.0, 1.0])
TAP = np.array([0xE6, 0x9F, 0x00]) / 255.0  # Okabe-Ito orange
TAP2 = np.array([0xCC, 0x79, 0xA7]) / 255.0  # Okabe-Ito reddish purple



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


def paint_grid(g, rows, cols, cell):
    """The input panel as a uint8 RGBA image, ``cell`` pixels per grid cell (lessons 00, 02, 03).

    Checkerboard pixels, hatched padding, ``x`` on the taps of output (0, 0),
    ``o`` on those of output (0, 1), a dot where each output is computed.
    """
    height, width = g.height, g.width
    n_rows, n_cols = g.out
    inside_r = (rows >= 0) & (rows < height)
    inside_c = (cols >= 0) & (cols < width)
    checker = ((rows[:, None] + cols[None, :]) % 2).astype(bool)
    colours = np.where(checker[..., None], _INPUT_DARK, _INPUT_LIGHT)
    inside = inside_r[:, None] & inside_c[None, :]
    colours = np.where(inside[..., None], colours, _PADDING)
    marks = np.zeros(colours.shape[:2], dtype=np.int8)  # 1: x, 2: o, 3: dot
    if n_rows > 0 and n_cols > 0:
        for mark, colour, (col_index) in ((2, TAP2, 1), (1, TAP, 0)):
            if col_index >= n_cols:
                continue
            tap_rows, tap_cols = (np.asarray(taps, dtype=int) for taps in g.taps(0, col_index))
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
        centre_r = (np.asarray(g.centres(0)) - rows[0] + 0.5) * cell
        centre_c = (np.asarray(g.centres(1)) - cols[0] + 0.5) * cell
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
