"""Shared measuring helpers for the benchmarks: medians, percentiles, the machine.

Each ``benchmarks/bench_<name>.py`` module has ``run(quick=False) -> dict``;
:mod:`benchmarks.run` calls them and writes ``benchmarks/results/<name>.json``
plus a summary in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time


def machine():
    """A description of the machine the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "gpu": _gpu(),
    }


def _gpu():
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=False,
        )
        return out.stdout.strip() or "none"
    except (OSError, subprocess.TimeoutExpired):
        return "none"


def timed(function, repeat, warmup=3):
    """Call ``function`` ``warmup`` times, then ``repeat`` times; return seconds per call."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return samples


def summary_ms(samples):
    """Median, p95, min and max of seconds samples, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples) * 1000, 4),
        "p95_ms": round(p95 * 1000, 4),
        "min_ms": round(ordered[0] * 1000, 4),
        "max_ms": round(ordered[-1] * 1000, 4),
    }
