"""One small broken cell per cause: the reproducers behind the extension's tests and benchmark.

Each :data:`BROKEN_CELLS` entry is ``(cause id, cell source)``; the source
runs after :data:`SETUP` and raises the real Keras/TensorFlow error of that
cause, written the way a learner writes it (lessons 01-05 show each one).
:data:`UNRELATED_CELLS` raise errors that are not Conv2D failures: the
extension must leave them alone. Plain strings: importing this module
imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["SETUP", "BROKEN_CELLS", "UNRELATED_CELLS"]

SETUP = """\
import numpy as np
from convclinic.runtime import import_keras
keras = import_keras()
layers = keras.layers
"""

BROKEN_CELLS = (
    ("missing_channel_axis", """\
conv = layers.Conv2D(8, 3, name="conv")
gray_batch = np.zeros((2, 28, 28), "float32")
conv(gray_batch)
"""),
    ("missing_batch_axis", """\
rgb_model = keras.Sequential([keras.Input((28, 28, 3)), layers.Conv2D(8, 3, name="conv")])
one_image = np.zeros((28, 28, 3), "float32")
rgb_model.predict(one_image, verbose=0)
"""),
    ("extra_axis", """\
rgb_model = keras.Sequential([keras.Input((28, 28, 3)), layers.Conv2D(8, 3, name="conv")])
batches = np.zeros((4, 2, 28, 28, 3), "float32")
rgb_model(batches)
"""),
    ("channel_mismatch", """\
rgb_model = keras.Sequential([keras.Input((28, 28, 3)), layers.Conv2D(8, 3, name="conv")])
gray = np.zeros((2, 28, 28, 1), "float32")
rgb_model(gray)
"""),
    ("data_format_mismatch", """\
rgb_model = keras.Sequential([keras.Input((28, 28, 3)), layers.Conv2D(8, 3, name="conv")])
nchw = np.zeros((1, 3, 28, 28), "float32")
rgb_model(nchw)
"""),
    ("spatial_too_small", """\
big_kernel = layers.Conv2D(4, 30, name="conv")
small = np.zeros((1, 28, 28, 1), "float32")
big_kernel(small)
"""),
    ("stride_dilation_conflict", """\
layers.Conv2D(8, 3, strides=2, dilation_rate=2, name="conv")
"""),
    ("invalid_padding", """\
layers.Conv2D(8, 3, padding="invalid", name="conv")
"""),
    ("invalid_data_format", """\
layers.Conv2D(8, 3, data_format="NCHW", name="conv")
"""),
    ("invalid_argument", """\
layers.Conv2D(8, 0, name="conv")
"""),
    ("integer_dtype", """\
conv = layers.Conv2D(8, 3, name="conv")
pixels = np.zeros((1, 28, 28, 1), "uint8")
conv(pixels)
"""),
    ("downstream_shape_mismatch", """\
same = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, padding="same"),
                         layers.Flatten(), layers.Dense(10, name="dense")])
valid = keras.Sequential([layers.Conv2D(32, 3, name="conv"), layers.Flatten(),
                          same.get_layer("dense")])
images = np.zeros((1, 28, 28, 1), "float32")
valid(images)
"""),
    ("nchw_unsupported_on_cpu", """\
conv64 = layers.Conv2D(8, 3, data_format="channels_first", dtype="float64", name="conv")
nchw64 = np.zeros((1, 3, 28, 28), "float64")
conv64(nchw64)
"""),
    ("gpu_init_failure", """\
import tensorflow as tf
raise tf.errors.UnknownError(None, None, "Failed to get convolution algorithm. This is probably "
                             "because cuDNN failed to initialize. [Op:Conv2D]")
"""),
)

UNRELATED_CELLS = (
    ("KeyError", """\
settings = {"filters": 8}
settings["kernel_size"]
"""),
    ("ValueError", """\
np.zeros((2, 3)) + np.zeros((4, 5))
"""),
    ("ValueError", """\
np.arange(6).reshape(4, 2)
"""),
)
