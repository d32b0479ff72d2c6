"""Contract tests for lesson 01 (notebooks/01-missing-channel-axis.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras, against the
installed stack. When an upgrade changes a behaviour, the failing test names the
section of the lesson to rewrite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from convclinic.figures import grayscale_images
from convclinic.outcome import attempt
from convclinic.probe import probe
from convclinic.runtime import clean_message, import_keras, import_tensorflow


@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.fixture(scope="module")
def gray_model(keras):
    inputs = keras.Input(shape=(28, 28, 1))
    return keras.Model(inputs, keras.layers.Conv2D(8, 3)(inputs))


@pytest.fixture(scope="module")
def rgb_model(keras):
    inputs = keras.Input(shape=(28, 28, 3))
    return keras.Model(inputs, keras.layers.Conv2D(8, 3)(inputs))


def fresh_gray_model(keras):
    inputs = keras.Input(shape=(28, 28, 1))
    return keras.Model(inputs, keras.layers.Conv2D(8, 3)(inputs))


def float_batch(shape):
    return np.zeros(shape, dtype="float32")


def test_lesson01_grayscale_images_are_rank3_uint8():
    """Lesson 01, section 'Grayscale images have no channel axis': the loaded batch is (4, 28, 28) uint8."""
    images = grayscale_images(count=4, size=28)
    assert images.shape == (4, 28, 28)
    assert images.dtype == np.uint8
    assert images.std() > 10, "the crops should be real pictures, not flat grey"


def test_lesson01_rank3_batch_into_layer_raises_min_ndim(keras):
    """Lesson 01, section 'The failure, live': a Conv2D layer on (4, 28, 28) raises ValueError 'expected min_ndim=4, found ndim=3', before any weight exists."""
    conv = keras.layers.Conv2D(filters=8, kernel_size=3)
    with pytest.raises(ValueError) as caught:
        conv(grayscale_images())
    assert conv.weights == [] and not conv.built
    message = clean_message(caught.value)
    assert "min_ndim=4" in message
    assert "found ndim=3" in message
    assert "(4, 28, 28)" in message


def test_lesson01_conv2d_declares_min_ndim_4(keras):
    """Lesson 01, section 'The failure, live': Conv2D declares that its input needs at least 4 axes (input_spec min_ndim=4)."""
    assert keras.layers.Conv2D(8, 3).input_spec.min_ndim == 4


def test_lesson01_input_without_channel_axis_fails_at_construction(keras):
    """Lesson 01, section 'The failure, live': keras.Input((28, 28)) into Conv2D raises min_ndim=4 when the model is declared."""
    inputs = keras.Input(shape=(28, 28))
    with pytest.raises(ValueError) as caught:
        keras.layers.Conv2D(8, 3)(inputs)
    message = clean_message(caught.value)
    assert "min_ndim=4" in message
    assert "(None, 28, 28)" in message


def test_lesson01_functional_adjust_input_rank_exists(keras):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': the trailing axis is added by Functional._adjust_input_rank."""
    from keras.src.models.functional import Functional

    assert callable(getattr(Functional, "_adjust_input_rank", None))


def test_lesson01_gray_model_adds_trailing_axis(gray_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': (4, 28, 28) -> (4, 26, 26, 8)."""
    assert tuple(gray_model(float_batch((4, 28, 28))).shape) == (4, 26, 26, 8)


def test_lesson01_gray_model_predict_adds_trailing_axis_too(gray_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': predict() accepts (4, 28, 28) as well."""
    assert gray_model.predict(float_batch((4, 28, 28)), verbose=0).shape == (4, 26, 26, 8)


def test_lesson01_rgb_model_refuses_rank3_grayscale(rgb_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': an RGB model on (4, 28, 28) raises 'Invalid input shape'."""
    outcome = attempt(rgb_model, float_batch((4, 28, 28)))
    assert outcome.error_type == "ValueError"
    assert "Invalid input shape" in outcome.message
    assert "Expected shape (None, 28, 28, 3)" in outcome.message
    assert "incompatible shape (4, 28, 28)" in outcome.message


def test_lesson01_rgb_model_refuses_one_channel(rgb_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': (4, 28, 28, 1) raises 'expected axis -1 ... value 3'."""
    outcome = attempt(rgb_model, float_batch((4, 28, 28, 1)))
    assert outcome.error_type == "ValueError"
    assert (
        "expected axis -1 of input shape to have value 3, but received input with shape "
        "(4, 28, 28, 1)" in outcome.message
    )


def test_lesson01_rgb_fix_repeat_channel(rgb_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': repeating the channel 3 times feeds an RGB model."""
    rgb = np.repeat(float_batch((4, 28, 28))[..., None], 3, axis=-1)
    assert tuple(rgb_model(rgb).shape) == (4, 26, 26, 8)


def article_example1_model(keras):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.Sequential(
            [keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
        )
    return model, caught


def test_lesson01_article_input_shape_only_warns(keras):
    """Lesson 01, section 'Example 1 of an older tutorial, checked': input_shape= on a layer only emits a UserWarning."""
    _, caught = article_example1_model(keras)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any("Do not pass an `input_shape`/`input_dim` argument to a layer" in m for m in messages)


def test_lesson01_article_build_succeeds(keras):
    """Lesson 01, section 'Example 1 of an older tutorial, checked': model.build((None, 28, 28, 1)) succeeds, output (None, 26, 26, 32)."""
    model, _ = article_example1_model(keras)
    model.build((None, 28, 28, 1))
    assert model.built
    assert tuple(model.output_shape) == (None, 26, 26, 32)


def test_lesson01_article_summary_does_not_raise(keras, capsys):
    """Lesson 01, section 'Example 1 of an older tutorial, checked': model.summary() prints the table instead of raising."""
    model, _ = article_example1_model(keras)
    model.build((None, 28, 28, 1))
    model.summary()
    printed = capsys.readouterr().out
    assert "(None, 26, 26, 32)" in printed
    assert "320" in printed  # 3*3*1*32 + 32 parameters


def test_lesson01_article_rank3_tensor_runs_on_100x100(keras):
    """Lesson 01, section 'Example 1 of an older tutorial, checked': the article's (1, 100, 100) tensor gives (1, 98, 98, 32); height/width are not checked."""
    tf = import_tensorflow()
    model, _ = article_example1_model(keras)
    model.build((None, 28, 28, 1))
    assert tuple(model(tf.random.normal((1, 100, 100))).shape) == (1, 98, 98, 32)


def test_lesson01_keras2_refuses_article_rank3_tensor():
    """Lesson 01, section 'Example 1 of an older tutorial, checked': Keras 2 refused the call: 'expected shape=(None, 28, 28, 1), found shape=(1, 100, 100)'."""
    tf_keras = import_keras(legacy=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tf_keras.Sequential(
            [tf_keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
        )
    with pytest.raises(ValueError) as caught:
        model(float_batch((1, 100, 100)))
    assert "expected shape=(None, 28, 28, 1), found shape=(1, 100, 100)" in clean_message(
        caught.value
    )


def test_lesson01_one_image_eager_call_negative_size(keras):
    """Lesson 01, section 'One image without its batch axis': model(one_image) raises InvalidArgumentError 'Computed output size would be negative ... input_size: 1'."""
    outcome = attempt(fresh_gray_model(keras), float_batch((28, 28, 1)))
    assert outcome.error_type == "InvalidArgumentError"
    assert "Computed output size would be negative" in outcome.message
    assert "input_size: 1, effective_filter_size: 3" in outcome.message
    assert "batch" not in outcome.message.lower()


def test_lesson01_one_image_predict_negative_dimension(keras):
    """Lesson 01, section 'One image without its batch axis': predict(one_image) raises ValueError 'Negative dimension size caused by subtracting 3 from 1' on (28,28,1,1)."""
    model = fresh_gray_model(keras)
    model(float_batch((4, 28, 28)))  # the lesson calls the model eagerly first
    attempt(model, float_batch((28, 28, 1)))
    outcome = attempt(model.predict, float_batch((28, 28, 1)), verbose=0)
    assert outcome.error_type == "ValueError"
    assert "Negative dimension size caused by subtracting 3 from 1" in outcome.message
    assert "[28,28,1,1]" in outcome.message
    assert "batch" not in outcome.message.lower()


def test_lesson01_uint8_into_layer_refused(keras):
    """Lesson 01, section 'Integer images: uint8 pixels': a Conv2D layer on uint8 raises 'Incompatible type conversion requested to type uint8'."""
    outcome = attempt(keras.layers.Conv2D(8, 3), grayscale_images()[..., None])
    assert outcome.error_type == "ValueError"
    assert "Incompatible type conversion requested to type uint8" in outcome.message


def test_lesson01_uint8_into_model_is_cast(keras, gray_model):
    """Lesson 01, section 'Integer images: uint8 pixels': keras.Input is float32 by default; a model built on it casts uint8 and works."""
    assert keras.Input(shape=(28, 28, 1)).dtype == "float32"
    outcome = attempt(gray_model, grayscale_images()[..., None])
    assert outcome.ok, outcome
    assert outcome.output_shape == (4, 26, 26, 8)
    assert outcome.value.dtype == "float32"


def test_lesson01_float64_cast_to_float32(keras):
    """Lesson 01, section 'Integer images: uint8 pixels': float64 input to a layer is cast silently; the output is float32."""
    output = keras.layers.Conv2D(8, 3)(np.zeros((1, 28, 28, 1), dtype="float64"))
    assert output.dtype == "float32"


@pytest.mark.parametrize(
    "fix",
    [
        pytest.param(lambda x: np.expand_dims(x, axis=-1), id="expand_dims"),
        pytest.param(lambda x: x[..., None], id="none_index"),
    ],
)
def test_lesson01_fix_adds_channel_axis(keras, fix):
    """Lesson 01, section 'The fixes': np.expand_dims / x[..., None] on float32 pixels make Conv2D work: (4, 26, 26, 8)."""
    x = grayscale_images().astype("float32") / 255.0
    assert tuple(keras.layers.Conv2D(8, 3)(fix(x)).shape) == (4, 26, 26, 8)


def test_lesson01_fix_single_image(keras):
    """Lesson 01, section 'The fixes': one image with batch and channel axes added, (1, 28, 28, 1), works."""
    x = grayscale_images().astype("float32")[0][None, ..., None]
    assert tuple(keras.layers.Conv2D(8, 3)(x).shape) == (1, 26, 26, 8)


def test_lesson01_fix_reshape_layer(keras):
    """Lesson 01, section 'The fixes': a Reshape((28, 28, 1)) layer after keras.Input((28, 28)) accepts (4, 28, 28)."""
    model = keras.Sequential(
        [keras.Input(shape=(28, 28)), keras.layers.Reshape((28, 28, 1)), keras.layers.Conv2D(8, 3)]
    )
    assert tuple(model(float_batch((4, 28, 28))).shape) == (4, 26, 26, 8)


def test_lesson01_predict_check_cases():
    """Lesson 01, section 'Predict, then check': uint8 fails, float32 gives (32, 60, 60, 16), a missing batch axis on a bare layer says min_ndim=4."""
    batch = np.zeros((32, 64, 64), dtype="uint8")
    as_uint8 = probe(x=batch[..., None], filters=16, kernel_size=5)
    assert "Incompatible type conversion requested to type uint8" in as_uint8.message
    as_float = probe(x=batch[..., None].astype("float32"), filters=16, kernel_size=5)
    assert as_float.output_shape == (32, 60, 60, 16)
    no_batch = probe(x=batch[0].astype("float32")[..., None], filters=16, kernel_size=5)
    assert no_batch.error_type == "ValueError"
    assert "min_ndim=4" in no_batch.message


def test_lesson01_one_image_error_depends_on_history(keras):
    """Lesson 01, section 'One image without its batch axis': after an earlier predict() on an (N, 28, 28) batch the same mistake raises InvalidArgumentError 'Graph execution error ... Computed output size would be negative'."""
    model = fresh_gray_model(keras)
    model.predict(float_batch((4, 28, 28)), verbose=0)
    outcome = attempt(model.predict, float_batch((28, 28, 1)), verbose=0)
    assert outcome.error_type == "InvalidArgumentError"
    assert outcome.message.startswith("Graph execution error")
    assert "Computed output size would be negative" in outcome.message


def test_lesson01_one_image_after_a_correct_predict_has_no_shape_in_its_message(keras):
    """Lesson 01, section 'One image without its batch axis': after a predict() on a CORRECT (4, 28, 28, 1) batch, predict(one_image) raises ValueError 'as_list() is not defined on an unknown TensorShape.', and model(one_image) still gives the negative size without 'Graph execution error'."""
    model = fresh_gray_model(keras)
    assert model.predict(float_batch((4, 28, 28, 1)), verbose=0).shape == (4, 26, 26, 8)
    outcome = attempt(model.predict, float_batch((28, 28, 1)), verbose=0)
    assert outcome.error_type == "ValueError"
    assert outcome.message == "as_list() is not defined on an unknown TensorShape."
    direct = attempt(model, float_batch((28, 28, 1)))
    assert direct.error_type == "InvalidArgumentError"
    assert not direct.message.startswith("Graph execution error")
    assert "Computed output size would be negative: -1 [input_size: 1" in direct.message


def test_lesson01_adjust_input_rank_drops_one_extra_trailing_axis(keras, gray_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': with one axis too many and a trailing 1, the model drops it: (4, 28, 28, 1, 1) -> (4, 26, 26, 8)."""
    assert tuple(gray_model(float_batch((4, 28, 28, 1, 1))).shape) == (4, 26, 26, 8)


def test_lesson01_batch_of_batches_loses_its_trailing_axis_and_fails(keras, gray_model):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': a batch of batches (2, 4, 28, 28, 1) loses its trailing 1 and fails: 'expected shape=(None, 28, 28, 1), found shape=(2, 4, 28, 28)'."""
    outcome = attempt(gray_model, float_batch((2, 4, 28, 28, 1)))
    assert outcome.error_type == "ValueError"
    assert "expected shape=(None, 28, 28, 1), found shape=(2, 4, 28, 28)" in outcome.message


def test_lesson01_adjust_input_rank_is_not_a_bare_layer_feature(keras):
    """Lesson 01, section 'Why a model declared (28, 28, 1) does not complain': a bare layer does neither: (4, 28, 28, 1, 1) into Conv2D fails (rank 5 is not a 2-D image batch)."""
    outcome = attempt(keras.layers.Conv2D(8, 3), float_batch((4, 28, 28, 1, 1)))
    assert not outcome.ok


def test_lesson01_sequential_ignores_height_and_width_functional_checks_them(keras, gray_model):
    """Lesson 01, section 'The fixes' (fix 4): a Keras 3 Sequential declared keras.Input((28, 28, 1)) runs on (4, 100, 100, 1) -> (4, 98, 98, 8); the Functional gray_model refuses it ('expected shape=(None, 28, 28, 1)'); both refuse 3 channels."""
    sequential = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(8, 3)])
    assert tuple(sequential(float_batch((4, 100, 100, 1))).shape) == (4, 98, 98, 8)
    functional = attempt(gray_model, float_batch((4, 100, 100, 1)))
    assert functional.error_type == "ValueError"
    assert "expected shape=(None, 28, 28, 1)" in functional.message
    for model in (sequential, gray_model):
        assert not attempt(model, float_batch((4, 28, 28, 3))).ok


def test_lesson01_keras2_models_append_the_channel_axis_too():
    """Lesson 01, section 'Example 1 of an older tutorial, checked': Keras 2 models (Functional and Sequential) also append a missing channel axis of 1, (4, 28, 28) -> (4, 26, 26, 8); Keras 2 refuses (1, 100, 100) because of the declared height and width."""
    tf_keras = import_keras(legacy=True)
    inputs = tf_keras.Input(shape=(28, 28, 1))
    functional = tf_keras.Model(inputs, tf_keras.layers.Conv2D(8, 3)(inputs))
    sequential = tf_keras.Sequential([tf_keras.Input(shape=(28, 28, 1)), tf_keras.layers.Conv2D(8, 3)])
    for model in (functional, sequential):
        assert tuple(model(float_batch((4, 28, 28))).shape) == (4, 26, 26, 8)
        outcome = attempt(model, float_batch((1, 100, 100)))
        assert "expected shape=(None, 28, 28, 1), found shape=(1, 100, 100)" in outcome.message


def lesson01_explorer():
    from convclinic.widgets import ConvExplorer

    return ConvExplorer(
        height=28, width=28, channels=1, batch=4, filters=8, kernel_size=3,
        controls=("drop_axes", "dtype", "channels", "batch", "height", "width"), plot=False,
    )


def test_lesson01_explorer_starts_valid_and_shows_controls():
    """Lesson 01, section 'Try it: the live explorer': starts at a working (4, 26, 26, 8) and shows drop axes and dtype."""
    explorer = lesson01_explorer()
    assert explorer.readout.value == "Output shape: (4, 26, 26, 8)"
    assert {"drop_axes", "dtype"} <= set(explorer.controls)


@pytest.mark.parametrize(
    "values,fragment",
    [
        (dict(drop_axes=("channel",)), "min_ndim=4"),
        (dict(drop_axes=("batch",)), "min_ndim=4"),
        (dict(dtype="uint8"), "Incompatible type conversion requested to type uint8"),
    ],
)
def test_lesson01_explorer_shows_real_errors(values, fragment):
    """Lesson 01, section 'Try it: the live explorer': dropping an axis or choosing uint8 shows the real Keras error."""
    explorer = lesson01_explorer().set(**values)
    assert not explorer.result.ok
    assert fragment in explorer.result.message
    assert explorer.readout.value.startswith("ValueError")


def test_lesson01_explorer_feeds_a_model_that_adds_the_channel_axis():
    """Lesson 01, section 'Try it: the live explorer': with feed to = model and the channel axis dropped, the 1-channel model adds the axis (an output shape, under Keras 2 as well), the 3-channel model refuses, and the bare layer says min_ndim=4."""
    from convclinic.widgets import ConvExplorer

    gray = ConvExplorer(feed_to="model", channels=1, drop_axes=("channel",), plot=False)
    assert gray.result.ok, gray.result.message
    assert gray.readout.value.startswith("Output shape:")
    rgb = ConvExplorer(feed_to="model", channels=3, drop_axes=("channel",), plot=False)
    assert not rgb.result.ok
    legacy = ConvExplorer(feed_to="model", channels=1, drop_axes=("channel",), plot=False, legacy=True)
    assert legacy.result.ok, legacy.result.message
    layer = ConvExplorer(feed_to="layer", channels=1, drop_axes=("channel",), plot=False)
    assert "min_ndim=4" in layer.result.message
