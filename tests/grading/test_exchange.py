"""The whole nbgrader exchange cycle with two students, every step a real command.

release_assignment -> fetch_assignment (each student) -> submit (each student) -> collect ->
convclinic grade --course -> a manual grade and comment (nbgrader's Gradebook API, as
formgrader writes them) -> convclinic feedback -> release_feedback -> fetch_feedback (each
student).

The exchange is a temporary folder (``--Exchange.root``); each student is a separate working
folder and ``HOME`` (so a separate nbgrader cache of their submission secret) with their own
``--student`` id. What this proves: nbgrader's own exchange delivers to each student the page
made from THEIR submission (fetch_feedback finds it by the hash of that student's own secret),
with the TA's score and comment and without hidden tests; ``submission_secret.txt`` and
``timestamp.txt`` are never reported as extra files; and every nbgrader command runs from the
venv's ``bin/nbgrader`` with a PATH that lacks the venv (``alembic`` included). What it does
not prove: the exchange's file permissions between real Unix accounts (everything runs as one
user here).
"""

from __future__ import annotations

import csv
import os
import shutil
import sys

import nbformat
import pytest

from convclinic.release import course_config
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.grading import feedback_support as support
from tests.grading import harness

pytestmark = [pytest.mark.grading, pytest.mark.slow]

ASSIGNMENT = support.ASSIGNMENT
PLAIN_PATH = "/usr/bin:/bin"  # no venv on PATH: the commands must not need it
WRONG_PART_1 = ('def add_channel_axis(images, data_format="channels_last"):\n'
                "    return np.expand_dims(np.asarray(images), -1)\n")
STUDENTS = {"alice": (None, 1, "Alice: right, the declared axis of 1."),
            "bob": (WRONG_PART_1, 0, "Bob: which axis does Keras add?")}


def plain_env(home):
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=PLAIN_PATH, HOME=str(home))
    return env


def nbgrader(args, cwd, home, exchange):
    return support.run([support.NBGRADER, *args, f"--Exchange.root={exchange}"], cwd=cwd, env=plain_env(home))


def answer(notebook_path, wrong_part_1):
    master = harness.read(ROOT / "solutions" / ASSIGNMENT / matrix.NOTEBOOK)
    answers = harness.answers_of(master)
    answers[support.MANUAL_ID] = matrix.EXPLANATION
    if wrong_part_1:
        answers["ex01-add-channel-axis-answer"] = wrong_part_1
    nbformat.write(harness.patched(harness.read(notebook_path), answers), str(notebook_path))


@pytest.fixture(scope="module")
def cycle(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    venv_config = os.path.join(sys.prefix, "etc", "jupyter", "nbgrader_config.py")
    assert os.path.isfile(venv_config), "run `make` (it installs grader/venv_nbgrader_config.py in the venv)"
    base = tmp_path_factory.mktemp("exchange")
    exchange, course, out = base / "exchange", base / "course", base / "out"
    exchange.mkdir()
    instructor = base / "instructor-home"
    instructor.mkdir()
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    course_config(course, source=course / "source", extra=f"c.Exchange.root = {str(exchange)!r}\n")
    steps = {}
    steps["generate"] = nbgrader(["generate_assignment", ASSIGNMENT], course, instructor, exchange)
    steps["release"] = nbgrader(["release_assignment", ASSIGNMENT], course, instructor, exchange)
    homes = {}
    for student, (wrong, _, _) in STUDENTS.items():
        home = homes[student] = base / f"home-{student}"
        home.mkdir()
        nbgrader(["fetch_assignment", ASSIGNMENT, "--course", support.COURSE_ID], home, home, exchange)
        answer(home / ASSIGNMENT / matrix.NOTEBOOK, wrong)
        nbgrader(["submit", ASSIGNMENT, "--course", support.COURSE_ID, "--student", student], home, home, exchange)
    steps["collect"] = nbgrader(["collect", ASSIGNMENT], course, instructor, exchange)
    steps["grade"] = support.run([sys.executable, "-m", "convclinic.cli", "grade", "--course", str(course),
                                  "--out", str(out), "--assignment", ASSIGNMENT, "--workers", "2",
                                  "--timeout", "60"], env=plain_env(instructor))
    for student, (_, score, comment) in STUDENTS.items():
        support.review(course, student, score, comment)
    steps["feedback"] = support.run([sys.executable, "-m", "convclinic.cli", "feedback", "--course", str(course)],
                                    env=plain_env(instructor))
    steps["release_feedback"] = nbgrader(["release_feedback", ASSIGNMENT], course, instructor, exchange)
    for student, home in homes.items():
        steps[f"fetch_feedback {student}"] = nbgrader(
            ["fetch_feedback", ASSIGNMENT, "--course", support.COURSE_ID, "--student", student], home, home, exchange)
    return {"base": base, "course": course, "out": out, "homes": homes, "steps": steps}


def fetched(cycle, student):
    pages = sorted((cycle["homes"][student] / ASSIGNMENT / "feedback").rglob("*.html"))
    assert len(pages) == 1, pages
    return pages[0].read_text()


def test_collect_and_grade(cycle):
    """nbgrader collect put both submissions (with nbgrader's bookkeeping files) into the course;
    convclinic grade graded them, reporting no extra file."""
    for student in STUDENTS:
        folder = cycle["course"] / "submitted" / student / ASSIGNMENT
        assert {p.name for p in folder.iterdir()} >= {matrix.NOTEBOOK, "timestamp.txt", "submission_secret.txt"}
    rows = {row["student_id"]: row for row in csv.DictReader((cycle["out"] / "grades.csv").open())}
    assert {s: float(r["score"]) for s, r in rows.items()} == {"alice": matrix.FULL, "bob": matrix.FULL - 2}
    report = (cycle["out"] / "report.md").read_text()
    assert "extra files" not in report and "submission_secret" not in report and "timestamp.txt" not in report


def test_each_student_fetches_their_own_final_page(cycle):
    texts = support.hidden_texts()
    for student, (_, score, comment) in STUDENTS.items():
        page = fetched(cycle, student)
        assert comment in page
        assert f"Written response</a> (Score: {float(score)} / 1.0)" in page
        other = next(c for s, (_, _, c) in STUDENTS.items() if s != student)
        assert other not in page
        assert support.leaks(page, texts) == []
    assert "(Score: 8.0 / 8.0)" in fetched(cycle, "alice")
    assert "(Score: 5.0 / 8.0)" in fetched(cycle, "bob")


def test_every_command_ran_without_the_venv_on_path(cycle):
    """generate_assignment created the gradebook (nbgrader runs `alembic` then) and collect
    ran, both as `.venv/bin/nbgrader` with PATH=/usr/bin:/bin."""
    assert (cycle["course"] / "gradebook.db").is_file()
    assert "alembic" not in cycle["steps"]["collect"].stderr
    assert "Collecting submission" in cycle["steps"]["collect"].stderr
    assert "Releasing feedback" in cycle["steps"]["release_feedback"].stderr
