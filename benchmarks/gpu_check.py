"""One-off GPU check for lesson 05 (run by hand on a GPU machine; not a bench_*.py module).

    python benchmarks/gpu_check.py [result.json]

It prints the TensorFlow version and the GPUs TensorFlow sees, turns on memory growth BEFORE
any op, runs a Conv2D forward and backward pass in channels_last and channels_first (on the
GPU when there is one, else on the CPU), then reproduces cuDNN-initialisation trouble: one
process takes the GPU the default way (nearly all memory) while a second runs a Conv2D; and
again with memory growth in the first. The result goes to the JSON file given as argument,
else to $OUT/gpu_check.json when $OUT is set, else to benchmarks/results/gpu_check.json.
On a machine without a GPU it says "no GPU" and finishes in seconds.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere: `python benchmarks/gpu_check.py`

from convclinic import gpu  # noqa: E402  (after the path fix; imports no TensorFlow)
from convclinic.runtime import clean_message  # noqa: E402


def result_path(argv):
    if len(argv) > 1:
        return pathlib.Path(argv[1])
    if os.environ.get("OUT"):
        return pathlib.Path(os.environ["OUT"]) / "gpu_check.json"
    return ROOT / "benchmarks" / "results" / "gpu_check.json"


def conv_forward_backward(tf, keras, data_format, device):
    """A Conv2D forward and backward pass on ``device``; its shapes, device and time, or its error."""
    shape = (8, 64, 64, 3) if data_format == "channels_last" else (8, 3, 64, 64)
    images = tf.random.normal(shape)
    start = time.perf_counter()
    try:
        with tf.device(device):
            layer = keras.layers.Conv2D(16, 3, data_format=data_format)
            with tf.GradientTape() as tape:
                output = layer(images)
                loss = tf.reduce_mean(output**2)
            kernel_gradient, bias_gradient = tape.gradient(loss, layer.trainable_weights)
            float(loss)  # wait for the device
    except Exception as error:  # noqa: BLE001 - the real error is the result
        return {"ok": False, "error_type": type(error).__name__,
                "message": clean_message(error)[:2000]}
    return {
        "ok": True,
        "input_shape": list(shape),
        "output_shape": list(output.shape),
        "kernel_gradient_shape": list(kernel_gradient.shape),
        "output_device": output.device,
        "seconds": round(time.perf_counter() - start, 3),
    }


def main(argv=sys.argv):
    started = time.perf_counter()
    # 1. memory growth FIRST: TensorFlow accepts it only before its first op
    growth = gpu.enable_memory_growth()
    report = gpu.gpu_report()
    print(report)
    print("memory growth:", growth)

    from convclinic.runtime import import_keras, import_tensorflow

    tf = import_tensorflow()
    keras = import_keras()
    device = "/GPU:0" if report.has_gpu else "/CPU:0"
    result = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "gpus_seen_by_tensorflow": report.gpus,
        "gpus_seen_by_driver": report.driver_gpus,
        "tf_built_with_cuda": report.built_with_cuda,
        "gpu_report": report.explanation,
        "memory_growth": str(growth),
        "memory_growth_enabled_for": growth.enabled,
        "conv_device": device,
        "conv": {},
    }
    # 2. Conv2D forward + backward in both formats
    for data_format in ("channels_last", "channels_first"):
        outcome = conv_forward_backward(tf, keras, data_format, device)
        result["conv"][data_format] = outcome
        print(f"Conv2D {data_format} on {device}:", outcome)
    # 3. two processes on one GPU: default allocation, then memory growth in the first
    if report.has_gpu:
        for growth_in_first in (False, True):
            key = "contention_growth" if growth_in_first else "contention_default"
            result[key] = gpu.gpu_memory_contention(hog_memory_growth=growth_in_first)
            print(f"{key}:", json.dumps(result[key], indent=2, default=str))
    else:
        result["contention"] = "skipped: no GPU"
        print("no GPU: the two-process cuDNN check needs one; skipped")
    result["seconds"] = round(time.perf_counter() - started, 1)
    path = result_path(argv)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
