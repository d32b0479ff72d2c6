"""``convclinic export``: one trustworthy grades file per course, and files Canvas and Moodle import.

One course graded once for the module by the real CLI (01-channel-axis: ``full-solution``,
``unchanged-release``, ``corrupt-json``); a second assignment, 02-padding, is then added to the
gradebook with the real ``nbgrader db assignment add`` and handed out to nobody.

Formats checked (written from the LMS documentation):

- Canvas gradebook import ("How do I import grades in the Gradebook?", Canvas Instructor
  Guide): a CSV whose header is ``Student,ID,SIS User ID,SIS Login ID,Section`` followed by one
  column per assignment (a new name creates the assignment); the row under the header may be
  ``Points Possible`` (name in the first column, the other identity columns empty, each
  assignment's maximum). Canvas matches students by ``ID`` (the Canvas user id), else by SIS ids;
  an empty grade cell leaves the grade unchanged.
- Moodle grade import ("Grade import", CSV file): a header row, one identifier column mapped in
  "Identify user by" (here ``ID number`` or ``Email address``) and one column per grade item.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CLI = [sys.executable, "-m", "convclinic.cli"]
BIN = os.path.dirname(sys.executable)
ASSIGNMENT = matrix.ASSIGNMENT
NOTEBOOK = matrix.NOTEBOOK.removesuffix(".ipynb")
STUDENTS = ["full-solution", "unchanged-release", "corrupt-json"]
ROSTER = ("student_id,name,email,lms_id\n"
          "full-solution,Ada Lovelace,ada@example.edu,1001\n"
          "unchanged-release,Alan Turing,alan@example.edu,1002\n"
          "corrupt-json,Grace Hopper,grace@example.edu,1003\n")


def run(args, cwd=ROOT, expect=0):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=cwd, env=env, check=False)
    assert done.returncode == expect, (done.stdout + done.stderr)[-3000:]
    return done


def export(course, out, *extra, expect=0):
    return run([*CLI, "export", "--course", str(course["root"]), "--out", str(out), *extra], expect=expect)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("export")
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    matrix.build(base / "submissions", master, release, {}, STUDENTS)
    run([*CLI, "grade", str(base / "submissions"), "--out", str(base / "out"), "--workers", "2",
         "--timeout", "60", "--assignment", ASSIGNMENT])
    root = base / "out" / "course"
    run([os.path.join(BIN, "nbgrader"), "db", "assignment", "add", "02-padding"], cwd=root)
    (base / "roster.csv").write_text(ROSTER)
    return {"base": base, "root": root, "roster": base / "roster.csv"}


def read(path):
    return list(csv.DictReader(path.open()))


def test_csv_export_has_roster_manual_points_and_no_unhanded_assignment(course):
    """One row per assignment handed in (02-padding, never handed out, has none, while the real
    `nbgrader export` lists it at 0.0); roster columns; the pending explanation is flagged."""
    out = course["base"] / "grades-export.csv"
    export(course, out, "--roster", str(course["roster"]))
    rows = {row["student_id"]: row for row in read(out)}
    assert {row["assignment"] for row in rows.values()} == {ASSIGNMENT}
    assert sorted(rows) == sorted(STUDENTS)
    ada = rows["full-solution"]
    assert (ada["name"], ada["email"], ada["lms_id"]) == ("Ada Lovelace", "ada@example.edu", "1001")
    assert (float(ada["autograded"]), float(ada["manual"]), float(ada["max_score"])) == (matrix.FULL, 0, matrix.MAX)
    assert ada["needs_manual_grade"] == "yes"
    assert rows["unchanged-release"]["needs_manual_grade"] == "no"  # untouched: nbgrader scored it 0
    assert float(rows["corrupt-json"]["score"]) == 0 and "no gradable notebook" in rows["corrupt-json"]["status"]
    theirs = course["base"] / "nbgrader-export.csv"
    run([os.path.join(BIN, "nbgrader"), "export", "--to", str(theirs)], cwd=course["root"])
    padding = [row for row in read(theirs) if row["assignment"] == "02-padding"]
    assert len(padding) == len(STUDENTS) and {float(row["score"]) for row in padding} == {0.0}


def test_canvas_export_matches_the_gradebook_import_columns(course):
    """Canvas columns and Points Possible row; a grade awaiting manual grading is left blank
    (Canvas would take it as final) and named on stderr."""
    out = course["base"] / "canvas.csv"
    done = export(course, out, "--roster", str(course["roster"]), "--format", "canvas")
    lines = list(csv.reader(io.StringIO(out.read_text())))
    assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert lines[1][0].strip() == "Points Possible" and lines[1][1:] == ["", "", "", "", f"{matrix.MAX:g}"]
    body = {line[2]: line for line in lines[2:]}
    assert body["full-solution"] == ["Ada Lovelace", "1001", "full-solution", "ada@example.edu", "", ""]
    assert body["unchanged-release"][5] == "0" and body["corrupt-json"][5] == "0"
    assert "full-solution/01-channel-axis" in done.stderr


def test_manual_grade_reaches_every_export(course):
    """A manual grade set through nbgrader's API (as formgrader does): the flag goes, the manual
    point is counted apart, and Canvas and Moodle get the final score."""
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(course["root"] / "gradebook.db"), "conv2d-clinic") as book:
        explain = book.find_grade("ex01-explain", NOTEBOOK, ASSIGNMENT, "full-solution")
        explain.manual_score = 1
        explain.needs_manual_grade = False
        book.db.commit()
    out = course["base"] / "after-manual.csv"
    export(course, out)
    ada = {row["student_id"]: row for row in read(out)}["full-solution"]
    assert (ada["manual"], ada["needs_manual_grade"], float(ada["score"])) == ("1", "no", matrix.FULL + 1)
    canvas = course["base"] / "canvas-final.csv"
    export(course, canvas, "--roster", str(course["roster"]), "--format", "canvas")
    body = {line[2]: line for line in list(csv.reader(canvas.open()))[2:]}
    assert float(body["full-solution"][5]) == matrix.FULL + 1
    moodle = course["base"] / "moodle.csv"
    export(course, moodle, "--roster", str(course["roster"]), "--format", "moodle")
    lines = list(csv.reader(moodle.open()))
    assert lines[0] == ["ID number", "Email address", ASSIGNMENT]
    assert ["full-solution", "ada@example.edu", f"{matrix.FULL + 1:g}"] in lines


def test_usage_errors_are_one_line_exit_2(course, tmp_path):
    bad = tmp_path / "bad-roster.csv"
    bad.write_text("id,name\nx,y\n")
    done = export(course, tmp_path / "x.csv", "--roster", str(bad), expect=2)
    assert done.stderr.count("\n") == 1 and "student_id,name,email,lms_id" in done.stderr
    done = run([*CLI, "export", "--course", str(tmp_path), "--out", str(tmp_path / "y.csv")], expect=2)
    assert done.stderr.count("\n") == 1 and "no nbgrader course" in done.stderr
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists()
