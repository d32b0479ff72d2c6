"""Contract tests for lesson 05 (notebooks/05-framework-version-hardware.ipynb).

Each test pins one statement the lesson makes about TensorFlow/Keras, against the
installed stack. When an upgrade changes a behaviour, the failing test names the
section of the lesson to rewrite. The claims table (convclinic.claims) is tested row by row.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from convclinic import claims, gpu, snippets, versions
from convclinic.probe import probe
from convclinic.runtime import import_keras, import_tensorflow
from tests.contract.raised import message_of


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def claim(key):
    """Run one claim of the older-tutorials table under both Kerases."""
    found = [c for c in claims.CLAIMS if c.key == key]
    assert found, key
    return versions.side_by_side(found[0].scenario)


# --- Which Keras is this? ---------------------------------------------------------------


def test_lesson05_tf_keras_attribute_is_keras3_and_tf_keras_package_is_keras2(keras):
    """Lesson 05, section 'Which Keras is this?': in TensorFlow 2.21 `tf.keras` IS Keras 3
    (same Conv2D class), while the `tf_keras` package is Keras 2."""
    tf = import_tensorflow()
    assert tf.keras.layers.Conv2D is keras.layers.Conv2D
    assert keras.__version__.startswith("3.")
    assert import_keras(legacy=True).__version__.startswith("2.")
    assert import_keras(legacy=True).layers.Conv2D is not keras.layers.Conv2D


def test_lesson05_tf_use_legacy_keras_makes_tf_keras_keras2():
    """Lesson 05, section 'Which Keras is this?': with TF_USE_LEGACY_KERAS=1 set before
    TensorFlow is imported, `tf.keras` is the tf_keras package (Keras 2)."""
    result = snippets.run_snippet(
        "import tensorflow as tf\nresult = tf.keras.layers.Conv2D.__module__",
        env={"TF_USE_LEGACY_KERAS": "1"},
    )
    assert result.ok, result.message
    assert result.value.startswith("tf_keras.")


# --- The failure, live / the article says, Keras 3.15 does -------------------------------


def test_lesson05_article_example1_build_works_in_both():
    """Lesson 05, section 'Claims against reality: one table' (Example 1): model.build((None, 28,
    28, 1)) on the model declared input_shape=(28, 28, 1) does NOT fail; output (None, 26, 26, 32)."""
    outcomes = claim("example1_build")
    for outcome in outcomes.values():
        assert outcome.ok, outcome.text
        assert outcome.value == "built, output (None, 26, 26, 32)"


def test_lesson05_article_example1_call_without_channel_axis_keras2_fails_keras3_works():
    """Lesson 05, section 'Claims against reality: one table' (Example 1): calling that model on
    (1, 100, 100): Keras 2 raises 'expected shape=(None, 28, 28, 1), found shape=(1, 100, 100)';
    Keras 3 adds the channel axis and returns (1, 98, 98, 32)."""
    outcomes = claim("example1_call")
    assert outcomes["Keras 2"].error_type == "ValueError"
    assert "expected shape=(None, 28, 28, 1), found shape=(1, 100, 100)" in outcomes["Keras 2"].message
    assert outcomes["Keras 3"].ok and outcomes["Keras 3"].value == (1, 98, 98, 32)


def test_lesson05_article_example2_invalid_padding_raises_at_construction_in_both():
    """Lesson 05, section 'Claims against reality: one table' (Example 2): padding='invalid'
    does not build: both Kerases raise ValueError 'The `padding` argument must be ...
    Received: invalid' when the layer is constructed."""
    for outcome in claim("example2_invalid_padding").values():
        assert outcome.error_type == "ValueError"
        assert "The `padding` argument must be" in outcome.message
        assert "Received: invalid" in outcome.message
    assert probe((1, 28, 28, 1), padding="invalid").phase == "construct"


def test_lesson05_big_stride_gives_a_1x1_output_not_an_empty_one():
    """Lesson 05, section 'Claims against reality: one table' (Invalid Stride): stride 50 on a
    28x28 input gives a (1, 1, 1, 4) output in both Kerases, not an empty one."""
    for outcome in claim("big_stride").values():
        assert outcome.ok and outcome.value == (1, 1, 1, 4)


def test_lesson05_article_example3_build_with_batch_one_keras2_works_keras3_fails():
    """Lesson 05, section "The failure, live: one model, two Kerases":
    model.build((1, 28, 28, 1)) works in Keras 2 and raises ValueError 'has already been
    configured to use input shape (None, 28, 28, 1)' in Keras 3."""
    outcomes = claim("example3_build")
    assert outcomes["Keras 2"].ok
    assert outcomes["Keras 3"].error_type == "ValueError"
    assert "already been configured to use input shape (None, 28, 28, 1)" in (
        outcomes["Keras 3"].message
    )


def test_lesson05_article_example3_mismatch_throws_in_both_with_different_words():
    """Lesson 05, section 'Claims against reality: one table' (Example 3): an NCHW tensor into
    the declared channels_last model raises in both: Keras 2 'expected shape=(None, 28, 28, 1),
    found shape=(1, 1, 28, 28)', Keras 3 'expected axis -1 of input shape to have value 1'."""
    outcomes = claim("example3_mismatch")
    assert "expected shape=(None, 28, 28, 1), found shape=(1, 1, 28, 28)" in (
        outcomes["Keras 2"].message
    )
    assert "expected axis -1 of input shape to have value 1" in outcomes["Keras 3"].message


def test_lesson05_channels_first_float32_works_on_cpu_in_both():
    """Lesson 05, section 'Claims against reality: one table' (folklore: channels_first on the CPU): a float32
    channels_first Conv2D(8, 3) on (1, 3, 28, 28) runs on this CPU in both: (1, 8, 26, 26)."""
    for outcome in claim("channels_first_cpu").values():
        assert outcome.ok and outcome.value == (1, 8, 26, 26)


def test_lesson05_bare_layer_format_mismatch_is_silent_in_both():
    """Lesson 05, section 'Claims against reality: one table' (Data Format Mismatch): a
    channels_first Conv2D(8, 3) on an NHWC (1, 28, 28, 3) image raises nothing in either Keras
    and returns (1, 8, 26, 1)."""
    for outcome in claim("bare_layer_mismatch").values():
        assert outcome.ok and outcome.value == (1, 8, 26, 1)


def test_lesson05_table_covers_every_claim():
    """Lesson 05, section 'Claims against reality: one table': the table lists every claim
    checked on this stack (Examples 1-3, the stride claim, the data-format claims)."""
    keys = {c.key for c in claims.CLAIMS}
    assert keys == {
        "example1_build", "example1_call", "example2_invalid_padding", "big_stride",
        "example3_build", "example3_mismatch", "channels_first_cpu", "bare_layer_mismatch",
    }


# --- The input_shape= warning ------------------------------------------------------------


def test_lesson05_input_shape_warning_text_and_once_per_location(keras):
    """Lesson 05, section 'The input_shape= warning': passing input_shape= to Conv2D emits a
    UserWarning 'Do not pass an `input_shape`/`input_dim` argument to a layer', issued from inside
    Keras (base_conv.py), so the default filter shows it once for three layers."""
    shown = versions.count_input_shape_warnings(3)
    assert len(shown) == 1
    assert shown[0].category is UserWarning
    assert "Do not pass an `input_shape`/`input_dim` argument to a layer" in str(shown[0].message)
    assert shown[0].filename.replace("\\", "/").endswith("keras/src/layers/convolutional/base_conv.py")


def test_lesson05_keras_input_gives_no_warning(keras):
    """Lesson 05, section 'The input_shape= warning': declaring the shape with keras.Input
    instead emits no warning, and the model works."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, 3)])
    assert [w for w in caught if "input_shape" in str(w.message)] == []
    assert tuple(model(np.zeros((1, 28, 28, 1), "float32")).shape) == (1, 26, 26, 32)


# --- Reading a traceback ------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, phase, fragment",
    [
        (dict(input_shape=(1, 28, 28, 1), padding="invalid"), "construct", "Received: invalid"),
        (dict(input_shape=(28, 28, 1)), "build", "expected min_ndim=4, found ndim=3"),
        (
            dict(input_shape=(1, 28, 28, 1), dtype="uint8"),
            "call",
            "Incompatible type conversion requested to type uint8",
        ),
    ],
)
def test_lesson05_one_failure_per_phase(settings, phase, fragment):
    """Lesson 05, section 'Reading a traceback': padding='invalid' fails at construct, a rank-3
    input at build (min_ndim=4), a uint8 input at call (after the float32 weights exist)."""
    result = probe(**settings)
    assert (result.error_type, result.phase) == ("ValueError", phase)
    assert fragment in result.message


def test_lesson05_traceback_example_names_the_dense_layer(keras):
    """Lesson 05, section 'Reading a traceback': a Conv2D-Flatten-Dense model built for 28x28
    called on 32x32 raises in the DENSE layer: "layer 'dense' ... expected axis -1 of input shape
    to have value 5408, but received input with shape (1, 7200)"."""
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(8, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="dense"),
        ]
    )
    message = message_of(lambda: model(np.zeros((1, 32, 32, 1), "float32")))
    assert "layer 'dense'" in message
    assert "expected axis -1 of input shape to have value 5408" in message
    assert "received input with shape (1, 7200)" in message


def test_lesson05_call_failures_name_the_layer_class(keras):
    """Lesson 05, section 'Reading a traceback': an error raised while a Conv2D computes starts with
    'Exception encountered when calling Conv2D.call()' (before the cleaning the course applies)."""
    from convclinic.runtime import strip_ansi

    with pytest.raises(ValueError) as caught:
        keras.layers.Conv2D(8, 3)(np.zeros((1, 28, 28, 1), "uint8"))
    assert strip_ansi(str(caught.value)).startswith("Exception encountered when calling Conv2D.call()")


# --- The lines on stderr -------------------------------------------------------------------


def test_lesson05_tensorflow_writes_cpp_log_lines_to_stderr():
    """Lesson 05, section 'The lines on stderr': at TF_CPP_MIN_LOG_LEVEL=0 a fresh TensorFlow
    writes the oneDNN notice and the CPU-instructions line at import, then, at the first op, what
    its GPU search found: 'Could not find cuda drivers' and 'failed call to cuInit' on a machine
    without an NVIDIA driver (the course machine), 'Created device .../device:GPU:0 with ... MB
    memory' where it sees a GPU, 'failed call to cuInit' or 'Cannot dlopen some GPU libraries'
    where the driver lists a GPU that TensorFlow cannot use."""
    text = "\n".join(snippets.tensorflow_log_lines("0"))
    assert "oneDNN custom operations are on" in text
    assert "This TensorFlow binary is optimized to use available CPU instructions" in text
    report = gpu.gpu_report()
    if report.has_gpu:
        assert "Created device /job:localhost/replica:0/task:0/device:GPU:0 with" in text
        assert "failed call to cuInit" not in text
    elif report.driver_gpus:
        assert "failed call to cuInit" in text or "Cannot dlopen some GPU libraries" in text
    else:
        assert "Could not find cuda drivers on your machine" in text
        assert "failed call to cuInit" in text


def test_lesson05_log_level_3_does_not_silence_the_import_lines():
    """Lesson 05, section 'The lines on stderr': TF_CPP_MIN_LOG_LEVEL=3 hides the cuInit error
    but NOT the lines written at import (oneDNN notice)."""
    text = "\n".join(snippets.tensorflow_log_lines("3"))
    assert "oneDNN custom operations are on" in text
    assert "failed call to cuInit" not in text


def test_lesson05_runtime_import_writes_nothing_on_stderr():
    """Lesson 05, section 'The lines on stderr': importing TensorFlow and Keras through
    convclinic.runtime (and running an op) writes nothing on stderr."""
    result = snippets.run_snippet(
        "from convclinic.runtime import import_keras, import_tensorflow\n"
        "tf = import_tensorflow()\nkeras = import_keras()\n"
        "result = float(tf.reduce_sum(tf.ones((2, 2))))"
    )
    assert result.ok and result.value == 4.0
    assert result.stderr_lines == []


# --- The GPU case --------------------------------------------------------------------------


def test_lesson05_memory_growth_cannot_change_after_initialisation():
    """Lesson 05, section 'The GPU case': TensorFlow's set_memory_growth refuses to change a GPU
    once it is initialised ('Physical devices cannot be modified after being initialized') and
    refuses non-GPU devices. Checked in the installed TF's own code, as CI has no GPU."""
    tf = import_tensorflow()
    from tensorflow.python.eager import context

    source = inspect.getsource(context.Context.set_memory_growth)
    assert "Physical devices cannot be modified after being initialized" in source
    with pytest.raises(ValueError, match="Cannot set memory growth on non-GPU"):
        tf.config.experimental.set_memory_growth(tf.config.list_physical_devices("CPU")[0], True)


GPU_FACTS = """
from convclinic import gpu
report = gpu.gpu_report()
growth = gpu.enable_memory_growth()
result = {"report": str(report), "gpus": report.gpus, "driver_gpus": report.driver_gpus,
          "growth": str(growth), "growth_gpus": growth.gpus, "enabled": growth.enabled,
          "too_late": growth.too_late}
"""


def test_lesson05_gpu_report_and_memory_growth_say_what_this_machine_has():
    """Lesson 05, section 'The GPU case': in a fresh Python (no op run yet) gpu_report() names the
    GPUs TensorFlow sees and enable_memory_growth() turns growth on for every one of them; on a
    machine where TensorFlow sees no GPU both say 'No GPU' instead of failing."""
    facts = snippets.run_snippet(GPU_FACTS)
    assert facts.ok, facts.message
    facts = facts.value
    if facts["gpus"]:
        assert f"sees {len(facts['gpus'])} GPU(s): " in facts["report"]
        assert facts["enabled"] == facts["growth_gpus"] and not facts["too_late"], facts["growth"]
        assert facts["growth"].startswith("Memory growth is on for ")
    else:
        assert ": No GPU" in facts["report"]
        assert facts["growth"].startswith("No GPU: nothing to do")
        assert facts["enabled"] == []
        if facts["driver_gpus"]:
            assert "although the driver lists" in facts["report"]


# --- Reporting a framework bug / Predict, then check -----------------------------------------


def test_lesson05_minimal_reproducer_keras_input_build_with_batch_one():
    """Lesson 05, section 'Reporting a framework bug': the five-line reproducer (keras.Input((28,
    28, 1)), Conv2D(32, 3), model.build((1, 28, 28, 1))) raises ValueError in Keras 3 and builds
    in Keras 2."""

    def reproducer(keras):
        model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, 3)])
        model.build((1, 28, 28, 1))
        return "built"

    outcomes = versions.side_by_side(reproducer)
    assert outcomes["Keras 2"].ok
    assert outcomes["Keras 3"].error_type == "ValueError"
    assert "You cannot build it with input_shape (1, 28, 28, 1)" in outcomes["Keras 3"].message


def test_lesson05_predict_kernel_larger_than_image_messages_differ():
    """Lesson 05, section 'Predict, then check': Conv2D(16, 30) on (1, 28, 28, 1) raises ValueError
    in both; Keras 2 speaks of 'downsampling' without naming the kernel, Keras 3 prints
    'kernel shape=(30, 30, 1, 16)'."""

    def kernel_larger_than_image(keras):
        return keras.layers.Conv2D(16, 30)(np.zeros((1, 28, 28, 1), "float32")).shape

    outcomes = versions.side_by_side(kernel_larger_than_image)
    keras2, keras3 = outcomes["Keras 2"], outcomes["Keras 3"]
    assert keras2.error_type == keras3.error_type == "ValueError"
    assert "due to downsampling" in keras2.message and "kernel" not in keras2.message
    assert "Computed output size would be zero or negative" in keras3.message
    assert "kernel shape=(30, 30, 1, 16)" in keras3.message


# --- added for the lesson review: the live failure as the lesson writes it, the GPU wording -------


def test_lesson05_failure_live_keras_input_model_build_with_batch_one():
    """Lesson 05, section 'The failure, live: one model, two Kerases': a Sequential declared with
    keras.Input((28, 28, 1)) builds with (1, 28, 28, 1) in Keras 2; Keras 3 raises ValueError
    "... has already been configured to use input shape (None, 28, 28, 1)"."""

    def scenario(keras):
        model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Conv2D(32, 3)])
        model.build((1, 28, 28, 1))
        return "built"

    outcomes = versions.side_by_side(scenario)
    assert outcomes["Keras 2"].ok and outcomes["Keras 2"].value == "built"
    assert outcomes["Keras 3"].error_type == "ValueError"
    assert "has already been configured to use input shape (None, 28, 28, 1)" in outcomes["Keras 3"].message


def tensorflow_binary_text():
    import pathlib

    tf = import_tensorflow()
    library = pathlib.Path(tf.__file__).parent / "libtensorflow_framework.so.2"
    assert library.exists(), library
    return library.read_bytes()


def test_lesson05_installed_tensorflow_words_the_cudnn_failure_dnn_library_initialization_failed():
    """Lesson 05, section 'The GPU case': the installed TensorFlow carries the message 'DNN library
    initialization failed. Look at the errors above for more details.' and no longer contains
    'Failed to get convolution algorithm'."""
    import pathlib

    text = tensorflow_binary_text()
    assert b"DNN library initialization failed. Look at the errors above for more details." in text
    tf_root = pathlib.Path(import_tensorflow().__file__).parent
    for library in tf_root.rglob("*.so*"):
        assert b"Failed to get convolution algorithm" not in library.read_bytes(), library


def test_lesson05_build_info_names_the_cuda_and_cudnn_versions():
    """Lesson 05, section 'The GPU case': tf.sysconfig.get_build_info() names the CUDA and cuDNN
    versions TensorFlow was built for (keys is_cuda_build, cuda_version, cudnn_version)."""
    build = import_tensorflow().sysconfig.get_build_info()
    assert "is_cuda_build" in build
    if build["is_cuda_build"]:
        assert build["cuda_version"] and build["cudnn_version"]


def test_lesson05_keras2_names_the_layer_keras3_names_the_kernel():
    """Lesson 05, section 'Reading a traceback': Keras 2's output-size error names the layer
    ('due to downsampling in conv2d'), Keras 3's gives kernel shape and strides but no layer name."""

    def kernel_larger_than_image(keras):
        return keras.layers.Conv2D(16, 30, name="conv2d")(np.zeros((1, 28, 28, 1), "float32")).shape

    outcomes = versions.side_by_side(kernel_larger_than_image)
    assert "due to downsampling in conv2d" in outcomes["Keras 2"].message
    assert "conv2d" not in outcomes["Keras 3"].message.lower().replace("conv2d op", "")
    assert "strides=(1, 1)" in outcomes["Keras 3"].message


def test_lesson05_onednn_log_line_only_when_onednn_is_on():
    """Lesson 05, section 'The lines on stderr': the 'oneDNN custom operations are on' line is written
    when oneDNN is on (TF_ENABLE_ONEDNN_OPTS=1) and missing when it is off (0)."""
    code = "import tensorflow as tf\nresult = float(tf.constant(1.0) + 1.0)"
    on = snippets.run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "0"})
    off = snippets.run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert on.ok and off.ok
    assert "oneDNN custom operations are on" in on.stderr
    assert "oneDNN custom operations are on" not in off.stderr


def lesson05_explorers(**values):
    from convclinic.widgets import ConvExplorer

    return [ConvExplorer(feed_to="model", model_input=(28, 28, 1), plot=False, legacy=legacy).set(**values)
            for legacy in (False, True)]


def test_lesson05_explorers_keras2_checks_the_declared_size_keras3_sequential_does_not():
    """Lesson 05, section 'Try it: Keras 3 and Keras 2, side by side': both start valid; at height 40
    the Keras 3 Sequential runs and Keras 2 refuses ('expected shape=(None, 28, 28, 1)'); a dropped
    channel axis at 28 runs in both; feed to = layer with the axis dropped is refused by both."""
    assert all(explorer.result.ok for explorer in lesson05_explorers())
    keras3, keras2 = lesson05_explorers(height=40)
    assert keras3.result.ok and keras3.result.output_shape == (1, 38, 26, 8)
    assert not keras2.result.ok and "expected shape=(None, 28, 28, 1)" in keras2.result.message
    assert all(e.result.ok for e in lesson05_explorers(drop_axes=("channel",)))
    assert not any(e.result.ok for e in lesson05_explorers(drop_axes=("channel",), feed_to="layer"))


def test_lesson05_both_kerases_add_the_channel_axis_when_the_size_matches():
    """Lesson 05, section 'Claims against reality: one table' (Example 1): the model declared with
    input_shape=(28, 28, 1) adds a missing channel axis in both Kerases: (1, 28, 28) -> (1, 26, 26, 32)."""

    def scenario(keras):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.Sequential([keras.layers.Conv2D(32, (3, 3), input_shape=(28, 28, 1))])
        return tuple(model(np.zeros((1, 28, 28), "float32")).shape)

    for outcome in versions.side_by_side(scenario).values():
        assert outcome.ok and tuple(outcome.value) == (1, 26, 26, 32), outcome
