"""Contract tests for lesson 00 (notebooks/00-convolution-shapes.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras (a shape,
an error type, a message fragment, a phase) against the installed stack; the
docstring names the lesson section it protects. The layers are built directly
with Keras here (not through convclinic.probe), except where the lesson itself
states what ``probe`` reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from convclinic import plots, shapes
from convclinic.probe import probe
from convclinic.runtime import clean_message, import_keras
from tests.contract.raised import message_of


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def conv_output_shape(keras, input_shape, **settings):
    layer = keras.layers.Conv2D(**settings)
    return tuple(int(v) for v in layer(np.zeros(input_shape, "float32")).shape)


def test_lesson00_output_value_is_the_window_sum(keras):
    """Lesson 00, 'What Conv2D computes': ones kernel on 0..15 gives [[45, 54], [81, 90]]."""
    image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    layer = keras.layers.Conv2D(1, 3, use_bias=False, kernel_initializer="ones")
    output = np.asarray(layer(image))
    assert output.shape == (1, 2, 2, 1)
    assert output[0, :, :, 0].tolist() == [[45.0, 54.0], [81.0, 90.0]]
    assert output[0, 0, 0, 0] == image[0, 0:3, 0:3, 0].sum() == 45.0


def test_lesson00_kernel_shape_is_kh_kw_in_filters(keras):
    """Lesson 00, 'What Conv2D computes': 8 filters 3x3 on RGB: kernel (3, 3, 3, 8), bias (8,)."""
    layer = keras.layers.Conv2D(8, 3)
    layer.build((None, 32, 32, 3))
    assert tuple(layer.kernel.shape) == (3, 3, 3, 8)
    assert tuple(layer.bias.shape) == (8,)


def test_lesson00_default_data_format_is_channels_last(tmp_path):
    """Lesson 00, 'The four axes': with no keras.json, image_data_format() is channels_last.

    Run in a fresh interpreter with an empty KERAS_HOME: other tests (lesson 04)
    change the global setting in-process.
    """
    code = (
        "from convclinic.runtime import import_keras; k = import_keras(); "
        "import json; print(json.dumps(k.config.image_data_format()))"
    )
    env = dict(os.environ, KERAS_HOME=str(tmp_path), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == "channels_last"


def test_lesson00_photo_is_600x512_rgb_and_conv_trims_one_pixel_per_border(keras):
    """Lesson 00, 'The four axes': the photo batch is (1, 600, 512, 3); Conv2D(8, 3) -> (1, 598, 510, 8)."""
    photo = plots.photo_batch()
    assert photo.shape == (1, 600, 512, 3)
    layer = keras.layers.Conv2D(8, 3)
    assert tuple(layer(photo).shape) == (1, 598, 510, 8)


def test_lesson00_kernel_larger_than_input_raises_at_build(keras):
    """Lesson 00, 'The failure, live': Conv2D(4, 30) on (1, 28, 28, 1) raises ValueError while
    building (no weights yet), naming the input shape and the kernel shape (30, 30, 1, 4)."""
    layer = keras.layers.Conv2D(filters=4, kernel_size=30)
    message = message_of(lambda: layer(np.zeros((1, 28, 28, 1), "float32")))
    assert "Computed output size would be zero or negative" in message
    assert "inputs shape=(1, 28, 28, 1)" in message
    assert "kernel shape=(30, 30, 1, 4)" in message
    assert not layer.built


# (trace name, input shape, settings, output shape the lesson states)
TRACES = [
    ("valid", (1, 28, 28, 1), dict(filters=8, kernel_size=3), (1, 26, 26, 8)),
    ("same", (1, 28, 28, 1), dict(filters=8, kernel_size=3, padding="same"), (1, 28, 28, 8)),
    ("stride-valid", (1, 28, 28, 1), dict(filters=8, kernel_size=3, strides=2), (1, 13, 13, 8)),
    ("stride-same", (1, 28, 28, 1), dict(filters=8, kernel_size=3, strides=2, padding="same"),
     (1, 14, 14, 8)),
    ("stride-50-valid", (1, 28, 28, 1), dict(filters=8, kernel_size=3, strides=50), (1, 1, 1, 8)),
    ("stride-50-same", (1, 28, 28, 1), dict(filters=8, kernel_size=3, strides=50, padding="same"),
     (1, 1, 1, 8)),
    ("dilation", (1, 28, 28, 1), dict(filters=8, kernel_size=3, dilation_rate=2), (1, 24, 24, 8)),
    ("fix-same", (1, 28, 28, 1), dict(filters=4, kernel_size=30, padding="same"), (1, 28, 28, 4)),
    ("fix-kernel-5", (1, 28, 28, 1), dict(filters=4, kernel_size=5), (1, 24, 24, 4)),
    ("fix-larger-input", (1, 32, 32, 1), dict(filters=4, kernel_size=30), (1, 3, 3, 4)),
    ("predict-1", (16, 32, 32, 3), dict(filters=16, kernel_size=5), (16, 28, 28, 16)),
    ("predict-2", (16, 32, 32, 3), dict(filters=16, kernel_size=5, strides=2, padding="same"),
     (16, 16, 16, 16)),
    ("predict-3", (16, 32, 32, 3), dict(filters=16, kernel_size=3, dilation_rate=4),
     (16, 24, 24, 16)),
    ("predict-4", (16, 32, 32, 3), dict(filters=16, kernel_size=3, strides=3), (16, 10, 10, 16)),
]


@pytest.mark.parametrize("name, input_shape, settings, stated", TRACES, ids=[t[0] for t in TRACES])
def test_lesson00_worked_traces_match_keras(keras, name, input_shape, settings, stated):
    """Lesson 00, 'The rules' (traces 1-4), 'The fix' and 'Predict, then check': every output
    shape the lesson states is the real Conv2D's and the rules' (convclinic.shapes)."""
    assert conv_output_shape(keras, input_shape, **settings) == stated
    assert shapes.conv2d_output_shape(input_shape, **settings) == stated


def test_lesson00_same_padding_extra_pixel_goes_bottom_right(keras):
    """Lesson 00, 'Trace 3: stride' (rule 4): 28 wide, k=3, s=2, same pads 1 pixel, at the
    bottom/right only: the top-left output sees 9 real pixels, the bottom-right one 4."""
    layer = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False,
                                kernel_initializer="ones")
    output = np.asarray(layer(np.ones((1, 28, 28, 1), "float32")))[0, :, :, 0]
    assert output.shape == (14, 14)
    assert output[0, 0] == 9.0  # no padding at the top/left
    assert output[-1, -1] == 4.0  # padding row at the bottom and column at the right
    assert shapes.same_padding(28, 3, 2) == (0, 1)
    assert shapes.same_padding(28, 3, 1) == (1, 1)  # trace 2: one on each side


def test_lesson00_6x6_picture_coverage_is_tf_same_padding(keras):
    """Lesson 00, 'Trace 3: stride' picture: the 6x6, k=3, s=2, same output shade is TF's own
    ones-convolution [[9, 9, 6], [9, 9, 6], [6, 6, 4]]."""
    layer = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False,
                                kernel_initializer="ones")
    output = np.asarray(layer(np.ones((1, 6, 6, 1), "float32")))[0, :, :, 0]
    assert output.tolist() == [[9, 9, 6], [9, 9, 6], [6, 6, 4]]
    geometry = shapes.conv_geometry(6, 6, 3, 2, 1, "same")
    assert plots.coverage_image(geometry).tolist() == output.tolist()


def test_lesson00_stride_with_dilation_refused_at_construction(keras):
    """Lesson 00, 'Trace 4: dilation' (rule 5) and 'Predict, then check' question 5: strides=2
    with dilation_rate=2 raises ValueError in the constructor; probe reports phase 'construct'."""
    with pytest.raises(ValueError) as error:
        keras.layers.Conv2D(8, 3, strides=2, dilation_rate=2)
    message = clean_message(error.value).replace("`", "")
    assert "strides > 1 not supported in conjunction with dilation_rate > 1" in message
    result = probe((1, 28, 28, 1), filters=8, kernel_size=3, strides=2, dilation_rate=2)
    assert (result.error_type, result.phase) == ("ValueError", "construct")


def test_lesson00_stack_trace_matches_a_real_model(keras):
    """Lesson 00, 'A whole stack, layer by layer': the traced shapes equal a real Sequential's."""
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3),
        layers.Conv2D(64, 3, strides=2, padding="same"),
        layers.Conv2D(64, 3, dilation_rate=2),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(10),
    ])
    real = [tuple(layer.output.shape) for layer in model.layers]
    traced = shapes.trace(
        [shapes.Conv2D(32, 3), shapes.Conv2D(64, 3, strides=2, padding="same"),
         shapes.Conv2D(64, 3, dilation_rate=2), shapes.MaxPooling2D(2), shapes.Flatten(),
         shapes.Dense(10)],
        (None, 28, 28, 1),
    )
    assert traced.ok
    assert [step.output_shape for step in traced.steps] == real


# --- added for the lesson review: phases, the output map, rule 4, the stride claim, the playground


def test_lesson00_weights_do_not_exist_until_the_first_call(keras):
    """Lesson 00, section 'Three phases: construct, build, call': a constructed Conv2D has no
    weights; the first call on (2, 32, 32, 3) builds kernel (3, 3, 3, 8) and bias (8,) and returns
    (2, 30, 30, 8)."""
    conv = keras.layers.Conv2D(filters=8, kernel_size=3)
    assert not conv.built and conv.weights == []
    output = conv(np.zeros((2, 32, 32, 3), "float32"))
    assert conv.built
    assert [tuple(w.shape) for w in conv.weights] == [(3, 3, 3, 8), (8,)]
    assert tuple(output.shape) == (2, 30, 30, 8)


@pytest.mark.parametrize(
    "settings, phase, fragment",
    [
        (dict(strides=2, dilation_rate=2), "construct", "not supported in conjunction with"),
        (dict(kernel_size=30), "build", "Computed output size would be zero or negative"),
        (dict(dtype="uint8"), "call", "Incompatible type conversion requested to type uint8"),
    ],
    ids=["stride-with-dilation", "kernel-too-big", "uint8"],
)
def test_lesson00_each_phase_has_the_failure_the_picture_names(settings, phase, fragment):
    """Lesson 00, section 'Three phases: construct, build, call': the picture's examples fail in
    the phase it names: stride with dilation at construct, a kernel larger than the input at build,
    uint8 pixels at call (after the weights exist)."""
    result = probe((1, 28, 28, 1), **{"filters": 8, "kernel_size": 3, **settings})
    assert (result.error_type, result.phase) == ("ValueError", phase), result
    assert fragment in result.message


def test_lesson00_uint8_fails_after_the_weights_were_built(keras):
    """Lesson 00, section 'Three phases: construct, build, call': with uint8 pixels the layer is
    built (kernel and bias exist) and the convolution itself (call) fails."""
    conv = keras.layers.Conv2D(8, 3)
    with pytest.raises(ValueError):
        conv(np.zeros((1, 28, 28, 1), "uint8"))
    assert conv.built and [tuple(w.shape) for w in conv.weights] == [(3, 3, 1, 8), (8,)]


def test_lesson00_output_map_numbers_are_9_6_4(keras):
    """Lesson 00, section 'Trace 3: stride': a kernel of ones, stride 2, same, on a 6x6 image of
    ones gives [[9, 9, 6], [9, 9, 6], [6, 6, 4]] (full windows 9, right/bottom 6, corner 4)."""
    layer = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False,
                                kernel_initializer="ones")
    counts = np.asarray(layer(np.ones((1, 6, 6, 1), "float32")))[0, :, :, 0]
    np.testing.assert_array_equal(counts, [[9, 9, 6], [9, 9, 6], [6, 6, 4]])


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_lesson00_odd_kernel_at_stride_1_pads_symmetrically(keras, kernel):
    """Lesson 00, section 'The rules' (rule 4): an odd kernel at stride 1 needs k - 1 padding pixels,
    split evenly: the output of a kernel of ones on ones is symmetric top/bottom and left/right."""
    layer = keras.layers.Conv2D(1, kernel, padding="same", use_bias=False, kernel_initializer="ones")
    counts = np.asarray(layer(np.ones((1, 9, 9, 1), "float32")))[0, :, :, 0]
    np.testing.assert_array_equal(counts, counts[::-1, ::-1])
    assert shapes.same_padding(9, kernel, stride=1) == ((kernel - 1) // 2, (kernel - 1) // 2)


@pytest.mark.parametrize("kernel", [2, 4])
def test_lesson00_odd_padding_total_puts_the_extra_pixel_bottom_right(keras, kernel):
    """Lesson 00, section 'The rules' (rule 4): an even kernel at stride 1 has an odd total; the
    extra pixel is at the bottom/right, so the top-left output sees more real pixels than the
    bottom-right one."""
    layer = keras.layers.Conv2D(1, kernel, padding="same", use_bias=False, kernel_initializer="ones")
    counts = np.asarray(layer(np.ones((1, 6, 6, 1), "float32")))[0, :, :, 0]
    assert counts[0, 0] > counts[-1, -1]
    before, after = shapes.same_padding(6, kernel, stride=1)
    assert after == before + 1


def test_lesson00_large_stride_is_empty_only_when_the_kernel_does_not_fit(keras):
    """Lesson 00, section 'Trace 3: stride': stride 50 gives 1x1 when the kernel fits (k=3 on 28),
    and the kernel that does not fit (k=30 on 28) fails whatever the stride."""
    assert conv_output_shape(keras, (1, 28, 28, 1), filters=8, kernel_size=3, strides=50) == (1, 1, 1, 8)
    with pytest.raises(ValueError) as error:
        conv_output_shape(keras, (1, 28, 28, 1), filters=8, kernel_size=30, strides=50)
    assert "Computed output size would be zero or negative" in clean_message(error.value)


def test_lesson00_playground_channels_first_on_a_channels_last_image():
    """Lesson 00, section 'The playground': data_format channels_first with the input layout left at
    channels_last shows the real error naming kernel shape (3, 3, 28, 8); the starting setting works."""
    from convclinic.widgets import ConvExplorer

    explorer = ConvExplorer(
        height=28, width=28, channels=1, filters=8, kernel_size=3, padding="valid",
        data_format="channels_last", input_layout="channels_last", plot=False,
        controls=("data_format", "input_layout"),
    )
    assert explorer.readout.value == "Output shape: (1, 26, 26, 8)"
    explorer.set(data_format="channels_first")
    assert not explorer.result.ok
    assert "kernel shape=(3, 3, 28, 8)" in explorer.result.message
