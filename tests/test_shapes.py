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
