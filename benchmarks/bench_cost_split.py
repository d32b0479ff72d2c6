"""Where one submission's grading time goes: kernel start, TensorFlow import, the notebook's own
work, judging, and nbgrader's overhead; for cold kernels (``--no-warm``) and for warm ones
(forked from the fork server, where the kernel start is fork + ready and TensorFlow is loaded).

On one assignment (01-channel-axis, as ``bench_grading``), each repetition starts a FRESH
kernel the way grading starts one: nbclient (the base of nbgrader's ``Execute``) with
:class:`convclinic.grading.sandbox.SandboxKernelManager` (bubblewrap, IPC sockets, the memory
limit, ``CONVCLINIC_GRADING=1`` so ``check()`` only collects), the worker's environment and
thread counts of ``convclinic grade --workers 1``, the assignment folder as the kernel's
working folder, and measures, in that one kernel:

1. kernel start: the sandboxed ipykernel started and ready (``wait_for_ready``), no TensorFlow;
2. the TensorFlow import: ``tf = import_tensorflow()``, the notebook's own first line;
3. the notebook's own work: every code cell of the master notebook
   (``solutions/01-channel-axis``), run as written after the import (the setup cell's Keras
   import included; its test cells' ``check()`` / ``check.hidden()`` collect the answers, the
   kernel-side work the grader's collector does), then the kernel is killed (``immediate``,
   as grading does; its time is recorded but counted in the overhead).

The floor is (1) + (2) + (3). The per-submission total is the median of the ``seconds`` each
grading process records in the journal (``bench_grading.per_submission_seconds``) in a real
sequential ``convclinic grade --workers 1`` run of full-solution submissions (the same
notebook), the masters generated beforehand, untimed. (4) grading overhead = total - floor:
nbgrader's Autograde (sanitizing, the gradebook, SaveAutoGrades) and GenerateFeedback
conversions, judging outside the kernel, the scores read back, the result folder written. The
main process's publishing (OUT/course, grades.csv, report.md after each submission) is not in
the journal's seconds; ``wall_per_submission_s`` (batch wall time / submissions, the batch's
fixed start included) shows it. Medians of ``repetitions`` kernels and ``submissions``
submissions. Run: ``.venv/bin/python -m benchmarks.run cost_split``.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

from benchmarks.harness import summary_ms

ROOT = pathlib.Path(__file__).resolve().parents[1]
ASSIGNMENT = "01-channel-axis"
MASTER = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
TF_IMPORT = "from convclinic.runtime import import_tensorflow\ntf = import_tensorflow()"
CELL_TIMEOUT = 300


def grading_environment():
    """The variables a ``--workers 1`` grading process has (worker.environment, kernel_threads)."""
    from convclinic.grading.worker import environment, kernel_threads

    threads = kernel_threads(1)
    return dict(environment(), OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads,
                TF_NUM_INTEROP_THREADS=threads, NBGRADER_EXECUTION="autograde")


def _errors(cell):
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def one_kernel(sandbox_root, warm=False):
    """One fresh sandboxed kernel (``warm``: forked by the fork server): {part: seconds} and
    {cell label: seconds}."""
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    from convclinic.grading.forkserver import GradingKernelManager

    master = nbformat.read(str(MASTER), as_version=4)
    cells = [nbformat.v4.new_code_cell(TF_IMPORT)] + [c for c in master.cells if c.cell_type == "code"]
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=master.metadata)
    config = Config()
    config.SandboxKernelManager.sandbox_root = str(sandbox_root)  # memory_mb: the default, as grading
    config.SandboxKernelManager.warm = warm
    client = NotebookClient(notebook, kernel_manager_class=GradingKernelManager, config=config,
                            timeout=CELL_TIMEOUT, startup_timeout=120, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(MASTER.parent)}})
    client.km = client.create_kernel_manager()
    times, per_cell = {}, {}
    started = time.perf_counter()
    try:
        client.start_new_kernel()
        client.start_new_kernel_client()
        times["kernel_start"] = time.perf_counter() - started
        for index, cell in enumerate(cells):
            begun = time.perf_counter()
            client.execute_cell(cell, index, store_history=True)
            label = "tensorflow_import" if index == 0 else (
                cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}")
            per_cell[label] = time.perf_counter() - begun
            if _errors(cell):
                raise RuntimeError(f"{label} failed in the sandboxed kernel: {_errors(cell)}")
    finally:
        stopping = time.perf_counter()
        if client.km is not None:
            client._cleanup_kernel()
        times["kernel_shutdown"] = time.perf_counter() - stopping
    times["tensorflow_import"] = per_cell.pop("tensorflow_import")
    times["notebook_work"] = sum(per_cell.values())
    return times, per_cell


def measure_parts(repetitions, warmup=1, warm=False):
    """Seconds of each part over ``repetitions`` fresh kernels (after ``warmup`` untimed: for warm
    kernels, that one starts the fork server)."""
    from convclinic.grading import forkserver

    saved = dict(os.environ)
    os.environ.update(grading_environment())
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cost-split-") as temp:
            for _ in range(warmup):
                one_kernel(temp, warm)
            runs = [one_kernel(temp, warm) for _ in range(repetitions)]
            forkserver.stop_all()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    parts = {name: [r[0][name] for r in runs] for name in runs[0][0]}
    cells = {name: [r[1][name] for r in runs] for name in runs[0][1]}
    return parts, cells


def sequential_grading(count, extra=()):
    """``convclinic grade --workers 1`` (plus ``extra`` options) on ``count`` full-solution
    submissions: (wall seconds, scores, journal entries)."""
    from benchmarks.bench_grading import convclinic_grade

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.submissions import matrix

    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    with tempfile.TemporaryDirectory(prefix="bench-cost-split-grade-") as temp:
        temp = pathlib.Path(temp)
        for number in range(count):
            matrix.CASES["full-solution"][0](master, release, temp / "submissions" / f"s{number:02d}", {})
        (temp / "nobody").mkdir()
        convclinic_grade(temp / "nobody", temp / "warm", workers=1)  # masters generated, untimed
        wall, scores = convclinic_grade(temp / "submissions", temp / "run", workers=1, extra=extra)
        journal = temp / "run" / "out" / ".convclinic" / "journal" / ASSIGNMENT
        entries = [json.loads(path.read_text()) for path in sorted(journal.glob("*.json"))]
    return wall, scores, entries


def _median(samples):
    return round(statistics.median(samples), 2)


def split(parts, entries):
    """Medians of one kind of kernel: its parts, and the journal's per-submission seconds."""
    totals = [entry["seconds"] for entry in entries]
    autograde = [entry["autograde_seconds"] for entry in entries]
    kernel_start, tf_import, work = (_median(parts[name]) for name in ("kernel_start", "tensorflow_import",
                                                                        "notebook_work"))
    judging = _median([entry.get("judging_seconds", 0.0) for entry in entries])
    floor = round(kernel_start + tf_import + work, 2)
    total = _median(totals)
    return {
        "kernel_start_s": kernel_start, "tensorflow_import_s": tf_import, "notebook_work_s": work,
        "floor_s": floor, "judging_s": judging, "per_submission_total_s": total,
        "grading_overhead_s": round(total - floor, 2),
        "nbgrader_overhead_s": round(total - floor - judging, 2),
        "floor_share_of_total_pct": round(100 * floor / total, 1),
        "overhead_share_of_total_pct": round(100 * (total - floor) / total, 1),
        "total_over_floor": round(total / floor, 2),
        "autograde_s": _median(autograde),
        "after_autograde_s": _median([t - a for t, a in zip(totals, autograde, strict=True)]),
        "kernel_shutdown_s": _median(parts["kernel_shutdown"]),
        "submission_seconds": sorted(totals),
    }


def run(quick=False):
    repetitions = 2 if quick else 5
    submissions = 2 if quick else 5
    cold_parts, cells = measure_parts(repetitions)
    warm_parts, _ = measure_parts(repetitions, warm=True)
    cold_wall, cold_scores, cold_entries = sequential_grading(submissions, ("--no-warm",))
    wall, scores, entries = sequential_grading(submissions)
    cold, warm = split(cold_parts, cold_entries), split(warm_parts, entries)
    return {
        "assignment": ASSIGNMENT,
        "repetitions": repetitions,
        "submissions": submissions,
        **cold,
        "warm": warm,
        "warm_total_vs_cold": round(cold["per_submission_total_s"] / warm["per_submission_total_s"], 2),
        "grade_wall_s": round(wall, 1),
        "wall_per_submission_s": round(wall / submissions, 2),
        "cold_grade_wall_s": round(cold_wall, 1),
        "parts_ms": {name: summary_ms(samples) for name, samples in cold_parts.items()},
        "warm_parts_ms": {name: summary_ms(samples) for name, samples in warm_parts.items()},
        "notebook_cells_ms": {name: summary_ms(samples) for name, samples in cells.items()},
        "scores": sorted(set(scores.values())),
        "scores_identical_warm_and_cold": scores == cold_scores,
        "note": "top level: cold kernels (--no-warm), each a fresh sandboxed ipykernel that imports "
                "TensorFlow; 'warm': kernels forked from the fork server (the default), where "
                "kernel_start_s is fork + kernel ready and the TensorFlow import is already done. "
                "floor = kernel start + TensorFlow import + the master notebook's cells, each the median "
                "of fresh sandboxed kernels started as grading starts them (SandboxKernelManager, the "
                "--workers 1 environment); total = median journal seconds of one grading process per "
                "submission in `convclinic grade --workers 1` (full solutions of the same notebook); "
                "judging_s = the judging outside the kernel (journal judging_seconds); "
                "nbgrader_overhead_s = total - floor - judging (nbgrader Autograde and GenerateFeedback, "
                "scores, the result folder, the kernel's kill); the main process's publishing per "
                "submission is outside the journal's seconds, inside wall_per_submission_s",
    }
