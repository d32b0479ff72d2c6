"""``convclinic feedback`` after manual grading, through the real tools.

Two students of 01-channel-axis (each with the ``timestamp.txt`` and ``submission_secret.txt``
that ``nbgrader collect`` leaves) are graded once by the real ``convclinic grade``; a TA's manual
score and comment are written through nbgrader's Gradebook API, as formgrader writes them; then
``convclinic feedback`` runs nbgrader's GenerateFeedback with the hidden-test filter. Every page
is searched for the hidden-test markers, lines and literal cases of the master, and the real
``nbgrader release_feedback`` publishes the pages into a temporary exchange.
"""

from __future__ import annotations

import zipfile

import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.grading import feedback_support as support

pytestmark = [pytest.mark.grading, pytest.mark.slow]

STUDENTS = {"correct-but-different": "secret-a", "partly-wrong": "secret-b"}
COMMENT = {"correct-but-different": "Right: the declared last axis of 1 makes Keras add it.",
           "partly-wrong": "Half right: say which axis Keras adds."}
SCORE = {"correct-but-different": 1, "partly-wrong": 0.5}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("feedback")
    submissions, out = base / "submissions", base / "out"
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / support.ASSIGNMENT)
    matrix.build(submissions, master, release, {}, list(STUDENTS))
    for student, secret in STUDENTS.items():
        support.add_bookkeeping(submissions / student / support.ASSIGNMENT, secret)
    graded = support.grade(submissions, out)
    before = {s: (out / "feedback" / s / support.ASSIGNMENT / matrix.NOTEBOOK.replace(".ipynb", ".html"))
              .read_text() for s in STUDENTS}
    for student in STUDENTS:
        support.review(out / "course", student, SCORE[student], COMMENT[student])
    done = support.run([*support.CLI, "feedback", "--out", str(out), "--zip", str(base / "lms")])
    return {"base": base, "out": out, "course": out / "course", "before": before, "stdout": done.stdout,
            "grade_stdout": graded.stdout}


def page(course, student):
    return (course["course"] / "feedback" / student / support.ASSIGNMENT / "01-channel-axis.html").read_text()


def test_no_extra_file_reported_for_nbgrader_bookkeeping(course):
    """timestamp.txt and submission_secret.txt are nbgrader's, not a student's extra files."""
    report = (course["out"] / "report.md").read_text()
    assert "extra files" not in report and "submission_secret" not in report


def test_pages_carry_the_manual_score_and_comment(course):
    """The TA's score and comment reach the page; the notebook total includes the manual point."""
    for student in STUDENTS:
        text = page(course, student)
        assert f"Written response</a> (Score: {float(SCORE[student])} / 1.0)" in text
        assert COMMENT[student] in text
    assert "(Score: 8.0 / 8.0)" in page(course, "correct-but-different")
    assert "(Score: 5.5 / 8.0)" in page(course, "partly-wrong")
    # the pages `convclinic grade` wrote before the review did not have them (why this command exists)
    assert "(Score: 0.0 / 1.0)" in course["before"]["correct-but-different"]
    assert COMMENT["correct-but-different"] not in course["before"]["correct-but-different"]


def test_no_page_contains_hidden_test_text(course):
    """Markers, hidden lines and the literal hidden cases of the master: in no page, no zip member."""
    texts = support.hidden_texts()
    pages = list((course["course"] / "feedback").rglob("*.html"))
    assert len(pages) == len(STUDENTS)
    for path in pages:
        assert support.leaks(path.read_text(), texts) == [], path
    with zipfile.ZipFile(course["base"] / "lms" / f"{support.ASSIGNMENT}-feedback.zip") as archive:
        for name in archive.namelist():
            assert support.leaks(archive.read(name).decode(), texts) == [], name


def test_plain_nbgrader_feedback_would_leak(course):
    """The reason for the filter: nbgrader's own generate_feedback on the same course publishes
    the hidden blocks (jupyter/nbgrader#917). Run in a copy, so the course is left as it is."""
    import shutil

    copy = course["base"] / "plain-course"
    shutil.copytree(course["course"], copy, ignore=shutil.ignore_patterns("feedback"))
    config = (copy / "nbgrader_config.py").read_text().replace(str(course["course"]), str(copy))
    (copy / "nbgrader_config.py").write_text(config)
    support.run([support.NBGRADER, "generate_feedback", support.ASSIGNMENT, "--force"], cwd=copy)
    text = (copy / "feedback" / "partly-wrong" / support.ASSIGNMENT / "01-channel-axis.html").read_text()
    assert "BEGIN HIDDEN TESTS" in text


def test_lms_zip_names_one_page_per_student(course):
    with zipfile.ZipFile(course["base"] / "lms" / f"{support.ASSIGNMENT}-feedback.zip") as archive:
        names = sorted(archive.namelist())
    assert names == [f"{support.ASSIGNMENT}_{s}_feedback_01-channel-axis.html" for s in sorted(STUDENTS)]


def test_release_feedback_publishes_the_pages(course):
    """nbgrader's own release_feedback, run in the course folder, finds everything it needs."""
    exchange = course["base"] / "exchange"
    exchange.mkdir()
    support.run([support.NBGRADER, "release_feedback", support.ASSIGNMENT, f"--Exchange.root={exchange}"],
                cwd=course["course"])
    released = sorted((exchange / support.COURSE_ID / "feedback").glob("*.html"))
    assert len(released) == len(STUDENTS)
    assert {p.read_text() for p in released} == {page(course, s) for s in STUDENTS}


def test_one_student_and_usage_errors(course):
    """--student writes that student's page only; bad input is one line and exit 2."""
    import subprocess

    done = support.run([*support.CLI, "feedback", "--out", str(course["out"]), "--student", "partly-wrong"])
    assert "partly-wrong" in done.stdout and "correct-but-different" not in done.stdout
    for args in (["--student", "nobody"], ["--assignment", "99-none"]):
        bad = subprocess.run([*support.CLI, "feedback", "--out", str(course["out"]), *args],
                             capture_output=True, text=True, cwd=ROOT, check=False)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    missing = subprocess.run([*support.CLI, "feedback", "--course", str(course["base"] / "nothing")],
                             capture_output=True, text=True, cwd=ROOT, check=False)
    assert missing.returncode == 2 and "convclinic grade" in missing.stderr
