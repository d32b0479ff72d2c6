"""Unit tests of convclinic.shapes: the numbered rules of lessons 00, 02 and 03."""

import pytest

from convclinic import shapes


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "padding", "dilation", "expected"),
    [
        (28, 3, 1, "valid", 1, 26),
        (28, 3, 1, "same", 1, 28),
        (28, 3, 2, "valid", 1, 13),
        (28, 3, 2, "same", 1, 14),
        (27, 3, 2, "same", 1, 14),
        (28, 3, 1, "valid", 2, 24),  # effective kernel 5
        (28, 28, 1, "valid", 1, 1),
        (28, 3, 50, "valid", 1, 1),  # lesson 03: a huge stride gives 1x1, not empty
        (28, 3, 50, "same", 1, 1),
        (5, 5, 1, "VALID", 1, 1),  # case-insensitive like Keras
    ],
)
def test_conv_output_size_rules(size, kernel, stride, padding, dilation, expected):
    assert shapes.conv_output_size(size, kernel, stride, padding, dilation) == expected


def test_effective_kernel_size_rule_1():
    assert shapes.effective_kernel_size(3, 1) == 3
    assert shapes.effective_kernel_size(3, 2) == 5
    assert shapes.effective_kernel_size(5, 4) == 17


def test_kernel_larger_than_input_raises_with_sizes_named():
    with pytest.raises(ValueError, match="zero or negative") as info:
        shapes.conv_output_size(28, 30)
    assert "30" in str(info.value) and "28" in str(info.value)


def test_dilated_kernel_larger_than_input_mentions_dilation():
    with pytest.raises(ValueError, match="dilation 4"):
        shapes.conv_output_size(8, 3, dilation=4)  # covers 9 pixels


def test_same_never_raises_for_large_kernels():
    assert shapes.conv_output_size(2, 9, padding="same") == 2


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (6, 3, 2, 1, (0, 1)),  # the odd pixel goes after (bottom/right)
        (5, 3, 2, 1, (1, 1)),
        (28, 3, 1, 1, (1, 1)),
        (28, 4, 1, 1, (1, 2)),
        (7, 3, 1, 2, (2, 2)),
        (4, 1, 3, 1, (0, 0)),
    ],
)
def test_same_padding_is_tf_asymmetric(size, kernel, stride, dilation, expected):
    assert shapes.same_padding(size, kernel, stride, dilation) == expected


def test_same_padding_output_matches_rule_3():
    for size in range(1, 40):
        for kernel in range(1, 8):
            for stride in range(1, 5):
                before, after = shapes.same_padding(size, kernel, stride)
                padded = size + before + after
                assert (padded - kernel) // stride + 1 == -(-size // stride)
                assert 0 <= after - before <= 1


def test_conv2d_output_shape_both_formats():
    assert shapes.conv2d_output_shape((None, 28, 28, 1), 32, 3) == (None, 26, 26, 32)
    assert shapes.conv2d_output_shape(
        (8, 3, 32, 30), 16, (5, 3), strides=(2, 1), padding="same", data_format="channels_first"
    ) == (8, 16, 16, 30)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"padding": "invalid"}, "only 'valid'"),
        ({"padding": 1}, "ZeroPadding2D"),
        ({"data_format": "NCHW"}, "channels_first"),
        ({"strides": 2, "dilation_rate": 2}, "dilation_rate"),
        ({"strides": 0}, "strictly positive"),
        ({"kernel_size": 0}, "strictly positive"),
        ({"filters": 0}, "strictly positive"),
        ({"kernel_size": (3, 3, 3)}, "tuple of 2"),
        ({"dilation_rate": -1}, "strictly positive"),
    ],
)
def test_invalid_arguments_raise_value_error_a_learner_understands(kwargs, fragment):
    arguments = {"filters": 8, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        shapes.conv2d_output_shape((1, 28, 28, 1), **arguments)


def test_rank_3_input_names_the_missing_axis():
    with pytest.raises(ValueError, match="min_ndim=4"):
        shapes.conv2d_output_shape((28, 28, 1), 8, 3)


def test_failure_message_names_the_axis():
    with pytest.raises(ValueError, match="^width"):
        shapes.conv2d_output_shape((1, 28, 2, 1), 8, 3)


def test_trace_names_the_first_failing_layer():
    layers = [
        shapes.Conv2D(8, 3, name="conv_a"),
        shapes.MaxPooling2D(),
        shapes.Conv2D(8, 3, name="conv_b"),
        shapes.MaxPooling2D(),
        shapes.Conv2D(8, 3, name="conv_c"),
        shapes.Conv2D(8, 3, name="conv_d"),
        shapes.Flatten(),
        shapes.Dense(10),
    ]
    result = shapes.trace(layers, (None, 20, 20, 1))
    assert [s.output_shape for s in result.steps[:4]] == [
        (None, 18, 18, 8), (None, 9, 9, 8), (None, 7, 7, 8), (None, 3, 3, 8)
    ]
    assert result.steps[4].output_shape == (None, 1, 1, 8)
    assert not result.ok
    assert result.failed_layer == "conv_d"
    assert "zero or negative" in result.error
    assert result.output_shape is None
    assert "FAILS" in str(result)


def test_trace_default_names_follow_keras():
    result = shapes.trace(
        [shapes.Conv2D(4, 3), shapes.Conv2D(4, 3), shapes.MaxPooling2D(), shapes.Flatten()],
        (None, 12, 12, 1),
    )
    assert [s.name for s in result.steps] == ["conv2d", "conv2d_1", "max_pooling2d", "flatten"]
    assert result.ok and result.output_shape == (None, 4 * 4 * 4)


def test_trace_downstream_dense_built_for_other_size():
    """Lesson 02: padding changed, the Dense built for 'valid' no longer fits."""
    valid = shapes.trace([shapes.Conv2D(32, 3), shapes.Flatten()], (1, 28, 28, 1))
    assert valid.output_shape == (1, 21632)
    broken = shapes.trace(
        [shapes.Conv2D(32, 3, padding="same"), shapes.Flatten(), shapes.Dense(10, built_for=21632)],
        (1, 28, 28, 1),
    )
    assert broken.failed_layer == "dense"
    assert "21632" in broken.error and "25088" in broken.error


def test_zero_padding_then_valid_equals_same_for_odd_kernel():
    for n in range(3, 30):
        padded = shapes.ZeroPadding2D(1).output_shape((1, n, n, 1))
        assert shapes.conv2d_output_shape(padded, 4, 3) == shapes.conv2d_output_shape(
            (1, n, n, 1), 4, 3, padding="same"
        )


def test_shapes_does_not_import_tensorflow():
    import subprocess
    import sys

    code = "import sys, convclinic.shapes, convclinic; assert 'tensorflow' not in sys.modules, 'TF imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- The public pieces the rest of convclinic imports ----------------------------------


def test_pair_is_the_one_normaliser():
    assert shapes.pair(3) == (3, 3)
    assert shapes.pair([3, 5]) == (3, 5)
    for bad, fragment in (((3, 3, 3), "3 values"), (0, "strictly positive"), (True, "integer"),
                          ("3", "integers"), (2.5, "integer")):
        with pytest.raises(ValueError, match=fragment):
            shapes.pair(bad, "kernel_size")


def test_effective_kernel_for_ints_and_pairs():
    assert shapes.effective_kernel(3, 2) == 5
    assert shapes.effective_kernel((3, 5), 2) == (5, 9)
    assert shapes.effective_kernel(3, (1, 4)) == (3, 9)
    with pytest.raises(ValueError, match="dilation_rate"):
        shapes.effective_kernel(3, 0)


def test_data_formats_and_layout_permutation_move_the_channel_axis():
    import numpy as np

    assert shapes.DATA_FORMATS == ("channels_last", "channels_first")
    nhwc = np.zeros((2, 5, 7, 3))
    to_first = shapes.layout_permutation("channels_last", "channels_first")
    assert np.transpose(nhwc, to_first).shape == (2, 3, 5, 7)
    back = shapes.layout_permutation("channels_first", "channels_last")
    assert np.transpose(np.transpose(nhwc, to_first), back).shape == nhwc.shape
    assert shapes.layout_permutation("CHANNELS_LAST", "channels_last") == (0, 1, 2, 3)
    assert shapes.permute_shape((2, 5, 7, 3), to_first) == (2, 3, 5, 7)
    with pytest.raises(ValueError, match="NCHW"):
        shapes.layout_permutation("NCHW", "channels_last")


def test_split_and_join_shape_follow_the_data_format():
    assert shapes.split_shape((1, 28, 30, 3)) == (1, (28, 30), 3)
    assert shapes.split_shape((1, 3, 28, 30), "channels_first") == (1, (28, 30), 3)
    assert shapes.join_shape(1, (28, 30), 3, "channels_first") == (1, 3, 28, 30)


class _FakeLayer:
    """A duck-typed stand-in: spec_from_layer reads only the class name and get_config()."""

    def __init__(self, config, built=False, kernel_rows=None):
        self._config = config
        self.built = built
        if kernel_rows is not None:
            self.kernel = type("Kernel", (), {"shape": (kernel_rows, config.get("units"))})()

    def get_config(self):
        return dict(self._config)


def _fake(kind, **config):
    return type(kind, (_FakeLayer,), {})(config)


def test_spec_from_layer_reads_configs_without_keras():
    conv = shapes.spec_from_layer(_fake(
        "Conv2D", name="c", filters=4, kernel_size=(3, 3), strides=(2, 2), padding="same",
        dilation_rate=(1, 1), data_format="channels_first"))
    assert conv == shapes.Conv2D(4, (3, 3), (2, 2), "same", (1, 1), "channels_first", name="c")
    pad = shapes.spec_from_layer(_fake("ZeroPadding2D", name="p", padding=((1, 2), (0, 1)),
                                       data_format="channels_last"))
    assert pad.output_shape((1, 5, 5, 1)) == (1, 8, 6, 1)
    assert shapes.spec_from_layer(_fake("Dropout", name="d", rate=0.5)) == shapes.SameShape("d")
    assert shapes.spec_from_layer(_fake("LSTM", name="l", units=3)) is None
    dense = type("Dense", (_FakeLayer,), {})({"name": "dense", "units": 10}, built=True,
                                              kernel_rows=32)
    assert shapes.spec_from_layer(dense) == shapes.Dense(10, built_for=32, name="dense")
    assert shapes.specs_from_layers([dense, _fake("LSTM", name="l")]) is None


# --- ConvGeometry: where the kernel lands (drawn by convclinic.plots) ------------------


def test_conv_geometry_of_tf_same_padding():
    """Lesson 02: 6x6, k=3, s=2, same: pad (0, 1) per axis, 3x3 outputs, coverage 9/6/4."""
    g = shapes.conv_geometry(6, 6, 3, strides=2, padding="same")
    assert g.ok and g.pad == ((0, 1), (0, 1)) and g.out == (3, 3) and g.k_eff == (3, 3)
    assert g.padded == (7, 7) and g.tap_count == 9
    assert g.coverage == ((9, 9, 6), (9, 9, 6), (6, 6, 4))
    assert g.taps(0, 1) == ((0, 1, 2), (2, 3, 4))
    assert g.taps(2, 2) == ((4, 5, 6), (4, 5, 6))  # row/column 6 is the extra padding
    assert g.centres(0) == (1.0, 3.0, 5.0)
    with pytest.raises(AttributeError):
        g.out = (1, 1)  # frozen


def test_conv_geometry_dilation_and_rectangular_kernels():
    g = shapes.conv_geometry(9, 10, (3, 2), strides=1, dilation_rate=(2, 3))
    assert g.k_eff == (5, 4) and g.out == (5, 7)
    assert g.taps(0, 0) == ((0, 2, 4), (0, 3))
    # every tap of a 'valid' setting is on a real pixel
    assert all(value == 6 for row in g.coverage for value in row)


def test_conv_geometry_never_raises_for_refused_settings():
    assert shapes.conv_geometry(5, 5, 9).kernel_too_big
    assert shapes.conv_geometry(5, 5, 9).error.startswith("height: ")
    assert shapes.conv_geometry(5, 5, 9, padding="same").ok  # same never refuses
    rule5 = shapes.conv_geometry(28, 28, 3, strides=2, dilation_rate=2)
    assert rule5.out == (0, 0) and rule5.coverage == () and "dilation_rate" in rule5.error


def test_rule_text_names_each_rule_with_the_numbers():
    text = shapes.rule_text((1, 20, 17, 1), kernel_size=4, strides=3)
    assert "Rule 1: k_eff = d*(k-1)+1 = 1*(4-1)+1 = 4" in text
    assert "floor((20 - 4)/3) + 1 = 6" in text and "floor((17 - 4)/3) + 1 = 5" in text
    assert text.endswith(f"Predicted output shape: {shapes.conv2d_output_shape((1, 20, 17, 1), 8, 4, 3)}")
    first = shapes.rule_text((1, 3, 6, 6), kernel_size=3, strides=2, padding="same",
                             data_format="channels_first")
    assert "= 1: top 0, bottom 1 (the extra one goes bottom)" in first
    assert shapes.rule_text((1, 28, 28, 1), strides=2, dilation_rate=2).startswith("Rule 5:")
    assert "n - k_eff = 28 - 30 = -2 < 0" in shapes.rule_text((1, 28, 28, 1), kernel_size=30)


@pytest.mark.parametrize("module", ["rules", "geometry", "explain", "stack", "transpose"])
def test_shapes_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"convclinic.shapes.{module}"))
    assert result.attempted > 0 and result.failed == 0, result
