"""Data formats and weight layouts: NHWC vs NCHW, PyTorch vs Keras kernels.

Taught in lesson 04 (``notebooks/04-data-format.ipynb``):

- :func:`nhwc_to_nchw` / :func:`nchw_to_nhwc` move the channel axis of an
  image batch (``channels_last`` <-> ``channels_first``);
- :func:`axes_as_read` says which axis a Conv2D takes for batch, channels,
  height and width under a ``data_format``: the key to the wrong shape a
  mismatch produces WITHOUT an error;
- :func:`torch_kernel_to_keras` / :func:`keras_kernel_to_torch` convert
  convolution kernels between PyTorch's ``(out, in, kh, kw)`` and Keras'
  ``(kh, kw, in, out)`` layouts;
- :func:`reference_conv2d` computes a convolution with plain NumPy
  (PyTorch's conventions: NCHW input, ``(out, in, kh, kw)`` kernel, a
  cross-correlation like ``torch.nn.functional.conv2d``), an independent
  check that a ported kernel gives the same numbers in Keras; the course's
  only NumPy reference convolution (exercise 04's judge uses it too);
- :func:`keras_json_demo` shows where the global default data format comes
  from (``keras.json``) without touching the learner's own file, and
  :func:`channels_first_on_cpu` what oneDNN changes; both run in a fresh
  process (:func:`convclinic.snippets.run_snippet`).

The data formats themselves (:data:`convclinic.shapes.DATA_FORMATS`, the
axis permutations) belong to :mod:`convclinic.shapes`. Importing this module
does not import TensorFlow.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap

import numpy as np

from convclinic.shapes import (
    conv_output_size,
    layout_permutation,
    normalize_data_format,
    pair,
    split_shape,
)
from convclinic.snippets import run_snippet

__all__ = [
    "nhwc_to_nchw",
    "nchw_to_nhwc",
    "axes_as_read",
    "torch_kernel_to_keras",
    "keras_kernel_to_torch",
    "reference_conv2d",
    "keras_json_demo",
    "channels_first_on_cpu",
]

#: PyTorch's ``(out, in, kh, kw)`` kernel axes -> Keras' ``(kh, kw, in, out)``, and back.
TORCH_TO_KERAS_KERNEL = (2, 3, 1, 0)
KERAS_TO_TORCH_KERNEL = (3, 2, 0, 1)


def _rank4(array, what):
    array = np.asarray(array)
    if array.ndim != 4:
        raise ValueError(f"{what} must have 4 axes, got shape {array.shape} ({array.ndim} axes)")
    return array


def nhwc_to_nchw(images):
    """(batch, height, width, channels) -> (batch, channels, height, width). Lesson 04."""
    nhwc = _rank4(images, "an NHWC image batch")
    return np.transpose(nhwc, layout_permutation("channels_last", "channels_first"))


def nchw_to_nhwc(images):
    """(batch, channels, height, width) -> (batch, height, width, channels). Lesson 04."""
    nchw = _rank4(images, "an NCHW image batch")
    return np.transpose(nchw, layout_permutation("channels_first", "channels_last"))


def axes_as_read(shape, data_format="channels_last"):
    """How a 2D layer with ``data_format`` reads the axes of a rank-4 ``shape``.

    Lesson 04, "A wrong shape without an error": a channels_first layer reads
    an NHWC image ``(1, 28, 28, 3)`` as 28 channels of a 28x3 image.

    >>> axes_as_read((1, 28, 28, 3), "channels_first")
    {'batch': 1, 'channels': 28, 'height': 28, 'width': 3}
    """
    batch, (height, width), channels = split_shape(
        tuple(int(v) for v in shape), normalize_data_format(data_format)
    )
    return {"batch": batch, "channels": channels, "height": height, "width": width}


def torch_kernel_to_keras(kernel):
    """PyTorch Conv2d weight ``(out, in, kh, kw)`` -> Keras Conv2D kernel ``(kh, kw, in, out)``.

    Lesson 04, "Porting PyTorch weights". A plain ``reshape`` to the Keras
    shape would keep the numbers in the wrong places: it must be a transpose.
    """
    return np.transpose(_rank4(kernel, "a PyTorch kernel (out, in, kh, kw)"), TORCH_TO_KERAS_KERNEL)


def keras_kernel_to_torch(kernel):
    """Keras Conv2D kernel ``(kh, kw, in, out)`` -> PyTorch weight ``(out, in, kh, kw)``. Lesson 04."""
    return np.transpose(_rank4(kernel, "a Keras kernel (kh, kw, in, out)"), KERAS_TO_TORCH_KERNEL)


def reference_conv2d(images_nchw, weight_oihw, bias=None, stride=1):
    """A "valid" 2D convolution in plain NumPy, with PyTorch's layouts.

    ``images_nchw`` is (batch, in, height, width), ``weight_oihw`` is
    (out, in, kh, kw), like ``torch.nn.functional.conv2d``; ``stride`` is an
    int or a (rows, cols) pair; the result is (batch, out, out_height,
    out_width), in float64. Like every deep-learning framework it computes a
    cross-correlation (the kernel is not flipped): with the defaults (no bias,
    stride 1) it is what PyTorch's ``F.conv2d(x, weight)`` returns.

    Written with explicit loops over the kernel positions so that it shares
    no code with TensorFlow (the output size comes from
    :func:`convclinic.shapes.conv_output_size`, pure arithmetic): lesson 04
    uses it to check a ported kernel, and exercise 04's judge to check the
    learner's converted kernel without needing PyTorch.
    """
    images = _rank4(images_nchw, "images (batch, in, height, width)").astype(np.float64)
    weight = _rank4(weight_oihw, "a weight (out, in, kh, kw)").astype(np.float64)
    batch, in_channels, height, width = images.shape
    out_channels, weight_in, kernel_h, kernel_w = weight.shape
    if weight_in != in_channels:
        raise ValueError(
            f"the weight expects {weight_in} input channels, the images have {in_channels}"
        )
    stride_h, stride_w = pair(stride, "stride")
    try:
        out_h = conv_output_size(height, kernel_h, stride_h)
        out_w = conv_output_size(width, kernel_w, stride_w)
    except ValueError:
        raise ValueError(
            f"kernel {kernel_h}x{kernel_w} is larger than the image {height}x{width}"
        ) from None
    output = np.zeros((batch, out_channels, out_h, out_w))
    for row in range(kernel_h):
        for col in range(kernel_w):
            # the input pixels this kernel tap sees, for every output position
            patch = images[:, :, row : row + stride_h * out_h : stride_h,
                           col : col + stride_w * out_w : stride_w]
            output += np.einsum("bihw,oi->bohw", patch, weight[:, :, row, col])
    if bias is not None:
        output += np.asarray(bias, dtype=np.float64).reshape(1, -1, 1, 1)
    return output


KERAS_JSON_SNIPPET = textwrap.dedent(
    """
    import keras
    import numpy as np
    from keras import layers
    layer = layers.Conv2D(8, 3)
    output = layer(np.zeros((1, 28, 28, 3), "float32"))
    result = {
        "image_data_format": keras.config.image_data_format(),
        "layer_data_format": layer.data_format,
        "output_shape": list(output.shape),
    }
    """
)


def keras_json_demo(image_data_format="channels_first", timeout=120):
    """Run a Conv2D in a fresh Python whose ``keras.json`` says ``image_data_format``.

    Lesson 04, "The global default: keras.json". The learner's own
    ``~/.keras/keras.json`` is never touched: the child process gets
    ``KERAS_HOME`` pointing at a temporary folder holding a new keras.json.
    Returns ``(keras_json_text, Outcome)``; the outcome's ``value`` holds the
    default format the child saw and the output shape of ``Conv2D(8, 3)`` on
    an NHWC image ``(1, 28, 28, 3)``.
    """
    with tempfile.TemporaryDirectory(prefix="convclinic-keras-home-") as keras_home:
        config = {
            "floatx": "float32",
            "epsilon": 1e-07,
            "backend": "tensorflow",
            "image_data_format": image_data_format,
        }
        text = json.dumps(config, indent=4)
        with open(os.path.join(keras_home, "keras.json"), "w", encoding="utf-8") as handle:
            handle.write(text)
        result = run_snippet(KERAS_JSON_SNIPPET, env={"KERAS_HOME": keras_home}, timeout=timeout)
    return text, result


CHANNELS_FIRST_SNIPPET = """
import numpy as np
from convclinic.runtime import import_keras
keras = import_keras()
layer = keras.layers.Conv2D(8, 3, data_format="channels_first", dtype="{dtype}")
images = np.zeros((1, 3, 28, 28), "{dtype}")
result = list(layer(images).shape)
"""


def channels_first_on_cpu(onednn=True, dtype="float32", timeout=180):
    """Run a channels_first Conv2D on the CPU in a fresh process, oneDNN on or off.

    Lesson 04, "channels_first on the CPU". ``TF_ENABLE_ONEDNN_OPTS`` is read
    once, when TensorFlow is imported, so it can only be shown in a new
    process. With oneDNN off TensorFlow's own CPU kernel refuses NCHW
    ("The Conv2D op currently only supports the NHWC tensor format on the CPU").
    Returns a :class:`convclinic.outcome.Outcome` (``env``, ``error_type``, ``stderr``...).
    """
    code = CHANNELS_FIRST_SNIPPET.format(dtype=dtype)
    return run_snippet(code, env={"TF_ENABLE_ONEDNN_OPTS": "1" if onednn else "0"}, timeout=timeout)
