"""How long the test suites take: the full suite (what `make test` runs after its install
steps) and the fast inner loop (`make test-fast`), wall time on this machine.

Both are run once each, in this order, with the repository's own interpreter; the numbers
are written to ``benchmarks/results/test_suite.json``. The full suite executes every lesson
once (the handouts build), so this is also the number to watch when a lesson gets slower.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUMMARY = re.compile(r"=+ (.*?) in ([\d.]+)s")


def _pytest(arguments):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *arguments], cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    match = SUMMARY.search(tail)
    return {"wall_s": round(wall, 1), "exit_code": done.returncode,
            "summary": match.group(1) if match else tail[-200:]}


def run(quick=False):
    fast = _pytest(["-m", "not slow"])
    results = {"fast_loop": fast, "fast_loop_target_s": 180}
    if not quick:
        results["full_suite"] = _pytest([])
    return results
