"""The controls of :class:`convclinic.widgets.ConvExplorer`: which exist, how each is made.

Lesson 00's playground shows them all; lessons 01-05 show a few each. A
control only holds a value: what it means for the input array and the layer
is decided in :mod:`convclinic.widgets.feeding` and :mod:`convclinic.shapes`.
"""

from __future__ import annotations

import ipywidgets as widgets

from convclinic.shapes import DATA_FORMATS

__all__ = ["CONTROL_NAMES", "DEFAULT_CONTROLS", "FEED_TO", "make_control", "put_value",
           "to_control", "from_control"]

#: Every control ConvExplorer can show, in display order.
CONTROL_NAMES = (
    "height", "width", "channels", "batch", "filters", "kernel_size", "strides",
    "dilation_rate", "padding", "data_format", "input_layout", "dtype", "drop_axes", "feed_to",
)
DEFAULT_CONTROLS = ("height", "width", "kernel_size", "strides", "padding")

#: What the input is fed to: a bare Conv2D, or a model declared with ``keras.Input``.
FEED_TO = ("layer", "model")

_SLIDERS = {
    # name: (description, min, max)
    "height": ("input height", 1, 64),
    "width": ("input width", 1, 64),
    "channels": ("channels", 1, 4),
    "batch": ("batch size", 1, 8),
    "filters": ("filters", 1, 64),
    "kernel_size": ("kernel size", 1, 9),
    "strides": ("stride", 1, 6),
    "dilation_rate": ("dilation", 1, 6),
}
_CHOICES = {
    # name: (description, ((label, value), ...))
    "padding": ("padding", tuple((v, v) for v in ("valid", "same"))),
    "data_format": ("data format", tuple((v, v) for v in DATA_FORMATS)),
    # AS_DATA_FORMAT: the array is built in the layer's own data_format (no mismatch)
    "input_layout": ("input layout", (("same as data format", "as_data_format"),)
                     + tuple((v, v) for v in DATA_FORMATS)),
    "dtype": ("input dtype", tuple((v, v) for v in
                                   ("float32", "float64", "float16", "uint8", "int32"))),
    "feed_to": ("feed input to", (("a bare Conv2D", "layer"), ("keras.Input model", "model"))),
}
_STYLE = {"description_width": "110px"}
# A Dropdown cannot hold None as a value (None means "nothing selected"): the
# input_layout that follows the layer's data_format is this word on the control.
_AS_DATA_FORMAT = "as_data_format"


def to_control(name, value):
    """The control's value for an explorer value (``input_layout=None`` -> ``"as_data_format"``)."""
    if name == "input_layout" and value is None:
        return _AS_DATA_FORMAT
    return tuple(value) if name == "drop_axes" else value


def from_control(name, value):
    """The explorer value for a control's value (the inverse of :func:`to_control`)."""
    if name == "input_layout" and value == _AS_DATA_FORMAT:
        return None
    return tuple(value) if name == "drop_axes" else value


def make_control(name, value):
    """The ipywidgets control for ``name``, showing ``value`` (its range widened to hold it)."""
    value = to_control(name, value)
    if name in _SLIDERS:
        description, low, high = _SLIDERS[name]
        if isinstance(value, int):
            low, high = min(low, value), max(high, value)
        return widgets.IntSlider(
            value=value if isinstance(value, int) else low, min=low, max=high,
            description=description, continuous_update=False, style=_STYLE,
        )
    if name in _CHOICES:
        description, options = _CHOICES[name]
        options = list(options)
        if value not in [option[1] for option in options]:
            options.append((str(value), value))
        return widgets.Dropdown(options=options, value=value, description=description,
                                style=_STYLE)
    if name == "drop_axes":
        return widgets.SelectMultiple(
            options=["batch", "channel"], value=tuple(value),
            description="drop axes", rows=2, style=_STYLE,
        )
    raise ValueError(name)


def put_value(control, name, value):
    """Set a control's value, widening its range or options so the value is kept exactly."""
    value = to_control(name, value)
    if isinstance(control, widgets.IntSlider):
        if isinstance(value, int) and not isinstance(value, bool):
            if value > control.max:
                control.max = value
            if value < control.min:
                control.min = value
            control.value = value
    elif isinstance(control, widgets.Dropdown):
        values = [option[1] for option in control.options]
        if value not in values:
            control.options = list(control.options) + [(str(value), value)]
        control.value = value
    else:
        control.value = tuple(value)
