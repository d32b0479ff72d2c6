"""Contract tests for lesson 02 (notebooks/02-padding.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras padding,
against the installed stack.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from convclinic import shapes
from convclinic.outcome import attempt
from convclinic.probe import probe
from convclinic.runtime import clean_message, import_keras
from tests.contract.pytorch import import_torch


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def ones_conv(keras, **settings):
    return keras.layers.Conv2D(1, 3, use_bias=False, kernel_initializer="ones", **settings)


def small_classifier(keras, padding, head="flatten"):
    layers = keras.layers
    reducer = layers.Flatten() if head == "flatten" else layers.GlobalAveragePooling2D()
    return keras.Sequential(
        [keras.Input(shape=(28, 28, 1)), layers.Conv2D(32, 3, padding=padding), reducer,
         layers.Dense(10)]
    )


@pytest.mark.parametrize("n,k,s", [(28, 3, 1), (28, 5, 1), (28, 3, 2), (28, 5, 2), (7, 3, 2)])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_lesson02_valid_same_table(n, k, s, padding):
    """Lesson 02, section 'Valid and same, with numbers': each row of the table (rules 2 and 3) equals a real Conv2D."""
    real = probe((1, n, n, 1), kernel_size=k, strides=s, padding=padding)
    assert real.ok, real
    assert real.output_shape[1:3] == (shapes.conv_output_size(n, k, s, padding),) * 2


def test_lesson02_article_invalid_padding_raises_at_construction(keras):
    """Lesson 02, section 'The failure, live: invalid padding values': padding='invalid' raises ValueError in the constructor (the article says it "will usually build")."""
    with pytest.raises(ValueError) as caught:
        keras.layers.Conv2D(32, (3, 3), padding="invalid")
    message = clean_message(caught.value)
    assert "The `padding` argument must be a list/tuple or one of" in message
    assert "Received: invalid" in message


def test_lesson02_article_invalid_padding_in_sequential(keras):
    """Lesson 02, section 'The failure, live: invalid padding values': a Conv2D with padding='invalid' cannot be created."""
    with pytest.raises(ValueError, match="padding"):
        keras.Sequential(
            [keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, (3, 3), padding="invalid")]
        )


def test_lesson02_int_padding_attribute_error():
    """Lesson 02, section 'The failure, live: invalid padding values': padding=1 raises AttributeError "'int' object has no attribute 'lower'" at construction."""
    result = probe((1, 28, 28, 1), padding=1)
    assert (result.error_type, result.phase) == ("AttributeError", "construct")
    assert result.message == "'int' object has no attribute 'lower'"


def test_lesson02_list_padding_fails_at_first_call(keras):
    """Lesson 02, section 'The failure, live: invalid padding values': a list passes the constructor and fails at the first call."""
    layer = keras.layers.Conv2D(8, 3, padding=[[1, 1], [2, 2]])  # must not raise
    with pytest.raises(ValueError) as caught:
        layer(np.zeros((1, 28, 28, 1), dtype="float32"))
    assert "`padding` must be either `'valid'` or `'same'`" in clean_message(caught.value)
    assert probe((1, 28, 28, 1), padding=[[1, 1], [2, 2]]).phase == "build"


@pytest.mark.parametrize("padding,size", [("SAME", 28), ("Valid", 26)])
def test_lesson02_padding_case_insensitive(padding, size):
    """Lesson 02, section 'The failure, live: invalid padding values': "SAME" and "Valid" work (any letter case)."""
    assert probe((1, 28, 28, 1), padding=padding).output_shape == (1, size, size, 8)


def test_lesson02_tf_same_ones_example(keras):
    """Lesson 02, section "TF's SAME padding can be asymmetric": ones 6x6, k=3, s=2, same, kernel of ones -> [[9,9,6],[9,9,6],[6,6,4]]."""
    output = ones_conv(keras, strides=2, padding="same")(np.ones((1, 6, 6, 1), "float32"))
    np.testing.assert_array_equal(np.asarray(output)[0, :, :, 0], [[9, 9, 6], [9, 9, 6], [6, 6, 4]])
    assert shapes.same_padding(6, 3, stride=2) == (0, 1)


def test_lesson02_symmetric_padding_differs(keras):
    """Lesson 02, section "TF's SAME padding can be asymmetric": ZeroPadding2D(1) + valid (PyTorch padding=1) -> [[4,6,6],[6,9,9],[6,9,9]]."""
    model = keras.Sequential(
        [keras.Input(shape=(6, 6, 1)), keras.layers.ZeroPadding2D(padding=1),
         ones_conv(keras, strides=2, padding="valid")]
    )
    output = np.asarray(model(np.ones((1, 6, 6, 1), "float32")))[0, :, :, 0]
    np.testing.assert_array_equal(output, [[4, 6, 6], [6, 9, 9], [6, 9, 9]])


@pytest.mark.parametrize(
    "n,k,s", [c for c in itertools.product((5, 6, 7, 8), (2, 3, 4, 5), (1, 2, 3)) if c[1] <= c[0]]
)
def test_lesson02_same_padding_split_matches_keras(keras, n, k, s):
    """Lesson 02, section "TF's SAME padding can be asymmetric": total//2 before, the rest after (bottom/right), for many n, k, s."""
    before, after = shapes.same_padding(n, k, stride=s)
    image = np.random.default_rng(n * 100 + k * 10 + s).random((1, n, n, 1)).astype("float32")
    same = keras.layers.Conv2D(1, k, strides=s, padding="same", use_bias=False,
                               kernel_initializer="ones")
    explicit = keras.Sequential(
        [keras.Input(shape=(n, n, 1)),
         keras.layers.ZeroPadding2D(((before, after), (before, after))),
         keras.layers.Conv2D(1, k, strides=s, padding="valid", use_bias=False,
                             kernel_initializer="ones")]
    )
    np.testing.assert_allclose(np.asarray(same(image)), np.asarray(explicit(image)), rtol=1e-5)


def test_lesson02_zero_padding_shapes(keras):
    """Lesson 02, section 'Explicit padding with ZeroPadding2D': ZeroPadding2D(1) turns 28x28 into 30x30."""
    output = keras.layers.ZeroPadding2D(1)(np.zeros((1, 28, 28, 1), "float32"))
    assert tuple(output.shape) == (1, 30, 30, 1)


def test_lesson02_zero_padding_reproduces_tf_same(keras):
    """Lesson 02, section 'Explicit padding with ZeroPadding2D': ((0, 1), (0, 1)) + valid gives TF's SAME result [[9,9,6],[9,9,6],[6,6,4]]."""
    model = keras.Sequential(
        [keras.Input(shape=(6, 6, 1)), keras.layers.ZeroPadding2D(((0, 1), (0, 1))),
         ones_conv(keras, strides=2, padding="valid")]
    )
    output = np.asarray(model(np.ones((1, 6, 6, 1), "float32")))[0, :, :, 0]
    np.testing.assert_array_equal(output, [[9, 9, 6], [9, 9, 6], [6, 6, 4]])


def test_lesson02_valid_classifier_dense_size(keras):
    """Lesson 02, section 'The error further down the network': the valid classifier's Dense kernel is (21632, 10)."""
    model = small_classifier(keras, "valid")
    assert tuple(model.layers[-1].kernel.shape) == (21632, 10)
    trace = shapes.trace(
        [shapes.Conv2D(32, 3, padding="valid"), shapes.Flatten(), shapes.Dense(10)], (1, 28, 28, 1)
    )
    assert trace.steps[1].output_shape == (1, 21632)


def test_lesson02_padding_change_breaks_later_dense(keras):
    """Lesson 02, section 'The error further down the network': same-padded features into the trained Dense raise 'expected axis -1 ... 21632, ... (1, 25088)'."""
    layers = keras.layers
    trained_dense = small_classifier(keras, "valid").layers[-1]
    features = layers.Conv2D(32, 3, padding="same")(np.zeros((1, 28, 28, 1), "float32"))
    outcome = attempt(trained_dense, layers.Flatten()(features))
    assert outcome.error_type == "ValueError"
    assert (
        "expected axis -1 of input shape to have value 21632, but received input with shape "
        "(1, 25088)" in outcome.message
    )
    trace = shapes.trace(
        [shapes.Conv2D(32, 3, padding="same"), shapes.Flatten(), shapes.Dense(10, built_for=21632)],
        (1, 28, 28, 1),
    )
    assert trace.failed_layer == "dense"


def test_lesson02_padding_change_breaks_weight_loading(keras, tmp_path):
    """Lesson 02, section 'The error further down the network': loading valid weights into the same model raises 'variable.shape=(25088, 10), Received: value.shape=(21632, 10)'."""
    weights_path = tmp_path / "classifier.weights.h5"
    small_classifier(keras, "valid").save_weights(weights_path)
    outcome = attempt(small_classifier(keras, "same").load_weights, weights_path)
    assert outcome.error_type == "ValueError"
    assert "variable.shape=(25088, 10), Received: value.shape=(21632, 10)" in outcome.message
    assert "value=[[" not in outcome.message  # the lesson shows it without the weight dump


def test_lesson02_global_pooling_head_survives_padding_change(keras, tmp_path):
    """Lesson 02, section 'The fix': with GlobalAveragePooling2D, valid weights load into the same model and both give (1, 10)."""
    pooled_valid = small_classifier(keras, "valid", head="pool")
    pooled_same = small_classifier(keras, "same", head="pool")
    weights_path = tmp_path / "pooled.weights.h5"
    pooled_valid.save_weights(weights_path)
    pooled_same.load_weights(weights_path)  # must not raise
    image = np.zeros((1, 28, 28, 1), "float32")
    assert tuple(pooled_valid(image).shape) == tuple(pooled_same(image).shape) == (1, 10)


def test_lesson02_predict_check():
    """Lesson 02, section 'Predict, then check': 32x32x3, Conv2D(16, 5, strides=2): valid (1,14,14,16), same (1,16,16,16), padding 1 top / 2 bottom."""
    valid = probe((1, 32, 32, 3), filters=16, kernel_size=5, strides=2, padding="valid")
    same = probe((1, 32, 32, 3), filters=16, kernel_size=5, strides=2, padding="same")
    assert valid.output_shape == (1, 14, 14, 16)
    assert same.output_shape == (1, 16, 16, 16)
    assert shapes.same_padding(32, 5, stride=2) == (1, 2)


def test_lesson02_explorer_six_by_six_same():
    """Lesson 02, section 'Try it: the live explorer': 6x6, k=3, s=2, same shows (1, 3, 3, 8) and padding bottom/right; 7x7 needs no extra pixel."""
    from convclinic.widgets import ConvExplorer

    explorer = ConvExplorer(
        height=6, width=6, kernel_size=3, strides=2, padding="same",
        controls=("padding", "kernel_size", "strides", "height", "width"), plot=False,
    )
    assert explorer.readout.value == "Output shape: (1, 3, 3, 8)"
    assert {"padding", "kernel_size", "strides"} <= set(explorer.controls)
    explorer.set(height=7, width=7)
    assert explorer.result.output_shape == (1, 4, 4, 8)
    assert shapes.same_padding(7, 3, stride=2) == (1, 1)


# --- PyTorch, as lesson 02 describes it (torch is a test-only extra: requirements-test.txt) -----


def torch_ones_conv(torch, size, kernel, **settings):
    ones = torch.ones(1, 1, size, size)
    weight = torch.ones(1, 1, kernel, kernel)
    return torch.nn.functional.conv2d(ones, weight, **settings)[0, 0].numpy()


def keras_ones_conv(keras, size, kernel, **settings):
    layer = keras.layers.Conv2D(1, kernel, use_bias=False, kernel_initializer="ones", **settings)
    return np.asarray(layer(np.ones((1, size, size, 1), "float32")))[0, :, :, 0]


def test_lesson02_pytorch_padding_1_pads_every_side(keras):
    """Lesson 02, section "TF's SAME padding can be asymmetric": PyTorch's padding=1 (6x6 ones, k=3, s=2) gives [[4,6,6],[6,9,9],[6,9,9]], exactly what ZeroPadding2D(1) + a valid Conv2D gives."""
    torch = import_torch()
    pytorch = torch_ones_conv(torch, 6, 3, stride=2, padding=1)
    np.testing.assert_array_equal(pytorch, [[4, 6, 6], [6, 9, 9], [6, 9, 9]])
    symmetric = keras.Sequential([
        keras.Input(shape=(6, 6, 1)),
        keras.layers.ZeroPadding2D(padding=1),
        keras.layers.Conv2D(1, 3, strides=2, use_bias=False, kernel_initializer="ones"),
    ])
    np.testing.assert_array_equal(np.asarray(symmetric(np.ones((1, 6, 6, 1), "float32")))[0, :, :, 0], pytorch)


def test_lesson02_pytorch_refuses_same_padding_for_strided_convolutions():
    """Lesson 02, section "TF's SAME padding can be asymmetric": torch.nn.Conv2d(..., stride=2, padding='same') raises ValueError 'padding='same' is not supported for strided convolutions'."""
    torch = import_torch()
    with pytest.raises(ValueError) as caught:
        torch.nn.Conv2d(1, 1, 3, stride=2, padding="same")
    assert "padding='same' is not supported for strided convolutions" in str(caught.value)


@pytest.mark.parametrize("kernel", [2, 3, 4, 5])
def test_lesson02_pytorch_same_means_output_size_equals_input_size(kernel):
    """Lesson 02, section "TF's SAME padding can be asymmetric": PyTorch's padding='same' (stride 1) keeps the input size, for odd and even kernels."""
    torch = import_torch()
    assert torch_ones_conv(torch, 7, kernel, padding="same").shape == (7, 7)


@pytest.mark.parametrize("kernel", [2, 4])
def test_lesson02_pytorch_same_splits_an_odd_total_like_tensorflow(keras, kernel):
    """Lesson 02, section "TF's SAME padding can be asymmetric": at stride 1 PyTorch splits an odd padding total like TensorFlow, the extra pixel at the bottom/right: same numbers as Keras' padding='same'."""
    torch = import_torch()
    pytorch = torch_ones_conv(torch, 6, kernel, padding="same")
    np.testing.assert_array_equal(pytorch, keras_ones_conv(keras, 6, kernel, padding="same"))
    assert pytorch[0, 0] > pytorch[-1, -1]


@pytest.mark.parametrize("kernel", [3, 5])
def test_lesson02_odd_kernel_stride_1_same_padding_is_symmetric(keras, kernel):
    """Lesson 02, section "TF's SAME padding can be asymmetric": an odd kernel at stride 1 pads k - 1 pixels, half on each side: the output of ones is symmetric."""
    counts = keras_ones_conv(keras, 6, kernel, padding="same")
    np.testing.assert_array_equal(counts, counts[::-1, ::-1])
    assert shapes.same_padding(6, kernel, stride=1) == ((kernel - 1) // 2, (kernel - 1) // 2)
