"""LMS intake with the real grader: ``convclinic grade`` (real nbgrader, every kernel in
bubblewrap) on downloads built the way nbgrader's docs, Canvas, Moodle and Blackboard name
their files, one batch per layout (the nbgrader-named batch shared by a module fixture).
The name parsing itself is tested fast in tests/test_lms_intake_names.py.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.fixtures.submissions.lms_downloads import (
    ASSIGNMENT,
    NOTEBOOK,
    attempt_name,
    blackboard_receipt,
    canvas_name,
    moodle_name,
    notebooks,
    zip_download,
)

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CLI = [sys.executable, "-m", "convclinic.cli"]


# --- the real grader on each LMS's download (slow) --------------------------------------------


def grade_download(base, download, *extra):
    """Run the real ``convclinic grade`` with masters holding only 01-channel-axis (so another
    assignment name is unknown); return (process, {student: [rows]}, out)."""
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    solutions = base / "solutions"
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, solutions / ASSIGNMENT)
    out = base / "out"
    done = subprocess.run([*CLI, "grade", download, "--out", out, "--workers", "2", "--solutions", solutions,
                           "--timeout", str(matrix.TIMEOUT), *map(str, extra)],
                          capture_output=True, text=True, timeout=1500, cwd=ROOT, check=False)
    rows = {}
    if (out / "grades.csv").exists():
        for row in csv.DictReader((out / "grades.csv").open()):
            rows.setdefault(row["student_id"], []).append(row)
    return done, rows, out


def graded_row(rows, student):
    (row,) = [r for r in rows[student] if r["status"].startswith("graded")]
    return row


@pytest.fixture(scope="module")
def attempts_batch(tmp_path_factory):
    """nbgrader-named zip: several attempts per student with seconds 59/00/30, an unmatched file,
    an unknown assignment."""
    base = tmp_path_factory.mktemp("lms-attempts")
    full, wrong = notebooks()
    when = (2026, 3, 4, 8, 0, 0)
    entries = [(attempt_name(ASSIGNMENT, student, stamp, NOTEBOOK), body, when) for student, stamp, body in (
        ("alice", "2026-03-02-17-45-59", full), ("alice", "2026-03-02-17-46-00", wrong),
        ("alice", "2026-03-02-17-45-30", full),
        ("bob", "2026-03-02-23-59-59", wrong), ("bob", "2026-03-03-00-00-00", full),
        ("carol", "2026-03-02-17-59-30", full))]
    entries += [("README.txt", b"downloaded from the LMS", when),
                (attempt_name("99-nope", "dan", "2026-03-02-12-00-59", "99-nope.ipynb"), full, when)]
    archive = zip_download(base / "download.zip", entries)
    before = archive.read_bytes()
    done, rows, out = grade_download(base, archive)
    return {"done": done, "rows": rows, "out": out, "unchanged": archive.read_bytes() == before}


@pytest.mark.slow
def test_attempts_zip_grades_the_latest_attempt_of_everyone(attempts_batch):
    done, rows = attempts_batch["done"], attempts_batch["rows"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(graded_row(rows, "alice")["score"]) == matrix.FULL - 2
    assert float(graded_row(rows, "bob")["score"]) == matrix.FULL
    assert float(graded_row(rows, "carol")["score"]) == matrix.FULL
    assert graded_row(rows, "alice")["status"] == (
        f"graded; attempt of 2026-03-02 17:46:00 (the latest of 3 attempts); {matrix.MANUAL}")
    assert graded_row(rows, "carol")["status"] == (
        f"graded; attempt of 2026-03-02 17:59:30; {matrix.MANUAL}")
    assert sorted(r["status"] for r in rows["alice"] if r["status"].startswith("not")) == [
        "not graded: older attempt (2026-03-02 17:45:30), graded 2026-03-02 17:46:00",
        "not graded: older attempt (2026-03-02 17:45:59), graded 2026-03-02 17:46:00"]
    assert attempts_batch["unchanged"]


@pytest.mark.slow
def test_attempts_zip_unmatched_file_and_unknown_assignment_are_rows(attempts_batch):
    rows = attempts_batch["rows"]
    assert [(r["assignment"], r["score"], r["status"]) for r in rows[""]] == [
        ("", "", "not graded: file name matches no LMS layout: 'README.txt'")]
    assert [(r["assignment"], r["status"]) for r in rows["dan"]] == [
        ("99-nope", "not graded: unknown assignment '99-nope' "
                    "(files: 99-nope_dan_attempt_2026-03-02-12-00-59_99-nope.ipynb)")]
    assert "nbgrader zip_collect (7 file(s))" in attempts_batch["done"].stdout
    report = (attempts_batch["out"] / "report.md").read_text()
    assert "### (file not matched): not graded: file name matches no LMS layout: 'README.txt'" in report
    assert "###  / " not in report


@pytest.mark.slow
def test_attempts_zip_writes_nbgrader_timestamp_for_the_graded_attempt(attempts_batch):
    collected = attempts_batch["out"] / ".convclinic" / "lms-collect" / "submitted"
    assert (collected / "alice" / ASSIGNMENT / "timestamp.txt").read_text() == "2026-03-02 17:46:00.000000 UTC"
    assert (collected / "bob" / ASSIGNMENT / "timestamp.txt").read_text() == "2026-03-03 00:00:00.000000 UTC"
    staged = attempts_batch["out"] / ".convclinic" / "staged" / ASSIGNMENT / "alice" / "timestamp.txt"
    assert staged.read_text() == "2026-03-02 17:46:00.000000 UTC"


@pytest.mark.slow
def test_canvas_zip_with_late_files_and_resubmissions(tmp_path):
    """Canvas flat zip: John resubmitted late (-1, wrong), Ana submitted once, Lee resubmitted twice
    (-1 wrong, -2 right); with a roster mapping Canvas user ids to student ids."""
    full, wrong = notebooks()
    day = (2026, 3, 2, 10, 0, 0)
    archive = zip_download(tmp_path / "submissions.zip", [
        (canvas_name("Smith", "John", 123456, NOTEBOOK, 9001), full, day),
        (canvas_name("Smith", "John", 123456, NOTEBOOK, 9002, late=True, resubmission=1), wrong, day),
        (canvas_name("Lopez", "Ana", 234567, NOTEBOOK, 9003), full, day),
        (canvas_name("Lee", "Min", 345678, NOTEBOOK, 9004), full, day),
        (canvas_name("Lee", "Min", 345678, NOTEBOOK, 9005, resubmission=1), wrong, day),
        (canvas_name("Lee", "Min", 345678, NOTEBOOK, 9006, resubmission=2), full, day)])
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,email,lms_id\ns001,John Smith,js@example.org,123456\n"
                      "s002,Ana Lopez,al@example.org,234567\ns003,Min Lee,ml@example.org,345678\n")
    done, rows, out = grade_download(tmp_path, archive, "--roster", roster)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(rows) == ["s001", "s002", "s003"]
    assert float(graded_row(rows, "s001")["score"]) == matrix.FULL - 2
    assert graded_row(rows, "s001")["status"] == (
        "graded; attempt of 2026-03-02 10:00:00 (zip entry date), resubmission -1 "
        f"(the latest of 2 attempts); marked late by Canvas; {matrix.MANUAL}")
    assert float(graded_row(rows, "s002")["score"]) == matrix.FULL
    assert float(graded_row(rows, "s003")["score"]) == matrix.FULL
    assert len(rows["s003"]) == 3
    assert "Canvas (6 file(s))" in done.stdout


@pytest.mark.slow
def test_moodle_zip_and_blackboard_zip(tmp_path):
    """Moodle folders (one with an online text beside the notebook) and a Blackboard download
    (receipts, a course title as assignment) graded in one batch each."""
    full, wrong = notebooks()
    day = (2026, 3, 2, 11, 30, 59)
    moodle = zip_download(tmp_path / "moodle.zip", [
        (moodle_name("Ana María López", 41, NOTEBOOK), full, day),
        (moodle_name("Ana María López", 41, "onlinetext.html", plugin="onlinetext"), b"<p>see notebook</p>", day),
        (moodle_name("Bo Chen", 42, NOTEBOOK), wrong, day)])
    done, rows, _ = grade_download(tmp_path / "m", moodle)
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(graded_row(rows, "41")["score"]) == matrix.FULL
    assert float(graded_row(rows, "42")["score"]) == matrix.FULL - 2
    assert graded_row(rows, "42")["status"] == (
        f"graded; attempt of 2026-03-02 11:30:58 (zip entry date); {matrix.MANUAL}")
    title = "Lab 1 Channel Axis"
    entries = []
    for user, stamp, body in (("jsmith", "2026-03-02-17-45-59", full), ("jsmith", "2026-03-02-18-00-00", wrong),
                              ("akim", "2026-03-02-09-15-30", full)):
        entries.append((attempt_name(title, user, stamp, NOTEBOOK), body, day))
        entries.append((attempt_name(title, user, stamp), blackboard_receipt(user, user, title, stamp, [NOTEBOOK]), day))
    done, rows, _ = grade_download(tmp_path / "b", zip_download(tmp_path / "blackboard.zip", entries))
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(graded_row(rows, "jsmith")["score"]) == matrix.FULL - 2
    assert float(graded_row(rows, "akim")["score"]) == matrix.FULL
    assert "Blackboard receipt (3 file(s))" in done.stdout
