"""Shared test settings for Conv2D Clinic."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def require_command(name, why):
    """Return the path of a command; a missing command FAILS under CI=true, skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing ({why}); `make system-deps` installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def root():
    return ROOT


# The full suite (plain `pytest`, as `make test` runs it) must really run: a
# collection that lost most of its tests (an import error swallowed, a bad
# glob) or a CI run where everything skipped must fail, not pass quietly.
MIN_FULL_SUITE_TESTS = 100


def _is_full_suite(config):
    return not config.args or [str(a).rstrip("/") for a in config.args] == ["tests"]


def pytest_collection_finish(session):
    if _is_full_suite(session.config) and not session.config.getoption("keyword") \
            and not session.config.getoption("markexpr"):
        count = len(session.items)
        if count < MIN_FULL_SUITE_TESTS:
            raise pytest.UsageError(
                f"only {count} tests collected for the full suite (expected >= {MIN_FULL_SUITE_TESTS})"
            )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not IN_CI:
        return
    skipped = terminalreporter.stats.get("skipped", [])
    if skipped:
        terminalreporter.write_line(f"CI=true: {len(skipped)} skipped tests count as failures", red=True)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if IN_CI and reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1
