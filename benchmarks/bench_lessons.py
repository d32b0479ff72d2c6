"""Headless execution time of every notebook in notebooks/ (target: <= 30 s each).

Each notebook runs top to bottom in a FRESH ``python3`` kernel through nbclient,
as ``make test`` (nbval) and ``make handouts`` run them: the time includes
starting the kernel and importing TensorFlow (about 4 s). Cells tagged
``raises-exception`` are allowed to raise; any other error marks the notebook
failed. ``TF_CPP_MIN_LOG_LEVEL=3`` as in the test suite.
"""

from __future__ import annotations

import os
import pathlib
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
TARGET_S = 30.0


def execute(path, timeout=600):
    """Run one notebook headless; return (seconds, error or None)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
        error = None
    except Exception as exc:  # noqa: BLE001 - a failing lesson is a result, not a crash
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
    return time.perf_counter() - start, error


def run(quick=False):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if quick:
        paths = paths[:2]
    results = {}
    for path in paths:
        seconds, error = execute(path)
        results[path.name] = {
            "seconds": round(seconds, 2),
            "ok": error is None,
            "within_target": error is None and seconds <= TARGET_S,
            **({"error": error} if error else {}),
        }
        print(f"  {path.name}: {seconds:.1f} s{' FAILED ' + error if error else ''}", flush=True)
    return {
        "target_seconds_each": TARGET_S,
        "notebooks": results,
        "all_ok_within_target": bool(results) and all(
            r["within_target"] for r in results.values()
        ),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
