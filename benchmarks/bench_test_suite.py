"""How long the test suites take: the full suite (`make test`, what CI runs) and the fast inner
loop (`make test-fast`), wall time on this machine.

First the install steps `make test` depends on are run (untimed for the suites, reported as
``install_s``: on a fresh clone this is the .venv, the apt and npm installs; afterwards they
are no-ops), then `make test-fast`, then `make test`, each once, with the environment this
command got (CI sets ``CI=true``: a skip fails the run). The numbers go to
``benchmarks/results/test_suite.json``. The full suite executes every lesson once (the
handouts build), so this is also the number to watch when a lesson or the grader gets slower.
The same machine can be slower one day than another (a shared host): the run also times
``import tensorflow`` in a fresh .venv Python, median of three, before and after the suites
(``reference_tf_import_s``), so two runs' wall times can be read against their machine's speed.
Run on a fresh clone to measure what CI measures:
``git clone REPO fresh && cd fresh && CI=true python3 -m benchmarks.run test_suite``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY = re.compile(r"=+ (.*?) in ([\d.]+)s")
INSTALL = [".venv/.installed-test", "system-deps", "hub/node_modules/.installed"]


def _make(targets):
    started = time.perf_counter()
    done = subprocess.run(["make", *targets], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    matches = SUMMARY.findall(done.stdout)
    return {"command": "make " + " ".join(targets), "wall_s": round(wall, 1), "exit_code": done.returncode,
            "summary": matches[-1][0] if matches else (done.stdout + done.stderr).strip()[-300:],
            "pytest_s": float(matches[-1][1]) if matches else None}


def tf_import_s(repeats=3):
    """Median wall time of ``import tensorflow`` in a fresh process of the .venv's Python."""
    python = os.path.join(ROOT, ".venv", "bin", "python")
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([python, "-c", "import tensorflow"], cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 2)


def run(quick=False):
    install = _make(INSTALL)
    results = {"install_s": install["wall_s"], "install_exit_code": install["exit_code"],
               "ci": os.environ.get("CI", ""), "reference_tf_import_s": {"before": tf_import_s()},
               "fast_loop": _make(["test-fast"]), "fast_loop_target_s": 180}
    if not quick:
        results["full_suite"] = _make(["test"])
        results["full_suite"]["minutes"] = round(results["full_suite"]["wall_s"] / 60, 1)
    results["reference_tf_import_s"]["after"] = tf_import_s()
    return results
