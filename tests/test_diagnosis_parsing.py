"""convclinic.diagnosis.parsing: message reading, tested on literal messages, without TensorFlow.

The messages below are copied from real runs on the pinned stack (Keras 3.15,
tf_keras 2.21, TensorFlow 2.21), cleaned by ``convclinic.runtime.clean_message``
as the diagnosis sees them. The catalog (tests/test_diagnose_catalog.py)
checks that real runs still produce them.
"""

from __future__ import annotations

import json
import subprocess
import sys

from convclinic.diagnosis import parsing

KERAS3_AXIS = ("Input 0 with name 'None' of layer 'conv' is incompatible with the layer: expected "
               "axis -1 of input shape to have value 3, but received input with shape "
               "(2, 28, 28, 1)")
KERAS3_VERSUS = ("Invalid input shape for input <array> with name 'keras_tensor_2' and path ''. "
                 "Expected shape (None, 28, 28, 3), but input has incompatible shape "
                 "(2, 1, 28, 28, 3)")
KERAS2_VERSUS = ('Input 0 of layer "sequential" is incompatible with the layer: expected '
                 "shape=(None, 28, 28, 1), found shape=(2, 1, 28, 28, 1)")
KERAS3_MIN_NDIM = ('Input 0 of layer "conv" is incompatible with the layer: expected min_ndim=4, '
                   "found ndim=3. Full shape received: (None, 28, 28)")
KERAS3_TOO_SMALL = ("Computed output size would be zero or negative. Received inputs "
                    "shape=(1, 2, 2, 8), kernel shape=(3, 3, 8, 8), strides=(1, 1).")
KERAS2_TOO_SMALL = ("Negative dimension size caused by subtracting 30 from 28 for "
                    "'{{node conv/Conv2D}}' with input shapes: [1,28,28,1], [30,30,1,4].")
RANK5 = ("Kernel shape must have the same length as input, but received kernel of shape "
         "(3, 3, 1, 8) and input of shape (1, 1, 28, 28, 1).")
NCHW = ("The Conv2D op currently only supports the NHWC tensor format on the CPU. The op was "
        "given the format: NCHW [Op:Conv2D]")
CUDNN = ("Failed to get convolution algorithm. This is probably because cuDNN failed to "
         "initialize, so try looking to see if a warning log message was printed above. "
         "[Op:Conv2D] name: {{node sequential/conv/Conv2D}}")
WEIGHTS = ("Layer 'dense' weight shape (25088, 10) is not compatible with provided weight "
           "shape (21632, 10).")


def test_layer_names_are_read_from_keras3_keras2_and_tf_node_messages():
    assert parsing.layer_named_in(KERAS3_AXIS) == "conv"
    assert parsing.layer_named_in(KERAS3_MIN_NDIM) == "conv"
    # a TF node path: the model name and the op name are skipped
    assert parsing.layer_named_in(CUDNN) == "conv"
    assert parsing.layer_named_in(KERAS2_TOO_SMALL) == "conv"
    # with the model's layers known, only those count (and a Keras "_1" suffix is dropped)
    assert parsing.layer_named_in("{{node sequential/conv_1/Conv2D}}", ["conv", "dense"]) == "conv"
    assert parsing.layer_named_in(KERAS2_VERSUS, ["conv"]) is None
    assert parsing.layer_named_in("no names here") is None


def test_shapes_are_parsed_with_unknown_sizes():
    assert parsing.parse_shape("None, 28, 28, 1") == (None, 28, 28, 1)
    assert parsing.parse_shape("?, 3") == (None, 3)
    assert parsing.parse_shape("") == ()
    assert parsing.expected_axis(KERAS3_AXIS) == (-1, 3, (2, 28, 28, 1))
    assert parsing.expected_vs_found(KERAS3_VERSUS) == ((None, 28, 28, 3), (2, 1, 28, 28, 3))
    assert parsing.expected_vs_found(KERAS2_VERSUS) == ((None, 28, 28, 1), (2, 1, 28, 28, 1))
    assert parsing.expected_vs_found(KERAS3_AXIS) is None
    assert parsing.full_shape(KERAS3_MIN_NDIM) == (None, 28, 28)


def test_message_families():
    assert parsing.is_too_small(KERAS3_TOO_SMALL) and parsing.is_too_small(KERAS2_TOO_SMALL)
    assert not parsing.is_too_small(KERAS3_AXIS)
    assert parsing.is_kernel_rank_mismatch(RANK5) and not parsing.is_kernel_rank_mismatch(NCHW)
    assert parsing.is_nchw_on_cpu(NCHW) and not parsing.is_nchw_on_cpu(CUDNN)
    assert parsing.is_gpu_init_failure(CUDNN)
    assert parsing.is_gpu_init_failure("DNN library initialization failed. Look at the errors")
    assert not parsing.is_gpu_init_failure(NCHW)


def test_arguments_dtypes_and_sizes():
    assert parsing.received("Invalid value for argument `padding`. Received: padding=invalid") \
        == "invalid"
    assert parsing.argument_named("The `kernel_size` argument must be a tuple of 2 integers.") \
        == "kernel_size"
    assert parsing.argument_named("The number of input channels must be evenly divisible by "
                                  "the number of groups.") == "groups"
    assert parsing.argument_named(KERAS3_AXIS) is None
    message = "Value for attr 'T' of uint8 is not in the list of allowed values: half, float"
    assert parsing.is_dtype_refusal(message) and parsing.integer_dtype_named(message) == "uint8"
    assert parsing.is_integer_dtype("int32") and parsing.is_integer_dtype("bool")
    assert not parsing.is_integer_dtype("float32") and not parsing.is_integer_dtype(None)
    assert parsing.weight_shapes(WEIGHTS) == ((25088, 10), (21632, 10))
    assert parsing.matmul_sizes("Matrix size-incompatible: In[0]: [1,21632], In[1]: [25088,10]") \
        == (25088, 21632)
    assert parsing.filter_depth("input depth must be evenly divisible by filter depth: 1 vs 3") \
        == (1, 3)
    assert parsing.filter_depth(NCHW) is None


def test_first_sentence_keeps_shapes_and_decimals_whole():
    text = "The input (2, 28, 28) has 3 axes; scale by 1.5 first. It looks like a batch."
    assert parsing.first_sentence(text) == "The input (2, 28, 28) has 3 axes; scale by 1.5 first."
    assert parsing.first_sentence("") == ""
    assert parsing.first_line("a\nb") == "a" and parsing.first_line(None) == ""


def test_importing_the_parsing_module_does_not_import_tensorflow():
    """A fresh interpreter: importing the parsing module (and so the package) leaves
    TensorFlow and Keras out of sys.modules."""
    code = ("import sys, json; import convclinic.diagnosis.parsing; "
            "print(json.dumps([m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout) == []
