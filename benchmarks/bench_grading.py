"""Grading throughput: ``convclinic grade`` against plain sequential ``nbgrader autograde``.

The same 24 submissions of 01-channel-axis (full solutions, correct answers
written differently, partly wrong ones and unchanged releases, 6 of each) are
graded twice:

- baseline: one plain ``nbgrader autograde 01-channel-axis`` run in a course
  folder configured by the course's ``grader/nbgrader_config.py`` (sequential,
  one kernel after the other, no sandbox, no feedback);
- ``convclinic grade SUBMISSIONS --out OUT --assignment 01-channel-axis`` with the
  default number of workers (the CPU count): sandbox check, bubblewrap kernels,
  feedback pages, grades.csv. The masters are generated once beforehand, untimed,
  as the baseline's ``generate_assignment`` is.

Both must give identical scores per student (the test cells of 01-channel-axis are
judged: plain nbgrader judges them inside each kernel, ``convclinic grade`` collects
in the kernel and judges in its worker processes, grader/README.md "How a part is
judged"). The course requires a speedup of at least 1.7 on a 2-core machine.
Run: ``.venv/bin/python -m benchmarks.run grading``.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
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


def convclinic_grade(submissions, workdir, workers=None):
    """The grading CLI; returns (seconds, {student: score})."""
    import csv

    out = pathlib.Path(workdir) / "out"
    command = [sys.executable, "-m", "convclinic.cli", "grade", str(submissions), "--out", str(out),
               "--assignment", ASSIGNMENT, "--quiet"]
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


def run(quick=False):
    count = 8 if quick else 24
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temp:
        submissions = pathlib.Path(temp) / "submissions"
        students = build_submissions(submissions, count)
        # generate the master course once, untimed (the baseline's generate_assignment is untimed too);
        # convclinic grade reuses it from its cache, as it does for any later batch of the same masters
        (pathlib.Path(temp) / "nobody").mkdir()
        convclinic_grade(pathlib.Path(temp) / "nobody", pathlib.Path(temp) / "warm")
        ours_seconds, ours = convclinic_grade(submissions, pathlib.Path(temp) / "ours")
        base_seconds, base = baseline(submissions, pathlib.Path(temp) / "baseline", students)
    return {
        "submissions": count,
        "assignment": ASSIGNMENT,
        "workers": os.cpu_count(),
        "baseline_nbgrader_autograde_sequential_s": round(base_seconds, 1),
        "convclinic_grade_s": round(ours_seconds, 1),
        "speedup": round(base_seconds / ours_seconds, 2),
        "required_speedup": 1.7,
        "scores_identical": ours == base,
        "scores": dict(sorted(ours.items())),
        "baseline_scores": dict(sorted(base.items())),
        "note": "convclinic grade includes the sandbox check, bubblewrap kernels, judging outside the "
                "kernel (hidden cases collected after the last cell, verdicts in the workers), feedback "
                "pages, grades.csv and the merged OUT/course; master generation (generate_assignment) is "
                "untimed on both sides; the baseline is nbgrader autograde alone (test cells judge in the "
                "kernel), no sandbox, no feedback",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
