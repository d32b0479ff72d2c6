"""Live ipywidgets views bound to a REAL Keras Conv2D: controls -> probe -> readout + plot.

:class:`ConvExplorer` is lesson 00's playground (all controls) and the live
widget of lessons 01-05 (a few controls each). Every control change builds and
calls a real ``keras.layers.Conv2D`` through :func:`convclinic.probe.probe`
and shows

- the readout: ALWAYS a text result, ``Output shape: (1, 26, 26, 8)`` or
  ``ValueError (at build): <the clean Keras message>``;
- the rule: rules 1-5 of :mod:`convclinic.shapes` with the numbers of the
  current setting filled in (or the message :mod:`convclinic.shapes` raises);
- the plot: input grid, padding, kernel taps and output map
  (:class:`convclinic.plots.ConvFigure`), rendered to PNG into an
  ``ipywidgets.Image`` so that it works headless, in Voila and in handouts.

All logic lives in plain Python (``readout_text``, ``rule_text``,
``ConvExplorer.update``): tests set values with :meth:`ConvExplorer.set` and
read ``readout.value`` without a browser. Exceptions raised while updating
are caught and shown in the readout, never lost to a log console.
"""

from __future__ import annotations

import ipywidgets as widgets

from convclinic import shapes
from convclinic.runtime import clean_message

__all__ = ["ConvExplorer", "readout_text", "rule_text", "input_shape_for", "CONTROL_NAMES"]

#: Every control ConvExplorer can show, in display order.
CONTROL_NAMES = (
    "height", "width", "channels", "batch", "filters", "kernel_size", "strides",
    "dilation_rate", "padding", "data_format", "dtype", "drop_axes",
)
DEFAULT_CONTROLS = ("height", "width", "kernel_size", "strides", "padding")

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
    "padding": ("padding", ("valid", "same")),
    "data_format": ("data format", ("channels_last", "channels_first")),
    "dtype": ("input dtype", ("float32", "float64", "float16", "uint8", "int32")),
}

_STYLE = """<style>
.convclinic-readout, .convclinic-rule, .convclinic-caption,
.convclinic-readout .widget-html-content, .convclinic-rule .widget-html-content,
.convclinic-caption .widget-html-content {
  white-space: pre-wrap; font-family: monospace; line-height: 1.35; height: auto;
}
.convclinic-readout { font-size: 1.05em; font-weight: bold; padding: 4px 8px;
  border-left: 6px solid #0072B2; }
.convclinic-readout.convclinic-error { border-left: 6px dashed #D55E00; }
.convclinic-rule { padding: 4px 8px; }
.convclinic-caption { font-size: 0.85em; color: #333; }
</style>"""


def _html_text(text):
    """Text that an ``ipywidgets.HTML`` shows verbatim (only ``&`` and ``<`` need escaping)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;")


def readout_text(result):
    """The readout for a :class:`convclinic.probe.ProbeResult` (lessons 00-05).

    ``Output shape: (1, 26, 26, 8)`` or ``ValueError (at build): <clean message>``.
    """
    if result.ok:
        return f"Output shape: {result.output_shape}"
    return f"{result.error_type} (at {result.phase}): {result.message}"


def input_shape_for(height, width, channels, batch, data_format="channels_last", drop_axes=()):
    """The shape fed to the layer: NHWC or NCHW, minus the axes in ``drop_axes`` (lesson 01)."""
    unknown = set(drop_axes) - {"batch", "channel"}
    if unknown:
        raise ValueError(f"drop_axes may contain 'batch' and 'channel', got {sorted(unknown)}")
    first = str(data_format).lower() == "channels_first"
    axes = (
        [("batch", batch), ("channel", channels), ("h", height), ("w", width)]
        if first
        else [("batch", batch), ("h", height), ("w", width), ("channel", channels)]
    )
    return tuple(size for name, size in axes if name not in drop_axes)


def _pair(value):
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value, value)


def rule_text(input_shape, filters=8, kernel_size=3, strides=1, dilation_rate=1,
              padding="valid", data_format="channels_last"):
    """Rules 1-5 of :mod:`convclinic.shapes` with this setting's numbers filled in (lesson 00).

    The last line is what :func:`convclinic.shapes.conv2d_output_shape` predicts,
    or the message it raises.
    """
    lines = []
    kernel, stride, dilation = _pair(kernel_size), _pair(strides), _pair(dilation_rate)
    input_shape = tuple(input_shape)
    try:
        prediction = shapes.conv2d_output_shape(
            input_shape, filters, kernel_size, strides, padding, dilation_rate, data_format
        )
        refused = None
    except ValueError as error:
        prediction, refused = None, str(error)
    try:
        mode = shapes.normalize_padding(padding)
    except ValueError:
        mode = None
    first = str(data_format).lower() == "channels_first"
    if len(input_shape) == 4:
        spatial = input_shape[2:4] if first else input_shape[1:3]
    else:
        spatial = None
    numbers_ok = all(isinstance(v, int) and v > 0 for v in (*kernel, *stride, *dilation))
    if numbers_ok and max(stride) > 1 and max(dilation) > 1:
        lines.append(
            f"Rule 5: strides > 1 together with dilation_rate > 1 is refused "
            f"(here strides={strides}, dilation_rate={dilation_rate})."
        )
    elif numbers_ok and spatial is not None and mode is not None:
        for axis, (name, n) in enumerate(zip(("height", "width"), spatial, strict=True)):
            k, s, d = kernel[axis], stride[axis], dilation[axis]
            k_eff = d * (k - 1) + 1
            if axis == 0 or (k, d) != (kernel[0], dilation[0]):
                lines.append(
                    f"Rule 1: k_eff = d*(k-1)+1 = {d}*({k}-1)+1 = {k_eff}"
                    + (f" ({name})" if kernel[0] != kernel[1] or dilation[0] != dilation[1] else "")
                )
            if not isinstance(n, int) or n <= 0:
                lines.append(f"{name}: size {n!r} is not a positive number of pixels.")
                continue
            if mode == "valid":
                if n < k_eff:
                    lines.append(
                        f"Rule 2 (valid), {name}: n - k_eff = {n} - {k_eff} = {n - k_eff} < 0: "
                        f"the kernel covers more than the input, Keras raises."
                    )
                else:
                    out = (n - k_eff) // s + 1
                    lines.append(
                        f"Rule 2 (valid), {name}: out = floor((n - k_eff)/s) + 1 = "
                        f"floor(({n} - {k_eff})/{s}) + 1 = {out}"
                    )
            else:
                out = -(-n // s)
                total = max((out - 1) * s + k_eff - n, 0)
                before, after = total // 2, total - total // 2
                sides = ("top", "bottom") if axis == 0 else ("left", "right")
                lines.append(
                    f"Rule 3 (same), {name}: out = ceil(n/s) = ceil({n}/{s}) = {out}"
                )
                lines.append(
                    f"Rule 4 (same), {name}: padding = max((out-1)*s + k_eff - n, 0) = "
                    f"max(({out}-1)*{s} + {k_eff} - {n}, 0) = {total}: {sides[0]} {before}, "
                    f"{sides[1]} {after}"
                    + (f" (the extra one goes {sides[1]})" if after > before else "")
                )
    if prediction is not None:
        lines.append(f"Predicted output shape: {prediction}")
    else:
        lines.append(f"The rules refuse this setting: {refused}")
    return "\n".join(lines)


class ConvExplorer:
    """Controls -> a real Conv2D -> readout, rule and plot (lesson 00's playground).

    >>> explorer = ConvExplorer(height=28, width=28, kernel_size=3)   # doctest: +SKIP
    >>> explorer.set(kernel_size=30)                                  # doctest: +SKIP
    >>> explorer.readout.value                                        # doctest: +SKIP
    'ValueError (at build): Computed output size would be zero or negative. ...'

    Attributes: ``controls`` (name -> the ipywidgets control shown; ``set`` reaches
    hidden ones too), ``readout`` and ``rule`` (``ipywidgets.HTML`` whose value is
    the text, with only ``&`` and ``<`` escaped so the browser shows it verbatim;
    ``readout_text`` is the unescaped readout), ``result`` (the latest
    :class:`convclinic.probe.ProbeResult`), ``input_shape``, ``settings`` (the
    Conv2D arguments), ``image``/``caption``/``figure`` (the plot, or ``None``
    with ``plot=False``), ``view`` (the whole ``VBox``; the explorer also
    displays itself).
    """

    def __init__(self, height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3,
                 strides=1, dilation_rate=1, padding="valid", data_format="channels_last",
                 dtype="float32", drop_axes=(), controls=DEFAULT_CONTROLS, plot=True,
                 legacy=False):
        unknown = [name for name in controls if name not in CONTROL_NAMES]
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; choose from {CONTROL_NAMES}")
        self.legacy = legacy
        self.values = dict(
            height=height, width=width, channels=channels, batch=batch, filters=filters,
            kernel_size=kernel_size, strides=strides, dilation_rate=dilation_rate,
            padding=padding, data_format=data_format, dtype=dtype, drop_axes=tuple(drop_axes),
        )
        self._holding = False
        self._picture = None  # the setting the current PNG shows
        self._all_controls = {name: self._make_control(name) for name in CONTROL_NAMES}
        self.controls = {name: self._all_controls[name] for name in controls}
        for name, control in self._all_controls.items():
            control.observe(self._make_handler(name), names="value")
        self.readout = widgets.HTML(value="")
        self.readout.add_class("convclinic-readout")
        self.rule = widgets.HTML(value="")
        self.rule.add_class("convclinic-rule")
        self.result = None
        self.readout_text = ""
        self.figure = None
        self.image = None
        self.caption = None
        children = [widgets.HTML(_STYLE)]
        if self.controls:
            children.append(
                widgets.GridBox(
                    list(self.controls.values()),
                    layout=widgets.Layout(grid_template_columns="repeat(2, minmax(260px, 1fr))"),
                )
            )
        children += [self.readout, self.rule]
        if plot:
            from convclinic.plots import ConvFigure

            self.figure = ConvFigure(annotate=False)
            width_px = int(self.figure.figure.bbox.width)
            # shown at its own pixel size (no blurry browser scaling), narrower on small screens
            self.image = widgets.Image(
                format="png", layout=widgets.Layout(width=f"{width_px}px", max_width="100%")
            )
            self.image.add_class("convclinic-plot")
            self.caption = widgets.HTML(value="")
            self.caption.add_class("convclinic-caption")
            children += [self.image, self.caption]
        self.view = widgets.VBox(children)
        self.view.add_class("convclinic-explorer")
        self.update()

    # -- controls ----------------------------------------------------------------------
    def _make_control(self, name):
        value = self.values[name]
        style = {"description_width": "110px"}
        if name in _SLIDERS:
            description, low, high = _SLIDERS[name]
            if isinstance(value, int):
                low, high = min(low, value), max(high, value)
            return widgets.IntSlider(
                value=value if isinstance(value, int) else low, min=low, max=high,
                description=description, continuous_update=False, style=style,
            )
        if name in _CHOICES:
            description, options = _CHOICES[name]
            options = list(options)
            if value not in options:
                options.append(value)
            return widgets.Dropdown(
                options=[(str(option), option) for option in options], value=value,
                description=description, style=style,
            )
        if name == "drop_axes":
            return widgets.SelectMultiple(
                options=["batch", "channel"], value=tuple(value),
                description="drop axes", rows=2, style=style,
            )
        raise ValueError(name)

    def _make_handler(self, name):
        def handler(change):
            if self._holding:
                return
            self.values[name] = change["new"] if name != "drop_axes" else tuple(change["new"])
            self.update()

        return handler

    def _put(self, name, value):
        """Set a control's value, widening its range or options so the value is kept exactly."""
        control = self._all_controls[name]
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

    def set(self, **values):
        """Set control values (any of :data:`CONTROL_NAMES`) and update once (tests, lessons)."""
        unknown = [name for name in values if name not in CONTROL_NAMES]
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; choose from {CONTROL_NAMES}")
        self._holding = True
        try:
            for name, value in values.items():
                if name == "drop_axes":
                    value = tuple(value)
                self.values[name] = value
                self._put(name, value)
        finally:
            self._holding = False
        self.update()
        return self

    # -- the logic behind the view -----------------------------------------------------
    @property
    def input_shape(self):
        """The shape fed to the layer (NHWC or NCHW, without the axes in ``drop_axes``)."""
        v = self.values
        return input_shape_for(v["height"], v["width"], v["channels"], v["batch"],
                               v["data_format"], v["drop_axes"])

    @property
    def settings(self):
        """The Conv2D keyword arguments of the current setting."""
        v = self.values
        return dict(filters=v["filters"], kernel_size=v["kernel_size"], strides=v["strides"],
                    dilation_rate=v["dilation_rate"], padding=v["padding"],
                    data_format=v["data_format"])

    def update(self):
        """Run the real Conv2D for the current values; refresh readout, rule and plot.

        Never raises: any exception (in the probe, the rules or the plot) is
        shown in the readout with its type.
        """
        try:
            self._update()
        except Exception as error:  # noqa: BLE001 - shown to the learner, never lost
            text = (
                f"{type(error).__name__} (inside the explorer, not from Keras): "
                f"{clean_message(error)}"
            )
            self.readout_text = text
            self.readout.value = _html_text(text)
            self.readout.add_class("convclinic-error")

    def _update(self):
        from convclinic.probe import probe

        shape = self.input_shape
        settings = self.settings
        result = probe(shape, dtype=self.values["dtype"], legacy=self.legacy, **settings)
        self.result = result
        text = readout_text(result)
        self.readout_text = text
        self.readout.value = _html_text(text)
        if result.ok:
            self.readout.remove_class("convclinic-error")
        else:
            self.readout.add_class("convclinic-error")
        self.rule.value = _html_text(rule_text(shape, **settings))
        if self.figure is not None:
            v = self.values
            picture = (v["height"], v["width"], v["kernel_size"], v["strides"],
                       v["dilation_rate"], v["padding"], result.error_type, result.phase)
            if picture != self._picture:
                # filters, batch, dtype... do not change the drawing: keep the PNG then
                self.figure.update(*picture[:6], result=result)
                self.image.value = self.figure.to_png_fast()
                self._picture = picture
            else:
                self.figure.update_output_shape(result)
            self.caption.value = _html_text(self.figure.caption())

    def close(self):
        """Close every widget of the view (frees the kernel-side comms)."""
        for control in self._all_controls.values():
            control.close()
        for child in self.view.children:
            child.close()
        self.view.close()

    # -- display -----------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        return self.view._repr_mimebundle_(**kwargs)

    def __repr__(self):
        return f"ConvExplorer(input_shape={self.input_shape}, {self.readout_text!r})"
