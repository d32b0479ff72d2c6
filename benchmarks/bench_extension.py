"""Cost of ``%load_ext convclinic``: from the exception to the diagnosis box shown.

Why it matters: the box appears under a learner's traceback while they read
it; it must not make a failing cell feel slow (target: median under 300 ms on
2 cores). Measured in an in-process IPython shell on the real broken cells of
``convclinic.diagnosis.examples`` (one per cause). Timed: the extension's
handler from the moment IPython hands it the exception to the box displayed,
i.e. finding the failing call, the full ``diagnose`` walk where the model and
input are reachable (it re-runs the model), and rendering. Not timed: the
failing call itself and IPython's own traceback. Also measured: the cost of a
cell that does NOT fail, with and without the extension (it should be none),
and the load average, because other work on the machine inflates every number.
"""

from __future__ import annotations

import os
import statistics
import time

from benchmarks.harness import summary_ms

TARGET_MS = 300


def _shell():
    from IPython.core.interactiveshell import InteractiveShell

    from convclinic.diagnosis.examples import SETUP

    shell = InteractiveShell.instance()
    shell.run_cell(SETUP, silent=True)
    # Not printed here (nothing is timed in them): the traceback and the box's output.
    shell.showtraceback = lambda *args, **kwargs: None
    shell.display_pub.publish = lambda *args, **kwargs: None
    return shell


def _box_times(shell, repeat):
    from convclinic import ipython_extension as extension
    from convclinic.diagnosis.examples import BROKEN_CELLS

    per_cause = {}
    for cause, source in BROKEN_CELLS:
        samples = []
        for _ in range(repeat):
            extension._TIMING.update(seconds=None, cause=None)
            shell.run_cell(source)  # not silent: post_run_cell only runs for visible cells
            timing = extension.last_timing()
            if timing["cause"] != cause:
                raise AssertionError(f"{cause}: the box said {timing['cause']}")
            samples.append(timing["seconds"])
        per_cause[cause] = statistics.median(samples)
    return per_cause


def _passing_cell_ms(shell, repeat):
    source = "y = sum(range(100))"
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        shell.run_cell(source)
        samples.append(time.perf_counter() - start)
    return summary_ms(samples)


def run(quick=False):
    repeat = 2 if quick else 5
    load_before = os.getloadavg()
    shell = _shell()
    without = _passing_cell_ms(shell, 50 if quick else 300)
    start = time.perf_counter()
    shell.run_line_magic("load_ext", "convclinic")
    load_ms = (time.perf_counter() - start) * 1000
    with_extension = _passing_cell_ms(shell, 50 if quick else 300)
    first = _box_times(shell, 1)  # first errors: one-time costs (tf.function tracing...)
    per_cause = _box_times(shell, repeat)
    samples = list(per_cause.values())
    result = {
        "exception_to_box (median over causes)": summary_ms(samples),
        "per_cause_median_ms": {k: round(v * 1000, 2) for k, v in per_cause.items()},
        "target_ms": TARGET_MS,
        "meets_target": statistics.median(samples) * 1000 < TARGET_MS,
        "first_box_ms (first error of the session)": round(
            next(iter(first.values())) * 1000, 2),
        "load_ext_ms": round(load_ms, 2),
        "passing_cell_without_extension": without,
        "passing_cell_with_extension": with_extension,
        "load_average_before_after": [round(v, 2) for v in load_before[:1] + os.getloadavg()[:1]],
        "cores": os.cpu_count(),
    }
    shell.run_line_magic("unload_ext", "convclinic")
    return result
