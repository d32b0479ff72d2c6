"""Contract tests for lesson 04 (notebooks/04-data-format.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras, against the
installed stack. When an upgrade changes a behaviour, the failing test names the
section of the lesson to rewrite.
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pytest

from convclinic import formats
from convclinic.probe import probe
from convclinic.runtime import clean_message, import_keras
from convclinic.snippets import run_snippet
from tests.contract.pytorch import import_torch

CPU_NHWC_ONLY = "The Conv2D op currently only supports the NHWC tensor format on the CPU"


@pytest.fixture(scope="module")
def keras():
    return import_keras()


@pytest.fixture
def channels_first_default(keras):
    """Switch the global default to channels_first for one test, then restore it."""
    before = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format(before)


def images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# --- NHWC and NCHW: one batch, two layouts ---------------------------------------------


def test_lesson04_three_transposes_agree(keras):
    """Lesson 04, section 'NHWC and NCHW: one batch, two layouts': np.transpose, keras.ops.transpose
    and layers.Permute((3, 1, 2)) all turn (2, 28, 28, 3) into the same (2, 3, 28, 28) array."""
    batch = images((2, 28, 28, 3))
    with_numpy = np.transpose(batch, (0, 3, 1, 2))
    with_ops = np.asarray(keras.ops.transpose(batch, (0, 3, 1, 2)))
    with_permute = np.asarray(keras.layers.Permute((3, 1, 2))(batch))
    assert with_numpy.shape == with_ops.shape == with_permute.shape == (2, 3, 28, 28)
    np.testing.assert_array_equal(with_ops, with_numpy)
    np.testing.assert_array_equal(with_permute, with_numpy)
    np.testing.assert_array_equal(formats.nhwc_to_nchw(batch), with_numpy)


# --- The global default: image_data_format and keras.json ------------------------------


def test_lesson04_default_format_is_channels_last_and_keras_writes_keras_json():
    """Lesson 04, section 'The global default: image_data_format and keras.json': without a
    keras.json, Keras 3 defaults to channels_last and writes a keras.json into KERAS_HOME."""
    with tempfile.TemporaryDirectory() as keras_home:
        result = run_snippet(
            "import keras\nresult = keras.config.image_data_format()", env={"KERAS_HOME": keras_home}
        )
        assert result.ok, result.message
        assert result.value == "channels_last"
        with open(os.path.join(keras_home, "keras.json"), encoding="utf-8") as handle:
            assert json.load(handle)["image_data_format"] == "channels_last"


def test_lesson04_keras_json_channels_first_changes_every_new_conv2d():
    """Lesson 04, section 'The global default: image_data_format and keras.json': a keras.json
    saying channels_first makes a plain Conv2D(8, 3) channels_first; on an NHWC (1, 28, 28, 3)
    image it returns (1, 8, 26, 1), without an error."""
    text, result = formats.keras_json_demo("channels_first")
    assert json.loads(text)["image_data_format"] == "channels_first"
    assert result.ok, result.message
    assert result.value == {
        "image_data_format": "channels_first",
        "layer_data_format": "channels_first",
        "output_shape": [1, 8, 26, 1],
    }


def test_lesson04_set_image_data_format_is_read_when_a_layer_is_made(keras, channels_first_default):
    """Lesson 04, section 'The global default: image_data_format and keras.json':
    set_image_data_format changes layers created AFTER it; a layer made before keeps its format."""
    keras.config.set_image_data_format("channels_last")
    made_before = keras.layers.Conv2D(8, 3)
    keras.config.set_image_data_format("channels_first")
    made_after = keras.layers.Conv2D(8, 3)
    assert made_before.data_format == "channels_last"
    assert made_after.data_format == "channels_first"
    assert tuple(made_after(images((1, 28, 28, 3))).shape) == (1, 8, 26, 1)
    assert tuple(made_before(images((1, 28, 28, 3))).shape) == (1, 26, 26, 8)


# --- The failure, live: a wrong shape without an error ---------------------------------


def test_lesson04_channels_first_layer_on_nhwc_rgb_gives_wrong_shape_silently():
    """Lesson 04, section 'The failure, live: a wrong shape without an error': a channels_first
    Conv2D(8, 3) on an NHWC (1, 28, 28, 3) image returns (1, 8, 26, 1) and raises nothing."""
    result = probe((1, 28, 28, 3), filters=8, kernel_size=3, data_format="channels_first")
    assert result.ok, result.message
    assert result.output_shape == (1, 8, 26, 1)
    reading = formats.axes_as_read((1, 28, 28, 3), "channels_first")
    assert (reading["channels"], reading["height"], reading["width"]) == (28, 28, 3)


def test_lesson04_channels_first_layer_on_nhwc_gray_gives_misleading_kernel_shape_error():
    """Lesson 04, section 'The failure, live: a wrong shape without an error': NHWC (1, 28, 28, 1)
    into a channels_first Conv2D(8, 3) raises ValueError 'Computed output size would be zero or
    negative' naming kernel shape=(3, 3, 28, 8), before the layer is built."""
    result = probe((1, 28, 28, 1), filters=8, kernel_size=3, data_format="channels_first")
    assert result.error_type == "ValueError"
    assert result.phase == "build"
    assert "Computed output size would be zero or negative" in result.message
    assert "kernel shape=(3, 3, 28, 8)" in result.message


def test_lesson04_data_format_nchw_string_is_refused():
    """Lesson 04, section 'The rule: nothing in a tensor says which layout it is': data_format
    takes only channels_first/channels_last; "NCHW" raises ValueError '... Received: data_format=nchw'."""
    result = probe((1, 28, 28, 3), data_format="NCHW")
    assert (result.error_type, result.phase) == ("ValueError", "construct")
    assert "Received: data_format=nchw" in result.message


# --- Example 3 of an older tutorial, checked ----------------------------------------------


def article_example3_models(keras):
    """The article's two models, declared with keras.Input as the lesson writes them."""
    last = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, 3)])
    first = keras.Sequential(
        [keras.Input(shape=(1, 28, 28)), keras.layers.Conv2D(32, 3, data_format="channels_first")]
    )
    return last, first


def test_lesson04_article_example3_declared_models_raise_and_name_the_layer(keras):
    """Lesson 04, section 'Example 3 of an older tutorial, checked': the declared models raise on
    the other layout, naming the layer: 'expected axis -1 of input shape to have value 1'
    (channels_last model, NCHW data) and 'expected axis 1 ...' (channels_first model, NHWC data)."""
    last, first = article_example3_models(keras)
    with pytest.raises(ValueError) as caught_last:
        last(images((1, 1, 28, 28)))
    assert "expected axis -1 of input shape to have value 1" in clean_message(caught_last.value)
    assert "of layer 'conv2d" in clean_message(caught_last.value)
    with pytest.raises(ValueError) as caught_first:
        first(images((1, 28, 28, 1)))
    assert "expected axis 1 of input shape to have value 1" in clean_message(caught_first.value)


@pytest.mark.parametrize(
    "shape, data_format",
    [((1, 1, 28, 28), "channels_last"), ((1, 28, 28, 1), "channels_first")],
    ids=["nchw-into-last", "nhwc-into-first"],
)
def test_lesson04_article_example3_bare_layers_raise_too(keras, shape, data_format):
    """Lesson 04, section 'Example 3 of an older tutorial, checked': without any declaration the
    bare layers raise as well, because one image axis is 1 pixel wide: 'Computed output size would
    be zero or negative' with kernel shape=(3, 3, 28, 32)."""
    layer = keras.layers.Conv2D(32, 3, data_format=data_format)
    with pytest.raises(ValueError) as caught:
        layer(images(shape))
    message = clean_message(caught.value)
    assert "Computed output size would be zero or negative" in message
    assert "kernel shape=(3, 3, 28, 32)" in message


def test_lesson04_declared_rgb_model_refuses_what_a_bare_layer_accepts(keras):
    """Lesson 04, section 'Example 3 of an older tutorial, checked': a channels_first model declared
    for (3, 28, 28) refuses an NHWC colour image ('expected axis 1 of input shape to have value 3');
    the bare layer raises nothing on it."""
    model = keras.Sequential(
        [keras.Input(shape=(3, 28, 28)), keras.layers.Conv2D(8, 3, data_format="channels_first")]
    )
    with pytest.raises(ValueError) as caught:
        model(images((1, 28, 28, 3)))
    assert "expected axis 1 of input shape to have value 3" in clean_message(caught.value)
    bare = keras.layers.Conv2D(8, 3, data_format="channels_first")
    assert tuple(bare(images((1, 28, 28, 3))).shape) == (1, 8, 26, 1)


# --- channels_first on the CPU: oneDNN and dtype ----------------------------------------


def test_lesson04_channels_first_float32_works_on_cpu_with_onednn_default():
    """Lesson 04, section 'channels_first on the CPU: oneDNN and dtype': in this notebook (oneDNN on,
    as this course sets it), a float32 channels_first Conv2D(8, 3) on (1, 3, 28, 28) returns (1, 8, 26, 26)."""
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") != "0"
    result = probe((1, 3, 28, 28), data_format="channels_first")
    assert result.ok, result.message
    assert result.output_shape == (1, 8, 26, 26)


def test_lesson04_channels_first_float64_fails_on_cpu_even_with_onednn(keras):
    """Lesson 04, section 'channels_first on the CPU: oneDNN and dtype': a float64 channels_first
    Conv2D raises UnimplementedError 'The Conv2D op currently only supports the NHWC tensor format
    on the CPU' even with oneDNN on."""
    layer = keras.layers.Conv2D(8, 3, data_format="channels_first", dtype="float64")
    with pytest.raises(Exception) as caught:
        layer(np.zeros((1, 3, 28, 28), "float64"))
    assert type(caught.value).__name__ == "UnimplementedError"
    assert CPU_NHWC_ONLY in clean_message(caught.value)
    assert "The op was given the format: NCHW" in clean_message(caught.value)


def test_lesson04_channels_first_fails_on_cpu_with_onednn_off():
    """Lesson 04, section 'channels_first on the CPU: oneDNN and dtype': with
    TF_ENABLE_ONEDNN_OPTS=0 set before TensorFlow is imported, a float32 channels_first Conv2D
    raises UnimplementedError 'The Conv2D op currently only supports the NHWC tensor format on
    the CPU'."""
    result = formats.channels_first_on_cpu(onednn=False)
    assert result.error_type == "UnimplementedError", result.headline
    assert CPU_NHWC_ONLY in result.message


# --- The fix: convert the data, not the layer -------------------------------------------


def test_lesson04_transposed_data_gives_the_same_numbers_in_either_format(keras):
    """Lesson 04, section 'The fix: convert the data, not the layer': a channels_first Conv2D on
    the NCHW copy of a batch computes the NCHW copy of the channels_last result (same weights);
    the kernel is (kh, kw, in, out) in both formats."""
    batch = images((2, 28, 28, 3), seed=4)
    last = keras.layers.Conv2D(8, 3, data_format="channels_last")
    first = keras.layers.Conv2D(8, 3, data_format="channels_first")
    out_last = np.asarray(last(batch))
    first.build((None, 3, 28, 28))
    assert tuple(first.kernel.shape) == tuple(last.kernel.shape) == (3, 3, 3, 8)
    first.set_weights(last.get_weights())
    out_first = np.asarray(first(formats.nhwc_to_nchw(batch)))
    assert out_first.shape == (2, 8, 26, 26)
    np.testing.assert_allclose(formats.nchw_to_nhwc(out_first), out_last, atol=1e-5)


# --- Porting PyTorch kernels -------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_weights():
    rng = np.random.default_rng(7)
    return rng.normal(size=(8, 3, 3, 3)).astype("float32"), rng.normal(size=8).astype("float32")


def built_conv(keras):
    layer = keras.layers.Conv2D(8, 3)
    layer.build((None, 28, 28, 3))
    return layer


def test_lesson04_torch_layout_kernel_is_refused_by_set_weights(keras, torch_weights):
    """Lesson 04, section 'Porting PyTorch kernels': set_weights with an (out, in, kh, kw) kernel
    raises ValueError 'weight shape (3, 3, 3, 8) is not compatible with provided weight shape
    (8, 3, 3, 3)'."""
    weight, bias = torch_weights
    with pytest.raises(ValueError) as caught:
        built_conv(keras).set_weights([weight, bias])
    assert "weight shape (3, 3, 3, 8) is not compatible with provided weight shape (8, 3, 3, 3)" in (
        clean_message(caught.value)
    )


def test_lesson04_transposed_kernel_matches_the_numpy_reference(keras, torch_weights):
    """Lesson 04, section 'Porting PyTorch kernels': with the kernel transposed to (kh, kw, in, out),
    Keras' Conv2D gives the same numbers as a plain-NumPy PyTorch-style convolution."""
    weight, bias = torch_weights
    layer = built_conv(keras)
    layer.set_weights([formats.torch_kernel_to_keras(weight), bias])
    batch_nchw = images((2, 3, 28, 28), seed=5)
    keras_output = np.asarray(layer(formats.nchw_to_nhwc(batch_nchw)))
    reference = formats.nchw_to_nhwc(formats.reference_conv2d(batch_nchw, weight, bias))
    np.testing.assert_allclose(keras_output, reference, atol=1e-4)


def test_lesson04_reshaped_kernel_is_accepted_silently_but_wrong(keras, torch_weights):
    """Lesson 04, section 'Porting PyTorch kernels': a kernel RESHAPED (not transposed) to
    (3, 3, 3, 8) is accepted without an error, and the outputs are wrong."""
    weight, bias = torch_weights
    layer = built_conv(keras)
    layer.set_weights([weight.reshape(3, 3, 3, 8), bias])  # no error
    batch_nchw = images((2, 3, 28, 28), seed=5)
    keras_output = np.asarray(layer(formats.nchw_to_nhwc(batch_nchw)))
    reference = formats.nchw_to_nhwc(formats.reference_conv2d(batch_nchw, weight, bias))
    assert np.max(np.abs(keras_output - reference)) > 1.0


# --- Predict, then check ------------------------------------------------------------------


def test_lesson04_predict_cell_channels_first_conv_on_nhwc_32x32_rgb_fails():
    """Lesson 04, section 'Predict, then check': a channels_first Conv2D(4, 5) on an NHWC
    (2, 32, 32, 3) batch reads a 32x3 image of 32 channels and raises ValueError 'Computed output
    size would be zero or negative', kernel shape=(5, 5, 32, 4)."""
    result = probe((2, 32, 32, 3), filters=4, kernel_size=5, data_format="channels_first")
    assert result.error_type == "ValueError"
    assert "Computed output size would be zero or negative" in result.message
    assert "kernel shape=(5, 5, 32, 4)" in result.message
    fixed = probe((2, 3, 32, 32), filters=4, kernel_size=5, data_format="channels_first")
    assert fixed.output_shape == (2, 4, 28, 28)


# --- added for the lesson review: the photo, the mirror mistake, oneDNN on/off, the explorer -------


def test_lesson04_photo_read_channels_first_is_28_channels_of_28x3(keras):
    """Lesson 04, section 'The failure, live: a wrong shape without an error': the photo thumbnail
    (1, 28, 28, 3) into a channels_first Conv2D(8, 3) gives (1, 8, 26, 1) and a (3, 3, 28, 8) kernel,
    without an error."""
    from convclinic import figures

    image = figures.photo_thumbnail(size=28)
    assert image.shape == (1, 28, 28, 3) and image.dtype == np.float32
    conv = keras.layers.Conv2D(8, 3, data_format="channels_first")
    assert tuple(conv(image).shape) == (1, 8, 26, 1)
    assert tuple(conv.kernel.shape) == (3, 3, 28, 8)


def test_lesson04_nchw_image_into_channels_last_layer_is_silent(keras):
    """Lesson 04, section 'The failure, live: a wrong shape without an error' (and the rule's table):
    an NCHW (1, 3, 28, 28) image into a channels_last Conv2D(8, 3) returns (1, 1, 26, 8), no error."""
    layer = keras.layers.Conv2D(8, 3)
    assert tuple(layer(images((1, 3, 28, 28))).shape) == (1, 1, 26, 8)
    assert tuple(layer.kernel.shape) == (3, 3, 28, 8)


@pytest.mark.parametrize("onednn, works", [(True, True), (False, False)], ids=["on", "off"])
def test_lesson04_channels_first_runs_exactly_when_onednn_is_on(onednn, works):
    """Lesson 04, section 'channels_first on the CPU: oneDNN and dtype': in a fresh Python with
    TF_ENABLE_ONEDNN_OPTS=1 a float32 channels_first Conv2D runs ((1, 8, 26, 26)); with 0 it raises
    UnimplementedError, on any CPU."""
    result = formats.channels_first_on_cpu(onednn=onednn)
    if works:
        assert result.ok, result.message
        assert tuple(result.value) == (1, 8, 26, 26)
    else:
        assert result.error_type == "UnimplementedError"
        assert CPU_NHWC_ONLY in result.message


NN_INSTRUCTIONS = ("avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "avx_vnni")


def cpu_flags():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return set(" ".join(line for line in handle if line.startswith("flags")).split())
    except OSError:
        return None


def test_lesson04_onednn_default_depends_on_the_processor():
    """Lesson 04, section 'channels_first on the CPU: oneDNN and dtype': without the variable,
    TensorFlow turns oneDNN on by default only on processors with neural-network instructions
    (AVX512_VNNI, AVX512_BF16, AMX): off on a CPU that has none of them, on with AVX512_VNNI or AMX."""
    flags = cpu_flags()
    assert flags is not None, "this test reads /proc/cpuinfo (Linux)"
    result = run_snippet(
        "from tensorflow.python.util import _pywrap_util_port as port\n"
        "result = bool(port.IsMklEnabled())",
        env={"TF_ENABLE_ONEDNN_OPTS": None},
    )
    assert result.ok, result.message
    if not flags & set(NN_INSTRUCTIONS):
        assert result.value is False
    if flags & {"avx512_vnni", "amx_tile"}:
        assert result.value is True


def test_lesson04_course_runtime_turns_onednn_on_unless_set():
    """Lesson 04, section 'channels_first on the CPU: oneDNN and dtype': convclinic's
    import_tensorflow() sets TF_ENABLE_ONEDNN_OPTS=1 unless the variable is already set."""
    code = (
        "import os\n"
        "from convclinic.runtime import import_tensorflow\n"
        "import_tensorflow()\n"
        "result = os.environ.get('TF_ENABLE_ONEDNN_OPTS')"
    )
    assert run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": None}).value == "1"
    assert run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": "0"}).value == "0"


@pytest.mark.parametrize(
    "data_format, input_layout, readout",
    [
        ("channels_first", "channels_last", "Output shape: (1, 8, 26, 1)"),
        ("channels_last", "channels_first", "Output shape: (1, 1, 26, 8)"),
        ("channels_last", "channels_last", "Output shape: (1, 26, 26, 8)"),
    ],
)
def test_lesson04_explorer_input_layout_reproduces_the_silent_mismatch(data_format, input_layout, readout):
    """Lesson 04, section 'Try it: the data-format explorer': with the input built in the other
    layout, the explorer shows the silent wrong shapes of this lesson."""
    from convclinic.widgets import ConvExplorer

    explorer = ConvExplorer(height=28, width=28, channels=3, filters=8, kernel_size=3,
                            data_format=data_format, input_layout=input_layout, plot=False)
    assert explorer.readout.value == readout


def test_lesson04_pytorch_stores_kernels_out_in_kh_kw_and_the_reference_is_its_conv2d(torch_weights):
    """Lesson 04, section 'Porting PyTorch kernels': a PyTorch Conv2d(3, 8, 3) holds its kernel as
    (out, in, kh, kw) = (8, 3, 3, 3), and formats.reference_conv2d computes what PyTorch's own
    conv2d computes on an NCHW batch."""
    torch = import_torch()
    assert tuple(torch.nn.Conv2d(3, 8, 3).weight.shape) == (8, 3, 3, 3)
    weight, bias = torch_weights
    batch_nchw = images((2, 3, 28, 28), seed=5)
    expected = torch.nn.functional.conv2d(
        torch.from_numpy(batch_nchw), torch.from_numpy(weight), torch.from_numpy(bias)).numpy()
    np.testing.assert_allclose(formats.reference_conv2d(batch_nchw, weight, bias), expected, atol=1e-4)
