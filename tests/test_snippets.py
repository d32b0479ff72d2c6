"""convclinic.snippets: code in a fresh Python process (lessons 04 and 05).

The snippets here import no TensorFlow; lesson 05's contract tests run the
TensorFlow ones (log lines, TF_USE_LEGACY_KERAS, a quiet import).
"""

from __future__ import annotations

from convclinic import snippets
from convclinic.outcome import Outcome


def test_run_snippet_returns_the_value_and_the_extra_environment():
    result = snippets.run_snippet(
        "import os\nresult = os.environ['CONVCLINIC_PROBE_VARIABLE']",
        env={"CONVCLINIC_PROBE_VARIABLE": "seen"},
    )
    assert isinstance(result, Outcome)
    assert result.ok, result.message
    assert result.value == "seen"
    assert result.returncode == 0
    assert "CONVCLINIC_PROBE_VARIABLE=seen" in str(result)
    assert result.seconds > 0


def test_run_snippet_can_remove_a_variable(monkeypatch):
    monkeypatch.setenv("CONVCLINIC_PROBE_VARIABLE", "parent")
    result = snippets.run_snippet(
        "import os\nresult = os.environ.get('CONVCLINIC_PROBE_VARIABLE')",
        env={"CONVCLINIC_PROBE_VARIABLE": None},
    )
    assert result.ok and result.value is None


def test_run_snippet_reports_the_real_exception_and_keeps_stdout_and_stderr():
    result = snippets.run_snippet(
        "import sys\nprint('before')\nprint('to stderr', file=sys.stderr)\n"
        "raise KeyError('missing thing')"
    )
    assert not result.ok
    assert result.error_type == "KeyError"
    assert "missing thing" in result.message
    assert "Traceback" in result.traceback and "<snippet>" in result.traceback
    assert result.stdout == "before"
    assert result.stderr_lines == ["to stderr"]
    assert result.text.startswith("KeyError: ")


def test_run_snippet_reports_a_crash_and_a_hang():
    crashed = snippets.run_snippet("import os, sys\nprint('dying', file=sys.stderr)\nos._exit(3)")
    assert (crashed.ok, crashed.error_type, crashed.returncode) == (False, "ProcessExited", 3)
    assert "exit code 3" in crashed.message and "dying" in crashed.message
    hung = snippets.run_snippet("import time\ntime.sleep(30)", timeout=2)
    assert (hung.ok, hung.error_type) == (False, "TimeoutExpired")
    assert "longer than 2 s" in hung.message


def test_run_snippet_values_come_back_as_json():
    result = snippets.run_snippet("result = {'shape': (1, 26, 26, 8), 'ok': True}")
    assert result.value == {"shape": [1, 26, 26, 8], "ok": True}
