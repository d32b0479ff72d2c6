"""Property test: convclinic.shapes agrees with the installed Keras, shape for shape.

For >= 2,000 random settings (sizes 1-64, kernels 1-9, strides 1-5, dilations
1-4, both paddings in mixed case, both data formats) a REAL keras Conv2D is
constructed and called; convclinic.shapes must give the identical output
shape, and must raise exactly when Keras raises (lesson 00's rules).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convclinic import shapes
from convclinic.runtime import import_keras

# every test here calls the real Keras: the fast loop (-m "not slow") skips the module
pytestmark = pytest.mark.slow

EXAMPLES = 2000
OUTCOMES = {"shape": 0, "error": 0}


def _pair(draw, low, high):
    if draw(st.booleans()):
        return draw(st.integers(low, high))
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


@st.composite
def conv_settings(draw):
    data_format = draw(st.sampled_from(["channels_last", "channels_first"]))
    height, width = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    channels = draw(st.integers(1, 3))
    input_shape = (
        (1, height, width, channels) if data_format == "channels_last" else (1, channels, height, width)
    )
    return dict(
        input_shape=input_shape,
        filters=draw(st.integers(1, 4)),
        kernel_size=_pair(draw, 1, 9),
        strides=_pair(draw, 1, 5),
        dilation_rate=_pair(draw, 1, 4),
        padding=draw(st.sampled_from(["valid", "same", "VALID", "Same"])),
        data_format=data_format,
    )


def keras_outcome(setting):
    """Output shape from a real Conv2D, or the exception class Keras raised."""
    arguments = {k: v for k, v in setting.items() if k != "input_shape"}
    keras = import_keras()
    try:
        layer = keras.layers.Conv2D(**arguments)
        output = layer(np.zeros(setting["input_shape"], dtype="float32"))
    except Exception as error:  # noqa: BLE001 - the outcome under test
        return type(error)
    return tuple(output.shape)


def shapes_outcome(setting):
    try:
        return shapes.conv2d_output_shape(**setting)
    except ValueError:
        return ValueError


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(conv_settings())
def test_shapes_match_real_keras(setting):
    expected = keras_outcome(setting)
    got = shapes_outcome(setting)
    OUTCOMES["error" if isinstance(expected, type) else "shape"] += 1
    if isinstance(expected, type):
        assert expected is ValueError, f"Keras raised {expected.__name__} for {setting}"
        assert got is ValueError, f"Keras raises for {setting} but shapes gave {got}"
    else:
        assert got == expected, f"{setting}: shapes {got} != keras {expected}"


def test_property_test_compared_enough_settings_of_both_kinds():
    """Guard (runs after the property test): >= 2,000 settings were compared, and
    both kinds of outcome (a shape, an error) occurred often."""
    assert OUTCOMES["shape"] + OUTCOMES["error"] >= EXAMPLES
    assert OUTCOMES["shape"] >= 300 and OUTCOMES["error"] >= 300, OUTCOMES


@pytest.mark.parametrize("legacy", [False, True], ids=["keras3", "tf_keras"])
def test_spec_from_layer_traces_a_real_model_like_keras(legacy):
    """shapes.spec_from_layer reads real Keras 3 and Keras 2 layers; the trace equals Keras' shapes."""
    k = import_keras(legacy=legacy)
    model = k.Sequential([
        k.Input((32, 30, 3)),
        k.layers.ZeroPadding2D(((1, 2), (0, 1))),
        k.layers.Conv2D(8, (3, 5), strides=2, padding="same", name="conv_a"),
        k.layers.BatchNormalization(),
        k.layers.Activation("relu"),
        k.layers.MaxPooling2D(),
        k.layers.AveragePooling2D(pool_size=2, strides=1),
        k.layers.Conv2D(4, 3, dilation_rate=2, name="conv_b"),
        k.layers.Dropout(0.1),
        k.layers.Flatten(),
        k.layers.Dense(10),
    ])
    specs = shapes.specs_from_layers(model.layers)
    assert specs is not None
    assert [s.name for s in specs] == [layer.name for layer in model.layers]
    result = shapes.trace(specs, (2, 32, 30, 3))
    assert result.ok, str(result)
    expected = []
    h = np.zeros((2, 32, 30, 3), "float32")
    for layer in model.layers:
        h = layer(h)
        expected.append(tuple(int(v) for v in h.shape))
    assert [step.output_shape for step in result.steps] == expected
    # the built Dense knows the size its weights were made for
    assert specs[-1].built_for == model.layers[-1].kernel.shape[0]
    assert shapes.spec_from_layer(k.layers.LSTM(3)) is None


def test_conv_transpose_output_size_matches_real_keras():
    """shapes.conv_transpose_output_size (lesson 07) against a real Conv2DTranspose, both paddings,
    output_padding None or every value below the stride: same size, or both refuse."""
    keras = import_keras()
    compared = {"size": 0, "error": 0}
    for size in (1, 2, 5, 7):
        for kernel in (1, 2, 3, 4):
            for stride in (1, 2, 3):
                for padding in ("valid", "same"):
                    for output_padding in (None, *range(stride)):
                        try:
                            layer = keras.layers.Conv2DTranspose(
                                1, kernel, strides=stride, padding=padding,
                                output_padding=output_padding)
                            real = int(layer(np.zeros((1, size, size, 1), "float32")).shape[1])
                        except Exception:  # noqa: BLE001 - the outcome under test
                            real = ValueError
                        try:
                            got = shapes.conv_transpose_output_size(
                                size, kernel, stride, padding, output_padding)
                        except ValueError:
                            got = ValueError
                        setting = (size, kernel, stride, padding, output_padding)
                        assert got == real, f"{setting}: shapes {got}, Keras {real}"
                        compared["error" if real is ValueError else "size"] += 1
    assert compared["size"] > 100 and compared["error"] > 5, compared
