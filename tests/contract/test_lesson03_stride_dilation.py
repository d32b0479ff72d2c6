"""Contract tests for lesson 03 (notebooks/03-stride-and-dilation.ipynb).

Each test pins one statement the lesson makes about strides, dilation and the
arguments Keras refuses, against the installed stack.
"""

from __future__ import annotations

import numpy as np
import pytest

from convclinic import shapes
from convclinic.outcome import attempt
from convclinic.probe import keras_trace, probe
from convclinic.runtime import clean_message, import_keras


@pytest.fixture(scope="module")
def keras():
    return import_keras()


IMAGE_SHAPE = (1, 28, 28, 1)


def image():
    return np.zeros(IMAGE_SHAPE, dtype="float32")


@pytest.mark.parametrize("n", range(26, 33))
def test_lesson03_floor_rule_matches_keras(n):
    """Lesson 03, section 'Stride: floor arithmetic': kernel 3, stride 2, inputs 26..32 give floor((n - 3) / 2) + 1 on a real Conv2D."""
    expected = (n - 3) // 2 + 1
    assert shapes.conv_output_size(n, kernel=3, stride=2) == expected
    assert probe((1, n, n, 1), kernel_size=3, strides=2).output_shape == (1, expected, expected, 8)


def test_lesson03_sizes_collapse():
    """Lesson 03, section 'Stride: floor arithmetic': 27 and 28 both give 13; 29 and 30 both give 14."""
    sizes = {n: probe((1, n, n, 1), kernel_size=3, strides=2).output_shape[1] for n in (27, 28, 29, 30)}
    assert sizes == {27: 13, 28: 13, 29: 14, 30: 14}


def skip_connection(keras, size):
    layers = keras.layers
    inputs = keras.Input(shape=(size, size, 1))
    up = layers.UpSampling2D(2)(layers.Conv2D(8, 3, strides=2, padding="same")(inputs))
    return attempt(layers.Concatenate(), [layers.Conv2D(8, 1)(inputs), up])


def test_lesson03_skip_connection_works_for_28(keras):
    """Lesson 03, section 'Stride: floor arithmetic': same padding, stride 2, UpSampling2D(2): a skip connection works for 28 (-> 14 -> 28)."""
    outcome = skip_connection(keras, 28)
    assert outcome.ok, outcome
    assert outcome.output_shape == (None, 28, 28, 16)


def test_lesson03_skip_connection_breaks_for_27(keras):
    """Lesson 03, section 'Stride: floor arithmetic': the same block on 27 (-> 14 -> 28) raises the Concatenate shape error."""
    outcome = skip_connection(keras, 27)
    assert outcome.error_type == "ValueError"
    assert "A `Concatenate` layer requires inputs with matching shapes" in outcome.message
    assert "(None, 27, 27, 8), (None, 28, 28, 8)" in outcome.message


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_lesson03_stride_larger_than_input_gives_one_pixel(keras, padding):
    """Lesson 03, section "An older claim: a stride larger than the input": strides=50 on 28x28 gives 1x1, not an empty output."""
    output = keras.layers.Conv2D(4, 3, strides=50, padding=padding)(image())
    assert tuple(output.shape) == (1, 1, 1, 4)
    assert shapes.conv_output_size(28, 3, 50, padding) == 1


def test_lesson03_kernel_larger_than_input_raises(keras):
    """Lesson 03, section 'The failure, live: a dilated kernel larger than the input': kernel 30 on 28x28 raises 'Computed output size would be zero or negative'."""
    with pytest.raises(ValueError) as caught:
        keras.layers.Conv2D(4, kernel_size=30)(image())
    message = clean_message(caught.value)
    assert "Computed output size would be zero or negative" in message
    assert "kernel shape=(30, 30, 1, 4)" in message


def test_lesson03_dilated_kernel_larger_than_input_raises():
    """Lesson 03, section 'The failure, live: a dilated kernel larger than the input': kernel 3 with dilation 14 (covers 29) raises; the message shows kernel shape=(3, 3, 1, 4) and dilation_rate=[14 14]."""
    assert shapes.effective_kernel_size(3, dilation=14) == 29
    result = probe(IMAGE_SHAPE, filters=4, kernel_size=3, dilation_rate=14)
    assert result.error_type == "ValueError"
    assert "Computed output size would be zero or negative" in result.message
    assert "kernel shape=(3, 3, 1, 4)" in result.message
    assert "dilation_rate=[14 14]" in result.message


def test_lesson03_dilated_kernel_same_padding_works():
    """Lesson 03, section 'The failure, live: a dilated kernel larger than the input': with padding='same' the dilated kernel gives (1, 28, 28, 4)."""
    result = probe(IMAGE_SHAPE, filters=4, kernel_size=3, dilation_rate=14, padding="same")
    assert result.output_shape == (1, 28, 28, 4)


def strided_stack(keras):
    return [keras.layers.Conv2D(16, 3, strides=2, name=f"conv_{i}") for i in range(5)]


def test_lesson03_deep_stack_arithmetic_trace():
    """Lesson 03, section 'A deep stack that shrinks to nothing': 28 -> 13 -> 6 -> 2, and conv_3 fails."""
    spec = [shapes.Conv2D(16, 3, strides=2, name=f"conv_{i}") for i in range(5)]
    result = shapes.trace(spec, (None, 28, 28, 1))
    assert [step.output_shape for step in result.steps[:3]] == [
        (None, 13, 13, 16), (None, 6, 6, 16), (None, 2, 2, 16),
    ]
    assert result.failed_layer == "conv_3"


def test_lesson03_deep_stack_keras_model_fails_without_layer_name(keras):
    """Lesson 03, section 'A deep stack that shrinks to nothing': the Sequential raises 'zero or negative' with inputs shape=(None, 2, 2, 16) and no layer name."""
    outcome = attempt(keras.Sequential, [keras.Input(shape=(28, 28, 1)), *strided_stack(keras)])
    assert outcome.error_type == "ValueError"
    assert "Computed output size would be zero or negative" in outcome.message
    assert "inputs shape=(None, 2, 2, 16)" in outcome.message
    assert "conv_3" not in outcome.message


def test_lesson03_keras_trace_fails_at_same_layer(keras):
    """Lesson 03, section 'A deep stack that shrinks to nothing': applying the real layers one by one fails at conv_3, like the arithmetic trace."""
    real = keras_trace(strided_stack(keras), (None, 28, 28, 1))
    spec = [shapes.Conv2D(16, 3, strides=2, name=f"conv_{i}") for i in range(5)]
    arithmetic = shapes.trace(spec, (None, 28, 28, 1))
    assert real.failed_layer == arithmetic.failed_layer == "conv_3"
    assert [s.output_shape for s in real.steps[:3]] == [s.output_shape for s in arithmetic.steps[:3]]
    assert "zero or negative" in real.error


def test_lesson03_stride_with_dilation_refused(keras):
    """Lesson 03, section 'Stride and dilation together': strides=2 with dilation_rate=2 raises ValueError in the constructor."""
    with pytest.raises(ValueError) as caught:
        keras.layers.Conv2D(8, 3, strides=2, dilation_rate=2)
    assert "`strides > 1` not supported in conjunction with `dilation_rate > 1`" in clean_message(
        caught.value
    )


@pytest.mark.parametrize(
    "settings,fragment",
    [
        (dict(strides=0), "The `strides` argument must be a tuple of 2 integers"),
        (dict(strides=-1), "The `strides` argument must be a tuple of 2 integers"),
        (dict(kernel_size=0), "The `kernel_size` argument must be a tuple of 2 integers"),
        (dict(dilation_rate=0), "The `dilation_rate` argument must be a tuple of 2 integers"),
        (dict(filters=0), "Invalid value for argument `filters`. Expected a strictly positive value"),
    ],
)
def test_lesson03_non_positive_arguments_refused(settings, fragment):
    """Lesson 03, section 'Zero and negative arguments': each is a ValueError raised in the constructor."""
    result = probe(IMAGE_SHAPE, **{"filters": 8, **settings})
    assert (result.error_type, result.phase) == ("ValueError", "construct")
    assert fragment in result.message
    if "filters" not in settings:
        assert "value > 0" in result.message


def test_lesson03_groups_not_dividing_channels():
    """Lesson 03, section 'Groups must divide the channels': groups=3 on 4 input channels fails when the layer sees the input."""
    result = probe((1, 28, 28, 4), filters=6, kernel_size=3, groups=3)
    assert (result.error_type, result.phase) == ("ValueError", "build")
    assert "The number of input channels must be evenly divisible by the number of groups" in result.message


def test_lesson03_groups_not_dividing_filters():
    """Lesson 03, section 'Groups must divide the channels': groups=3 with 4 filters fails in the constructor."""
    result = probe((1, 28, 28, 3), filters=4, kernel_size=3, groups=3)
    assert (result.error_type, result.phase) == ("ValueError", "construct")
    assert "The number of filters must be evenly divisible by the number of groups" in result.message


def test_lesson03_groups_dividing_both_works():
    """Lesson 03, section 'Groups must divide the channels': 3 channels, 6 filters, groups=3 gives (1, 26, 26, 6)."""
    assert probe((1, 28, 28, 3), filters=6, kernel_size=3, groups=3).output_shape == (1, 26, 26, 6)


def test_lesson03_predict_check():
    """Lesson 03, section 'Predict, then check': 64x64: dilation 3 -> 58, k5 s4 -> 15, s3+d3 refused, dilation 32 -> empty."""
    def run(**settings):
        return probe((1, 64, 64, 1), **{"filters": 8, "kernel_size": 3, **settings})

    assert run(dilation_rate=3).output_shape == (1, 58, 58, 8)
    assert run(kernel_size=5, strides=4).output_shape == (1, 15, 15, 8)
    assert "not supported in conjunction" in run(strides=3, dilation_rate=3).message
    assert "zero or negative" in run(dilation_rate=32).message


def test_lesson03_explorer_finds_each_case():
    """Lesson 03, section 'Try it: the live explorer': the explorer starts at (1, 13, 13, 8); stride+dilation, an empty output and two sizes with the same output are reachable."""
    from convclinic.widgets import ConvExplorer

    explorer = ConvExplorer(
        height=28, width=28, kernel_size=3, strides=2, dilation_rate=1, padding="valid",
        controls=("strides", "dilation_rate", "kernel_size", "height", "width", "padding"),
        plot=False,
    )
    assert explorer.readout.value == "Output shape: (1, 13, 13, 8)"
    assert explorer.set(height=27, width=27).result.output_shape == (1, 13, 13, 8)
    assert "not supported in conjunction" in explorer.set(dilation_rate=2).result.message
    empty = explorer.set(strides=1, dilation_rate=6, kernel_size=9, height=28, width=28).result
    assert "zero or negative" in empty.message


def test_lesson03_output_size_errors_give_kernel_and_strides_but_input_checks_name_the_layer(keras):
    """Lesson 03, section 'A deep stack that shrinks to nothing': the output-size error carries the failing layer's fingerprint, kernel shape=(3, 3, 16, 16) and strides=(2, 2), but no layer name; an input-check error names its layer ("of layer 'dense'")."""
    outcome = attempt(keras.Sequential, [keras.Input(shape=(28, 28, 1)), *strided_stack(keras)])
    assert "kernel shape=(3, 3, 16, 16)" in outcome.message
    assert "strides=(2, 2)" in outcome.message and "padding=valid" in outcome.message
    assert "layer" not in outcome.message.lower()
    dense = keras.layers.Dense(10, name="dense")
    dense.build((None, 5408))
    named = attempt(dense, np.zeros((1, 7200), "float32"))
    assert "of layer 'dense'" in named.message
