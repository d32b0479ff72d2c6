"""ConvExplorer (convclinic.widgets): the readout equals what a direct Keras Conv2D call gives.

No browser: the tests set control values (through ``set`` and through the
controls themselves, as a learner's slider would) and read the widgets'
kernel-side traits. The expected text is computed here by building a Keras
Conv2D (or a ``keras.Input`` model) directly, not through convclinic.probe;
the array's shape is built here too, independently of convclinic.widgets.
Every test builds a real Keras layer, so the module is slow (no TensorFlow
in the fast loop).
"""

from __future__ import annotations

import html

import numpy as np
import pytest

from convclinic import shapes
from convclinic.runtime import clean_message, import_keras
from convclinic.shapes import rule_text
from convclinic.widgets import CONTROL_NAMES, ConvExplorer

pytestmark = pytest.mark.slow

ALL_CONTROLS = CONTROL_NAMES


def direct_readout(input_shape, dtype="float32", legacy=False, **settings):
    """What a Keras Conv2D itself does with this input: the readout text the widget must show."""
    keras = import_keras(legacy=legacy)
    try:
        layer = keras.layers.Conv2D(name="conv2d", **settings)
    except Exception as error:  # noqa: BLE001 - the real error is the expected value
        return f"{type(error).__name__} (at construct): {clean_message(error)}"
    x = np.ones(input_shape, dtype=dtype)
    try:
        output = layer(x)
    except Exception as error:  # noqa: BLE001
        phase = "call" if layer.built else "build"
        return f"{type(error).__name__} (at {phase}): {clean_message(error)}"
    return f"Output shape: {tuple(int(v) for v in output.shape)}"


def direct_model_readout(input_shape, declared, dtype="float32", legacy=False, **settings):
    """What keras.Input(declared) -> Conv2D as a model does with the array: the expected readout."""
    keras = import_keras(legacy=legacy)
    try:
        layer = keras.layers.Conv2D(name="conv2d", **settings)
    except Exception as error:  # noqa: BLE001 - the real error is the expected value
        return f"{type(error).__name__} (at construct): {clean_message(error)}"
    try:
        model = keras.Sequential([keras.Input(shape=declared, name="input"), layer],
                                 name="model")
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__} (at build): {clean_message(error)}"
    try:
        output = model(np.ones(input_shape, dtype=dtype))
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__} (at call): {clean_message(error)}"
    return f"Output shape: {tuple(int(v) for v in output.shape)}"


def array_shape(values):
    """The array the explorer must build, written out here by hand (not convclinic's code)."""
    layout = values["input_layout"] or (
        values["data_format"] if values["data_format"] in ("channels_last", "channels_first")
        else "channels_last")
    named = {"batch": values["batch"], "h": values["height"], "w": values["width"],
             "channel": values["channels"]}
    order = ("batch", "h", "w", "channel") if layout == "channels_last" \
        else ("batch", "channel", "h", "w")
    full = tuple(named[name] for name in order)
    kept = tuple(named[name] for name in order if name not in values["drop_axes"])
    return kept, full[1:]


BASE = dict(height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3, strides=1,
            dilation_rate=1, padding="valid", data_format="channels_last", dtype="float32",
            drop_axes=(), input_layout=None, feed_to="layer")

CASES = {
    # valid settings
    "default-valid": {},
    "same-padding": dict(padding="same"),
    "same-stride-2-odd": dict(height=7, width=9, padding="same", strides=2),
    "valid-stride-3": dict(height=20, width=17, strides=3, kernel_size=4),
    "dilation-2": dict(dilation_rate=2, kernel_size=3),
    "rgb-batch-4": dict(channels=3, batch=4, filters=16),
    "uppercase-SAME": dict(padding="SAME"),
    "kernel-equals-input": dict(height=5, width=5, kernel_size=5),
    "stride-larger-than-input": dict(strides=50),
    "float64-cast": dict(dtype="float64"),
    "channels-first-float32": dict(data_format="channels_first", channels=3),
    "channels-first-float64-input-cast": dict(data_format="channels_first", dtype="float64"),
    # an NHWC image (1, 28, 28, 3) read as NCHW: no error, a silently wrong shape (lesson 04)
    "channels-first-nhwc-data-silently-wrong": dict(data_format="channels_first", channels=28,
                                                    height=28, width=3),
    # failing settings
    "kernel-larger-than-input": dict(kernel_size=30),
    "dilated-kernel-larger-than-input": dict(height=9, width=9, kernel_size=3, dilation_rate=5),
    "stride-with-dilation": dict(strides=2, dilation_rate=2),
    "dtype-uint8": dict(dtype="uint8"),
    "dtype-int32": dict(dtype="int32"),
    "missing-batch-axis": dict(drop_axes=("batch",)),
    "missing-channel-axis": dict(drop_axes=("channel",)),
    "missing-both-axes": dict(drop_axes=("batch", "channel")),
    "padding-invalid-word": dict(padding="invalid"),
    "padding-int-pytorch-habit": dict(padding=1),
    "data-format-NCHW": dict(data_format="NCHW"),
    "kernel-zero": dict(kernel_size=0),
    "strides-zero": dict(strides=0),
    "filters-zero": dict(filters=0),
    # input_layout: the array's layout, independent of the layer's data_format (lesson 04)
    "nhwc-array-into-channels-first-layer": dict(data_format="channels_first",
                                                 input_layout="channels_last", channels=3),
    "nchw-array-into-channels-last-layer": dict(input_layout="channels_first", channels=3),
    "nchw-array-into-channels-first-layer": dict(data_format="channels_first",
                                                 input_layout="channels_first", channels=3),
    # feed_to="model": keras.Input for the full image, then the Conv2D (lessons 01, 05)
    "model-gray-missing-channel": dict(feed_to="model", drop_axes=("channel",)),
    "model-rgb-missing-channel": dict(feed_to="model", channels=3, drop_axes=("channel",)),
    "model-missing-batch": dict(feed_to="model", drop_axes=("batch",)),
    "model-kernel-too-big": dict(feed_to="model", kernel_size=30),
    "model-uint8": dict(feed_to="model", dtype="uint8"),
    "model-nhwc-into-channels-first": dict(feed_to="model", data_format="channels_first",
                                           input_layout="channels_last", channels=3),
}


def expected_for(values, legacy=False):
    shape, declared = array_shape(values)
    settings = {key: values[key] for key in
                ("filters", "kernel_size", "strides", "dilation_rate", "padding", "data_format")}
    if values["feed_to"] == "model":
        return shape, direct_model_readout(shape, declared, values["dtype"], legacy, **settings)
    return shape, direct_readout(shape, values["dtype"], legacy, **settings)


@pytest.fixture(scope="module")
def explorer():
    return ConvExplorer(controls=ALL_CONTROLS)


@pytest.mark.parametrize("case", sorted(CASES))
def test_readout_equals_direct_keras_call(explorer, case):
    """For each setting, the readout text is exactly what a direct Keras Conv2D call gives."""
    values = dict(BASE, **CASES[case])
    explorer.set(**values)
    shape, expected = expected_for(values)
    assert explorer.input_shape == shape
    assert explorer.readout_text == expected, case
    assert html.unescape(explorer.readout.value) == expected
    assert explorer.result.input_shape == shape
    assert explorer.result.ok == expected.startswith("Output shape:")


def test_failing_cases_really_fail_and_valid_ones_really_work(explorer):
    """The case list covers both kinds: the failing names fail in Keras, the others do not."""
    failing = {name for name in CASES if name in {
        "kernel-larger-than-input", "dilated-kernel-larger-than-input", "stride-with-dilation",
        "dtype-uint8", "dtype-int32", "missing-batch-axis", "missing-channel-axis",
        "missing-both-axes",
        "padding-invalid-word", "padding-int-pytorch-habit", "data-format-NCHW", "kernel-zero",
        "strides-zero", "filters-zero", "model-rgb-missing-channel", "model-missing-batch",
        "model-kernel-too-big"}}
    for name, change in CASES.items():
        _, expected = expected_for(dict(BASE, **change))
        assert expected.startswith("Output shape:") == (name not in failing), (name, expected)


def test_errors_show_type_phase_and_message_in_words(explorer):
    """A failure is shown as text (type, phase, the Keras message), never by colour alone."""
    explorer.set(**dict(BASE, kernel_size=30))
    assert explorer.readout_text.startswith("ValueError (at build): ")
    assert "Computed output size would be zero or negative" in explorer.readout_text
    assert "convclinic-error" in explorer.readout._dom_classes
    explorer.set(**BASE)
    assert explorer.readout_text == "Output shape: (1, 26, 26, 8)"
    assert "convclinic-error" not in explorer.readout._dom_classes


def test_a_learner_moving_a_control_updates_the_readout(explorer):
    """Changing a control's value (what a slider drag does) re-runs the real layer."""
    explorer.set(**BASE)
    explorer.controls["kernel_size"].value = 5
    assert explorer.values["kernel_size"] == 5
    assert explorer.readout_text == expected_for(dict(BASE, kernel_size=5))[1]
    explorer.controls["padding"].value = "same"
    assert explorer.readout_text == "Output shape: (1, 28, 28, 8)"
    explorer.controls["drop_axes"].value = ("channel",)
    assert "min_ndim=4" in explorer.readout_text
    explorer.controls["drop_axes"].value = ()
    explorer.controls["data_format"].value = "channels_first"
    assert explorer.input_shape == (1, 1, 28, 28)
    assert explorer.readout_text == expected_for(dict(BASE, kernel_size=5, padding="same",
                                                      data_format="channels_first"))[1]


def test_error_raised_inside_the_callback_is_shown_in_the_readout(monkeypatch):
    """An exception inside the update (here: probe itself raising) lands in the readout."""
    explorer = ConvExplorer(plot=False)

    def broken_probe(*args, **kwargs):
        raise RuntimeError("probe exploded on purpose")

    monkeypatch.setattr("convclinic.probe.probe", broken_probe)
    explorer.controls["kernel_size"].value = 5  # through the observe callback
    assert "RuntimeError" in explorer.readout_text
    assert "probe exploded on purpose" in explorer.readout.value
    assert "convclinic-error" in explorer.readout._dom_classes
    explorer.set(height=10)  # and through set()
    assert "probe exploded on purpose" in explorer.readout.value


def test_error_raised_while_plotting_is_shown_in_the_readout(monkeypatch):
    """A failure in the plot code is caught and shown too."""
    explorer = ConvExplorer()

    def broken_update(*args, **kwargs):
        raise ZeroDivisionError("plot broke")

    monkeypatch.setattr(explorer.figure, "update", broken_update)
    explorer.set(height=12)
    assert explorer.readout_text.startswith("ZeroDivisionError")
    assert "plot broke" in explorer.readout_text


def test_rule_fills_in_the_numbers_for_valid_padding():
    """Rule 1 and rule 2 appear with this setting's numbers, and the predicted shape."""
    explorer = ConvExplorer(height=20, width=17, kernel_size=4, strides=3, plot=False)
    text = html.unescape(explorer.rule.value)
    assert "Rule 1: k_eff = d*(k-1)+1 = 1*(4-1)+1 = 4" in text
    assert "floor((20 - 4)/3) + 1 = 6" in text
    assert "floor((17 - 4)/3) + 1 = 5" in text
    predicted = shapes.conv2d_output_shape((1, 20, 17, 1), 8, 4, 3)
    assert f"Predicted output shape: {predicted}" in text
    assert explorer.result.output_shape == predicted


def test_rule_shows_tf_asymmetric_same_padding():
    """Rules 3 and 4 with numbers; the extra padding row goes at the bottom (shapes agrees)."""
    explorer = ConvExplorer(height=6, width=6, kernel_size=3, strides=2, padding="same",
                            plot=False)
    text = html.unescape(explorer.rule.value)
    assert "Rule 3 (same), height: out = ceil(n/s) = ceil(6/2) = 3" in text
    before, after = shapes.same_padding(6, 3, 2)
    assert f"= 1: top {before}, bottom {after}" in text and (before, after) == (0, 1)
    assert "the extra one goes bottom" in text


def test_rule_names_rule_5_and_kernel_too_large():
    """Stride with dilation names rule 5; a too-large kernel shows the negative difference."""
    explorer = ConvExplorer(strides=2, dilation_rate=2, plot=False)
    text = html.unescape(explorer.rule.value)
    assert text.startswith("Rule 5:")
    with pytest.raises(ValueError) as refused:
        shapes.conv2d_output_shape((1, 28, 28, 1), 8, 3, 2, "valid", 2)
    assert f"The rules refuse this setting: {refused.value}" in text
    explorer.set(strides=1, dilation_rate=1, kernel_size=30)
    text = html.unescape(explorer.rule.value)
    assert "n - k_eff = 28 - 30 = -2 < 0" in text


def test_rule_shows_the_shapes_message_for_a_missing_axis():
    """With drop_axes the rule text is the message convclinic.shapes raises."""
    text = rule_text((28, 28, 1))
    with pytest.raises(ValueError) as refused:
        shapes.conv2d_output_shape((28, 28, 1), 8, 3)
    assert text == f"The rules refuse this setting: {refused.value}"


def test_readout_and_rule_carry_the_css_classes_and_controls_have_descriptions():
    """The browser tests find the readout and rule by class; every control is labelled."""
    explorer = ConvExplorer(controls=ALL_CONTROLS, plot=False)
    assert "convclinic-readout" in explorer.readout._dom_classes
    assert "convclinic-rule" in explorer.rule._dom_classes
    assert list(explorer.controls) == list(ALL_CONTROLS)
    for name, control in explorer.controls.items():
        assert control.description, name


def test_only_requested_controls_are_shown_but_set_reaches_all():
    """``controls=`` picks what is shown; ``set`` can still change hidden values."""
    explorer = ConvExplorer(controls=("kernel_size",), plot=False)
    assert list(explorer.controls) == ["kernel_size"]
    grid = explorer.view.children[1]
    assert list(grid.children) == [explorer.controls["kernel_size"]]
    explorer.set(drop_axes=("batch",))
    assert explorer.input_shape == (28, 28, 1)
    assert "min_ndim=4" in explorer.readout_text


def test_set_keeps_values_outside_the_slider_range_exactly():
    """A value beyond a slider's range is kept (the range widens), not silently clamped."""
    explorer = ConvExplorer(plot=False)
    explorer.set(height=300, width=200, kernel_size=40)
    assert explorer.controls["height"].value == 300
    assert explorer.input_shape == (1, 300, 200, 1)
    assert explorer.readout_text == direct_readout((1, 300, 200, 1), kernel_size=40, filters=8)


def test_set_rejects_unknown_names():
    """A typo in a setting name is an error, not a silent no-op."""
    explorer = ConvExplorer(plot=False)
    with pytest.raises(TypeError, match="kernel"):
        explorer.set(kernal_size=3)
    with pytest.raises(ValueError, match="unknown control"):
        ConvExplorer(controls=("kernal_size",), plot=False)


def test_plot_is_a_png_that_follows_the_setting():
    """The plot is PNG bytes in an Image widget; a new setting gives a new picture and caption."""
    explorer = ConvExplorer(height=6, width=6)
    first = explorer.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    explorer.set(strides=2, padding="same")
    assert explorer.image.value != first
    caption = html.unescape(explorer.caption.value)
    assert "padding top 0, bottom 1, left 0, right 1" in caption
    assert "output 3\u00d73 (1, 3, 3, 8)" in caption
    explorer.set(kernel_size=30, padding="valid", strides=1)
    caption = html.unescape(explorer.caption.value)
    assert "no output: ValueError at build" in caption


def test_initial_values_match_the_api_defaults():
    """The documented defaults: a 28x28x1 input, 8 filters, kernel 3, valid."""
    explorer = ConvExplorer(plot=False)
    assert explorer.input_shape == (1, 28, 28, 1)
    assert explorer.readout.value == "Output shape: (1, 26, 26, 8)"
    assert list(explorer.controls) == ["height", "width", "kernel_size", "strides", "padding"]


def test_explorer_displays_as_a_widget():
    """In a notebook the explorer renders as its VBox view (a widget-view mime bundle)."""
    explorer = ConvExplorer(plot=False)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.view.model_id


@pytest.mark.slow
def test_legacy_explorer_probes_keras_2():
    """legacy=True runs tf_keras (Keras 2): its readout equals a direct tf_keras call."""
    explorer = ConvExplorer(kernel_size=30, legacy=True, plot=False)
    expected = direct_readout((1, 28, 28, 1), legacy=True, filters=8, kernel_size=30)
    assert explorer.readout_text == expected
    assert not expected.startswith("Output shape")


def test_plot_is_not_redrawn_when_the_picture_does_not_change():
    """filters/batch do not change the drawing: the PNG stays, the caption's shape follows."""
    explorer = ConvExplorer(controls=ALL_CONTROLS)
    before = explorer.image.value
    explorer.controls["filters"].value = 16
    assert explorer.image.value is before
    assert "(1, 26, 26, 16)" in html.unescape(explorer.caption.value)
    explorer.controls["dtype"].value = "uint8"  # now failing: the picture changes
    assert explorer.image.value != before
    assert "no output: ValueError at call" in html.unescape(explorer.caption.value)


def test_rectangular_kernel_and_strides_through_set():
    """set() accepts (rows, cols) pairs as Keras does; readout, rule and caption follow them."""
    explorer = ConvExplorer(padding="same")
    explorer.set(kernel_size=(3, 5), strides=(1, 2))
    assert explorer.readout_text == direct_readout((1, 28, 28, 1), filters=8, kernel_size=(3, 5),
                                                   strides=(1, 2), padding="same")
    rule = html.unescape(explorer.rule.value)
    assert "= 3: left 1, right 2 (the extra one goes right)" in rule
    caption = html.unescape(explorer.caption.value)
    assert "kernel 3\u00d75" in caption and "stride 1\u00d72" in caption


def test_kernel_larger_than_input_is_drawn_sticking_out():
    """Rule 2 failing: the kernel's frame is drawn dashed beyond the input, and said in words."""
    explorer = ConvExplorer(height=7, width=9, kernel_size=3, dilation_rate=5)
    assert explorer.figure.footprint.get_visible()
    assert explorer.figure.footprint.get_linestyle() == "--"
    assert explorer.figure.footprint.get_width() == 11  # k_eff = 5 * (3 - 1) + 1
    assert "does not fit in the 7\u00d79" in html.unescape(explorer.caption.value)


def test_readout_escapes_only_what_html_needs():
    """A Keras message with '<' (uint8 input) shows verbatim: value is escaped, readout_text raw."""
    explorer = ConvExplorer(dtype="uint8", plot=False)
    assert "<tf.Variable" in explorer.readout_text
    assert "&lt;tf.Variable" in explorer.readout.value
    assert html.unescape(explorer.readout.value) == explorer.readout_text
    explorer.close()
    assert explorer.view.comm is None


# --- input_layout and feed_to: the array's layout, and a bare layer or a keras.Input model ---


def test_input_layout_nhwc_array_into_a_channels_first_layer():
    """Lesson 04's silent mismatch: an NHWC image read as NCHW gives (1, 8, 26, 1), no error."""
    explorer = ConvExplorer(data_format="channels_first", input_layout="channels_last",
                            channels=3)
    assert explorer.input_shape == (1, 28, 28, 3)
    assert explorer.readout_text == "Output shape: (1, 8, 26, 1)"
    assert explorer.readout_text == direct_readout((1, 28, 28, 3), filters=8, kernel_size=3,
                                                   data_format="channels_first")
    # the drawing shows the 28 x 3 "image" the layer really reads
    caption = html.unescape(explorer.caption.value)
    assert "input 28\u00d73" in caption and "output 26\u00d71 (1, 8, 26, 1)" in caption


def test_input_layout_defaults_to_the_layers_data_format():
    """Without input_layout the array follows data_format (no mismatch), as before."""
    explorer = ConvExplorer(data_format="channels_first", channels=3, plot=False)
    assert explorer.values["input_layout"] is None and explorer.input_layout == "channels_first"
    assert explorer.input_shape == (1, 3, 28, 28)
    assert explorer.readout_text == "Output shape: (1, 8, 26, 26)"
    with pytest.raises(ValueError, match="NCHW"):
        ConvExplorer(input_layout="NCHW", plot=False)
    with pytest.raises(ValueError, match="feed_to"):
        explorer.set(feed_to="graph")


def test_feed_to_model_adds_the_missing_channel_axis_of_a_gray_image():
    """Lesson 01: keras.Input((28, 28, 1)) then Conv2D accepts a (1, 28, 28) array (Keras 3)."""
    explorer = ConvExplorer(feed_to="model", channels=1, drop_axes=("channel",), plot=False)
    assert explorer.input_shape == (1, 28, 28)
    assert explorer.layer_input == (None, 28, 28, 1)
    expected = direct_model_readout((1, 28, 28), (28, 28, 1), filters=8, kernel_size=3)
    assert explorer.readout_text == expected == "Output shape: (1, 26, 26, 8)"
    bare = ConvExplorer(feed_to="layer", channels=1, drop_axes=("channel",), plot=False)
    assert "min_ndim=4" in bare.readout_text  # the bare layer refuses the same array
    rule = html.unescape(explorer.rule.value)
    assert rule.startswith("The model's Conv2D is built on keras.Input's shape (None, 28, 28, 1)")
    assert "Predicted output shape: (None, 26, 26, 8)" in rule


def test_feed_to_model_refuses_a_gray_image_for_an_rgb_model():
    """Lesson 01: a model declared for RGB refuses (1, 28, 28): no axis can be added."""
    explorer = ConvExplorer(feed_to="model", channels=3, drop_axes=("channel",), plot=False)
    expected = direct_model_readout((1, 28, 28), (28, 28, 3), filters=8, kernel_size=3)
    assert explorer.readout_text == expected
    assert expected.startswith("ValueError (at call): Invalid input shape")


def test_feed_to_model_under_keras_2():
    """legacy=True builds the model with tf_keras; the readout equals a direct tf_keras model.

    On this stack Keras 2 ALSO adds the missing trailing axis of a gray image
    (channels=1), and refuses the RGB case with its input-spec message.
    """
    gray = ConvExplorer(feed_to="model", channels=1, drop_axes=("channel",), legacy=True,
                        plot=False)
    expected = direct_model_readout((1, 28, 28), (28, 28, 1), legacy=True, filters=8,
                                    kernel_size=3)
    assert gray.readout_text == expected
    rgb = ConvExplorer(feed_to="model", channels=3, drop_axes=("channel",), legacy=True,
                       plot=False)
    expected = direct_model_readout((1, 28, 28), (28, 28, 3), legacy=True, filters=8,
                                    kernel_size=3)
    assert rgb.readout_text == expected and not expected.startswith("Output shape")


def test_model_input_fixes_the_declaration_keras_2_checks_height_and_width():
    """Lesson 05: a model declared for 28x28 fed 100x100: Keras 3 runs it, Keras 2 refuses."""
    for legacy in (False, True):
        explorer = ConvExplorer(feed_to="model", model_input=(28, 28, 1), height=100, width=100,
                                legacy=legacy, plot=False)
        expected = direct_model_readout((1, 100, 100, 1), (28, 28, 1), legacy=legacy,
                                        filters=8, kernel_size=3)
        assert explorer.readout_text == expected
        assert expected.startswith("Output shape") == (not legacy)


def test_a_learner_switches_input_layout_and_feed_to_with_the_dropdowns():
    """The two new controls work through their widgets, as a learner's clicks would."""
    explorer = ConvExplorer(controls=ALL_CONTROLS, channels=3)
    controls = explorer.controls
    assert controls["input_layout"].value == "as_data_format"
    controls["data_format"].value = "channels_first"
    assert explorer.input_shape == (1, 3, 28, 28)
    controls["input_layout"].value = "channels_last"
    assert explorer.values["input_layout"] == "channels_last"
    assert explorer.readout_text == "Output shape: (1, 8, 26, 1)"
    controls["input_layout"].value = "as_data_format"
    assert explorer.values["input_layout"] is None
    assert explorer.readout_text == "Output shape: (1, 8, 26, 26)"
    controls["data_format"].value = "channels_last"
    controls["drop_axes"].value = ("channel",)
    controls["feed_to"].value = "model"
    assert explorer.readout_text == direct_model_readout((1, 28, 28), (28, 28, 3), filters=8,
                                                         kernel_size=3)
    explorer.set(input_layout="channels_first", feed_to="layer", drop_axes=())
    assert controls["input_layout"].value == "channels_first"
    assert controls["feed_to"].value == "layer"
    assert explorer.input_shape == (1, 3, 28, 28)
