"""Re-grading keeps the TAs' work and accuses nobody, through the real tools.

A private copy of the 01-channel-axis master is released with `convclinic release` (which keeps
the locked cells' checksums of every release), two students answer that release, the real
`convclinic grade` grades them and a TA's manual score and comment are written through
nbgrader's Gradebook API. Then a visible test's wording is fixed in the master, released
again, and everyone is re-graded: no score changes, nobody is reported for a locked cell they
never touched, every review is kept. Finally `--student` re-grades one student whose
explanation changed: only that student's files change, and only that review is dropped.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import shutil
import subprocess

import nbformat
import pytest

from convclinic.release import release
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.grading import feedback_support as support
from tests.grading import harness

pytestmark = [pytest.mark.grading, pytest.mark.slow]

ASSIGNMENT = support.ASSIGNMENT
OLD = '"""Part 1: add_channel_axis puts a size-1 channel axis where each data format expects it."""'
NEW = '"""Part 1: add_channel_axis puts a size-1 channel axis where each data_format expects it."""'
WRONG_PART_1 = ('def add_channel_axis(images, data_format="channels_last"):\n'
                "    return np.expand_dims(np.asarray(images), -1)\n")
STUDENTS = ("answers-right", "part-1-wrong")


def master_path(solutions):
    return solutions / ASSIGNMENT / matrix.NOTEBOOK


def build_class(submissions, master, released):
    answers = harness.answers_of(master)
    answers[support.MANUAL_ID] = matrix.EXPLANATION
    right = harness.patched(released, answers)
    wrong = harness.patched(released, dict(answers, **{"ex01-add-channel-axis-answer": WRONG_PART_1}))
    for student, notebook in zip(STUDENTS, (right, wrong), strict=True):
        folder = submissions / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, str(folder / matrix.NOTEBOOK))


def grade(env, *extra):
    return support.run([*support.CLI, "grade", str(env["submissions"]), "--out", str(env["out"]),
                        "--workers", "2", "--timeout", "60", "--assignment", ASSIGNMENT,
                        "--solutions", str(env["solutions"]), "--releases", str(env["releases"]), *extra])


def rows(env):
    return {row["student_id"]: row for row in csv.DictReader((env["out"] / "grades.csv").open())}


def files_of(env, student):
    """{path: sha256} of everything the grader keeps for one student (feedback, course, journal)."""
    found = {}
    for path in sorted(env["out"].rglob("*")):
        if path.is_file() and (f"/{student}/" in str(path) or path.name == f"{student}.json"):
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("regrade")
    env = {"base": base, "solutions": base / "solutions", "releases": base / "releases",
           "submissions": base / "submissions", "out": base / "out"}
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, env["solutions"] / ASSIGNMENT)
    release(ASSIGNMENT, dest=env["releases"], source=env["solutions"])
    env["release_v1"] = harness.read(env["releases"] / ASSIGNMENT / matrix.NOTEBOOK)
    build_class(env["submissions"], harness.read(master_path(env["solutions"])), env["release_v1"])
    grade(env)
    env["first"] = rows(env)
    course = env["out"] / "course"
    support.review(course, "answers-right", 1, "Right.")
    support.review(course, "part-1-wrong", 0.5, "Say which axis Keras adds.")
    env["reviewed"] = {s: support.manual_state(course, s) for s in STUDENTS}
    # the instructor fixes a visible test's wording and releases again
    text = master_path(env["solutions"]).read_text()
    assert OLD.replace('"', '\\"') in text
    master_path(env["solutions"]).write_text(text.replace(OLD.replace('"', '\\"'), NEW.replace('"', '\\"')))
    release(ASSIGNMENT, dest=env["releases"], source=env["solutions"])
    env["regraded"] = grade(env).stdout
    env["second"] = rows(env)
    return env


def test_a_reworded_test_in_a_new_release_accuses_nobody(env):
    """The students hold release 1; the master is now release 2: nobody edited a locked cell."""
    assert "2 to grade" in env["regraded"]  # the master changed: everyone was graded again
    report = (env["out"] / "report.md").read_text()
    assert "was edited" not in report and "converted" not in report
    for student in STUDENTS:
        assert "locked" not in env["second"][student]["status"]


def test_the_release_history_is_what_clears_them():
    """The same student notebook against release 2 alone WOULD be reported: the checksums of
    release 1 (kept by `convclinic release`) are what clear it."""
    from convclinic.grading.regrade import locked_checksums
    from convclinic.grading.submissions import compare_with_release

    released = harness.read(ROOT / "exercises" / ASSIGNMENT / matrix.NOTEBOOK)
    newer = copy.deepcopy(released)
    for cell in newer.cells:
        cell.source = cell.source.replace(OLD, NEW)
    assert newer != released
    history = {key: {value} for key, value in locked_checksums(released).items()}
    assert compare_with_release(released, newer) == ["locked cell 'ex01-add-channel-axis' was edited: "
                                                     "restored from the master"]
    assert compare_with_release(released, newer, known_locked=history) == []


def test_scores_do_not_change_and_reviews_are_kept(env):
    assert {s: (r["score"], r["max_score"]) for s, r in env["second"].items()} == \
        {s: (r["score"], r["max_score"]) for s, r in env["first"].items()}
    assert [float(env["first"][s]["score"]) for s in STUDENTS] == [matrix.FULL, matrix.FULL - 2]
    course = env["out"] / "course"
    for student in STUDENTS:
        assert support.manual_state(course, student) == env["reviewed"][student]
        assert support.manual_state(course, student)[1] is False  # still reviewed
    assert "Manual grades kept: 4 (answer unchanged); 0 to review again" in env["regraded"]
    with support.gradebook(course) as book:
        assert float(book.find_submission(ASSIGNMENT, "answers-right").score) == matrix.FULL + 1
        assert float(book.find_submission(ASSIGNMENT, "part-1-wrong").score) == matrix.FULL - 2 + 0.5


def test_one_student_regraded_only(env):
    """--student part-1-wrong after that student changed the explanation: the other student's files
    are byte-identical, the changed answer waits for a new review, the other review stays."""
    notebook_path = env["submissions"] / "part-1-wrong" / ASSIGNMENT / matrix.NOTEBOOK
    notebook = harness.read(notebook_path)
    notebook = harness.patched(notebook, {support.MANUAL_ID: "Keras adds the batch axis, not the channel axis."})
    nbformat.write(notebook, str(notebook_path))
    other = files_of(env, "answers-right")
    assert len(other) >= 4
    done = grade(env, "--student", "part-1-wrong")
    assert "1 to grade" in done.stdout
    assert files_of(env, "answers-right") == other
    course = env["out"] / "course"
    assert support.manual_state(course, "answers-right") == env["reviewed"]["answers-right"]
    score, needs_review, _ = support.manual_state(course, "part-1-wrong")
    assert needs_review is True
    assert "0 (answer unchanged); 2 to review again" in done.stdout


def test_unknown_student_is_a_usage_error(env):
    bad = subprocess.run([*support.CLI, "grade", str(env["submissions"]), "--out", str(env["out"]),
                          "--assignment", ASSIGNMENT, "--solutions", str(env["solutions"]),
                          "--student", "nobody"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert bad.returncode == 2, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "nobody" in bad.stderr
