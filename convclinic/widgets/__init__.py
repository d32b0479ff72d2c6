"""Live ipywidgets views bound to a REAL Keras Conv2D: controls -> probe -> readout + plot.

:class:`ConvExplorer` is lesson 00's playground and the live widget of
lessons 01-05. The package only binds widgets: the Conv2D rules, the rule
texts and the geometry of the drawing come from :mod:`convclinic.shapes`,
the truth from a real Keras layer or model.

Modules: :mod:`~convclinic.widgets.explorer` (:class:`ConvExplorer`,
:func:`readout_text`), :mod:`~convclinic.widgets.controls` (which controls
exist and how each is made), :mod:`~convclinic.widgets.feeding` (the input
array, its layout, and the bare layer or ``keras.Input`` model it is fed to).
"""

from __future__ import annotations

from convclinic.widgets.controls import CONTROL_NAMES, DEFAULT_CONTROLS, FEED_TO
from convclinic.widgets.explorer import ConvExplorer, readout_text
from convclinic.widgets.feeding import feed_model, input_shape_for

__all__ = [
    "ConvExplorer",
    "readout_text",
    "input_shape_for",
    "feed_model",
    "CONTROL_NAMES",
    "DEFAULT_CONTROLS",
    "FEED_TO",
]
