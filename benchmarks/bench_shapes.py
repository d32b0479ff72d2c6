"""Cost of convclinic.shapes (pure arithmetic) versus a real Keras Conv2D.

Why it matters: the lessons' rule text and shape traces use convclinic.shapes
on every slider move; the readout uses a real Conv2D (build + call).
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import summary_ms, timed
from convclinic import shapes
from convclinic.runtime import import_keras

SETTING = dict(filters=32, kernel_size=3, strides=1, padding="same", dilation_rate=1)


def run(quick=False):
    repeat = 200 if quick else 2000
    keras = import_keras()
    x = np.zeros((1, 28, 28, 1), dtype="float32")

    def arithmetic():
        shapes.conv2d_output_shape((1, 28, 28, 1), **SETTING)

    def trace():
        shapes.trace([shapes.Conv2D(32, 3), shapes.MaxPooling2D(), shapes.Conv2D(64, 3),
                      shapes.MaxPooling2D(), shapes.Flatten(), shapes.Dense(10)], (1, 28, 28, 1))

    def keras_compute_output_shape():
        keras.layers.Conv2D(**SETTING).compute_output_shape((1, 28, 28, 1))

    def keras_build_and_call():
        keras.layers.Conv2D(**SETTING)(x)

    results = {
        "shapes.conv2d_output_shape": summary_ms(timed(arithmetic, repeat)),
        "shapes.trace (6 layers)": summary_ms(timed(trace, repeat)),
        "keras Conv2D() + compute_output_shape": summary_ms(timed(keras_compute_output_shape, repeat // 4)),
        "keras Conv2D() + build + call on 1x28x28x1": summary_ms(timed(keras_build_and_call, repeat // 4)),
    }
    base = results["shapes.conv2d_output_shape"]["median_ms"]
    results["speedup_vs_build_and_call (median ratio)"] = round(
        results["keras Conv2D() + build + call on 1x28x28x1"]["median_ms"] / base, 1
    )
    return results
