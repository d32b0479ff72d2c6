"""Catalog of broken Conv2D cases for ``convclinic.diagnose`` (used by lesson 06).

Each case is a REAL failing (or silently wrong) Keras model, layer or builder.
For each one the test asserts the named cause and the failing layer, that the
report's fix text names the key change, and that applying the fix makes the
case run with the expected output shape. Where the fix is machine-applicable
(``Report.apply_fix``: an input transform and/or a config change) the test
applies the REPORT's own fix; for failures at construction time (no model
object exists) the catalog holds the corrected builder the fix text describes.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest

from convclinic.diagnosis import CAUSES, diagnose, diagnose_error
from convclinic.runtime import import_keras, import_tensorflow

pytestmark = pytest.mark.slow  # TensorFlow at import

keras = import_keras()
layers = keras.layers
tf_keras = import_keras(legacy=True)
old_layers = tf_keras.layers


def zeros(*shape, dtype="float32"):
    return np.zeros(shape, dtype=dtype)


def images(*shape, dtype="float32"):
    return (np.arange(int(np.prod(shape))) % 7).reshape(shape).astype(dtype)


@dataclass
class Case:
    """One broken case. ``target`` builds what diagnose() gets (a model, a layer, or
    a builder when ``builder=True``); ``fixed`` (construction failures only) builds the
    corrected model the fix text describes."""

    name: str
    target: object
    x: object
    cause: str
    layer: str | None
    fix_mentions: str
    expected_shape: tuple
    builder: bool = False
    fixed: object = None
    fixed_x: object = None
    silent: bool = False
    nchw: bool = False  # the fixed case runs channels_first (NCHW) on the CPU


def seq(channels, *, legacy=False, name="conv", **conv):
    lib = tf_keras if legacy else keras
    return lib.Sequential([lib.Input((28, 28, channels)), lib.layers.Conv2D(8, 3, name=name, **conv)])


def deep_stack(legacy=False, last_padding="valid"):
    lib = tf_keras if legacy else keras
    return lib.Sequential(
        [lib.layers.Conv2D(8, 3, strides=2, name=f"down{i}") for i in range(3)]
        + [lib.layers.Conv2D(8, 3, padding=last_padding, name="last")]
    )


def head_built_for_same_padding(legacy=False):
    """Lesson 02: a Dense made for padding='same' (25088 features) reused after 'valid'."""
    lib = tf_keras if legacy else keras
    old = lib.Sequential(
        [lib.Input((28, 28, 1)), lib.layers.Conv2D(32, 3, padding="same"), lib.layers.Flatten(),
         lib.layers.Dense(10, name="dense")]
    )
    return lib.Sequential(
        [lib.layers.Conv2D(32, 3, padding="valid", name="conv"), lib.layers.Flatten(name="flat"),
         old.get_layer("dense")]
    )


def load_weights_after_padding_change(padding="same"):
    def build():
        def model(pad):
            return keras.Sequential(
                [keras.Input((28, 28, 1)), layers.Conv2D(32, 3, padding=pad, name="conv"),
                 layers.Flatten(), layers.Dense(10, name="dense")]
            )

        trained = model("valid")
        changed = model(padding)
        changed.set_weights(trained.get_weights())
        return changed

    return build


def branching(small_kernel_padding="valid"):
    inputs = keras.Input((None, None, 1))
    trunk = layers.Conv2D(8, 3, name="trunk")(inputs)
    left = layers.Conv2D(8, 3, name="left")(trunk)
    right = layers.Conv2D(8, 5, padding=small_kernel_padding, name="right")(trunk)
    pooled = [layers.GlobalAveragePooling2D()(t) for t in (left, right)]
    return keras.Model(inputs, layers.Concatenate()(pooled))


def global_channels_first_conv():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        return layers.Conv2D(8, 3, name="conv")
    finally:
        keras.config.set_image_data_format(previous)


CASES = [
    # ---- lesson 01: missing axes, channels, dtype ---------------------------------------
    Case("layer_grayscale_batch_without_channel", lambda: layers.Conv2D(8, 3, name="conv"),
         zeros(2, 28, 28), "missing_channel_axis", "conv", "np.expand_dims", (2, 26, 26, 8)),
    Case("layer_one_image_without_batch", lambda: layers.Conv2D(8, 3, name="conv"),
         zeros(28, 28, 3), "missing_batch_axis", "conv", "np.expand_dims(x, axis=0)",
         (1, 26, 26, 8)),
    Case("input_declared_without_channel",
         lambda: keras.Sequential([keras.Input((28, 28)), layers.Conv2D(8, 3, name="conv")]),
         None, "missing_channel_axis", "conv", "keras.Input(shape=(28, 28, 1))", (2, 26, 26, 8),
         builder=True,
         fixed=lambda: keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(8, 3)]),
         fixed_x=zeros(2, 28, 28, 1)),
    Case("rgb_model_fed_grayscale_without_channel", lambda: seq(3), zeros(2, 28, 28),
         "missing_channel_axis", "conv", "np.repeat", (2, 26, 26, 8)),
    Case("rgb_model_fed_grayscale", lambda: seq(3), zeros(2, 28, 28, 1), "channel_mismatch",
         "conv", "np.repeat(x, 3, axis=-1)", (2, 26, 26, 8)),
    Case("rgb_model_fed_rgba", lambda: seq(3), zeros(2, 28, 28, 4), "channel_mismatch", "conv",
         "x[..., :3]", (2, 26, 26, 8)),
    Case("gray_model_fed_rgb", lambda: seq(1), images(2, 28, 28, 3), "channel_mismatch", "conv",
         "mean(axis=-1, keepdims=True)", (2, 26, 26, 8)),
    Case("gray_model_fed_one_image", lambda: seq(1), zeros(28, 28, 1), "missing_batch_axis",
         "conv", "np.expand_dims(x, axis=0)", (1, 26, 26, 8)),
    Case("silent_channel_axis_added_by_keras", lambda: seq(1), zeros(2, 28, 28),
         "missing_channel_axis", "conv", "np.expand_dims(x, axis=-1)", (2, 26, 26, 8),
         silent=True),
    Case("layer_fed_uint8_images", lambda: layers.Conv2D(8, 3, name="conv"),
         zeros(1, 28, 28, 1, dtype="uint8"), "integer_dtype", "conv", 'astype("float32") / 255',
         (1, 26, 26, 8)),
    Case("layer_fed_int32_tensor", lambda: layers.Conv2D(8, 3, name="conv"),
         "int32-tensor", "integer_dtype", "conv", 'astype("float32")', (1, 26, 26, 8)),
    # ---- lesson 02: padding ----------------------------------------------------------------
    Case("padding_invalid_string", lambda: layers.Conv2D(8, 3, padding="invalid", name="conv"),
         zeros(1, 28, 28, 1), "invalid_padding", "conv", "padding='same'", (1, 28, 28, 8),
         builder=True, fixed=lambda: layers.Conv2D(8, 3, padding="same")),
    Case("padding_int_pytorch_habit", lambda: layers.Conv2D(8, 3, padding=1, name="conv"),
         zeros(1, 28, 28, 1), "invalid_padding", "conv", "ZeroPadding2D", (1, 28, 28, 8),
         builder=True,
         fixed=lambda: keras.Sequential([layers.ZeroPadding2D(1), layers.Conv2D(8, 3)])),
    Case("padding_explicit_list", lambda: layers.Conv2D(8, 3, padding=[[1, 1], [1, 1]], name="conv"),
         zeros(1, 28, 28, 1), "invalid_padding", "conv", "padding='same'", (1, 28, 28, 8)),
    Case("dense_built_for_other_padding", head_built_for_same_padding, zeros(1, 28, 28, 1),
         "downstream_shape_mismatch", "dense", "from_config", (1, 10)),
    Case("weights_loaded_after_padding_change", load_weights_after_padding_change(), None,
         "downstream_shape_mismatch", "dense", "padding back", (1, 10), builder=True,
         fixed=load_weights_after_padding_change("valid"), fixed_x=zeros(1, 28, 28, 1)),
    # ---- lesson 03: stride, dilation, sizes --------------------------------------------
    Case("strides_and_dilation_together",
         lambda: layers.Conv2D(8, 3, strides=2, dilation_rate=2, name="conv"),
         zeros(1, 28, 28, 1), "stride_dilation_conflict", "conv", "strides=1", (1, 12, 12, 8),
         builder=True,
         fixed=lambda: keras.Sequential([layers.Conv2D(8, 3, dilation_rate=2, strides=1),
                                         layers.MaxPooling2D(pool_size=2)])),
    Case("strides_zero", lambda: layers.Conv2D(8, 3, strides=0, name="conv"), zeros(1, 28, 28, 1),
         "invalid_argument", "conv", "strides=1", (1, 26, 26, 8), builder=True,
         fixed=lambda: layers.Conv2D(8, 3, strides=1)),
    Case("kernel_size_zero", lambda: layers.Conv2D(8, 0, name="conv"), zeros(1, 28, 28, 1),
         "invalid_argument", "conv", "kernel_size=3", (1, 26, 26, 8), builder=True,
         fixed=lambda: layers.Conv2D(8, kernel_size=3)),
    Case("filters_zero", lambda: layers.Conv2D(0, 3, name="conv"), zeros(1, 28, 28, 1),
         "invalid_argument", "conv", "filters=32", (1, 26, 26, 32), builder=True,
         fixed=lambda: layers.Conv2D(filters=32, kernel_size=3)),
    Case("kernel_size_three_values", lambda: layers.Conv2D(8, (3, 3, 3), name="conv"),
         zeros(1, 28, 28, 1), "invalid_argument", "conv", "kernel_size=3", (1, 26, 26, 8),
         builder=True, fixed=lambda: layers.Conv2D(8, kernel_size=3)),
    Case("groups_do_not_divide_channels", lambda: layers.Conv2D(8, 3, groups=2, name="conv"),
         zeros(1, 28, 28, 3), "invalid_argument", "conv", "groups=1", (1, 26, 26, 8)),
    Case("kernel_larger_than_input", lambda: layers.Conv2D(4, 30, name="conv"),
         zeros(1, 28, 28, 1), "spatial_too_small", "conv", "padding='same'", (1, 28, 28, 4)),
    Case("dilated_kernel_larger_than_input",
         lambda: layers.Conv2D(4, 3, dilation_rate=15, name="conv"), zeros(1, 28, 28, 1),
         "spatial_too_small", "conv", "padding='same'", (1, 28, 28, 4)),
    Case("deep_stack_shrinks_to_nothing", deep_stack, zeros(1, 28, 28, 1), "spatial_too_small",
         "last", "padding='same'", (1, 2, 2, 8)),
    Case("deep_stack_declared_input_fails_at_construction",
         lambda: keras.Sequential([keras.Input((28, 28, 1)), *deep_stack().layers]), None,
         "spatial_too_small", "last", "padding='same'", (1, 2, 2, 8), builder=True,
         fixed=lambda: deep_stack(last_padding="same"), fixed_x=zeros(1, 28, 28, 1)),
    Case("pooling_window_larger_than_input",
         lambda: keras.Sequential([layers.Conv2D(8, 3, strides=4, name="conv"),
                                   layers.Conv2D(8, 3, strides=4, name="conv_2"),
                                   layers.MaxPooling2D(2, name="pool")]),
         zeros(1, 12, 12, 1), "spatial_too_small", "pool", "padding='same'", (1, 1, 1, 8)),
    Case("functional_branch_too_small", branching, zeros(1, 5, 5, 1), "spatial_too_small",
         "right", "padding='same'", (1, 16)),
    # ---- lesson 04: data format ----------------------------------------------------------
    Case("channels_first_layer_fed_nhwc",
         lambda: layers.Conv2D(8, 3, data_format="channels_first", name="conv"),
         zeros(1, 28, 28, 1), "data_format_mismatch", "conv", "np.transpose(x, (0, 3, 1, 2))",
         (1, 8, 26, 26), nchw=True),
    Case("channels_first_model_fed_nhwc",
         lambda: keras.Sequential([keras.Input((3, 28, 28)),
                                   layers.Conv2D(8, 3, data_format="channels_first", name="conv")]),
         zeros(1, 28, 28, 3), "data_format_mismatch", "conv", "np.transpose(x, (0, 3, 1, 2))",
         (1, 8, 26, 26), nchw=True),
    Case("rgb_model_fed_nchw", lambda: seq(3), zeros(1, 3, 28, 28), "data_format_mismatch", "conv",
         "np.transpose(x, (0, 2, 3, 1))", (1, 26, 26, 8)),
    Case("silent_nchw_into_channels_last_layer", lambda: layers.Conv2D(8, 3, name="conv"),
         zeros(1, 3, 28, 28), "data_format_mismatch", "conv", "np.transpose(x, (0, 2, 3, 1))",
         (1, 26, 26, 8), silent=True),
    Case("silent_global_channels_first_setting", global_channels_first_conv, zeros(1, 28, 28, 3),
         "data_format_mismatch", "conv", "np.transpose(x, (0, 3, 1, 2))", (1, 8, 26, 26),
         silent=True, nchw=True),
    Case("channels_first_float64_on_cpu",
         lambda: layers.Conv2D(8, 3, data_format="channels_first", dtype="float64", name="conv"),
         zeros(1, 3, 28, 28, dtype="float64"), "nchw_unsupported_on_cpu", "conv",
         "data_format='channels_last'", (1, 26, 26, 8)),
    Case("invalid_data_format_nchw", lambda: layers.Conv2D(8, 3, data_format="NCHW", name="conv"),
         zeros(1, 3, 28, 28), "invalid_data_format", "conv", "data_format='channels_first'",
         (1, 8, 26, 26), builder=True,
         fixed=lambda: layers.Conv2D(8, 3, data_format="channels_first"), nchw=True),
    # ---- one axis too many (rank 5): a batch of batches -----------------------------------
    Case("layer_fed_batch_of_batches", lambda: layers.Conv2D(8, 3, name="conv"),
         zeros(2, 1, 28, 28, 3), "extra_axis", "conv", "np.squeeze(x, axis=1)", (2, 26, 26, 8)),
    Case("model_fed_stacked_batches", lambda: seq(3), zeros(4, 2, 28, 28, 3), "extra_axis",
         "conv", "x.reshape((-1,) + x.shape[2:])", (8, 26, 26, 8)),
    Case("gray_model_squeezes_then_fails", lambda: seq(1), zeros(2, 1, 28, 28, 1), "extra_axis",
         "conv", "np.squeeze(x, axis=1)", (2, 26, 26, 8)),
    Case("legacy_model_fed_stacked_batches", lambda: seq(3, legacy=True), zeros(4, 2, 28, 28, 3),
         "extra_axis", "conv", "x.reshape", (8, 26, 26, 8)),
    # Keras 2 runs a Conv2D on rank 5 (the extra axis is a second batch axis): no error.
    Case("legacy_layer_batch_of_batches_runs_silently", lambda: old_layers.Conv2D(8, 3, name="conv"),
         zeros(2, 1, 28, 28, 3), "extra_axis", "conv", "np.squeeze(x, axis=1)", (2, 26, 26, 8),
         silent=True),
    # ---- lesson 05: Keras 2 (tf_keras) messages differ ------------------------------------
    Case("legacy_layer_grayscale_without_channel", lambda: old_layers.Conv2D(8, 3, name="conv"),
         zeros(2, 28, 28), "missing_channel_axis", "conv", "np.expand_dims", (2, 26, 26, 8)),
    Case("legacy_gray_model_fed_one_image", lambda: seq(1, legacy=True), zeros(28, 28, 1),
         "missing_batch_axis", "conv", "np.expand_dims(x, axis=0)", (1, 26, 26, 8)),
    Case("legacy_rgb_model_fed_grayscale", lambda: seq(3, legacy=True), zeros(2, 28, 28, 1),
         "channel_mismatch", "conv", "np.repeat", (2, 26, 26, 8)),
    Case("legacy_padding_invalid", lambda: old_layers.Conv2D(8, 3, padding="invalid", name="conv"),
         zeros(1, 28, 28, 1), "invalid_padding", "conv", "padding='same'", (1, 28, 28, 8),
         builder=True, fixed=lambda: old_layers.Conv2D(8, 3, padding="same")),
    Case("legacy_data_format_int", lambda: old_layers.Conv2D(8, 3, data_format=1, name="conv"),
         zeros(1, 28, 28, 1), "invalid_data_format", "conv", "data_format='channels_last'",
         (1, 26, 26, 8), builder=True, fixed=lambda: old_layers.Conv2D(8, 3)),
    Case("legacy_kernel_larger_than_input", lambda: old_layers.Conv2D(4, 30, name="conv"),
         zeros(1, 28, 28, 1), "spatial_too_small", "conv", "padding='same'", (1, 28, 28, 4)),
    # Keras 2 does NOT raise here: a 3x3 'valid' kernel on 2x2 returns a garbage (1, 2, 2, 8)
    # through oneDNN (or an empty (1, 0, 0, 8) without it). The rule-based trace catches it.
    Case("legacy_deep_stack_shrinks_silently", lambda: deep_stack(legacy=True),
         zeros(1, 28, 28, 1), "spatial_too_small", "last", "padding='same'", (1, 2, 2, 8),
         silent=True),
    Case("legacy_dense_built_for_other_padding", lambda: head_built_for_same_padding(True),
         zeros(1, 28, 28, 1), "downstream_shape_mismatch", "dense", "from_config", (1, 10)),
    Case("legacy_layer_fed_uint8", lambda: old_layers.Conv2D(8, 3, name="conv"),
         zeros(1, 28, 28, 1, dtype="uint8"), "integer_dtype", "conv", 'astype("float32")',
         (1, 26, 26, 8)),
    Case("legacy_channels_first_model_fed_nhwc",
         lambda: tf_keras.Sequential(
             [tf_keras.Input((3, 28, 28)),
              old_layers.Conv2D(8, 3, data_format="channels_first", name="conv")]),
         zeros(1, 28, 28, 3), "data_format_mismatch", "conv", "np.transpose(x, (0, 3, 1, 2))",
         (1, 8, 26, 26), nchw=True),
]


def _input(case_x):
    if isinstance(case_x, str) and case_x == "int32-tensor":
        tf = import_tensorflow()
        return tf.zeros((1, 28, 28, 1), tf.int32)
    return case_x


@functools.cache
def nchw_runs_here():
    """Whether this TensorFlow runs a channels_first (NCHW) Conv2D: on a GPU, or on a CPU
    through oneDNN (on by default only on some x86 CPUs). Elsewhere TF refuses it."""
    tf = import_tensorflow()
    try:
        layers.Conv2D(1, 1, data_format="channels_first")(zeros(1, 1, 2, 2))
    except tf.errors.UnimplementedError as error:
        assert "only supports the NHWC tensor format" in str(error)
        return False
    return True


def _run(target, x):
    out = target(x)
    if isinstance(out, list | tuple):
        out = out[0]
    return tuple(int(v) for v in out.shape)


def test_catalog_has_at_least_25_cases_and_covers_the_vocabulary():
    """>= 25 broken cases; every cause that a real local run can produce appears."""
    assert len(CASES) >= 25
    assert len({case.name for case in CASES}) == len(CASES)
    covered = {case.cause for case in CASES}
    # gpu_init_failure needs a GPU (constructed below); nchw also has a oneDNN-off subprocess case
    assert set(CAUSES) - covered - {"ok", "gpu_init_failure", "unknown"} == set()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_catalog_case(case):
    """The cause and failing layer are named, and the suggested fix makes the case run."""
    x = _input(case.x)
    if case.cause == "nchw_unsupported_on_cpu":
        tf = import_tensorflow()
        if tf.config.list_physical_devices("GPU"):
            pytest.skip("NCHW float64 runs on a GPU: this case is about the CPU kernel")
    target = case.target if case.builder else case.target()
    report = diagnose(target, x)
    assert (report.cause, report.layer) == (case.cause, case.layer), str(report)
    assert report.ok is False
    assert report.silent is case.silent
    assert case.fix_mentions in report.fix, report.fix
    assert report.explanation and str(report).startswith("Diagnosis")
    assert case.cause in report._repr_html_()
    if case.builder:
        # Construction failed, so there is no model to patch: the catalog holds the
        # corrected builder that the fix text describes.
        fixed_x = case.fixed_x if case.fixed_x is not None else x
        _check_fixed(case, case.fixed, fixed_x)
    else:
        # The report's OWN fix, applied to a fresh copy of the broken case.
        new_target, new_x = report.apply_fix(case.target(), x)
        _check_fixed(case, new_target, new_x)


def _check_fixed(case, target, x):
    """The fixed case runs with the expected shape; where this TensorFlow refuses NCHW, the
    only problem left in a channels_first fix is that refusal (the layout itself is right)."""
    if case.nchw and not nchw_runs_here():
        assert tuple(np.shape(x)) == (case.expected_shape[0], *np.shape(x)[1:])
        assert np.shape(x)[1] in (1, 3), np.shape(x)  # channels first
        assert diagnose(target, x).cause == "nchw_unsupported_on_cpu"
        return
    built = target() if case.builder else target
    assert _run(built, x) == case.expected_shape
    report = diagnose(target, x)
    assert report.ok and report.cause == "ok", str(report)


def test_real_error_without_the_fix_still_fails():
    """The catalog's cases are real failures: running them unfixed raises (spot check)."""
    for case in CASES:
        if case.silent or case.builder or case.cause == "nchw_unsupported_on_cpu" or case.nchw:
            continue
        with pytest.raises(Exception):  # noqa: B017 - any Keras/TF error type is the point
            _run(case.target(), _input(case.x))


def test_gpu_init_failure_from_a_constructed_cudnn_error():
    """No GPU here: the classic cuDNN message, wrapped in TF's own error type, is recognised."""
    tf = import_tensorflow()
    message = (
        "{{function_node __wrapped__Conv2D_device_/job:localhost/replica:0/task:0/device:GPU:0}} "
        "Failed to get convolution algorithm. This is probably because cuDNN failed to "
        "initialize, so try looking to see if a warning log message was printed above. "
        "[Op:Conv2D] name: {{node sequential/conv/Conv2D}}"
    )
    report = diagnose_error(tf.errors.UnknownError(None, None, message))
    assert (report.cause, report.layer) == ("gpu_init_failure", "conv")
    assert "set_memory_growth" in report.fix
    assert report.error_type == "UnknownError"


def test_unknown_error_keeps_the_raw_message():
    """An error outside the vocabulary is 'unknown' and the raw message is kept."""
    report = diagnose_error(RuntimeError("something else entirely"))
    assert report.cause == "unknown" and not report.ok
    assert report.message == "something else entirely"


NCHW_SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import convclinic
    from convclinic.runtime import import_keras
    keras = import_keras()
    model = keras.Sequential([keras.Input((3, 28, 28)),
                              keras.layers.Conv2D(8, 3, data_format="channels_first", name="conv")])
    x = np.zeros((1, 3, 28, 28), "float32")
    report = convclinic.diagnose(model, x)
    new_model, new_x = report.apply_fix(model, x)
    try:
        model(x)
        raw = None
    except Exception as error:
        raw = [type(error).__name__, getattr(error, "message", str(error))]
    print(json.dumps({"cause": report.cause, "layer": report.layer, "raw": raw,
                      "fixed_shape": list(new_model(new_x).shape)}))
    """
)


def test_nchw_unsupported_on_cpu_with_onednn_off_in_a_subprocess():
    """FACTS: with TF_ENABLE_ONEDNN_OPTS=0 (set before import) NCHW float32 fails on CPU.

    diagnose() runs in that subprocess on the real model; its message is then
    rebuilt here as the real exception type and given to diagnose_error().
    """
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="3",
               CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", NCHW_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["cause"], result["layer"]) == ("nchw_unsupported_on_cpu", "conv")
    assert result["fixed_shape"] == [1, 26, 26, 8]
    error_type, message = result["raw"]
    assert error_type == "UnimplementedError"
    assert "only supports the NHWC tensor format on the CPU" in message
    tf = import_tensorflow()
    report = diagnose_error(tf.errors.UnimplementedError(None, None, message))
    assert report.cause == "nchw_unsupported_on_cpu"
    assert "channels_last" in report.fix
