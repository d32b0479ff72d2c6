"""ConvExplorer: controls -> a REAL Keras Conv2D (bare or in a model) -> readout, rule, plot.

Lesson 00's playground (all controls) and the live widget of lessons 01-05
(a few controls each). Every control change builds and calls a real
``keras.layers.Conv2D`` (:mod:`convclinic.widgets.feeding`) and shows

- the readout: ALWAYS a text result, ``Output shape: (1, 26, 26, 8)`` or
  ``ValueError (at build): <the clean Keras message>``;
- the rule: :func:`convclinic.shapes.rule_text` for the shape the layer is
  built on (or the message :mod:`convclinic.shapes` raises);
- the plot: :class:`convclinic.plots.ConvFigure` of what the layer sees,
  rendered to PNG into an ``ipywidgets.Image`` (headless, Voila, handouts).

This module binds widgets to those functions and computes no Conv2D rule.
Tests set values with :meth:`ConvExplorer.set` and read ``readout.value``
without a browser. Exceptions raised while updating are caught and shown in
the readout, never lost to a log console.
"""

from __future__ import annotations

import ipywidgets as widgets

from convclinic import shapes
from convclinic.runtime import clean_message
from convclinic.widgets.controls import (
    CONTROL_NAMES,
    DEFAULT_CONTROLS,
    FEED_TO,
    from_control,
    make_control,
    put_value,
)
from convclinic.widgets.feeding import input_layout_of, input_shape_for, run

__all__ = ["ConvExplorer", "readout_text"]

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

# the Conv2D keyword arguments among the explorer's values
_LAYER_ARGUMENTS = ("filters", "kernel_size", "strides", "dilation_rate", "padding", "data_format")


def _html_text(text):
    """Text that an ``ipywidgets.HTML`` shows verbatim (only ``&`` and ``<`` need escaping)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;")


def readout_text(result):
    """The readout for an outcome of :func:`convclinic.probe.probe` (lessons 00-05).

    ``Output shape: (1, 26, 26, 8)`` or ``ValueError (at build): <clean message>``.
    """
    if result.ok:
        return f"Output shape: {result.output_shape}"
    return f"{result.error_type} (at {result.phase}): {result.message}"


def _check_choice(name, value):
    """input_layout and feed_to are the explorer's own settings: refuse a typo at once."""
    if name == "input_layout" and value is not None:
        shapes.normalize_data_format(value)
    if name == "feed_to" and value not in FEED_TO:
        raise ValueError(f"feed_to must be one of {FEED_TO}, got {value!r}")


class ConvExplorer:
    """Controls -> a real Conv2D -> readout, rule and plot (lesson 00's playground).

    >>> explorer = ConvExplorer(height=28, width=28, kernel_size=3)   # doctest: +SKIP
    >>> explorer.set(kernel_size=30)                                  # doctest: +SKIP
    >>> explorer.readout.value                                        # doctest: +SKIP
    'ValueError (at build): Computed output size would be zero or negative. ...'

    ``input_layout`` (``"channels_last"``/``"channels_first"``; ``None``: the
    layer's ``data_format``) is the layout the input ARRAY is built in
    (lesson 04). ``feed_to="model"`` feeds it to ``keras.Input`` (full height,
    width and channels) followed by the Conv2D instead of the bare layer
    (lessons 01 and 05); ``legacy=True`` uses Keras 2 (``tf_keras``).
    ``model_input`` (e.g. ``(28, 28, 1)``) fixes the shape the model declares
    while the sliders change the array (lesson 05: Keras 2 refuses another
    height or width, Keras 3 does not).

    Attributes: ``controls`` (name -> the ipywidgets control shown; ``set`` reaches
    hidden ones too), ``readout`` and ``rule`` (``ipywidgets.HTML`` whose value is
    the text, with only ``&`` and ``<`` escaped so the browser shows it verbatim;
    ``readout_text`` is the unescaped readout), ``result`` (the latest
    :class:`convclinic.outcome.Outcome`), ``input_shape``, ``layer_input``
    (the shape the Conv2D is built on), ``settings`` (the Conv2D arguments),
    ``image``/``caption``/``figure`` (the plot, or ``None`` with ``plot=False``),
    ``view`` (the whole ``VBox``; the explorer also displays itself).
    """

    def __init__(self, height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3,
                 strides=1, dilation_rate=1, padding="valid", data_format="channels_last",
                 dtype="float32", drop_axes=(), controls=DEFAULT_CONTROLS, plot=True,
                 legacy=False, input_layout=None, feed_to="layer", model_input=None):
        unknown = [name for name in controls if name not in CONTROL_NAMES]
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; choose from {CONTROL_NAMES}")
        _check_choice("input_layout", input_layout)
        _check_choice("feed_to", feed_to)
        self.legacy = legacy
        self.values = dict(
            height=height, width=width, channels=channels, batch=batch, filters=filters,
            kernel_size=kernel_size, strides=strides, dilation_rate=dilation_rate,
            padding=padding, data_format=data_format, input_layout=input_layout, dtype=dtype,
            drop_axes=tuple(drop_axes), feed_to=feed_to,
            model_input=None if model_input is None else tuple(model_input),
        )
        self._holding = False
        self._picture = None  # the setting the current PNG shows
        self._all_controls = {name: make_control(name, self.values[name]) for name in CONTROL_NAMES}
        self.controls = {name: self._all_controls[name] for name in controls}
        for name, control in self._all_controls.items():
            control.observe(self._make_handler(name), names="value")
        self.readout = widgets.HTML(value="")
        self.readout.add_class("convclinic-readout")
        self.rule = widgets.HTML(value="")
        self.rule.add_class("convclinic-rule")
        self.result = None
        self.layer_input = None
        self.readout_text = ""
        self.figure = self.image = self.caption = None
        self.view = widgets.VBox(self._children(plot))
        self.view.add_class("convclinic-explorer")
        self.update()

    def _children(self, plot):
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
        return children

    # -- controls ----------------------------------------------------------------------
    def _make_handler(self, name):
        def handler(change):
            if self._holding:
                return
            self.values[name] = from_control(name, change["new"])
            self.update()

        return handler

    def set(self, **values):
        """Set control values (any of :data:`CONTROL_NAMES`) and update once (tests, lessons)."""
        unknown = [name for name in values if name not in CONTROL_NAMES]
        if unknown:
            raise TypeError(f"unknown setting(s) {unknown}; choose from {CONTROL_NAMES}")
        for name, value in values.items():
            _check_choice(name, value)
        self._holding = True
        try:
            for name, value in values.items():
                self.values[name] = tuple(value) if name == "drop_axes" else value
                put_value(self._all_controls[name], name, value)
        finally:
            self._holding = False
        self.update()
        return self

    # -- the logic behind the view -----------------------------------------------------
    @property
    def input_layout(self):
        """The layout the input array is built in (``input_layout``, else ``data_format``)."""
        return input_layout_of(self.values["data_format"], self.values["input_layout"])

    @property
    def input_shape(self):
        """The array's shape (in :attr:`input_layout`, without the axes in ``drop_axes``)."""
        v = self.values
        return input_shape_for(v["height"], v["width"], v["channels"], v["batch"],
                               self.input_layout, v["drop_axes"])

    @property
    def settings(self):
        """The Conv2D keyword arguments of the current setting."""
        return {name: self.values[name] for name in _LAYER_ARGUMENTS}

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
        settings = self.settings
        result, layer_input = run(self.values, settings, legacy=self.legacy)
        self.result, self.layer_input = result, layer_input
        text = readout_text(result)
        self.readout_text = text
        self.readout.value = _html_text(text)
        if result.ok:
            self.readout.remove_class("convclinic-error")
        else:
            self.readout.add_class("convclinic-error")
        self.rule.value = _html_text(self._rule(layer_input, settings))
        if self.figure is not None:
            self._draw(layer_input, result)

    def _rule(self, layer_input, settings):
        rules = shapes.rule_text(layer_input, **settings)
        if self.values["feed_to"] != "model":
            return rules
        return (f"The model's Conv2D is built on keras.Input's shape {layer_input}; "
                f"the array {self.input_shape} is fed to the model.\n{rules}")

    def _seen_spatial(self, layer_input):
        """(height, width) as the layer reads them (lesson 04: 28x3 for NHWC read as NCHW)."""
        if len(layer_input) == 4:
            try:
                return shapes.split_shape(layer_input, self.values["data_format"])[1]
            except ValueError:
                pass
        return self.values["height"], self.values["width"]

    def _draw(self, layer_input, result):
        v = self.values
        picture = (*self._seen_spatial(layer_input), v["kernel_size"], v["strides"],
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
