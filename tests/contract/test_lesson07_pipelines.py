"""Contract tests for lesson 07 (notebooks/07-data-pipelines.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras in a data
pipeline (error type, message fragment, shape, default argument, silent
behaviour) against the installed stack. The models and data are built as in the
lesson's cells. The PyTorch statements of the porting section are checked
against real PyTorch (an optional test dependency, never needed by the lesson).
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import warnings

import numpy as np
import pytest

from convclinic import shapes
from convclinic.pipelines import write_image_folder
from convclinic.runtime import clean_message, import_keras, import_tensorflow
from convclinic.shapes import conv_transpose_output_size
from tests.conftest import IN_CI
from tests.contract.raised import error_of, message_of

tf = import_tensorflow()
keras = import_keras()
layers = keras.layers

RNG = np.random.default_rng(0)
IMAGES = RNG.random((16, 28, 28, 1), dtype="float32")
LABELS = RNG.integers(0, 10, size=16)


def small_model(outputs=10, rescale=False):
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        *([layers.Rescaling(1 / 255)] if rescale else []),
        layers.Conv2D(8, 3, activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(outputs),
    ])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.fixture(autouse=True)
def _no_data_adapter_warnings():
    """The two Keras warnings the lesson filters too (not about shapes)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
        warnings.filterwarnings("ignore", message=r"Your input ran out of data")
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("lesson07") / "shapes", per_class=6, size=28)


def test_lesson07_fit_on_arrays_batches_by_32():
    """Lesson 07, section 'The failure, live: a dataset without `.batch()`': fit on NumPy arrays
    batches for you (batch_size=32: 100 examples are 4 steps) and works on (N, 28, 28, 1)."""
    steps = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(batch))
    images = np.zeros((100, 28, 28, 1), "float32")
    small_model().fit(images, np.zeros(100, "int64"), epochs=1, verbose=0, callbacks=[counter])
    assert len(steps) == 4


def test_lesson07_unbatched_dataset_negative_dimension():
    """Lesson 07, section 'The failure, live: a dataset without `.batch()`': each element is (28, 28, 1);
    fit raises ValueError 'Negative dimension size caused by subtracting 3 from 1' with input shapes
    [28,28,1,1]; .batch(4) gives (None, 28, 28, 1) and fit works."""
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS))
    assert tuple(dataset.element_spec[0].shape) == (28, 28, 1)
    message = message_of(lambda: small_model().fit(dataset, epochs=1, verbose=0))
    assert "Negative dimension size caused by subtracting 3 from 1" in message
    assert "[28,28,1,1]" in message
    batched = dataset.batch(4)
    assert tuple(batched.element_spec[0].shape) == (None, 28, 28, 1)
    small_model().fit(batched, epochs=1, verbose=0)


def generator_dataset():
    def one_image_at_a_time():
        yield from zip(IMAGES, LABELS, strict=True)

    return tf.data.Dataset.from_generator(
        one_image_at_a_time,
        output_signature=(tf.TensorSpec((28, 28, 1), tf.float32), tf.TensorSpec((), tf.int64)),
    )


def test_lesson07_generator_of_single_images():
    """Lesson 07, section 'A generator that yields single images': the same 'Negative dimension size
    caused by subtracting 3 from 1' error; .batch(4) on the generator dataset fixes it."""
    message = message_of(lambda: small_model().fit(generator_dataset(), epochs=1, verbose=0))
    assert "Negative dimension size caused by subtracting 3 from 1" in message
    small_model().fit(generator_dataset().batch(4), epochs=1, verbose=0)


def test_lesson07_double_batching_is_rank5_and_squeezed():
    """Lesson 07, section 'Batching twice: a rank-5 input': one element is (None, None, 28, 28, 1); the
    model squeezes the trailing 1 and raises 'expected axis -1 of input shape to have value 1, but
    received input with shape (None, None, 28, 28)'; the raw message shows the rank-5 input; .unbatch()
    takes one batch axis off again."""
    twice = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(4).batch(2)
    assert tuple(twice.element_spec[0].shape) == (None, None, 28, 28, 1)
    error = error_of(lambda: small_model().fit(twice, epochs=1, verbose=0))
    assert isinstance(error, ValueError)
    assert ("expected axis -1 of input shape to have value 1, but received input with shape "
            "(None, None, 28, 28)") in clean_message(error)
    assert "shape=(None, None, 28, 28, 1)" in str(error)
    once = twice.unbatch()
    assert tuple(once.element_spec[0].shape) == (None, 28, 28, 1)
    small_model().fit(once, epochs=1, verbose=0)


def test_lesson07_predict_one_image_needs_a_batch_axis():
    """Lesson 07, section 'One image to `predict`': predict on one (28, 28, 1) image raises
    'Negative dimension size caused by subtracting 3 from 1'; image[np.newaxis] gives (1, 10)."""
    model = small_model()
    message = message_of(lambda: model.predict(IMAGES[0], verbose=0))
    assert "Negative dimension size caused by subtracting 3 from 1" in message
    assert model.predict(IMAGES[0][np.newaxis], verbose=0).shape == (1, 10)


def test_lesson07_image_folder_is_small_grayscale_pngs(folder):
    """Lesson 07, section '`image_dataset_from_directory`: RGB and 256 × 256 by default': the lesson
    writes 12 grayscale ('L') PNG files of 28 x 28 pixels, circles and squares, the same each time."""
    from PIL import Image

    files = sorted(folder.rglob("*.png"))
    assert len(files) == 12
    assert {path.parent.name for path in files} == {"circle", "square"}
    for path in files:
        with Image.open(path) as picture:
            assert picture.mode == "L" and picture.size == (28, 28)
    again = write_image_folder(folder.parent / "again", per_class=6, size=28)
    assert (again / "circle" / "circle-0.png").read_bytes() == (folder / "circle" / "circle-0.png").read_bytes()


def test_lesson07_image_dataset_from_directory_defaults(folder):
    """Lesson 07, section '`image_dataset_from_directory`: RGB and 256 × 256 by default':
    color_mode='rgb', image_size=(256, 256), batch_size=32; the 28 x 28 grayscale files come out as
    (None, 256, 256, 3) float32, and a (28, 28, 1) model raises 'expected axis -1 ... value 1, but
    received input with shape (None, 256, 256, 3)'."""
    defaults = inspect.signature(keras.utils.image_dataset_from_directory).parameters
    assert defaults["color_mode"].default == "rgb"
    assert tuple(defaults["image_size"].default) == (256, 256)
    assert defaults["batch_size"].default == 32
    dataset = keras.utils.image_dataset_from_directory(folder, verbose=False)
    assert tuple(dataset.element_spec[0].shape) == (None, 256, 256, 3)
    assert dataset.element_spec[0].dtype == tf.float32
    assert dataset.class_names == ["circle", "square"]
    message = message_of(lambda: small_model(outputs=2).fit(dataset, epochs=1, verbose=0))
    assert ("expected axis -1 of input shape to have value 1, but received input with shape "
            "(None, 256, 256, 3)") in message


def test_lesson07_grayscale_loader_values_are_not_scaled(folder):
    """Lesson 07, section '`image_dataset_from_directory`: RGB and 256 × 256 by default': with
    color_mode='grayscale', image_size=(28, 28) one element is (None, 28, 28, 1) float32 with values
    from 0 to 255 (not scaled)."""
    dataset = keras.utils.image_dataset_from_directory(
        folder, color_mode="grayscale", image_size=(28, 28), batch_size=4, verbose=False)
    assert tuple(dataset.element_spec[0].shape) == (None, 28, 28, 1)
    values = np.concatenate([batch.numpy() for batch, _ in dataset])
    assert values.dtype == np.float32
    assert values.min() >= 0 and 1 < values.max() <= 255


def test_lesson07_rescaling_accepts_uint8_and_a_bare_conv_does_not(folder):
    """Lesson 07, section 'Pixel values: `Rescaling(1/255)` inside the model': a bare Conv2D on uint8
    raises 'Incompatible type conversion requested to type uint8'; Rescaling(1/255) turns uint8 into
    float32 in [0, 1]; the model with Rescaling first trains on the folder and predicts on raw uint8."""
    raw = (IMAGES[:2] * 255).astype("uint8")
    message = message_of(lambda: layers.Conv2D(8, 3)(raw))
    assert "Incompatible type conversion requested to type uint8" in message
    scaled = layers.Rescaling(1 / 255)(raw)
    assert scaled.dtype == tf.float32
    assert 0 <= float(tf.reduce_min(scaled)) and float(tf.reduce_max(scaled)) <= 1.0
    dataset = keras.utils.image_dataset_from_directory(
        folder, color_mode="grayscale", image_size=(28, 28), batch_size=4, verbose=False)
    classifier = small_model(outputs=2, rescale=True)
    classifier.fit(dataset, epochs=1, verbose=0)
    assert classifier.predict(raw, verbose=0).shape == (2, 2)


def test_lesson07_flatten_needs_a_fixed_size():
    """Lesson 07, section 'Variable-size inputs: `Flatten` needs a fixed size': keras.Input((None, None, 3))
    + Flatten + Dense raises 'Shapes used to initialize variables must be fully-defined' for shape=(None, 10)."""
    message = message_of(lambda: keras.Sequential([
        keras.Input((None, None, 3)), layers.Conv2D(8, 3, activation="relu"), layers.Flatten(),
        layers.Dense(10),
    ]))
    assert "Shapes used to initialize variables must be fully-defined" in message
    assert "shape=(None, 10)" in message


def test_lesson07_global_pooling_takes_any_size():
    """Lesson 07, section 'Variable-size inputs: `Flatten` needs a fixed size': with GlobalAveragePooling2D
    28x28, 50x40 and 224x160 images all give (1, 10), and the Dense kernel is (8, 10)."""
    model = keras.Sequential([
        keras.Input((None, None, 3)), layers.Conv2D(8, 3, activation="relu"),
        layers.GlobalAveragePooling2D(), layers.Dense(10),
    ])
    for height, width in [(28, 28), (50, 40), (224, 160)]:
        assert tuple(model(np.zeros((1, height, width, 3), "float32")).shape) == (1, 10)
    assert tuple(model.layers[-1].kernel.shape) == (8, 10)


def test_lesson07_conv1d_and_conv3d_on_images():
    """Lesson 07, section 'Conv1D, Conv3D and rank-5 inputs': Conv1D on (1, 28, 28, 1) raises 'Kernel shape
    must have the same length as input' with kernel (3, 1, 8); Conv3D raises 'expected min_ndim=5'."""
    images = np.zeros((1, 28, 28, 1), "float32")
    message = message_of(lambda: layers.Conv1D(8, 3)(images))
    assert "Kernel shape must have the same length as input" in message
    assert "kernel of shape (3, 1, 8)" in message
    assert "expected min_ndim=5, found ndim=4" in message_of(lambda: layers.Conv3D(8, 3)(images))


def test_lesson07_rank5_clips():
    """Lesson 07, section 'Conv1D, Conv3D and rank-5 inputs': Conv2D on clips (1, 4, 28, 28, 1) raises
    'Kernel shape must have the same length as input'; TimeDistributed(Conv2D) gives (1, 4, 26, 26, 8),
    Conv3D gives (1, 2, 26, 26, 8)."""
    clips = np.zeros((1, 4, 28, 28, 1), "float32")
    message = message_of(lambda: layers.Conv2D(8, 3)(clips))
    assert "Kernel shape must have the same length as input" in message
    assert "input of shape (1, 4, 28, 28, 1)" in message
    assert tuple(layers.TimeDistributed(layers.Conv2D(8, 3))(clips).shape) == (1, 4, 26, 26, 8)
    assert tuple(layers.Conv3D(8, 3)(clips).shape) == (1, 2, 26, 26, 8)


def real_transpose_size(size, kernel, stride, padding, output_padding=None):
    """The height the real Conv2DTranspose gives on a (size, size + 1) image, or "error"."""
    layer = layers.Conv2DTranspose(1, kernel, strides=stride, padding=padding,
                                   output_padding=output_padding)
    try:
        return int(layer(np.zeros((1, size, size + 1, 1), "float32")).shape[1])
    except (ValueError, tf.errors.OpError):
        return "error"


def rule_size(*args, **kwargs):
    try:
        return conv_transpose_output_size(*args, **kwargs)
    except ValueError:
        return "error"


def test_lesson07_conv2d_transpose_rule_matches_keras():
    """Lesson 07, section '`Conv2DTranspose`: output sizes': same gives n*s, valid (n-1)*s+k (k >= s),
    n*s + max(k-s, 0) in general, and with output_padding (n-1)*s + k - 2*pad + p; checked on the real
    layer for every small combination (the rule refuses exactly the ones the layer refuses), and for
    the lesson's numbers (7 -> 14, 13 -> 26, 7 -> 15)."""
    checked = refused = 0
    for size, kernel, stride, padding in itertools.product((2, 5, 7), (1, 2, 3, 4, 5), (1, 2, 3),
                                                          ("same", "valid")):
        for output_padding in (None, *range(stride)):
            rule = rule_size(size, kernel, stride, padding, output_padding)
            assert rule == real_transpose_size(size, kernel, stride, padding, output_padding), (
                size, kernel, stride, padding, output_padding)
            checked += 1
            refused += rule == "error"
    assert checked > 200 and 0 < refused < checked / 4
    assert [conv_transpose_output_size(7, 3, 2, "same"), conv_transpose_output_size(13, 3, 2, "same"),
            conv_transpose_output_size(7, 3, 2, "valid")] == [14, 26, 15]
    assert real_transpose_size(7, 3, 2, "valid") == 15


def test_lesson07_conv2d_transpose_rule_with_dilation_matches_keras_arithmetic():
    """Lesson 07, section '`Conv2DTranspose`: output sizes': the rule uses k_eff = d * (k - 1) + 1 like
    Keras's own output-shape arithmetic (a dilated transpose does not run on CPU, so the layer's
    compute_output_shape is the reference here)."""
    for size, kernel, padding, dilation in itertools.product((3, 6, 9), (2, 3, 5), ("same", "valid"), (2, 3)):
        layer = layers.Conv2DTranspose(1, kernel, padding=padding, dilation_rate=dilation)
        real = layer.compute_output_shape((1, size, size, 1))[1]
        assert conv_transpose_output_size(size, kernel, 1, padding, dilation=dilation) == real


def test_lesson07_even_kernel_same_output_padding_zero_is_refused_when_run():
    """Lesson 07, section '`Conv2DTranspose`: output sizes': with an even kernel, padding='same' and
    output_padding=0 the layer is created, then TensorFlow refuses it when it runs (InvalidArgumentError
    'Size of out_backprop doesn't match computed', or, from the oneDNN kernel, AbortedError 'could not
    create a primitive descriptor'); output_padding=1 works (7 -> 13)."""
    layer = layers.Conv2DTranspose(1, 4, strides=2, padding="same", output_padding=0)
    message = message_of(lambda: layer(np.zeros((1, 7, 7, 1), "float32")), tf.errors.OpError)
    assert ("Size of out_backprop doesn't match computed" in message
            or "could not create a primitive descriptor" in message), message
    assert real_transpose_size(7, 4, 2, "same", 1) == 13 == conv_transpose_output_size(7, 4, 2, "same", 1)
    assert rule_size(7, 4, 2, "same", 0) == "error"


def test_lesson07_output_padding_must_be_below_stride():
    """Lesson 07, section '`Conv2DTranspose`: output sizes': output_padding=2 with strides=2 is refused
    when the layer is created ('must be strictly less than `strides`'); the rule refuses it too."""
    message = message_of(lambda: layers.Conv2DTranspose(4, 3, strides=2, padding="same", output_padding=2))
    assert "must be strictly less than `strides`" in message
    with pytest.raises(ValueError):
        conv_transpose_output_size(7, 3, 2, "same", output_padding=2)


def autoencoder(size, last_output_padding=None):
    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2DTranspose(1, 3, strides=2, padding="same", output_padding=last_output_padding)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return model


def test_lesson07_decoder_rebuilds_28_from_27():
    """Lesson 07, section 'A decoder that does not match its encoder': encoder 27 -> 14 -> 7 and
    28 -> 14 -> 7, decoder 7 -> 14 -> 28; the 27 model builds with output (None, 28, 28, 1) and fit
    raises 'Dimensions must be equal, but are 27 and 28'; the 28 model trains."""
    for size in (27, 28):
        down = [size]
        for _ in range(2):
            down.append(shapes.conv_output_size(down[-1], 3, stride=2, padding="same"))
        assert down == [size, 14, 7]
    assert [conv_transpose_output_size(7, 3, 2, "same"), conv_transpose_output_size(14, 3, 2, "same")] == [14, 28]
    model = autoencoder(27)
    assert tuple(model.output.shape) == (None, 28, 28, 1)
    pictures = np.zeros((4, 27, 27, 1), "float32")
    message = message_of(lambda: model.fit(pictures, pictures, epochs=1, verbose=0))
    assert "Dimensions must be equal, but are 27 and 28" in message
    ok = np.zeros((4, 28, 28, 1), "float32")
    autoencoder(28).fit(ok, ok, epochs=1, verbose=0)


def test_lesson07_decoder_fixes():
    """Lesson 07, section 'A decoder that does not match its encoder': a skip connection fails in
    Concatenate (27 x 27 with 28 x 28); Cropping2D(((0, 1), (0, 1))) takes 28 to 27; the last transpose
    with padding='same', output_padding=0 gives 14 -> 27 and the model trains on 27 x 27."""
    inputs = keras.Input((27, 27, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    up = layers.Conv2DTranspose(8, 3, strides=2, padding="same")(x)
    up = layers.Conv2DTranspose(1, 3, strides=2, padding="same")(up)
    message = message_of(lambda: layers.Concatenate()([inputs, up]))
    assert "matching shapes" in message and "(None, 27, 27, 1)" in message and "(None, 28, 28, 1)" in message
    assert tuple(layers.Cropping2D(((0, 1), (0, 1)))(np.zeros((1, 28, 28, 1), "float32")).shape) == (1, 27, 27, 1)
    assert conv_transpose_output_size(14, 3, 2, "same", output_padding=0) == 27
    fixed = autoencoder(27, last_output_padding=0)
    assert tuple(fixed.output.shape) == (None, 27, 27, 1)
    pictures = np.zeros((4, 27, 27, 1), "float32")
    fixed.fit(pictures, pictures, epochs=1, verbose=0)


@pytest.fixture
def channels_first_default():
    before = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        yield
    finally:
        keras.config.set_image_data_format(before)


def test_lesson07_channels_first_default_follows_some_layers(channels_first_default):
    """Lesson 07, section 'Under `channels_first`: three silent mistakes': after
    set_image_data_format('channels_first') Conv2D, MaxPooling2D and Flatten are channels_first, while
    BatchNormalization's axis stays -1."""
    assert layers.Conv2D(8, 3).data_format == "channels_first"
    assert layers.MaxPooling2D(2).data_format == "channels_first"
    assert layers.Flatten().data_format == "channels_first"
    assert layers.BatchNormalization().axis == -1


def test_lesson07_batchnorm_normalises_width_columns(channels_first_default):
    """Lesson 07, section '`BatchNormalization(axis=-1)` normalises width columns': on (2, 3, 8, 8) it runs
    without an error and learns gamma (8,) (the width); axis=1 gives gamma (3,)."""
    batch = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype("float32")
    norm = layers.BatchNormalization()
    assert tuple(norm(batch, training=True).shape) == (2, 3, 8, 8)
    assert tuple(norm.gamma.shape) == (8,)
    per_channel = layers.BatchNormalization(axis=1)
    per_channel(batch, training=True)
    assert tuple(per_channel.gamma.shape) == (3,)


def test_lesson07_maxpooling_on_the_wrong_layout():
    """Lesson 07, section '`MaxPooling2D` on the wrong layout': a channels_last MaxPooling2D(2) on
    (1, 3, 28, 28) silently gives (1, 1, 14, 28); data_format='channels_first' gives (1, 3, 14, 14)."""
    image = np.zeros((1, 3, 28, 28), "float32")
    assert keras.config.image_data_format() == "channels_last"
    assert tuple(layers.MaxPooling2D(2)(image).shape) == (1, 1, 14, 28)
    assert tuple(layers.MaxPooling2D(2, data_format="channels_first")(image).shape) == (1, 3, 14, 14)


def ported_head(channels=2, height=3, width=3, outputs=4, seed=2):
    rng = np.random.default_rng(seed)
    features_nchw = rng.normal(size=(5, channels, height, width)).astype("float32")
    weight = rng.normal(size=(outputs, channels * height * width)).astype("float32")
    head = keras.Sequential([keras.Input((height, width, channels)), layers.Flatten(),
                             layers.Dense(outputs, use_bias=False)])
    return features_nchw, weight, head


def test_lesson07_ported_dense_needs_the_flatten_permutation():
    """Lesson 07, section 'Porting a `Dense` after `Flatten` from PyTorch': Keras flattens (H, W, C);
    weight.T (right shape, no error) gives different outputs from the channels-first computation; the
    kernel reordered with reshape(out, C, H, W).transpose(2, 3, 1, 0) gives the same outputs."""
    features_nchw, weight, head = ported_head()
    features_nhwc = features_nchw.transpose(0, 2, 3, 1)
    flat = layers.Flatten()(features_nhwc)
    assert np.array_equal(np.asarray(flat), features_nhwc.reshape(5, -1))
    expected = features_nchw.reshape(5, -1) @ weight.T
    head.layers[-1].set_weights([weight.T])
    assert not np.allclose(head.predict(features_nhwc, verbose=0), expected, atol=1e-5)
    kernel = weight.reshape(4, 2, 3, 3).transpose(2, 3, 1, 0).reshape(18, 4)
    head.layers[-1].set_weights([kernel])
    assert np.allclose(head.predict(features_nhwc, verbose=0), expected, atol=1e-5)


def require_module(name, why):
    """Import an optional test dependency; missing, it FAILS under CI=true and skips elsewhere."""
    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"{name} is missing ({why}); install the test extra"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def test_lesson07_pytorch_flattens_chw_and_stores_linear_out_in():
    """Lesson 07, section 'Porting a `Dense` after `Flatten` from PyTorch': in real PyTorch,
    torch.flatten(x, 1) on (N, C, H, W) is NumPy's row-major reshape (index c*H*W + h*W + w), nn.Linear
    stores (out_features, in_features), and its output equals a Keras Flatten + Dense on the NHWC
    features with the permuted kernel."""
    torch = require_module("torch", "the lesson's PyTorch statements are checked against real PyTorch")
    features_nchw, _, head = ported_head()
    tensor = torch.from_numpy(features_nchw)
    assert np.array_equal(torch.flatten(tensor, 1).numpy(), features_nchw.reshape(5, -1))
    assert np.array_equal(torch.nn.Flatten()(tensor).numpy(), features_nchw.reshape(5, -1))
    linear = torch.nn.Linear(18, 4, bias=False)
    assert tuple(linear.weight.shape) == (4, 18)
    with torch.no_grad():
        expected = linear(torch.flatten(tensor, 1)).numpy()
    weight = linear.weight.detach().numpy()
    kernel = weight.reshape(4, 2, 3, 3).transpose(2, 3, 1, 0).reshape(18, 4)
    head.layers[-1].set_weights([kernel])
    assert np.allclose(head.predict(features_nchw.transpose(0, 2, 3, 1), verbose=0), expected, atol=1e-5)
    head.layers[-1].set_weights([weight.T])
    assert not np.allclose(head.predict(features_nchw.transpose(0, 2, 3, 1), verbose=0), expected, atol=1e-5)


def test_lesson07_predict_then_check_answers():
    """Lesson 07, section 'Predict, then check': 1. an unbatched (32, 32, 3) element to an RGB model raises
    'Invalid input shape ... Expected shape (None, 32, 32, 3), but input has incompatible shape (32, 32, 3)'
    (no axis added); 2. (None, None, 32, 32, 3); 3. 15; 4. 15; 5. works, (1, 2)."""
    questions = tf.data.Dataset.from_tensor_slices(np.zeros((8, 32, 32, 3), "float32"))
    rgb_model = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(4, 3)])
    message = message_of(lambda: rgb_model.predict(questions, verbose=0))
    assert "Invalid input shape" in message
    assert "Expected shape (None, 32, 32, 3), but input has incompatible shape (32, 32, 3)" in message
    assert tuple(questions.batch(4).batch(2).element_spec.shape) == (None, None, 32, 32, 3)
    transpose_valid = layers.Conv2DTranspose(8, 5, strides=2, padding="valid")
    assert tuple(transpose_valid(np.zeros((1, 6, 6, 1), "float32")).shape) == (1, 15, 15, 8)
    transpose_same = layers.Conv2DTranspose(8, 3, strides=3, padding="same")
    assert tuple(transpose_same(np.zeros((1, 5, 5, 1), "float32")).shape) == (1, 15, 15, 8)
    global_max = keras.Sequential([keras.Input((None, None, 1)), layers.Conv2D(4, 3),
                                   layers.GlobalMaxPooling2D(), layers.Dense(2)])
    assert tuple(global_max(np.zeros((1, 100, 30, 1), "float32")).shape) == (1, 2)


def test_lesson07_the_rules_element_spec_shows_the_batch_axis():
    """Lesson 07, section 'The rules': a pipeline ending in .batch() once has element_spec
    (None, 28, 28, 1), which is the model's input_shape."""
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(8)
    assert tuple(dataset.element_spec[0].shape) == small_model().input_shape
