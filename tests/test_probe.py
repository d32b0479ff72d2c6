"""convclinic.probe and convclinic.runtime against the installed TensorFlow.

The probe is what every widget shows, so it must report exactly what a direct
Keras call does: the same shape, or the same exception type and message.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from convclinic import shapes
from convclinic.outcome import Outcome
from convclinic.probe import PHASES, explain_phase, keras_trace, make_input, probe
from convclinic.runtime import clean_message, import_keras, strip_ansi

pytestmark = pytest.mark.slow  # the probe runs a real Keras Conv2D

keras = import_keras()


def direct(input_shape, dtype="float32", **kwargs):
    kwargs.setdefault("filters", 8)
    kwargs.setdefault("kernel_size", 3)
    kwargs.setdefault("name", "conv2d")  # Keras numbers layer names; messages quote them
    try:
        layer = keras.layers.Conv2D(**kwargs)
    except Exception as error:  # noqa: BLE001
        return type(error).__name__, error
    try:
        return "ok", tuple(layer(np.zeros(input_shape, dtype=dtype)).shape)
    except Exception as error:  # noqa: BLE001
        return type(error).__name__, error


CASES = [
    ((1, 28, 28, 1), {}, None),
    ((1, 3, 28, 28), {"data_format": "channels_first"}, None),
    ((28, 28, 1), {}, "build"),
    ((1, 28, 28, 1), {"padding": "invalid"}, "construct"),
    ((1, 28, 28, 1), {"padding": 1}, "construct"),
    ((1, 28, 28, 1), {"kernel_size": 30}, "build"),
    ((1, 28, 28, 1), {"strides": 2, "dilation_rate": 2}, "construct"),
    ((1, 28, 28, 1), {"filters": 0}, "construct"),
    ((1, 28, 28, 1), {"padding": [[1, 1], [2, 2]]}, "build"),  # passes the constructor
]


@pytest.mark.parametrize(("input_shape", "kwargs", "phase"), CASES)
def test_probe_reports_what_keras_does(input_shape, kwargs, phase):
    result = probe(input_shape, **kwargs)
    kind, value = direct(input_shape, **kwargs)
    assert isinstance(result, Outcome)
    assert result.phase == phase and (phase is None or phase in PHASES)
    assert result.input_shape == input_shape and result.settings["name"] == "conv2d"
    if kind == "ok":
        assert result.ok and result.output_shape == value
        assert result.error_type is None
    else:
        assert not result.ok and result.output_shape is None
        assert result.error_type == kind
        assert result.message == clean_message(value)
        assert "\x1b[" not in result.message


def test_probe_uint8_is_a_call_error_without_variable_dump():
    result = probe((1, 28, 28, 3), dtype="uint8")
    assert result.error_type == "ValueError" and result.phase == "call"
    assert "Incompatible type conversion requested to type uint8" in result.message
    assert "array(" not in result.message and len(result.message) < 300


def test_probe_on_a_given_array_and_keep_output():
    x = np.ones((2, 6, 6, 1), dtype="float32")
    result = probe(x=x, filters=1, kernel_size=3, strides=2, padding="same", keep_output=True,
                   kernel_initializer="ones", use_bias=False)
    assert result.output_shape == (2, 3, 3, 1)
    np.testing.assert_allclose(result.value[0, :, :, 0], [[9, 9, 6], [9, 9, 6], [6, 6, 4]])
    assert probe(x=x, filters=1).value is None  # the output is kept only when asked


def test_probe_legacy_uses_keras_2():
    """Keras 2 (tf_keras) rejects what Keras 3 accepts in lesson 05."""
    result = probe((1, 28, 28, 1), legacy=True)
    assert result.ok and result.output_shape == (1, 26, 26, 8)
    assert "tf_keras" in sys.modules


def test_make_input_is_deterministic():
    np.testing.assert_array_equal(make_input((2, 3)), make_input((2, 3)))
    assert make_input((1, 4, 4, 1), "uint8").dtype == np.uint8


@pytest.mark.parametrize(
    "settings, phase",
    [
        (dict(input_shape=(1, 28, 28, 1), padding="invalid"), "construct"),
        (dict(input_shape=(28, 28, 1)), "build"),
        (dict(input_shape=(1, 28, 28, 1), dtype="uint8"), "call"),
    ],
)
def test_explain_phase_names_the_phase_probe_found(settings, phase):
    result = probe(**settings)
    assert result.phase == phase
    assert str(result).startswith(f"input {result.input_shape} -> ValueError at {phase}: ")
    assert explain_phase(result).startswith(f"ValueError at {phase}: ")
    assert explain_phase(probe((1, 28, 28, 1))).startswith("No error: output shape (1, 26, 26, 8)")


def test_keras_trace_names_the_first_failing_layer_like_the_arithmetic_trace():
    layers = [keras.layers.Conv2D(16, 3, strides=2, name=f"conv_{i}") for i in range(5)]
    real = keras_trace(layers, (None, 28, 28, 1))
    arithmetic = shapes.trace([shapes.Conv2D(16, 3, strides=2, name=f"conv_{i}") for i in range(5)],
                              (None, 28, 28, 1))
    assert isinstance(real, shapes.Trace)
    assert real.failed_layer == arithmetic.failed_layer == "conv_3"
    assert [s.output_shape for s in real.steps[:3]] == [s.output_shape for s in arithmetic.steps[:3]]
    assert "Computed output size would be zero or negative" in real.error
    fine = keras_trace([keras.layers.Conv2D(4, 3)], (2, 8, 8, 1))
    assert fine.ok and fine.output_shape == (2, 6, 6, 4)


def test_clean_message_cuts_keras2_wrappers():
    text = (
        "Exception encountered when calling layer 'conv2d' (type Conv2D).\n\n"
        "The real problem.\n\nCall arguments received by layer 'conv2d' (type Conv2D):\n  • x"
    )
    assert clean_message(text) == "The real problem."


def test_strip_ansi_and_clean_message():
    assert strip_ansi("\x1b[1mconv2d\x1b[0m") == "conv2d"
    text = "Exception encountered when calling Conv2D.call().\n\n\x1b[1mbad\x1b[0m\n\nArguments received by Conv2D.call():\n  x"
    assert clean_message(text) == "bad"


def test_import_through_convclinic_leaves_stderr_clean():
    """Importing TF through convclinic.runtime and running a first op prints nothing
    on stderr (nbgrader scores a test cell with stderr output 0: docs/pitfalls.md)."""
    code = (
        "from convclinic.runtime import import_keras\n"
        "keras = import_keras()\n"
        "import numpy as np\n"
        "print(keras.layers.Conv2D(2, 3)(np.zeros((1, 5, 5, 1), 'float32')).shape)\n"
        "import_keras(legacy=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 3, 3, 2)"
    assert done.stderr == "", f"stderr not clean: {done.stderr[:500]}"


def test_plain_import_is_noisy_so_the_quiet_import_matters():
    """The control experiment: a plain `import tensorflow` DOES write to stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", "import tensorflow as tf; tf.constant(1.0) + 1.0"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0
    assert done.stderr.strip() != ""


def test_runtime_turns_onednn_on_so_channels_first_runs_on_any_cpu():
    """quiet_environment() sets TF_ENABLE_ONEDNN_OPTS=1 by default (TensorFlow turns oneDNN on
    only on some CPUs; without it a channels_first Conv2D raises UnimplementedError on a CPU);
    a value the user exported is kept."""
    from convclinic.snippets import run_snippet

    code = (
        "import os, numpy as np\n"
        "from convclinic.runtime import import_keras\n"
        "keras = import_keras()\n"
        "layer = keras.layers.Conv2D(8, 3, data_format='channels_first')\n"
        "with __import__('tensorflow').device('/CPU:0'):\n"
        "    shape = tuple(layer(np.zeros((1, 3, 28, 28), 'float32')).shape)\n"
        "result = [os.environ['TF_ENABLE_ONEDNN_OPTS'], list(shape)]\n"
    )
    default = run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": None})
    assert default.ok, default.message
    assert default.value == ["1", [1, 8, 26, 26]]
    kept = run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert kept.error_type == "UnimplementedError"
    assert "only supports the NHWC tensor format on the CPU" in kept.message
