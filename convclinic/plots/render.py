"""Shared pieces of the drawings: the Okabe-Ito palette, PNG rendering, notebook display.

No pyplot state: figures are plain :class:`matplotlib.figure.Figure` objects
with an Agg canvas, so they work headless, in Voila and in handouts.
"""

from __future__ import annotations

import io

from matplotlib.figure import Figure

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



def hex_colour(colour):
    """``#rrggbb`` for an RGB triple of floats in [0, 1]."""
    return "#" + "".join(f"{int(round(c * 255)):02x}" for c in colour)


def enable_notebook_display():
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
