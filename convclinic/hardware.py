"""Framework, version and hardware: what changes a Conv2D's fate outside your code.

Taught in lesson 05 (``notebooks/05-framework-version-hardware.ipynb``);
lesson 04 uses :func:`run_snippet` for the oneDNN and keras.json demos.

- :func:`run_snippet` runs code in a fresh Python with chosen environment
  variables (``TF_ENABLE_ONEDNN_OPTS=0``, ``KERAS_HOME``, ...): such
  variables are read once, when TensorFlow is imported, so a notebook that
  already imported it cannot show their effect in its own process;
- :func:`side_by_side` runs one Conv2D scenario under Keras 2 (``tf_keras``)
  and Keras 3 (``keras``); :func:`seed_claims_table` does it for every claim
  of the seed article;
- :func:`gpu_report` lists the GPUs TensorFlow sees, and says plainly when
  there is none; :func:`enable_memory_growth` is the usual fix for cuDNN's
  "Failed to get convolution algorithm" and must run before any op;
- :func:`gpu_memory_contention` reproduces that cuDNN failure with two
  processes (used by ``benchmarks/gpu_check.py`` on a GPU machine);
- :func:`explain_phase` turns a probe's phase into where to look in a traceback.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass, field

from convclinic.runtime import clean_message, quiet_environment

RESULT_MARK = "__CONVCLINIC_RESULT__"

_WRAPPER = textwrap.dedent(
    f"""
    import json, sys, traceback
    source = open(sys.argv[1], encoding="utf-8").read()
    namespace = {{"__name__": "__main__"}}
    outcome = {{"ok": True, "error_type": None, "message": None, "value": None, "traceback": None}}
    try:
        exec(compile(source, "<snippet>", "exec"), namespace)
        outcome["value"] = namespace.get("result")
    except BaseException as error:
        try:
            from convclinic.runtime import clean_message
            message = clean_message(error)
        except Exception:
            message = str(error)
        outcome.update(ok=False, error_type=type(error).__name__, message=message,
                       traceback=traceback.format_exc())
    sys.stdout.flush()
    print("\\n{RESULT_MARK}" + json.dumps(outcome, default=repr), flush=True)
    """
)


# ---------------------------------------------------------------------------
# Code in a fresh process
# ---------------------------------------------------------------------------


@dataclass
class SnippetResult:
    """What a snippet did in its own Python process (see :func:`run_snippet`).

    ``value`` is the snippet's variable ``result`` (JSON-able values), or
    ``None``. ``error_type``/``message`` are the exception it raised (message
    cleaned like the lessons show it), ``stderr`` what the process wrote there
    (TensorFlow's C++ log lines land here).
    """

    env: dict
    ok: bool = False
    value: object = None
    error_type: str | None = None
    message: str | None = None
    traceback: str | None = None
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0

    @property
    def headline(self):
        if self.ok:
            return f"ran fine: {self.value!r}" if self.value is not None else "ran fine"
        first = (self.message or "").strip().splitlines()
        return f"{self.error_type}: {first[0] if first else ''}"

    @property
    def stderr_lines(self):
        return [line for line in self.stderr.splitlines() if line.strip()]

    def __str__(self):
        settings = " ".join(f"{name}={value}" for name, value in self.env.items()) or "(no extra)"
        return f"[{settings}] {self.headline}"


def run_snippet(code, env=None, timeout=180):
    """Run ``code`` in a new Python process with extra environment variables.

    ``env`` maps variable names to values (``None`` removes a variable). The
    snippet may set a variable ``result`` (JSON-able) to report a value. The
    outcome is the REAL one: the exception the child raised (type and
    cleaned message), a crash (``ProcessExited``) or a hang (``TimeoutExpired``).

    >>> run_snippet("result = 6 * 7").value   # doctest: +SKIP
    42
    """
    env = dict(env or {})
    child_env = dict(os.environ)
    for name, value in env.items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = str(value)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    child_env["PYTHONUNBUFFERED"] = "1"
    result = SnippetResult(env=env)
    with tempfile.TemporaryDirectory(prefix="convclinic-snippet-") as folder:
        path = os.path.join(folder, "snippet.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(code))
        start = time.perf_counter()
        try:
            completed = subprocess.run(
                [sys.executable, "-c", _WRAPPER, path],
                env=child_env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as error:
            result.seconds = time.perf_counter() - start
            result.error_type = "TimeoutExpired"
            result.message = f"the snippet ran longer than {timeout} s and was stopped"
            result.stdout = _text(error.stdout)
            result.stderr = _text(error.stderr)
            return result
    result.seconds = time.perf_counter() - start
    result.returncode = completed.returncode
    result.stderr = completed.stderr
    stdout, _, outcome_line = completed.stdout.rpartition(RESULT_MARK)
    if not outcome_line:
        result.stdout = completed.stdout
        result.error_type = "ProcessExited"
        tail = "\n".join(result.stderr_lines[-5:])
        result.message = f"the process ended with exit code {completed.returncode}\n{tail}".strip()
        return result
    result.stdout = stdout.rstrip("\n")
    outcome = json.loads(outcome_line)
    for name in ("ok", "value", "error_type", "message", "traceback"):
        setattr(result, name, outcome[name])
    return result


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


TF_LOG_SNIPPET = """
import tensorflow as tf
tf.constant(1.0) + 1.0   # the first op: TensorFlow looks for a GPU here
result = tf.__version__
"""


def tensorflow_log_lines(level="0"):
    """The lines TensorFlow's C++ runtime writes to stderr, at ``TF_CPP_MIN_LOG_LEVEL=level``.

    Lesson 05, "The lines on stderr". Run in a fresh process, because they
    are written only once, at import and at the first op.
    """
    result = run_snippet(TF_LOG_SNIPPET, env={"TF_CPP_MIN_LOG_LEVEL": str(level)})
    return result.stderr_lines


# ---------------------------------------------------------------------------
# Keras 2 and Keras 3 side by side
# ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one scenario did under one Keras: a value, or the error it raised."""

    ok: bool
    value: object = None
    error_type: str | None = None
    message: str | None = None

    @property
    def text(self):
        if self.ok:
            return "works" if self.value is None else f"works: {self.value}"
        return f"{self.error_type}: {self.message.splitlines()[0] if self.message else ''}"

    def __str__(self):
        return self.text


def keras_message(error):
    """A Keras 2 or Keras 3 error message as the lessons show it.

    :func:`convclinic.runtime.clean_message`, plus the parts only Keras 2
    (``tf_keras``) adds: "Exception encountered when calling layer ..." and
    its "Call arguments received by layer" block.
    """
    return clean_message(error)


def outcome_of(function, *args, **kwargs):
    """Run ``function`` and record its value or its exception as an :class:`Outcome`."""
    try:
        value = function(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - recording the real error is the point
        return Outcome(ok=False, error_type=type(error).__name__, message=keras_message(error))
    return Outcome(ok=True, value=value)


def keras_versions():
    """``{"Keras 2": "tf_keras 2.x.y", "Keras 3": "keras 3.x.y"}`` for the installed packages."""
    from convclinic.runtime import import_keras

    return {
        "Keras 2": f"tf_keras {import_keras(legacy=True).__version__}",
        "Keras 3": f"keras {import_keras(legacy=False).__version__}",
    }


def side_by_side(scenario):
    """Run ``scenario(keras)`` under Keras 2 (``tf_keras``) and Keras 3 (``keras``).

    Lesson 05, "Keras 2 and Keras 3 side by side". ``scenario`` receives the
    Keras module and returns what to show (an output shape, say) or raises.
    Returns ``{"Keras 2": Outcome, "Keras 3": Outcome}``. ``input_shape=``
    warnings raised inside are not shown (lesson 05 treats them separately).
    """
    from convclinic.runtime import import_keras

    outcomes = {}
    for label, legacy in (("Keras 2", True), ("Keras 3", False)):
        keras = import_keras(legacy=legacy)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Do not pass an `input_shape`")
            outcomes[label] = outcome_of(scenario, keras)
    return outcomes


def _shape(tensor):
    return tuple(None if v is None else int(v) for v in tensor.shape)


def _seed_example1_build(keras):
    model = keras.Sequential(
        [keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
    )
    model.build((None, 28, 28, 1))
    return f"built, output {_shape(model.outputs[0])}"


def _seed_example1_call(keras):
    import numpy as np

    model = keras.Sequential(
        [keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
    )
    return _shape(model(np.random.normal(size=(1, 100, 100)).astype("float32")))


def _seed_example2(keras):
    keras.Sequential([keras.layers.Conv2D(32, (3, 3), padding="invalid", input_shape=(28, 28, 1))])
    return "built"


def _big_stride(keras):
    import numpy as np

    return _shape(keras.layers.Conv2D(4, 3, strides=50)(np.zeros((1, 28, 28, 1), "float32")))


def _seed_example3_models(keras):
    last = keras.Sequential([keras.layers.Conv2D(32, (3, 3), input_shape=(28, 28, 1))])
    first = keras.Sequential(
        [keras.layers.Conv2D(32, (3, 3), input_shape=(1, 28, 28), data_format="channels_first")]
    )
    return last, first


def _seed_example3_build(keras):
    last, _ = _seed_example3_models(keras)
    last.build((1, 28, 28, 1))  # the article passes input_tensor_last.shape: batch 1, not None
    return "built"


def _seed_example3_mismatch(keras):
    import numpy as np

    last, _ = _seed_example3_models(keras)
    return _shape(last(np.zeros((1, 1, 28, 28), "float32")))


def _channels_first_cpu(keras):
    import numpy as np

    layer = keras.layers.Conv2D(8, 3, data_format="channels_first")
    return _shape(layer(np.zeros((1, 3, 28, 28), "float32")))


def _bare_layer_mismatch(keras):
    import numpy as np

    layer = keras.layers.Conv2D(8, 3, data_format="channels_first")
    return _shape(layer(np.zeros((1, 28, 28, 3), "float32")))


@dataclass
class SeedClaim:
    """One claim of the seed article and the scenario that tests it."""

    key: str
    where: str
    claim: str
    scenario: object = field(repr=False)


SEED_CLAIMS = (
    SeedClaim("example1_build", "Example 1",
              "model.build((None, 28, 28, 1)) on a model declared input_shape=(28, 28, 1) "
              "\"will fail\"", _seed_example1_build),
    SeedClaim("example1_call", "Example 1",
              "a (1, 100, 100) tensor without the channel axis makes that model fail",
              _seed_example1_call),
    SeedClaim("example2_invalid_padding", "Example 2",
              "padding='invalid' \"will usually build\"", _seed_example2),
    SeedClaim("big_stride", "Invalid Stride",
              "a stride larger than the input gives an empty output (stride 50 on 28x28)",
              _big_stride),
    SeedClaim("example3_build", "Example 3",
              "model.build(input_tensor_last.shape), batch axis 1, builds the model",
              _seed_example3_build),
    SeedClaim("example3_mismatch", "Example 3",
              "a channels_first tensor into the channels_last model \"will usually throw\"",
              _seed_example3_mismatch),
    SeedClaim("channels_first_cpu", "Data Format Mismatch",
              "channels_first is a GPU thing: it fails on CPU", _channels_first_cpu),
    SeedClaim("bare_layer_mismatch", "Data Format Mismatch",
              "an inconsistent data format \"will cause initialization to fail\" "
              "(a channels_first Conv2D(8, 3) on an NHWC (1, 28, 28, 3) image)",
              _bare_layer_mismatch),
)


@dataclass(repr=False)
class ClaimTable:
    """Rows of (claim, Keras 2 outcome, Keras 3 outcome); shows itself as a table."""

    rows: list
    versions: dict

    def outcome(self, key, label="Keras 3"):
        for claim, outcomes in self.rows:
            if claim.key == key:
                return outcomes[label]
        raise KeyError(key)

    def __repr__(self):
        return str(self)

    def __str__(self):
        lines = []
        for claim, outcomes in self.rows:
            lines.append(f"{claim.where}: the article says {claim.claim}")
            for label, outcome in outcomes.items():
                lines.append(f"    {self.versions[label]:>16}: {outcome.text}")
        return "\n".join(lines)

    def _repr_html_(self):
        from html import escape

        head = "".join(
            f"<th>{escape(label)} ({escape(self.versions[label])}) does</th>"
            for label in ("Keras 2", "Keras 3")
        )
        body = "".join(
            "<tr><td>{}</td><td>{}</td>{}</tr>".format(
                escape(claim.where),
                escape(claim.claim),
                "".join(
                    f"<td>{escape(outcomes[label].text)}</td>" for label in ("Keras 2", "Keras 3")
                ),
            )
            for claim, outcomes in self.rows
        )
        return (
            '<table class="convclinic-claims"><thead><tr><th>where</th><th>the article says</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def seed_claims_table(claims=SEED_CLAIMS):
    """Run every seed-article claim under Keras 2 and Keras 3. Lesson 05."""
    return ClaimTable(
        rows=[(claim, side_by_side(claim.scenario)) for claim in claims], versions=keras_versions()
    )


def count_input_shape_warnings(layers_to_make=3):
    """How many ``input_shape=`` UserWarnings Python SHOWS for several Conv2D layers.

    Lesson 05, "The input_shape warning". Python's default filter shows a
    warning once per code location, and Keras issues this one from its own
    code, so only the first layer in a session prints it. Warnings are
    recorded under the default filter in a fresh registry, so the answer
    does not depend on what ran before.
    """
    from convclinic.runtime import import_keras

    keras = import_keras()
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for _ in range(layers_to_make):
            keras.layers.Conv2D(8, 3, input_shape=(28, 28, 1))
    return [warning for warning in caught if "input_shape" in str(warning.message)]


# ---------------------------------------------------------------------------
# Reading a traceback
# ---------------------------------------------------------------------------

PHASE_EXPLANATIONS = {
    "construct": (
        "The constructor refused an argument: the traceback ends in the line that creates "
        "the layer (layers.Conv2D(...)). Fix the argument; no input is involved yet."
    ),
    "build": (
        "The layer refused its FIRST input before it had weights: input rank, the channel "
        "axis, or an output size that would be zero or negative. Look at the shape you fed "
        "it and at the layer's data_format."
    ),
    "call": (
        "The layer was built and the computation itself failed, often inside a TensorFlow "
        "op (its name is in [Op:...]). Look at dtype, device and data format, and at what "
        "changed since the layer was built."
    ),
}


def explain_phase(result):
    """Where to look in a traceback, from a :class:`convclinic.probe.ProbeResult`. Lesson 05."""
    if result.ok:
        return f"No error: output shape {result.output_shape}."
    return f"{result.error_type} at {result.phase}: {PHASE_EXPLANATIONS[result.phase]}"


# ---------------------------------------------------------------------------
# Reporting a framework bug
# ---------------------------------------------------------------------------


def environment_summary():
    """The versions a framework bug report needs, as ``{name: version}``. Lesson 05.

    Python, platform, NumPy, TensorFlow, Keras 3, Keras 2 (``tf_keras``, when
    installed), whether TensorFlow was built with CUDA, and the GPUs it sees.
    """
    import numpy as np

    tf = _tensorflow_without_op()
    summary = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
    }
    from convclinic.runtime import import_keras

    summary["keras"] = import_keras().__version__
    try:
        summary["tf_keras"] = import_keras(legacy=True).__version__
    except ImportError:
        summary["tf_keras"] = "not installed"
    summary["tf built with CUDA"] = str(bool(tf.test.is_built_with_cuda()))
    summary["gpus"] = ", ".join(d.name for d in tf.config.list_physical_devices("GPU")) or "none"
    return summary


# ---------------------------------------------------------------------------
# GPUs
# ---------------------------------------------------------------------------


def _tensorflow_without_op():
    """Import TensorFlow WITHOUT running an op, so GPU settings can still change.

    :func:`convclinic.runtime.import_tensorflow` runs one op (to flush the
    log lines), after which memory growth can no longer be set.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_environment()
    from convclinic import runtime

    silenced = getattr(runtime, "_stderr_silenced", contextlib.nullcontext)
    with silenced():
        import tensorflow as tf
    return tf


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
    tf = _tensorflow_without_op()
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
    tf = _tensorflow_without_op()
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
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("TF_FORCE_GPU_ALLOW_GROWTH", None)
    if hog_memory_growth:
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    hog = subprocess.Popen(
        [sys.executable, "-c", GPU_HOG_SNIPPET],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    outcome = {"hog_memory_growth": hog_memory_growth}
    watchdog = threading.Timer(timeout, hog.kill)  # a hog that never gets ready is stopped
    watchdog.start()
    try:
        ready = hog.stdout.readline().strip()
        outcome["hog"] = ready or "the first process did not get ready"
        if ready.startswith("READY"):
            second = run_snippet(
                GPU_CONV_SNIPPET, env={"TF_FORCE_GPU_ALLOW_GROWTH": None}, timeout=timeout
            )
            outcome.update(
                second_ok=second.ok,
                second=second.headline,
                second_value=second.value,
                second_stderr_tail=second.stderr_lines[-8:],
                cudnn_failure=_mentions_cudnn_failure(second),
            )
    finally:
        watchdog.cancel()
        try:
            hog.stdin.close()
        except OSError:
            pass
        try:
            _, hog_stderr = hog.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            hog.kill()
            _, hog_stderr = hog.communicate()
        outcome["hog_stderr_tail"] = [line for line in hog_stderr.splitlines() if line][-5:]
    return outcome


CUDNN_SIGNS = (
    "Failed to get convolution algorithm",
    "cuDNN failed to initialize",
    "DNN library initialization failed",
    "CUDNN_STATUS",
    "OUT_OF_MEMORY",
    "out of memory",
)


def _mentions_cudnn_failure(result):
    text = f"{result.message or ''}\n{result.stderr}"
    return [sign for sign in CUDNN_SIGNS if sign.lower() in text.lower()]
