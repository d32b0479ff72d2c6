"""``convclinic grade`` writes OUT/course: one nbgrader course for manual grading and export.

A small batch (the master solution, the unchanged release, a corrupt file) of
01-channel-axis is graded by the real CLI; the merged gradebook is then read with
nbgrader's own API, a manual grade is set through that API (as formgrader does)
and the real ``nbgrader export`` is run in OUT/course with the generated config.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = pytest.mark.grading

CLI = [sys.executable, "-m", "convclinic.cli"]
ASSIGNMENT = matrix.ASSIGNMENT
NOTEBOOK = matrix.NOTEBOOK.removesuffix(".ipynb")
STUDENTS = ["full-solution", "unchanged-release", "corrupt-json"]
MANUAL_ID = "ex01-explain"


def grade(submissions, out):
    done = subprocess.run([*CLI, "grade", str(submissions), "--out", str(out), "--workers", "2",
                           "--timeout", "60", "--assignment", ASSIGNMENT],
                          capture_output=True, text=True, timeout=900, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def gradebook(out):
    from nbgrader.api import Gradebook

    return Gradebook("sqlite:///" + str(out / "course" / "gradebook.db"), "conv2d-clinic")


def snapshot(out):
    """Everything a grader sees in the merged gradebook, as plain values."""
    from nbgrader.api import Grade, SubmittedAssignment

    with gradebook(out) as book:
        grades = sorted(
            (g.student.id, g.assignment.name, g.notebook.name, g.name, g.auto_score, g.manual_score,
             g.needs_manual_grade)
            for g in book.db.query(Grade).all())
        submissions = sorted((s.student.id, s.assignment.name) for s in book.db.query(SubmittedAssignment).all())
        students = sorted(s.id for s in book.students)
    return {"grades": grades, "submissions": submissions, "students": students}


def master_grade_cells():
    master, _ = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    return {cell.metadata["nbgrader"]["grade_id"]: float(cell.metadata["nbgrader"]["points"])
            for cell in master.cells if cell.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("cli-gradebook")
    submissions, out = base / "submissions", base / "out"
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    matrix.build(submissions, master, release, {}, STUDENTS)
    before = matrix.file_hashes(submissions)
    grade(submissions, out)
    rows = {row["student_id"]: row for row in csv.DictReader((out / "grades.csv").open())}
    return {"base": base, "submissions": submissions, "out": out, "rows": rows, "before": before,
            "snapshot": snapshot(out)}


def test_merged_gradebook_holds_the_assignment_definition(batch):
    """Every grade cell of the master, with its points, is in OUT/course/gradebook.db."""
    with gradebook(batch["out"]) as book:
        notebook = book.find_notebook(NOTEBOOK, ASSIGNMENT)
        cells = {cell.name: float(cell.max_score) for cell in notebook.grade_cells}
        assert cells == master_grade_cells()
        assert float(book.find_assignment(ASSIGNMENT).max_score) == matrix.MAX


def test_autograded_scores_equal_grades_csv(batch):
    """Each graded student's submission: the same score as grades.csv, its autograded notebook
    on disk, and the explanation cell waiting for a manual grade."""
    rows = batch["rows"]
    assert set(rows) == set(STUDENTS)
    assert [float(rows[s]["score"]) for s in ("full-solution", "unchanged-release")] == [matrix.FULL, 0]
    with gradebook(batch["out"]) as book:
        assert sorted(student.id for student in book.students) == sorted(STUDENTS)
        for student in ("full-solution", "unchanged-release"):
            submission = book.find_submission(ASSIGNMENT, student)
            assert float(submission.score) == float(rows[student]["score"])
            assert float(submission.max_score) == float(rows[student]["max_score"])
            path = batch["out"] / "course" / "autograded" / student / ASSIGNMENT / matrix.NOTEBOOK
            assert path.stat().st_size > 1000
        # an answered explanation awaits its manual grade; an untouched one nbgrader scores 0 itself
        explain = book.find_grade(MANUAL_ID, NOTEBOOK, ASSIGNMENT, "full-solution")
        assert (explain.auto_score, explain.manual_score, explain.needs_manual_grade) == (None, None, True)
        assert rows["full-solution"]["status"] == matrix.GRADED_MANUAL
        untouched = book.find_grade(MANUAL_ID, NOTEBOOK, ASSIGNMENT, "unchanged-release")
        assert (untouched.auto_score, untouched.needs_manual_grade) == (0, False)
        # the corrupt file was not graded: the student is listed, with no submission (scores 0)
        assert book.find_student("corrupt-json").submissions == []
    assert matrix.file_hashes(batch["submissions"]) == batch["before"]


def test_rerun_leaves_the_gradebook_equivalent(batch):
    """The same command again: same grades, one submission per graded student, nobody regraded."""
    done = grade(batch["submissions"], batch["out"])
    assert f"{len(STUDENTS)} already done" in done.stdout
    after = snapshot(batch["out"])
    assert after == batch["snapshot"]
    assert after["submissions"] == [("full-solution", ASSIGNMENT), ("unchanged-release", ASSIGNMENT)]


def test_manual_grade_then_nbgrader_export(batch):
    """A manual grade set through nbgrader's API (as formgrader does) is exported by the real
    `nbgrader export` run in OUT/course, and survives a re-run of the grader."""
    out = batch["out"]
    with gradebook(out) as book:
        explain = book.find_grade(MANUAL_ID, NOTEBOOK, ASSIGNMENT, "full-solution")
        explain.manual_score = 1
        explain.needs_manual_grade = False
        book.db.commit()
    exported = batch["base"] / "export.csv"
    nbgrader = os.path.join(os.path.dirname(sys.executable), "nbgrader")
    done = subprocess.run([nbgrader, "export", "--to", str(exported)], cwd=out / "course",
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["student_id"]: row for row in csv.DictReader(exported.open())}
    assert set(rows) == set(STUDENTS)
    assert {row["assignment"] for row in rows.values()} == {ASSIGNMENT}
    assert float(rows["full-solution"]["score"]) == matrix.FULL + 1
    assert float(rows["unchanged-release"]["score"]) == 0
    assert float(rows["corrupt-json"]["score"]) == 0
    assert float(rows["full-solution"]["max_score"]) == matrix.MAX

    grade(batch["submissions"], out)  # re-running the grader keeps the manual grade
    with gradebook(out) as book:
        explain = book.find_grade(MANUAL_ID, NOTEBOOK, ASSIGNMENT, "full-solution")
        assert explain.manual_score == 1 and explain.needs_manual_grade is False
        assert float(book.find_submission(ASSIGNMENT, "full-solution").score) == matrix.FULL + 1
