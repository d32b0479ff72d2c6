"""``convclinic grade``: a batch killed with SIGKILL resumes; LMS zips; the command line itself."""

from __future__ import annotations

import copy
import csv
import json
import pathlib
import signal
import subprocess
import sys
import time

import nbformat
import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = pytest.mark.grading

CLI = [sys.executable, "-m", "convclinic.cli"]
ASSIGNMENT = matrix.ASSIGNMENT


def run_cli(*args, timeout=900):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def master_and_release():
    return matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)


def rows_of(out):
    return {row["student_id"]: row for row in csv.DictReader((out / "grades.csv").open())}


def processes_mentioning(text):
    """PIDs of live processes whose command line contains ``text`` (workers, bwrap, kernels)."""
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                status = (entry / "status").read_text()
            except OSError:
                continue
            if text in command and "State:\tZ" not in status:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_batch_killed_mid_run_resumes_without_regrading_finished_students(tmp_path):
    """SIGKILL the grader after the first student is journaled; the restart grades only the others,
    leaves the finished student's entry untouched, and every row and file is whole."""
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    master, _ = master_and_release()
    submissions, out = tmp_path / "submissions", tmp_path / "out"
    students = [f"student-{n}" for n in range(1, 5)]
    for student in students:
        matrix.full_solution(master, None, submissions / student, {})
    journal = out / ".convclinic" / "journal" / ASSIGNMENT
    process = subprocess.Popen([*CLI, "grade", str(submissions), "--out", str(out), "--workers", "1",
                                "--assignment", ASSIGNMENT], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not (journal.is_dir() and any(journal.glob("*.json"))):
        assert process.poll() is None, "the batch ended before it could be killed"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {path.name: path.read_bytes() for path in journal.glob("*.json")}
    assert 1 <= len(finished) < len(students)
    deadline = time.monotonic() + 20  # workers die with their parent (PR_SET_PDEATHSIG), kernels with them
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(out)) == [], "orphan workers or kernels survived the kill"
    partial = rows_of(out)  # the grades.csv left behind is complete for the students it lists
    assert set(partial) <= set(students)

    again = run_cli("grade", submissions, "--out", out, "--workers", 2, "--assignment", ASSIGNMENT)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(finished)} already done" in again.stdout
    for name, content in finished.items():
        assert (journal / name).read_bytes() == content, f"{name} was graded again"
    rows = rows_of(out)
    assert sorted(rows) == students
    assert all(float(row["score"]) == matrix.FULL and row["status"] == matrix.GRADED_MANUAL for row in rows.values())
    for student in students:
        entry = json.loads((journal / f"{student}.json").read_text())
        assert entry["score"] == matrix.FULL
        assert (out / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").stat().st_size > 1000
    leftovers = [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert not leftovers


@pytest.mark.slow
def test_lms_zip_with_two_submissions_from_one_student_grades_the_latest(tmp_path):
    """An LMS zip (nbgrader zip_collect naming): a student who submitted twice is graded on the
    attempt with the latest timestamp, and the status says so."""
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    master, _ = master_and_release()
    wrong = copy.deepcopy(master)
    for cell in wrong.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ex01-add-channel-axis-answer":
            cell.source = "def add_channel_axis(images, data_format='channels_last'):\n    return images\n"
    archive = matrix.lms_zip(tmp_path / "download.zip", [
        ("twice", "2026-03-01-09-00-00", master),       # first attempt: full marks
        ("twice", "2026-03-02-17-45-10", wrong),        # the latest: part 1 wrong
        ("once", "2026-03-01-12-00-00", master),
    ])
    before = archive.read_bytes()
    done = run_cli("grade", archive, "--out", tmp_path / "out", "--workers", 2, "--assignment", ASSIGNMENT)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "out" / "grades.csv").open()))
    graded = {row["student_id"]: row for row in rows if row["status"].startswith("graded")}
    assert float(graded["once"]["score"]) == matrix.FULL
    assert float(graded["twice"]["score"]) == matrix.FULL - 2
    assert graded["twice"]["status"] == (
        f"graded; attempt of 2026-03-02 17:45:10 (the latest of 2 attempts); {matrix.MANUAL}")
    assert [row["status"] for row in rows if row["student_id"] == "twice" and row not in graded.values()] == [
        "not graded: older attempt (2026-03-01 09:00:00), graded 2026-03-02 17:45:10"]
    assert archive.read_bytes() == before


def test_help_of_each_command():
    """`convclinic --help`, `convclinic grade --help`, `convclinic release --help` explain themselves."""
    for args, words in (([], ["release", "grade"]),
                        (["grade"], ["SUBMISSIONS", "--out", "--workers", "--timeout", "--assignment",
                                     "grades.csv", "zip", "Exit status"]),
                        (["release"], ["ASSIGNMENT", "--dest"])):
        done = run_cli(*args, "--help", timeout=60)
        assert done.returncode == 0
        for word in words:
            assert word in done.stdout, (args, word)


def test_bad_command_lines_exit_2():
    """Usage errors: --workers 0, a missing --out."""
    assert run_cli("grade", "x", "--out", "y", "--workers", "0", timeout=60).returncode == 2
    assert run_cli("grade", "x", timeout=60).returncode == 2


def test_grader_that_cannot_run_exits_1_with_a_clear_message(tmp_path):
    """No such submissions / no such assignment: exit 1 and one clear line, no traceback."""
    missing = run_cli("grade", tmp_path / "nowhere", "--out", tmp_path / "out", timeout=120)
    assert missing.returncode == 1
    assert "submissions not found" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "subs").mkdir()
    unknown = run_cli("grade", tmp_path / "subs", "--out", tmp_path / "out2", "--assignment", "99-nope",
                      timeout=120)
    assert unknown.returncode == 1
    assert "unknown assignment '99-nope'" in unknown.stderr or "bubblewrap" in unknown.stderr


def test_zip_that_is_not_a_zip_exits_1(tmp_path):
    """A corrupt LMS download is the grader's problem (exit 1), named clearly."""
    require_command("bwrap", "the grader checks its sandbox first")
    bogus = tmp_path / "download.zip"
    bogus.write_bytes(b"not a zip at all")
    done = run_cli("grade", bogus, "--out", tmp_path / "out", "--assignment", ASSIGNMENT, timeout=300)
    assert done.returncode == 1
    assert "is not a readable zip file" in done.stderr


def test_notebooks_in_matrix_are_valid(tmp_path):
    """The fixture builders write notebooks nbformat accepts (except the deliberately broken ones)."""
    master, release = master_and_release()
    matrix.build(tmp_path, master, release, {"secrets": [], "others": [], "state": [], "port": 9},
                 ["full-solution", "duplicated-cells", "old-nbformat-v3"])
    nbformat.validate(nbformat.read(tmp_path / "duplicated-cells" / ASSIGNMENT / matrix.NOTEBOOK, 4))
    assert json.loads((tmp_path / "old-nbformat-v3" / ASSIGNMENT / matrix.NOTEBOOK).read_text())["nbformat"] == 3
