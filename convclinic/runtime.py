"""Import TensorFlow and Keras quietly, and clean Keras error messages.

TensorFlow's C++ runtime writes log lines to stderr at import time and on the
first op (oneDNN notice, "Could not find cuda drivers", "failed call to
cuInit", "All log messages before absl::InitializeLog()"). In a notebook they
appear as red stderr output, and nbgrader gives ZERO points to a test cell
with any stderr output. Every part of the course imports TensorFlow through
:func:`import_tensorflow` / :func:`import_keras`, or through
:func:`import_tensorflow_without_op` where GPU settings must still change.
:func:`stderr_silenced` is the file-descriptor redirect they share.

Lesson 05 shows these lines on purpose, in a subprocess
(:func:`convclinic.snippets.tensorflow_log_lines`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CALL_PREFIX = re.compile(r"^Exception encountered when calling [\w.]+\(\)\.\s*")
_NUMPY_DUMP = re.compile(r", numpy=\s*array\(.*?dtype=\w+\)>", re.DOTALL)
# Keras 2 (tf_keras) wraps call errors in "Exception encountered when calling layer 'x' (type Y)."
_LEGACY_WRAPPER = re.compile(r"Exception encountered when calling layer ['\"][^'\"]+['\"] \(type \w+\)\.\s*")
# Keras 3 repeats the whole input array in "Invalid input shape for input [[...]] with name"
_ARRAY_DUMP = re.compile(r"for input \[.*?\] with name", re.DOTALL)
# TF op errors start with "{{function_node __wrapped__...}}"; graph errors quote the whole node.
_FUNCTION_NODE = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
_GRAPH_NODE = re.compile(r" for '\{\{node .*?' with input shapes", re.DOTALL)
# Weight-loading errors print the whole variable ("<Variable path=..., value=[[...]]>").
_VARIABLE_VALUES = re.compile(r", value=\[.*?\]\]>", re.DOTALL)


def strip_ansi(text):
    """Remove terminal colour/bold codes (Keras wraps names in ``\\x1b[1m``)."""
    return _ANSI.sub("", str(text))


def clean_message(error):
    """The message of a Keras/TF exception as a learner should read it.

    ANSI codes are removed, and the "Arguments received by ..." block that
    Keras appends (it repeats the input) is cut off, as are Keras 2's wrapper
    line and the array dumps both versions embed.
    """
    text = strip_ansi(error if isinstance(error, str) else _message_of(error))
    text = text.split("\n\nArguments received by", 1)[0]
    text = re.split(r"\n\s*\n\s*Call arguments received by", text, maxsplit=1)[0]
    text = _CALL_PREFIX.sub("", text.strip())
    text = _LEGACY_WRAPPER.sub("", text)
    text = _NUMPY_DUMP.sub(">", text)
    text = _ARRAY_DUMP.sub("for input <array> with name", text)
    text = _FUNCTION_NODE.sub("", text)
    text = _GRAPH_NODE.sub(" with input shapes", text)
    text = _VARIABLE_VALUES.sub(">", text)
    return text.strip()


def _message_of(error):
    message = getattr(error, "message", None)  # tf.errors.OpError keeps it here
    if isinstance(message, str) and message:
        return message
    if isinstance(error, BaseException) and error.args:
        return str(error.args[0]) if len(error.args) == 1 else str(error)
    return str(error)


def headline(error):
    """The first line of :func:`clean_message`: what a readout shows."""
    return clean_message(error).splitlines()[0] if clean_message(error) else ""


@contextlib.contextmanager
def stderr_silenced():
    """Send file descriptor 2 to /dev/null inside a ``with`` block.

    TensorFlow's C++ runtime writes to the file descriptor directly, bypassing
    ``sys.stderr``, so redirecting ``sys.stderr`` alone would not catch it.
    """
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed or odd stderr must not stop the import
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_environment():
    """Set the variables TensorFlow reads at import: quiet logs, GPU memory growth, oneDNN on.

    Only defaults are set: a user who exported another value keeps it.

    - ``TF_CPP_MIN_LOG_LEVEL=3`` keeps the C++ log lines written after import
      off stderr (lesson 05, "The lines on stderr");
    - ``TF_FORCE_GPU_ALLOW_GROWTH=true``: :func:`import_tensorflow` runs a first
      op, after which ``set_memory_growth()`` is too late on a GPU, so growth is
      asked for up front (lesson 05, "cuDNN failed to initialize");
    - ``TF_ENABLE_ONEDNN_OPTS=1``: a channels_first Conv2D runs on a CPU only
      through oneDNN, and TensorFlow turns oneDNN on by default only on some
      CPUs (those with AVX-512 and similar; on others it raises
      ``UnimplementedError: The Conv2D op currently only supports the NHWC
      tensor format on the CPU``). Turning it on makes every CPU show lesson
      04's channels_first behaviour alike; lesson 04 shows the failure with
      ``TF_ENABLE_ONEDNN_OPTS=0`` in a fresh process
      (:func:`convclinic.formats.channels_first_on_cpu`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def import_tensorflow():
    """Import and return ``tensorflow`` without log noise on stderr."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_environment()
    with stderr_silenced():
        import tensorflow as tf

        tf.constant(0.0) + 1.0  # the first op prints the cuInit line: keep it here
    return tf


def import_tensorflow_without_op():
    """Import and return ``tensorflow`` quietly WITHOUT running an op.

    :func:`import_tensorflow` runs one op (to flush the log lines), after which
    a GPU's memory growth can no longer be set. Lesson 05's GPU checks
    (:mod:`convclinic.gpu`) import TensorFlow through this function instead.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    quiet_environment()
    with stderr_silenced():
        import tensorflow as tf
    return tf


def import_keras(legacy=False):
    """Return Keras 3 (``keras``) or, with ``legacy=True``, Keras 2 (``tf_keras``)."""
    import_tensorflow()
    name = "tf_keras" if legacy else "keras"
    if name in sys.modules:
        return sys.modules[name]
    with stderr_silenced():
        import importlib

        module = importlib.import_module(name)
    return module
