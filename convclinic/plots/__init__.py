"""Matplotlib drawings of what a Conv2D does: input grid, kernel taps, padding, output map.

Used by lesson 00 (the playground and the NHWC photo), lesson 02 (TF's
asymmetric SAME padding), lesson 03 (the sampling grid of stride and dilation)
and by :class:`convclinic.widgets.ConvExplorer` in every lesson.

Every number drawn (padding, output size, effective kernel, taps, coverage)
comes from :class:`convclinic.shapes.ConvGeometry`; this package turns it into
pixels and computes no Conv2D rule itself (``tests/test_architecture.py``).

Design rules kept here:

- The figure is created ONCE and later updates only move artists
  (``set_data``, ``set_extent``, patch bounds): a full clear-and-redraw
  costs about 160 ms on the course machine, an artist update plus PNG encode
  about 15 ms (``benchmarks/bench_widgets.py`` measures both).
- Colour-blind-safe colours (Okabe-Ito, ``cividis``) and never colour alone:
  padding is hatched and labelled, kernel taps carry an ``x`` marker, the
  output panel states its size and any error in words.
- No pyplot state: figures are plain :class:`matplotlib.figure.Figure` objects
  with an Agg canvas, so they work headless, in Voila and in handouts.

Modules: :mod:`~convclinic.plots.figure` (:class:`ConvFigure`, :func:`draw_conv`,
:func:`draw_sampling_grid`), :mod:`~convclinic.plots.paint` (the input panel as
pixels), :mod:`~convclinic.plots.photo` (lesson 00's NHWC photo) and
:mod:`~convclinic.plots.render` (palette, PNG, notebook display).
"""

from __future__ import annotations

from convclinic.plots.figure import ConvFigure, coverage_image, draw_conv, draw_sampling_grid
from convclinic.plots.photo import draw_photo_axes, load_photo, photo_batch
from convclinic.plots.render import OKABE_ITO, figure_to_png

__all__ = [
    "OKABE_ITO",
    "ConvFigure",
    "coverage_image",
    "draw_conv",
    "draw_sampling_grid",
    "draw_photo_axes",
    "load_photo",
    "photo_batch",
    "figure_to_png",
]
