"""Grading throughput: ``convclinic grade`` (local pool and Dask) against plain sequential
``nbgrader autograde``.

The same 24 submissions of 01-channel-axis (full solutions, correct answers
written differently, partly wrong ones and unchanged releases, 6 of each) are
graded in one run by each of these (the warm local pool and the preloaded Dask workers three
times each, interleaved, medians reported):

- baseline: one plain ``nbgrader autograde 01-channel-axis`` run in a course
  folder configured by the course's ``grader/nbgrader_config.py`` (sequential,
  one kernel after the other, no sandbox, no feedback);
- ``convclinic grade SUBMISSIONS --out OUT --assignment 01-channel-axis`` with the
  default number of workers (the CPU count): sandbox check, bubblewrap kernels,
  feedback pages, grades.csv, kernels forked from a warm fork server (the default). The
  masters are generated once beforehand, untimed, as the baseline's ``generate_assignment`` is;
- the same with ``--no-warm``: every kernel started cold (TensorFlow imported each time);
- ``convclinic grade ... --scheduler tcp://127.0.0.1:PORT`` on a Dask cluster started with
  the stock commands on loopback: ``dask scheduler`` and two ``dask worker --nthreads 1``
  (as many grading slots as the local pool has workers on this machine), each with
  ``--preload convclinic.grading.cluster`` as grader/README.md starts them; the workers are
  started and connected beforehand, untimed, which includes the warm-up of their grading
  processes (TensorFlow imported for judging, fork server started): a long-lived worker pays it
  once for all batches, the local pool once per batch; the timed part includes sending the
  master course and every submission as bytes and the results back; and once more on workers
  started without ``--preload`` (the batch starts their grading processes: spawned, they import
  nbgrader and TensorFlow, which the local pool's forked workers inherit).

Per submission, each grading process records its own seconds (``seconds`` in the journal):
their medians, and the peak memory of each Dask worker's process tree (the nanny, the
worker, its grading process, the sandboxed kernel) give the capacity model: the cores and
memory to grade 1,000 students x 6 assignments in 30 minutes.

Both must give identical scores per student (the test cells of 01-channel-axis are
judged: plain nbgrader judges them inside each kernel, ``convclinic grade`` collects
in the kernel and judges in its worker processes, grader/README.md "How a part is
judged"). The course requires, on a 2-core machine, warm kernels at least 5x faster than the
baseline and 2x faster than cold kernels, and the Dask run at least 1.7x the baseline.
Run: ``.venv/bin/python -m benchmarks.run grading``.
"""

from __future__ import annotations

import math
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
ASSIGNMENT = "01-channel-axis"
KINDS = ("full-solution", "correct-but-different", "partly-wrong", "unchanged-release")


def build_submissions(folder, count):
    sys.path.insert(0, str(ROOT))
    from tests.fixtures.submissions import matrix

    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    students = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        student = f"s{number:02d}-{kind}"
        matrix.CASES[kind][0](master, release, pathlib.Path(folder) / student, {})
        students.append(student)
    return students


def baseline(submissions, workdir, students):
    """Plain sequential nbgrader autograde; returns (seconds, {student: score})."""
    from nbgrader.api import Gradebook

    from convclinic.release import course_config, nbgrader

    course = pathlib.Path(workdir) / "course"
    course_config(course)
    nbgrader(["generate_assignment", ASSIGNMENT, "--force"], course)
    shutil.copytree(submissions, course / "submitted")
    started = time.perf_counter()
    nbgrader(["autograde", ASSIGNMENT], course, check=False)
    seconds = time.perf_counter() - started
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s: float(gradebook.find_submission(ASSIGNMENT, s).score) for s in students}
    return seconds, scores


def convclinic_grade(submissions, workdir, workers=None, extra=()):
    """The grading CLI; returns (seconds, {student: score})."""
    import csv

    out = pathlib.Path(workdir) / "out"
    command = [sys.executable, "-m", "convclinic.cli", "grade", str(submissions), "--out", str(out),
               "--assignment", ASSIGNMENT, "--quiet", *extra]
    if workers:
        command += ["--workers", str(workers)]
    environment = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"convclinic grade failed: {done.stderr[-2000:]}")
    with (out / "grades.csv").open() as handle:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    return seconds, scores


def per_submission_seconds(workdir):
    """Median seconds one grading process spent on one submission (from the journal)."""
    import json

    journal = pathlib.Path(workdir) / "out" / ".convclinic" / "journal" / ASSIGNMENT
    return round(statistics.median(json.loads(path.read_text())["seconds"] for path in journal.glob("*.json")), 2)


def tree_rss(pid):
    """Resident memory (bytes) of a process and all its descendants."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = 0
        for process in [root, *root.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0


def dask_grade(submissions, workdir, slots, sample_memory=False, preload=True):
    """``convclinic grade --scheduler`` on ``slots`` stock ``dask worker --nthreads 1`` processes on
    loopback; returns (seconds, {student: score}, peak MiB of the largest worker's process tree, or
    None). The memory sampler reads /proc twice a second, so the timed run goes without it."""
    sys.path.insert(0, str(ROOT))
    from tests.grading.test_dask import dask_cluster

    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True)
    with dask_cluster(workdir, workers=slots, preload=preload) as (address, workers):
        peaks = {worker.pid: 0 for worker in workers}
        done = threading.Event()

        def sample():
            while not done.wait(0.5):
                for pid in peaks:
                    peaks[pid] = max(peaks[pid], tree_rss(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        if sample_memory:
            sampler.start()
        try:
            seconds, scores = convclinic_grade(submissions, workdir, extra=("--scheduler", address))
        finally:
            done.set()
            if sample_memory:
                sampler.join()
    return seconds, scores, (round(max(peaks.values()) / 2**20) if sample_memory else None)


REPEATS = 3


def _median_run(runs):
    """(median seconds, scores) of ``runs`` [(seconds, scores), ...]; every run's scores must agree."""
    assert all(scores == runs[0][1] for _, scores in runs), "repeated runs gave different scores"
    return statistics.median(seconds for seconds, _ in runs), runs[0][1]


def capacity(slot_seconds, memory_mib, students=1000, assignments=6, minutes=30):
    """Cores (one grading slot each) and memory to grade ``students`` x ``assignments`` in ``minutes``."""
    submissions = students * assignments
    slots = math.ceil(submissions * slot_seconds / (minutes * 60))
    machines = math.ceil(slots / 15)  # 16-core machines: 15 slots, one core for the worker and the OS
    return {
        "submissions": submissions, "minutes": minutes, "slot_seconds_per_submission": round(slot_seconds, 2),
        "cores": slots, "machines_16_cores": machines, "memory_per_slot_mib": memory_mib,
        "memory_gib": round(slots * memory_mib / 1024, 1),
        "text": (f"{submissions} submissions in {minutes} min at {slot_seconds:.1f} s of one core each "
                 f"(measured: wall time x slots / submissions, Dask run) need {slots} cores, e.g. "
                 f"{machines} machines of 16 cores running `dask worker --nthreads 15`, and "
                 f"{memory_mib} MiB of RAM per slot (peak of one worker's process tree: nanny, worker, "
                 f"grading process, sandboxed kernel), {slots * memory_mib / 1024:.1f} GiB in all; the "
                 "grading process that publishes the results needs one more core and about 1 GiB. Each "
                 "slot's kernel may grow up to --memory (4096 MiB by default) before the sandbox stops it."),
    }


def run(quick=False):
    count = 8 if quick else 24
    slots = os.cpu_count() or 2
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temp:
        submissions = pathlib.Path(temp) / "submissions"
        students = build_submissions(submissions, count)
        # generate the master course once, untimed (the baseline's generate_assignment is untimed too);
        # convclinic grade reuses it from its cache, as it does for any later batch of the same masters
        (pathlib.Path(temp) / "nobody").mkdir()
        convclinic_grade(pathlib.Path(temp) / "nobody", pathlib.Path(temp) / "warm")
        # the warm local pool and the preloaded Dask workers are timed REPEATS times, interleaved
        # (this machine's timings vary by several seconds from run to run): medians are reported
        ours_runs, dask_runs = [], []
        for repeat in range(REPEATS):
            ours_runs.append(convclinic_grade(submissions, pathlib.Path(temp) / f"ours-{repeat}"))
            dask_runs.append(dask_grade(submissions, pathlib.Path(temp) / f"dask-{repeat}", slots))
        ours_seconds, ours = _median_run(ours_runs)
        dask_seconds, on_dask = _median_run([run[:2] for run in dask_runs])
        ours_median = per_submission_seconds(pathlib.Path(temp) / "ours-0")
        dask_median = per_submission_seconds(pathlib.Path(temp) / "dask-0")
        cold_seconds, cold = convclinic_grade(submissions, pathlib.Path(temp) / "cold", extra=("--no-warm",))
        cold_median = per_submission_seconds(pathlib.Path(temp) / "cold")
        # the same on workers started without --preload: the batch starts their grading processes
        plain_dask_seconds, on_plain_dask, _ = dask_grade(submissions, pathlib.Path(temp) / "dask-plain", slots,
                                                          preload=False)
        # the peak memory of a worker slot, from a separate untimed run of the same submissions
        *_, memory_mib = dask_grade(submissions, pathlib.Path(temp) / "dask-memory", slots, sample_memory=True)
        base_seconds, base = baseline(submissions, pathlib.Path(temp) / "baseline", students)
    return {
        "submissions": count,
        "assignment": ASSIGNMENT,
        "workers": slots,
        "baseline_nbgrader_autograde_sequential_s": round(base_seconds, 1),
        "repeats": REPEATS,
        "convclinic_grade_s": round(ours_seconds, 1),
        "convclinic_grade_runs_s": [round(seconds, 1) for seconds, _ in ours_runs],
        "dask_2_workers_loopback_runs_s": [round(run[0], 1) for run in dask_runs],
        "convclinic_grade_cold_kernels_s": round(cold_seconds, 1),
        "warm_speedup_vs_cold": round(cold_seconds / ours_seconds, 2),
        "required_warm_speedup_vs_cold": 2.0,
        "dask_2_workers_loopback_s": round(dask_seconds, 1),
        "dask_overhead_vs_local_pool": round(dask_seconds / ours_seconds - 1, 3),
        "required_dask_overhead_at_most": 0.10,
        "dask_2_workers_no_preload_s": round(plain_dask_seconds, 1),
        "dask_no_preload_overhead_vs_local_pool": round(plain_dask_seconds / ours_seconds - 1, 3),
        "median_submission_s_local_pool": ours_median,
        "median_submission_s_dask": dask_median,
        "median_submission_s_cold_kernels": cold_median,
        "speedup": round(base_seconds / ours_seconds, 2),
        "required_speedup": 5.0,
        "cold_speedup": round(base_seconds / cold_seconds, 2),
        "dask_speedup": round(base_seconds / dask_seconds, 2),
        "required_dask_speedup": 1.7,
        "scores_identical": ours == base,
        "cold_scores_identical": cold == ours,
        "dask_scores_identical": on_dask == ours,
        "dask_no_preload_scores_identical": on_plain_dask == ours,
        "capacity_model": capacity(dask_seconds * slots / count, memory_mib),
        "scores": dict(sorted(ours.items())),
        "baseline_scores": dict(sorted(base.items())),
        "note": "convclinic grade forks its kernels from a warm, sandboxed fork server (the default); "
                "the cold run (--no-warm) starts every kernel fresh, TensorFlow import included; "
                "convclinic grade includes the sandbox check, bubblewrap kernels, judging outside the "
                "kernel (hidden cases collected after the last cell, verdicts in the workers), feedback "
                "pages, grades.csv and the merged OUT/course; master generation (generate_assignment) is "
                "untimed on both sides; the baseline is nbgrader autograde alone (test cells judge in the "
                "kernel), no sandbox, no feedback; the Dask run has its scheduler and workers started and "
                "connected beforehand (untimed; with --preload convclinic.grading.cluster their grading processes "
                "start warm then, once for all batches), on the same cores as the local pool; the peak memory "
                "per slot comes from a second, untimed Dask run with a sampler reading /proc twice a "
                "second",
    }
