"""The course gradebook on a real PostgreSQL server (``convclinic grade --db-url``; grader/README.md,
"The gradebook on PostgreSQL").

A throwaway cluster (Debian's postgresql package: ``initdb``/``pg_ctl`` as an unprivileged user, a
temporary folder, a free loopback port; :mod:`tests.grading.pg_server`) holds one database per test.
The same small class (01-channel-axis: full-solution, partly-wrong, unchanged-release) is graded
once into the default SQLite gradebook as the reference, then:

- on PostgreSQL: ``convclinic export`` writes the same file as on SQLite; ``convclinic feedback``
  and nbgrader itself (``nbgrader db student list``) read the same database from the course's
  ``nbgrader_config.py``;
- the server is stopped mid-batch: the merge says it waits, the server comes back, the batch
  finishes with every grade, the same as on SQLite;
- the server stays away longer than ``CONVCLINIC_DB_WAIT``: one clear line, exit 1, every row in
  grades.csv; run again with the server back, nothing is graded twice and the gradebook catches up.

Without a PostgreSQL installation these tests skip, and FAIL under CI=true.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time

import pytest

from convclinic import cli
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.grading import pg_server

pytestmark = pytest.mark.grading

CLI = [sys.executable, "-m", "convclinic.cli"]
BIN = os.path.dirname(sys.executable)
ASSIGNMENT = matrix.ASSIGNMENT
STUDENTS = ["full-solution", "partly-wrong", "unchanged-release"]


def run(args, cwd=ROOT, expect=0, **env):
    environment = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), **env)
    done = subprocess.run([str(arg) for arg in args], capture_output=True, text=True, timeout=900, cwd=cwd,
                          env=environment, check=False)
    assert done.returncode == expect, (done.stdout + done.stderr)[-3000:]
    return done


def grade_command(submissions, out, *extra):
    return [*CLI, "grade", submissions, "--out", out, "--workers", "2", "--timeout", "60",
            "--assignment", ASSIGNMENT, *extra]


def export_rows(out, tmp_path):
    target = tmp_path / f"export-{out.name}.csv"
    run([*CLI, "export", "--course", out / "course", "--out", target])
    return list(csv.DictReader(target.open()))


def grades_csv(out):
    return {row["student_id"]: row for row in csv.DictReader((out / "grades.csv").open())}


def gradebook_scores(db_url):
    """{student: score} of every submission in the gradebook at ``db_url`` (nbgrader's own API)."""
    from nbgrader.api import Gradebook, SubmittedAssignment

    with Gradebook(db_url, "default_course") as gradebook:
        return {row.student.id: float(row.score) for row in gradebook.db.query(SubmittedAssignment)}


def wait_for(condition, what, process=None, limit=600):
    deadline = time.monotonic() + limit
    while not condition():
        assert process is None or process.poll() is None, f"the batch ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server():
    with pg_server.throwaway_server() as started:
        yield started


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    folder = tmp_path_factory.mktemp("pg-class") / "submissions"
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    return matrix.build(folder, master, release, {}, STUDENTS)


@pytest.fixture(scope="module")
def on_sqlite(submissions, tmp_path_factory):
    """The reference: the class graded into the default SQLite gradebook, and its export."""
    base = tmp_path_factory.mktemp("pg-reference")
    out = base / "sqlite"
    run(grade_command(submissions, out))
    assert (out / "course" / "gradebook.db").is_file()
    return {"grades": grades_csv(out), "export": export_rows(out, base)}


def scores_of(rows):
    return {student: row["score"] for student, row in rows.items()}


@pytest.mark.slow
def test_gradebook_on_postgresql_exports_the_same_grades_as_sqlite(server, submissions, on_sqlite, tmp_path):
    url = server.createdb("same_grades")
    out = tmp_path / "out"
    run(grade_command(submissions, out, "--db-url", url))
    course = out / "course"
    assert f"c.CourseDirectory.db_url = {url!r}" in (course / "nbgrader_config.py").read_text()
    assert not (course / "gradebook.db").exists(), "the gradebook went to SQLite anyway"
    assert grades_csv(out) == on_sqlite["grades"]
    assert export_rows(out, tmp_path) == on_sqlite["export"]
    assert {student: f"{score:g}" for student, score in gradebook_scores(url).items()} == \
        {student: row["score"] for student, row in on_sqlite["grades"].items() if row["status"] != "not graded"}
    # nbgrader itself (formgrader's configuration) and convclinic feedback read the same database
    listed = run([os.path.join(BIN, "nbgrader"), "db", "student", "list"], cwd=course).stdout
    assert all(student in listed for student in STUDENTS), listed
    run([*CLI, "feedback", "--out", out, "--student", "full-solution"])
    assert list((course / "feedback" / "full-solution" / ASSIGNMENT).glob("*.html"))
    # the course remembers its database: a re-run without --db-url uses it; another URL is refused
    again = run(grade_command(submissions, out))
    assert "3 already done" in again.stdout, again.stdout
    refused = run(grade_command(submissions, out, "--db-url", "sqlite:///" + str(tmp_path / "other.db")),
                  expect=2)
    assert "differs from the gradebook of the course" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


@pytest.mark.slow
def test_server_stopped_mid_batch_the_batch_waits_and_loses_nothing(server, submissions, on_sqlite, tmp_path):
    url = server.createdb("restarted")
    out, log = tmp_path / "out", tmp_path / "stderr.txt"
    journal = out / ".convclinic" / "journal" / ASSIGNMENT
    command = [str(arg) for arg in grade_command(submissions, out, "--db-url", url)]
    command[command.index("--workers") + 1] = "1"  # slow enough to stop the server between two students
    environment = dict(os.environ, CONVCLINIC_DB_WAIT="600")
    with log.open("w") as errors:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            wait_for(lambda: journal.is_dir() and any(journal.glob("*.json")), "the first grade", process)
            server.stop()
            wait_for(lambda: "is unreachable" in log.read_text(), "the message that it waits", process)
            time.sleep(6)  # at least one more try against the stopped server
            assert process.poll() is None, log.read_text()
            server.start()
            assert process.wait(timeout=300) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
            if not server.running():
                server.start()
    message = log.read_text()
    assert "waiting for it" in message and "CONVCLINIC_DB_WAIT" in message, message
    assert "Traceback" not in message, message
    assert grades_csv(out) == on_sqlite["grades"]
    assert export_rows(out, tmp_path) == on_sqlite["export"]
    assert len(gradebook_scores(url)) == len(STUDENTS)


@pytest.mark.slow
def test_server_away_too_long_stops_clearly_and_a_rerun_catches_up(server, submissions, tmp_path):
    url = server.createdb("gone_too_long")
    subset = tmp_path / "submissions"
    for student in STUDENTS[:2]:
        shutil.copytree(submissions / student, subset / student)
    out = tmp_path / "out"
    journal = out / ".convclinic" / "journal" / ASSIGNMENT
    command = [str(arg) for arg in grade_command(subset, out, "--db-url", url)]
    command[command.index("--workers") + 1] = "1"
    environment = dict(os.environ, CONVCLINIC_DB_WAIT="3")
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        wait_for(lambda: journal.is_dir() and any(journal.glob("*.json")), "the first grade", process)
        server.stop()
        _, errors = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
        server.start()
    assert process.returncode == 1, errors
    final = errors.strip().splitlines()[-1]
    assert final.startswith("convclinic grade: error:") and "stayed unreachable for 3 s" in final, errors
    assert "run the same command again" in final and "Traceback" not in errors, errors
    expected = {student: f"{matrix.CASES[student][1]:g}" for student in STUDENTS[:2]}  # the exact scores
    assert scores_of(grades_csv(out)) == expected, "grades.csv lost a grade"
    again = run(command)
    assert "2 already done" in again.stdout, again.stdout  # nobody graded twice
    assert {student: f"{score:g}" for student, score in gradebook_scores(url).items()} == expected


@pytest.mark.slow
def test_bad_urls_and_unreachable_servers_are_one_clear_line(tmp_path, capsys):
    """No server needed: a malformed URL is a usage error (2), a server nobody answers on is 1,
    for grade, export and feedback alike; never a traceback."""
    port = pg_server.free_port()  # nothing listens there
    (tmp_path / "submissions").mkdir()
    grade = ["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "out"), "--db-url"]
    cases = [(grade + ["not a url"], 2, "is not a database URL"),
             (grade + ["mysql://teacher@127.0.0.1/grades"], 2, "PostgreSQL (postgresql://...) or SQLite"),
             (grade + ["sqlite:///relative.db"], 2, "absolute path"),
             (grade + [f"postgresql://teacher:secret@127.0.0.1:{port}/grades"], 1, "cannot reach")]
    course = tmp_path / "course"
    (course / "submitted").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.db_url = 'postgresql://teacher@127.0.0.1:{port}/grades'\n")
    cases += [(["export", "--course", str(course), "--out", str(tmp_path / "x.csv")], 1, "cannot reach"),
              (["feedback", "--course", str(course)], 1, "cannot reach"),
              (["grade", "--course", str(course), "--out", str(tmp_path / "out"), "--db-url",
                "sqlite:///" + str(course / "gradebook.db")], 2, "differs from the gradebook of the course")]
    for argv, code, text in cases:
        assert cli.main(argv) == code, argv
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and text in lines[0], (argv, captured.err)
        assert "secret" not in captured.err, "a password was printed"
