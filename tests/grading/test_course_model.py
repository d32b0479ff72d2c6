"""``convclinic grade`` inside nbgrader's own course model: formgrader, due dates, batches.

One course is graded once for the module (01-channel-axis, the real CLI, real nbgrader):

1. batch A (``full-solution``, handed in 2 days after the due date set below) into OUT;
2. ``nbgrader db assignment add 01-channel-axis --duedate ...`` in OUT/course, as an instructor does;
3. batch B (``unchanged-release`` on time, ``corrupt-json``) from another folder into the same OUT.

Then: the real formgrader server lists the assignment and the submission awaiting manual
grading; the due date and the course config survived both runs; grades.csv keeps batch A's
row; the late penalty (grader/README.md: 1 point per started day) is in grades.csv, the
gradebook, ``nbgrader export`` and ``convclinic export``; an extensions.csv row removes it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.browser.harness import start_formgrader
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CLI = [sys.executable, "-m", "convclinic.cli"]
BIN = os.path.dirname(sys.executable)
ASSIGNMENT = matrix.ASSIGNMENT
NOTEBOOK = matrix.NOTEBOOK.removesuffix(".ipynb")
DUE = "2026-03-03 12:00:00 UTC"
LATE = "2026-03-05 11:00:00.000000 UTC"  # 47 h late: 2 started days, 2 points off
ON_TIME = "2026-03-02 09:00:00.000000 UTC"


def run(args, cwd=ROOT, timeout=900):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done


def grade(submissions, out):
    return run([*CLI, "grade", str(submissions), "--out", str(out), "--workers", "2", "--timeout", "60",
                "--assignment", ASSIGNMENT])


def build(folder, students, stamps):
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    matrix.build(folder, master, release, {}, students)
    for student, stamp in stamps.items():
        (folder / student / ASSIGNMENT / "timestamp.txt").write_text(stamp + "\n")


def rows_of(path):
    return {row["student_id"]: row for row in csv.DictReader(path.open())}


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("course-model")
    out = base / "out"
    build(base / "batch-a", ["full-solution"], {"full-solution": LATE})
    build(base / "batch-b", ["unchanged-release", "corrupt-json"], {"unchanged-release": ON_TIME})
    grade(base / "batch-a", out)
    run([os.path.join(BIN, "nbgrader"), "db", "assignment", "add", ASSIGNMENT, f"--duedate={DUE}"],
        cwd=out / "course")
    config_before = digest(out / "course" / "nbgrader_config.py")
    grade(base / "batch-b", out)
    return {"base": base, "out": out, "root": out / "course", "config_before": config_before}


def gradebook(root):
    from nbgrader.api import Gradebook

    return Gradebook("sqlite:///" + str(root / "gradebook.db"), "conv2d-clinic")


def test_course_keeps_nbgraders_layout(course):
    """source/, release/, submitted/ (with timestamp.txt), autograded/ and the gradebook."""
    root = course["root"]
    assert (root / "source" / ASSIGNMENT / matrix.NOTEBOOK).is_file()
    assert (root / "release" / ASSIGNMENT / matrix.NOTEBOOK).is_file()
    assert (root / "submitted" / "full-solution" / ASSIGNMENT / "timestamp.txt").read_text().strip() == LATE
    assert (root / "submitted" / "corrupt-json" / ASSIGNMENT).is_dir()
    assert (root / "autograded" / "unchanged-release" / ASSIGNMENT / matrix.NOTEBOOK).is_file()


def test_formgrader_serves_assignments_and_manual_grading_queue(course):
    """The real formgrader (jupyter server + nbgrader's extension, token auth, loopback) lists the
    assignment with its submissions, and the submission whose explanation awaits a manual grade."""
    server = start_formgrader(course["root"])

    def get(path):
        request = urllib.request.Request(server.url(path))
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    try:
        by_name = {assignment["name"]: assignment for assignment in get("/formgrader/api/assignments")}
        assert list(by_name) == [ASSIGNMENT]
        assert by_name[ASSIGNMENT]["num_submissions"] == 3  # every folder in submitted/
        assert by_name[ASSIGNMENT]["duedate"].startswith("2026-03-03T12:00:00")
        notebooks = get(f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/{NOTEBOOK}")
        waiting = sorted(n["student"] for n in notebooks if n["needs_manual_grade"])
        assert waiting == ["full-solution"]
        assert sorted(n["student"] for n in notebooks) == ["full-solution", "unchanged-release"]
    finally:
        server.stop()


def test_due_date_and_config_survive_every_run(course):
    """`nbgrader db assignment add --duedate` then two more grade runs: the due date is kept and
    the course's nbgrader_config.py is never rewritten."""
    grade(course["base"] / "batch-b", course["out"])  # a third run, nothing to grade
    with gradebook(course["root"]) as book:
        due = book.find_assignment(ASSIGNMENT).duedate
    assert due.isoformat() == "2026-03-03T12:00:00"
    assert digest(course["root"] / "nbgrader_config.py") == course["config_before"]


def test_second_batch_keeps_the_first_batchs_rows(course):
    rows = rows_of(course["out"] / "grades.csv")
    assert sorted(rows) == ["corrupt-json", "full-solution", "unchanged-release"]
    assert float(rows["full-solution"]["score"]) == matrix.FULL
    report = (course["out"] / "report.md").read_text()
    assert "- full-solution / 01-channel-axis:" in report and "- unchanged-release / 01-channel-axis:" in report
    assert report.startswith("# Grading report\n\n3 submission(s)")


def test_late_submission_gets_the_documented_penalty_everywhere(course):
    """47 h late: 2 points in grades.csv, in the gradebook (nbgrader's late_submission_penalty),
    in the real `nbgrader export` and in `convclinic export`; on time: none."""
    rows = rows_of(course["out"] / "grades.csv")
    assert rows["full-solution"]["submitted_at"] == "2026-03-05 11:00:00 UTC"
    assert rows["full-solution"]["late_penalty"] == "2"
    assert "2 point(s) late penalty" in rows["full-solution"]["status"]
    assert rows["unchanged-release"]["late_penalty"] == "0"
    with gradebook(course["root"]) as book:
        notebook = book.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "full-solution")
        assert notebook.late_submission_penalty == 2
    nbgrader_csv = course["base"] / "nbgrader-export.csv"
    run([os.path.join(BIN, "nbgrader"), "export", "--to", str(nbgrader_csv)], cwd=course["root"])
    theirs = rows_of(nbgrader_csv)
    assert float(theirs["full-solution"]["late_submission_penalty"]) == 2
    assert float(theirs["full-solution"]["score"]) == matrix.FULL - 2
    ours_csv = course["base"] / "export.csv"
    run([*CLI, "export", "--course", str(course["root"]), "--out", str(ours_csv)])
    ours = rows_of(ours_csv)
    assert ours["full-solution"]["late_penalty"] == "2"
    assert float(ours["full-solution"]["score"]) == float(theirs["full-solution"]["score"])
    assert ours["full-solution"]["due"] == "2026-03-03 12:00:00 UTC"


def test_extension_removes_the_penalty(course):
    """An extensions.csv row (new due date after the submission) and a re-run: no penalty."""
    (course["root"] / "extensions.csv").write_text(
        "student_id,assignment,new_due\nfull-solution,01-channel-axis,2026-03-06 12:00\n")
    done = grade(course["base"] / "batch-b", course["out"])
    assert "0 to grade" in done.stdout
    rows = rows_of(course["out"] / "grades.csv")
    assert rows["full-solution"]["late_penalty"] == "0"
    exported = course["base"] / "export-extended.csv"
    run([*CLI, "export", "--course", str(course["root"]), "--out", str(exported)])
    row = rows_of(exported)["full-solution"]
    assert (row["late_penalty"], row["due"]) == ("0", "2026-03-06 12:00:00 UTC")
    assert float(row["score"]) == matrix.FULL


INSTRUCTOR_CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "my-course"
c.CourseDirectory.db_url = "sqlite:///{db}"
'''


def test_course_option_grades_an_instructors_course_in_place(tmp_path):
    """`--course DIR` with no SUBMISSIONS: an instructor's own course (its config, its database
    URL and course id, a due date set before any grading) graded from its submitted/."""
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    root, database = tmp_path / "my-course", tmp_path / "elsewhere" / "grades.sqlite"
    database.parent.mkdir()
    root.mkdir()
    (root / "nbgrader_config.py").write_text(INSTRUCTOR_CONFIG.format(db=database))
    config = digest(root / "nbgrader_config.py")
    run([os.path.join(BIN, "nbgrader"), "db", "assignment", "add", ASSIGNMENT, f"--duedate={DUE}"], cwd=root)
    build(root / "submitted", ["full-solution"], {"full-solution": LATE})
    out = tmp_path / "out"
    run([*CLI, "grade", "--course", str(root), "--out", str(out), "--workers", "1", "--timeout", "60",
         "--assignment", ASSIGNMENT])
    assert digest(root / "nbgrader_config.py") == config
    assert not (out / "course").exists() and not (root / "gradebook.db").exists()
    assert (root / "source" / ASSIGNMENT / matrix.NOTEBOOK).is_file()
    assert (root / "autograded" / "full-solution" / ASSIGNMENT / matrix.NOTEBOOK).is_file()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{database}", "my-course") as book:
        assert book.find_assignment(ASSIGNMENT).duedate.isoformat() == "2026-03-03T12:00:00"
        submission = book.find_submission(ASSIGNMENT, "full-solution")
        assert submission.timestamp.isoformat() == "2026-03-05T11:00:00"
        # the default late policy applies when the instructor's config names none
        assert float(submission.score) == matrix.FULL and float(submission.late_submission_penalty) == 2
    row = rows_of(out / "grades.csv")["full-solution"]
    assert (row["score"], row["submitted_at"], row["late_penalty"]) == (f"{matrix.FULL:g}", "2026-03-05 11:00:00 UTC", "2")


def test_the_merged_gradebook_has_the_schema_revision_nbgrader_stamps(course, tmp_path):
    """The grader stamps a new gradebook with the alembic revision read in-process
    (nbgrader_setup.alembic_head); nbgrader itself runs `alembic heads`: the same revision, in the
    merged course's gradebook and in a gradebook created after the switch."""
    import sqlite3

    from nbgrader.api import Gradebook

    from convclinic.grading import nbgrader_setup

    environment = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    done = subprocess.run([BIN + "/python", "-c", "from nbgrader.api import get_alembic_version as v; print(v())"],
                          capture_output=True, text=True, env=environment, timeout=300, check=True)
    stamped_by_nbgrader = done.stdout.strip()
    assert nbgrader_setup.alembic_head() == stamped_by_nbgrader
    merged = sqlite3.connect(course["out"] / "course" / "gradebook.db")
    assert merged.execute("SELECT version_num FROM alembic_version").fetchall() == [(stamped_by_nbgrader,)]
    nbgrader_setup.prepare_gradebook_api()
    with Gradebook("sqlite:///" + str(tmp_path / "new.db")):
        pass
    fresh = sqlite3.connect(tmp_path / "new.db")
    assert fresh.execute("SELECT version_num FROM alembic_version").fetchall() == [(stamped_by_nbgrader,)]
