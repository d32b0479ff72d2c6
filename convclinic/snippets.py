"""Run code in a fresh Python process, with chosen environment variables.

Some settings are read ONCE, when TensorFlow or Keras is imported:
``TF_ENABLE_ONEDNN_OPTS`` (lesson 04, channels_first on the CPU), ``KERAS_HOME``
and its ``keras.json`` (lesson 04), ``TF_USE_LEGACY_KERAS`` and
``TF_CPP_MIN_LOG_LEVEL`` (lesson 05). A notebook that already imported
TensorFlow cannot show their effect in its own process, so the lessons run
such code here, in a new one:

- :func:`run_snippet` runs a snippet and returns a
  :class:`convclinic.outcome.Outcome` with the REAL result: the snippet's
  ``result`` variable, or the exception it raised (type and cleaned message),
  a crash (``ProcessExited``) or a hang (``TimeoutExpired``), plus what it
  wrote on stdout and stderr;
- :func:`tensorflow_log_lines` shows the C++ log lines TensorFlow writes on
  stderr at import and at the first op (lesson 05, "The lines on stderr").

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

from convclinic.outcome import Outcome

__all__ = ["run_snippet", "tensorflow_log_lines", "TF_LOG_SNIPPET", "RESULT_MARK"]

#: The line the child prints before its JSON outcome (after anything the snippet printed).
RESULT_MARK = "__CONVCLINIC_RESULT__"

_WRAPPER = textwrap.dedent(
    f"""
    import json, sys, traceback
    source = open(sys.argv[1], encoding="utf-8").read()
    namespace = {{"__name__": "__main__"}}
    outcome = {{"error_type": None, "message": None, "value": None, "traceback": None}}
    try:
        exec(compile(source, "<snippet>", "exec"), namespace)
        outcome["value"] = namespace.get("result")
    except BaseException as error:
        try:
            from convclinic.runtime import clean_message
            message = clean_message(error)
        except Exception:
            message = str(error)
        outcome.update(error_type=type(error).__name__, message=message,
                       traceback=traceback.format_exc())
    sys.stdout.flush()
    print("\\n{RESULT_MARK}" + json.dumps(outcome, default=repr), flush=True)
    """
)


def _child_environment(env):
    """This process's environment with ``env`` applied (``None`` removes a variable)."""
    child_env = dict(os.environ)
    for name, value in env.items():
        if value is None:
            child_env.pop(name, None)
        else:
            child_env[name] = str(value)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    child_env["PYTHONUNBUFFERED"] = "1"
    return child_env


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _read_outcome(completed, env, seconds):
    """Turn a finished child process into an :class:`Outcome`."""
    common = dict(env=env, returncode=completed.returncode, stderr=completed.stderr,
                  seconds=seconds)
    stdout, _, outcome_line = completed.stdout.rpartition(RESULT_MARK)
    if not outcome_line:
        tail = "\n".join([line for line in completed.stderr.splitlines() if line.strip()][-5:])
        message = f"the process ended with exit code {completed.returncode}\n{tail}".strip()
        return Outcome(error_type="ProcessExited", message=message, stdout=completed.stdout,
                       **common)
    return Outcome(stdout=stdout.rstrip("\n"), **json.loads(outcome_line), **common)


def run_snippet(code, env=None, timeout=180):
    """Run ``code`` in a new Python process with extra environment variables.

    ``env`` maps variable names to values (``None`` removes a variable). The
    snippet may set a variable ``result`` (JSON-able) to report a value: the
    outcome's ``value``. The outcome is the REAL one: the exception the child
    raised (type and cleaned message), a crash (``ProcessExited``) or a hang
    (``TimeoutExpired``); ``stdout``/``stderr`` hold what the child wrote
    (TensorFlow's C++ log lines land in ``stderr``).

    >>> run_snippet("result = 6 * 7").value   # doctest: +SKIP
    42
    """
    env = dict(env or {})
    with tempfile.TemporaryDirectory(prefix="convclinic-snippet-") as folder:
        path = os.path.join(folder, "snippet.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(textwrap.dedent(code))
        start = time.perf_counter()
        try:
            completed = subprocess.run(
                [sys.executable, "-c", _WRAPPER, path],
                env=_child_environment(env),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as error:
            return Outcome(
                error_type="TimeoutExpired",
                message=f"the snippet ran longer than {timeout} s and was stopped",
                env=env, stdout=_text(error.stdout), stderr=_text(error.stderr),
                seconds=time.perf_counter() - start,
            )
    return _read_outcome(completed, env, time.perf_counter() - start)


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
    return run_snippet(TF_LOG_SNIPPET, env={"TF_CPP_MIN_LOG_LEVEL": str(level)}).stderr_lines
