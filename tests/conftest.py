"""Shared test settings for Conv2D Clinic."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN is on by default only on some CPUs (recent Intel x86); elsewhere (AMD, ARM) a float32
# channels_first Conv2D fails on the CPU. The course turns it on everywhere (convclinic.runtime,
# the Makefile) so every machine shows the same behaviour; lesson 04 teaches the switch.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


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


# The fast inner loop (`make test-fast`, i.e. `pytest -m "not slow"`) runs without
# TensorFlow: importing it costs about 5 s of CPU, and every test that needs it is slow by
# nature. Directories whose every test needs TensorFlow, nbgrader, a browser or an executed
# lesson are marked slow here; other tests that need TensorFlow carry the mark themselves,
# and a fast run FAILS a test that imports TensorFlow without it.
SLOW_DIRECTORIES = ("contract", "grading", "browser", "notebooks")
HEAVY_MODULES = ("tensorflow", "keras", "tf_keras")


def _fast_run(config):
    return (config.getoption("markexpr") or "").replace(" ", "") == "notslow"


def pytest_ignore_collect(collection_path, config):
    """The fast loop does not even import the slow directories' modules, nor a module marked
    slow as a whole (``pytestmark = pytest.mark.slow`` or a list holding it)."""
    if not _fast_run(config):
        return None
    path = pathlib.Path(collection_path).resolve()
    relative = path.relative_to(ROOT)
    if len(relative.parts) >= 2 and relative.parts[0] == "tests" \
            and relative.parts[1] in SLOW_DIRECTORIES:
        return True
    if path.suffix == ".py" and path.name.startswith("test_") \
            and _MODULE_MARKED_SLOW.search(path.read_text()):
        return True
    return None


_MODULE_MARKED_SLOW = re.compile(r"^pytestmark\s*=.*\bpytest\.mark\.slow\b", re.M)


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        parts = pathlib.Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        if parts and parts[0] in SLOW_DIRECTORIES:
            item.add_marker(pytest.mark.slow)
    if _fast_run(config):
        # deselect here too (this hook runs before `-m` filtering in later plugins)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]


@pytest.fixture(autouse=True)
def _fast_tests_stay_off_tensorflow(request):
    """In the fast loop, a test that imports TensorFlow fails and says to mark it slow."""
    if not _fast_run(request.config):
        yield
        return
    before = [name for name in HEAVY_MODULES if name in sys.modules]
    yield
    after = [name for name in HEAVY_MODULES if name in sys.modules and name not in before]
    if after:
        pytest.fail(f"{request.node.nodeid} imported {after} in the fast loop: mark it "
                    "@pytest.mark.slow (or keep TensorFlow out of it)", pytrace=False)


def pytest_collection_finish(session):
    if _fast_run(session.config):
        loaded = [name for name in HEAVY_MODULES if name in sys.modules]
        if loaded:
            raise pytest.UsageError(
                f"collecting the fast loop imported {loaded}: test modules must import "
                "TensorFlow inside slow tests, not at module level")
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
