"""GPUs: which ones TensorFlow sees, memory growth, and cuDNN's "Failed to get convolution algorithm".

Taught in lesson 05 (``notebooks/05-framework-version-hardware.ipynb``, "The GPU case"):

- :func:`gpu_report` lists the GPUs TensorFlow sees, and says plainly when
  there is none (or when the driver sees one that TensorFlow does not);
- :func:`enable_memory_growth` is the usual fix for cuDNN's "Failed to get
  convolution algorithm" when another process (or TensorFlow itself) holds
  the GPU's memory; it must run before any op;
- :func:`gpu_memory_contention` reproduces that failure with two processes
  (used by ``benchmarks/gpu_check.py`` on a GPU machine; on a CPU machine it
  starts nothing and says so).

Importing this module does not import TensorFlow; its functions import it
WITHOUT running an op (:func:`convclinic.runtime.import_tensorflow_without_op`),
so memory growth can still be set afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass

from convclinic.runtime import import_tensorflow_without_op
from convclinic.snippets import run_snippet

__all__ = [
    "nvidia_smi_gpus",
    "GpuReport",
    "gpu_report",
    "MemoryGrowthReport",
    "enable_memory_growth",
    "gpu_memory_contention",
    "CUDNN_SIGNS",
    "mentions_cudnn_failure",
]


def nvidia_smi_gpus():
    """GPU lines from ``nvidia-smi -L`` (what the DRIVER sees), or [] without it."""
    command = shutil.which("nvidia-smi")
    if command is None:
        return []
    try:
        completed = subprocess.run(
            [command, "-L"], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in completed.stdout.splitlines() if line.startswith("GPU")]


@dataclass
class GpuReport:
    """The GPUs TensorFlow sees, with a plain-language explanation (``str(report)``)."""

    tensorflow_version: str
    built_with_cuda: bool
    gpus: list
    driver_gpus: list

    @property
    def has_gpu(self):
        return bool(self.gpus)

    @property
    def explanation(self):
        if self.gpus:
            names = ", ".join(self.gpus)
            return (
                f"TensorFlow sees {len(self.gpus)} GPU(s): {names}. Conv2D runs on the GPU "
                "through cuDNN; call enable_memory_growth() before any op so that TensorFlow "
                "does not take nearly all GPU memory at once."
            )
        if self.driver_gpus:
            return (
                f"No GPU for TensorFlow, although the driver lists {len(self.driver_gpus)} "
                f"({'; '.join(self.driver_gpus)}). Check that a CUDA-enabled TensorFlow is "
                "installed (not tensorflow-cpu; on Linux `pip install tensorflow[and-cuda]`) and "
                "that its CUDA and cuDNN libraries load: TensorFlow's log lines on stderr say "
                "which one failed. Everything still runs, on the CPU."
            )
        return (
            "No GPU: TensorFlow sees no GPU device on this machine, so every Conv2D runs on "
            "the CPU. The GPU failures of lesson 05 cannot happen here; the code that handles "
            "them still runs and says so."
        )

    def __str__(self):
        return f"TensorFlow {self.tensorflow_version}: {self.explanation}"


def gpu_report():
    """List the GPUs TensorFlow sees; say plainly when there is none. Lesson 05.

    Does not initialise the GPUs (no op is run), so memory growth can still
    be enabled afterwards when nothing else ran an op.
    """
    tf = import_tensorflow_without_op()
    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(device)
        except Exception:  # noqa: BLE001 - details are optional
            details = {}
        name = details.get("device_name")
        gpus.append(f"{device.name} ({name})" if name else device.name)
    return GpuReport(
        tensorflow_version=tf.__version__,
        built_with_cuda=bool(tf.test.is_built_with_cuda()),
        gpus=gpus,
        driver_gpus=nvidia_smi_gpus(),
    )


@dataclass
class MemoryGrowthReport:
    """What :func:`enable_memory_growth` did, and why (``str(report)``)."""

    gpus: list
    enabled: list
    too_late: bool = False
    error: str | None = None

    @property
    def explanation(self):
        if not self.gpus:
            return (
                "No GPU: nothing to do. (On a GPU, TensorFlow maps nearly all GPU memory on "
                "the first op; memory growth makes it take memory as needed instead, which "
                "leaves room for cuDNN and for other processes.)"
            )
        if self.too_late:
            return (
                "Too late: TensorFlow already ran an op, so its GPUs are initialised and "
                f"cannot be changed ({self.error}). Restart the kernel and call "
                "enable_memory_growth() FIRST, before anything imports TensorFlow through "
                "convclinic.runtime (which runs one op), or set TF_FORCE_GPU_ALLOW_GROWTH=true "
                "before starting Python."
            )
        return (
            f"Memory growth is on for {', '.join(self.enabled)}: TensorFlow will allocate GPU "
            "memory as it needs it instead of taking nearly all of it at the first op."
        )

    def __str__(self):
        return self.explanation


def enable_memory_growth():
    """Make TensorFlow allocate GPU memory as needed. Call it BEFORE ANY OP. Lesson 05.

    By default TensorFlow maps nearly all memory of every visible GPU the
    first time it runs an op. cuDNN then may find no room for its workspace
    ("Failed to get convolution algorithm. This is probably because cuDNN
    failed to initialize"), and a second process finds the GPU full. The fix
    is ``tf.config.experimental.set_memory_growth(gpu, True)`` for each GPU,
    which only works before the GPUs are initialised (before the first op).
    ``TF_FORCE_GPU_ALLOW_GROWTH=true`` is also set, for child processes.
    Without a GPU it does nothing and says so.
    """
    os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    tf = import_tensorflow_without_op()
    gpus = tf.config.list_physical_devices("GPU")
    report = MemoryGrowthReport(gpus=[gpu.name for gpu in gpus], enabled=[])
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError as error:
            report.too_late = True
            report.error = str(error)
        else:
            report.enabled.append(gpu.name)
    return report


GPU_HOG_SNIPPET = """
import sys
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
with tf.device("/GPU:0"):
    matrix = tf.random.normal((1024, 1024))
    total = float(tf.reduce_sum(tf.matmul(matrix, matrix)))
info = tf.config.experimental.get_memory_info("GPU:0")
print("READY", info["current"], flush=True)
sys.stdin.read()   # hold the GPU until the parent closes stdin
"""

GPU_CONV_SNIPPET = """
import numpy as np
import tensorflow as tf
import keras
from keras import layers
gpus = tf.config.list_physical_devices("GPU")
images = np.random.normal(size=(8, 64, 64, 3)).astype("float32")
with tf.device("/GPU:0"):
    layer = layers.Conv2D(16, 3)
    output = layer(images)
result = {"gpus": [gpu.name for gpu in gpus], "output_shape": list(output.shape),
          "device": output.device}
"""


def _start_hog(hog_memory_growth):
    """The first process: TensorFlow on the GPU, default memory behaviour unless growth is asked."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("TF_FORCE_GPU_ALLOW_GROWTH", None)
    if hog_memory_growth:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    return subprocess.Popen(
        [sys.executable, "-c", GPU_HOG_SNIPPET],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop_hog(hog):
    """Let the first process go (close its stdin) and return the tail of its stderr."""
    try:
        hog.stdin.close()
    except OSError:
        pass
    try:
        _, hog_stderr = hog.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        hog.kill()
        _, hog_stderr = hog.communicate()
    return [line for line in hog_stderr.splitlines() if line][-5:]


def _second_conv(timeout):
    """The second process: a Conv2D on /GPU:0 while the first holds the GPU."""
    second = run_snippet(GPU_CONV_SNIPPET, env={"TF_FORCE_GPU_ALLOW_GROWTH": None},
                         timeout=timeout)
    return dict(
        second_ok=second.ok,
        second=second.text,
        second_value=second.value,
        second_stderr_tail=second.stderr_lines[-8:],
        cudnn_failure=mentions_cudnn_failure(second),
    )


def gpu_memory_contention(hog_memory_growth=False, timeout=240):
    """Reproduce cuDNN-initialisation trouble: one process holds the GPU, another runs Conv2D.

    The first process imports TensorFlow with its DEFAULT memory behaviour
    (nearly all GPU memory mapped at the first op), or with memory growth
    when ``hog_memory_growth`` is true, and holds on; a second process then
    runs a Conv2D on ``/GPU:0``. Returns a dict with both outcomes. Without a
    GPU it starts nothing and returns ``{"skipped": "no GPU ..."}``.
    Used by ``benchmarks/gpu_check.py``; lesson 05 explains the result.
    """
    report = gpu_report()
    if not report.has_gpu:
        return {"skipped": "no GPU: " + report.explanation}
    hog = _start_hog(hog_memory_growth)
    outcome = {"hog_memory_growth": hog_memory_growth}
    watchdog = threading.Timer(timeout, hog.kill)  # a hog that never gets ready is stopped
    watchdog.start()
    try:
        ready = hog.stdout.readline().strip()
        outcome["hog"] = ready or "the first process did not get ready"
        if ready.startswith("READY"):
            outcome.update(_second_conv(timeout))
    finally:
        watchdog.cancel()
        outcome["hog_stderr_tail"] = _stop_hog(hog)
    return outcome


#: Words in a message or on stderr that mean cuDNN could not start (memory or versions).
CUDNN_SIGNS = (
    "Failed to get convolution algorithm",
    "cuDNN failed to initialize",
    "DNN library initialization failed",
    "CUDNN_STATUS",
    "OUT_OF_MEMORY",
    "out of memory",
)


def mentions_cudnn_failure(outcome):
    """The :data:`CUDNN_SIGNS` found in an outcome's message or stderr."""
    text = f"{outcome.message or ''}\n{outcome.stderr}"
    return [sign for sign in CUDNN_SIGNS if sign.lower() in text.lower()]
