"""Contract tests for lesson 06 (notebooks/06-shape-detective.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras (error type,
message fragment, shape) or about what ``convclinic.diagnose`` reports for the
lesson's broken models, against the installed stack. The models are built exactly
as in the lesson's cells.
"""

from __future__ import annotations

import numpy as np
import pytest

import convclinic
from convclinic import shapes
from convclinic.runtime import clean_message, import_keras
from tests.conftest import require_command
from tests.contract.raised import error_of

keras = import_keras()
layers = keras.layers
IMAGES = np.ones((1, 28, 28, 1), dtype="float32")


def shrinking_model():
    return keras.Sequential(
        [layers.Conv2D(8, 3, strides=2, name=f"down{index}") for index in range(3)]
        + [layers.Conv2D(8, 3, name="last")]
    )


def rgb_model():
    return keras.Sequential([keras.Input((28, 28, 3)), layers.Conv2D(8, 3, name="conv")])


def gray_model():
    return keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3, name="conv")])


def valid_model_with_same_head():
    same_model = keras.Sequential([
        keras.Input((28, 28, 1)), layers.Conv2D(32, 3, padding="same"), layers.Flatten(),
        layers.Dense(10, name="dense"),
    ])
    return keras.Sequential([
        layers.Conv2D(32, 3, padding="valid", name="conv"), layers.Flatten(name="flatten"),
        same_model.get_layer("dense"),
    ])


def build_dilated_model():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, strides=2, dilation_rate=2, name="dilated"),
    ])


def channels_first_model():
    return keras.Sequential([
        keras.Input((3, 28, 28)), layers.Conv2D(8, 3, data_format="channels_first", name="conv"),
    ])


def test_lesson06_shrinking_stack_fails_with_zero_or_negative_size():
    """Lesson 06, 'The failure, live': ValueError, 'Computed output size would be zero or
    negative', inputs shape=(1, 2, 2, 8), and the message does not name the layer."""
    error = error_of(lambda: shrinking_model()(IMAGES))
    message = clean_message(error)
    assert isinstance(error, ValueError)
    assert "Computed output size would be zero or negative" in message
    assert "inputs shape=(1, 2, 2, 8)" in message
    assert "'last'" not in message and "down2" not in message


def test_lesson06_trace_by_hand_matches_real_keras_layer_by_layer():
    """Lesson 06, step 2 by hand: the rule trace 28 -> 13 -> 6 -> 2 fails at 'last', and the
    real layers give the same sizes one at a time."""
    trace = shapes.trace(
        [shapes.Conv2D(8, 3, strides=2, name=f"down{index}") for index in range(3)]
        + [shapes.Conv2D(8, 3, name="last")],
        IMAGES.shape,
    )
    assert [step.output_shape for step in trace.steps[:3]] == [
        (1, 13, 13, 8), (1, 6, 6, 8), (1, 2, 2, 8)]
    assert trace.failed_layer == "last"
    model = shrinking_model()
    h = IMAGES
    for layer, step in zip(model.layers[:3], trace.steps[:3], strict=True):
        h = layer(h)
        assert tuple(h.shape) == step.output_shape
    with pytest.raises(ValueError, match="zero or negative"):
        model.layers[3](h)


def test_lesson06_diagnose_names_the_shrinking_stack_and_the_fix_runs():
    """Lesson 06, 'The failure, live': spatial_too_small in 'last'; apply_fix (padding='same'
    in 'last') gives (1, 2, 2, 8)."""
    model = shrinking_model()
    report = convclinic.diagnose(model, IMAGES)
    assert (report.cause, report.layer) == ("spatial_too_small", "last")
    assert report.config_fix == {"last": {"padding": "same"}}
    fixed_model, fixed_images = report.apply_fix(model, IMAGES)
    assert tuple(fixed_model(fixed_images).shape) == (1, 2, 2, 8)


def test_lesson06_rgb_model_fed_grayscale_batch():
    """Lesson 06, case 2: Keras 3 says 'Invalid input shape'; diagnose: missing_channel_axis
    in 'conv'; the fix repeats the channel: (2, 28, 28) -> (2, 28, 28, 3) -> (2, 26, 26, 8)."""
    batch = np.ones((2, 28, 28), dtype="float32")
    error = error_of(lambda: rgb_model()(batch))
    assert isinstance(error, ValueError) and "Invalid input shape" in clean_message(error)
    model = rgb_model()
    report = convclinic.diagnose(model, batch)
    assert (report.cause, report.layer) == ("missing_channel_axis", "conv")
    assert "np.repeat" in report.fix
    fixed_model, fixed_batch = report.apply_fix(model, batch)
    assert fixed_batch.shape == (2, 28, 28, 3)
    assert tuple(fixed_model(fixed_batch).shape) == (2, 26, 26, 8)


def test_lesson06_padding_change_breaks_the_dense_head():
    """Lesson 06, case 3: the error names 'dense': expected 25088 (28*28*32), received 21632
    (26*26*32); diagnose: downstream_shape_mismatch in 'dense'; rebuilt model gives (1, 10)."""
    assert 28 * 28 * 32 == 25088 and 26 * 26 * 32 == 21632
    error = error_of(lambda: valid_model_with_same_head()(IMAGES))
    message = clean_message(error)
    assert "of layer 'dense'" in message
    assert "expected axis -1 of input shape to have value 25088" in message
    assert "(1, 21632)" in message
    model = valid_model_with_same_head()
    report = convclinic.diagnose(model, IMAGES)
    assert (report.cause, report.layer) == ("downstream_shape_mismatch", "dense")
    assert [step[:2] for step in report.steps[:2]] == [
        ("conv", (1, 28, 28, 1)), ("flatten", (1, 26, 26, 32))]
    rebuilt, _ = report.apply_fix(model, IMAGES)
    assert tuple(rebuilt(IMAGES).shape) == (1, 10)


def test_lesson06_stride_with_dilation_fails_while_building():
    """Lesson 06, case 4: the builder raises 'not supported in conjunction'; diagnose of the
    builder: stride_dilation_conflict in 'dilated' at construct, fix keeps strides=1."""
    error = error_of(build_dilated_model)
    assert "`strides > 1` not supported in conjunction with `dilation_rate > 1`" in str(error)
    report = convclinic.diagnose(build_dilated_model)
    assert (report.cause, report.layer, report.phase) == (
        "stride_dilation_conflict", "dilated", "construct")
    assert "strides=1" in report.fix and "MaxPooling2D" in report.fix


def test_lesson06_channels_first_model_fed_channels_last_image():
    """Lesson 06, case 5: 'expected axis 1 of input shape to have value 3'; diagnose:
    data_format_mismatch in 'conv'; transposed input (1, 3, 28, 28) gives (1, 8, 26, 26)."""
    image = np.ones((1, 28, 28, 3), dtype="float32")
    error = error_of(lambda: channels_first_model()(image))
    assert "expected axis 1 of input shape to have value 3" in clean_message(error)
    model = channels_first_model()
    report = convclinic.diagnose(model, image)
    assert (report.cause, report.layer) == ("data_format_mismatch", "conv")
    assert report.fix.startswith("x = np.transpose(x, (0, 3, 1, 2))")
    fixed_model, fixed_image = report.apply_fix(model, image)
    assert fixed_image.shape == (1, 3, 28, 28)
    assert tuple(fixed_model(fixed_image).shape) == (1, 8, 26, 26)


def test_lesson06_silent_nchw_image_into_channels_last_layer():
    """Lesson 06, 'The silent cases': (1, 3, 28, 28) into a channels_last Conv2D(8, 3) runs and
    returns (1, 1, 26, 8) without an error; diagnose flags data_format_mismatch, silent."""
    image = np.ones((1, 3, 28, 28), dtype="float32")
    assert tuple(layers.Conv2D(8, 3)(image).shape) == (1, 1, 26, 8)
    report = convclinic.diagnose(layers.Conv2D(8, 3, name="conv"), image)
    assert (report.cause, report.layer, report.silent, report.ok) == (
        "data_format_mismatch", "conv", True, False)
    assert report.output_shape == (1, 1, 26, 8)


def test_lesson06_silent_added_channel_axis():
    """Lesson 06, 'The silent cases': a model declared (28, 28, 1) runs on (2, 28, 28) and gives
    (2, 26, 26, 8); the same batch fails on a plain Conv2D (min_ndim=4) and on an RGB model;
    diagnose reports missing_channel_axis, silent, not ok."""
    batch = np.ones((2, 28, 28), dtype="float32")
    assert tuple(gray_model()(batch).shape) == (2, 26, 26, 8)
    assert "min_ndim=4" in clean_message(error_of(lambda: layers.Conv2D(8, 3)(batch)))
    error_of(lambda: rgb_model()(batch))
    report = convclinic.diagnose(gray_model(), batch)
    assert (report.ok, report.silent, report.cause) == (False, True, "missing_channel_axis")
    assert report.output_shape == (2, 26, 26, 8)


def test_lesson06_predict_then_check_answers():
    """Lesson 06, 'Predict, then check': the four answers the lesson prints, each case a real
    failure (7x7 on 5x5, padding=1, uint8 pixels, one image into a model)."""
    cases = {
        "big": (layers.Conv2D(16, 7, name="big"), np.ones((1, 5, 5, 1), "float32"),
                "spatial_too_small", "big"),
        "torch": (lambda: layers.Conv2D(16, 3, padding=1, name="torch_style"), IMAGES,
                  "invalid_padding", "torch_style"),
        "uint8": (layers.Conv2D(16, 3, name="conv"), IMAGES.astype("uint8"), "integer_dtype",
                  "conv"),
        "one": (gray_model(), np.ones((28, 28, 1), "float32"), "missing_batch_axis", "conv"),
    }
    for label, (target, x, cause, layer) in cases.items():
        report = convclinic.diagnose(target, x)
        assert (report.cause, report.layer) == (cause, layer), label
    assert isinstance(error_of(lambda: layers.Conv2D(16, 3, padding=1)), AttributeError)
    uint8_error = error_of(lambda: layers.Conv2D(16, 3)(IMAGES.astype("uint8")))
    assert "Incompatible type conversion requested to type uint8" in clean_message(uint8_error)


def test_lesson06_one_image_becomes_a_batch_of_28_and_a_negative_size():
    """Lesson 06, after 'Predict, then check': (28, 28, 1) into a model declared (28, 28, 1)
    becomes (28, 28, 1, 1) and fails with a negative output size; the message never mentions
    the batch axis."""
    error = error_of(lambda: gray_model()(np.ones((28, 28, 1), "float32")))
    message = clean_message(error).lower()
    assert "negative" in message
    assert "input_size: 1" in message
    assert "batch" not in message


# --- Step 2 with plain Keras: the native tools the lesson teaches ------------------------------


def test_lesson06_plain_layer_walk_prints_13_6_2_then_fails_in_last():
    """Lesson 06, section 'Step 2 with plain Keras': calling the layers one by one gives (1, 13, 13, 8),
    (1, 6, 6, 8), (1, 2, 2, 8), then 'last' raises 'Computed output size would be zero or negative'."""
    model = shrinking_model()
    x, shapes_seen, failed = IMAGES, [], None
    for layer in model.layers:
        try:
            x = layer(x)
        except ValueError as error:
            failed = (layer.name, clean_message(error))
            break
        shapes_seen.append(tuple(x.shape))
    assert shapes_seen == [(1, 13, 13, 8), (1, 6, 6, 8), (1, 2, 2, 8)]
    assert failed[0] == "last" and "Computed output size would be zero or negative" in failed[1]


def working_part():
    return keras.Sequential(
        [keras.Input((28, 28, 1))]
        + [layers.Conv2D(8, 3, strides=2, name=f"down{index}") for index in range(3)]
    )


def test_lesson06_summary_prints_each_output_shape(capsys):
    """Lesson 06, section 'Step 2 with plain Keras': model.summary() of the declared working part
    prints (None, 13, 13, 8), (None, 6, 6, 8) and (None, 2, 2, 8)."""
    working_part().summary()
    printed = capsys.readouterr().out
    for shape in ("(None, 13, 13, 8)", "(None, 6, 6, 8)", "(None, 2, 2, 8)"):
        assert shape in printed


def test_lesson06_plot_model_draws_a_png_with_pydot_and_graphviz(tmp_path):
    """Lesson 06, section 'Step 2 with plain Keras': keras.utils.plot_model(model, show_shapes=True)
    writes a PNG (it needs pydot and Graphviz's dot) and returns an image the notebook shows."""
    require_command("dot", "keras.utils.plot_model draws with Graphviz")
    target = tmp_path / "model.png"
    graph = keras.utils.plot_model(working_part(), to_file=str(target), show_shapes=True)
    assert target.read_bytes().startswith(b"\x89PNG")
    assert graph.data.startswith(b"\x89PNG")


def test_lesson06_traceback_filtering_hides_keras_frames():
    """Lesson 06, section 'Step 2 with plain Keras': with keras.config.disable_traceback_filtering()
    the same error shows more traceback frames than with filtering on (the default)."""
    import traceback

    def frames():
        error = error_of(lambda: shrinking_model()(IMAGES))
        return len(traceback.extract_tb(error.__traceback__))

    assert keras.config.is_traceback_filtering_enabled()
    filtered = frames()
    keras.config.disable_traceback_filtering()
    try:
        unfiltered = frames()
    finally:
        keras.config.enable_traceback_filtering()
    assert unfiltered > filtered


def test_lesson06_layer_to_fix_is_the_first_whose_output_is_not_what_is_needed():
    """Lesson 06, section 'Case 3: the error further down the network': the error is raised in
    'dense', but the first output that is not what the model needs is conv's: 21632 features
    (26x26x32) where the head was built for 25088."""
    model = valid_model_with_same_head()
    conv_output = model.get_layer("conv")(IMAGES)
    assert tuple(layers.Flatten()(conv_output).shape) == (1, 21632)
    assert tuple(model.get_layer("dense").kernel.shape) == (25088, 10)
