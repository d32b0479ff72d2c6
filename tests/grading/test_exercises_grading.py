"""The assignments, proven through the REAL ``nbgrader autograde`` and through ``convclinic grade``.

Every fixture student is graded once per session by each grader (tests/grading/harness.py):
``convclinic grade`` grades them all; plain ``nbgrader autograde`` (one call per assignment,
assignments split over two workers with separate course folders and gradebooks) grades the
``harness.plain_students``, and both must give those the same score on every part.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
import pytest
from nbgrader.utils import determine_grade

from convclinic.release import assignments
from tests.conftest import ROOT, require_command
from tests.grading import harness

# The session's plain nbgrader run (about 56 cold kernels) is set up inside the first test that
# needs it: its time counts against that test, so this module gets more than pytest's 900 s.
pytestmark = [pytest.mark.grading, pytest.mark.slow, pytest.mark.timeout(1800)]

ASSIGNMENTS = assignments()
EXPECTED = ["01-channel-axis", "02-padding", "03-stride-dilation", "04-data-format",
            "05-framework-version", "06-shape-detective", "07-pipelines"]


def _wrong_params():
    params = []
    for assignment in ASSIGNMENTS:
        for student_id, (_, _, chosen) in harness.students(assignment).items():
            for answer_id, case in chosen.items():
                params.append(pytest.param(assignment, student_id, answer_id,
                                           id=f"{assignment}-{answer_id}-{case}"))
    return params


def _scores(graded, assignment, student_id):
    scores = graded["scores"][assignment]
    assert student_id in scores, f"{student_id} was not graded for {assignment}: {sorted(scores)}"
    return scores[student_id]


def test_every_assignment_of_the_course_exists():
    """The seven assignments of the course have a master (solutions/<name>/<name>.ipynb)."""
    assert ASSIGNMENTS == EXPECTED


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_as_submitted_scores_full_marks(graded, assignment):
    """Done-when 1: the master submitted as-is gets full marks on every autograded part."""
    scores = _scores(graded, assignment, "submitted-master")
    master = harness.read(harness.SOLUTIONS / assignment / f"{assignment}.ipynb")
    assert set(scores) == set(harness.test_ids(master))
    assert len(scores) >= 2, "each assignment needs at least 2 autograded parts"
    lost = {grade_id: score for grade_id, score in scores.items() if score[0] != score[1]}
    assert not lost, f"master lost points on {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_unchanged_scores_zero(graded, assignment):
    """Done-when 2: the release submitted unchanged scores 0 on every autograded part."""
    scores = _scores(graded, assignment, "submitted-unchanged")
    assert scores and all(score == 0 for score, _ in scores.values()), scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_invert_confirms_every_test_fails_on_release(graded, assignment):
    """Done-when 2: `nbgrader validate --invert` on the release finds no passing test."""
    output = graded["validations"][assignment]
    assert "Success! The notebook does not pass any tests." in output, output[-2000:]


@pytest.mark.parametrize("assignment,student_id,answer_id", _wrong_params())
def test_wrong_answer_loses_exactly_its_part(graded, graded_by_cli, assignment, student_id, answer_id):
    """Done-when 3: a plausible wrong answer costs its own part's points and nothing else, under
    `convclinic grade` for every case, and under plain `nbgrader autograde` (the test cells judging
    inside the kernel) for the cases it grades (harness.plain_students)."""
    graders = {"convclinic grade": graded_by_cli[assignment][student_id]}
    if harness.in_plain_run(student_id):
        graders["nbgrader autograde"] = _scores(graded, assignment, student_id)
    _, expected_lost, chosen = harness.students(assignment)[student_id]
    part = harness.part_of(answer_id)
    for grader, scores in graders.items():
        score, maximum = scores[part]
        assert score == 0, f"{grader}: wrong answer {chosen[answer_id]!r} still scored {score}/{maximum} on {part}"
        for other, (other_score, other_max) in scores.items():
            if not expected_lost[other]:
                assert other_score == other_max, (
                    f"{grader}: {other} lost points ({other_score}/{other_max}) though only "
                    f"{sorted(chosen)} were patched"
                )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_autograded_part_has_two_wrong_answers(assignment):
    """Done-when 3 coverage: every answer cell has >= 2 named wrong-answer fixtures."""
    master = harness.read(harness.SOLUTIONS / assignment / f"{assignment}.ipynb")
    cases = harness.wrong_cases(assignment)
    for answer_id in harness.answer_ids(master):
        assert len(cases.get(answer_id, {})) >= 2, f"{answer_id} has {cases.get(answer_id)}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_correct_but_different_scores_full_marks(graded, assignment):
    """Done-when 4: correct answers written differently from the master get full marks."""
    different = sorted((harness.FIXTURES / assignment / "submitted-correct-different").glob("*.cell"))
    assert different, "no submitted-correct-different fixture"
    scores = _scores(graded, assignment, "submitted-correct-different")
    lost = {grade_id: score for grade_id, score in scores.items() if score[0] != score[1]}
    assert not lost, f"a correct but different answer lost points: {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unusual_correct_answers_score_full_marks(graded, assignment):
    """A grade is a promise: helpers named like the test's own names, tensors instead of tuples,
    Keras' global data format switched, ... lose nothing under the real nbgrader."""
    variants = harness.unusual_variants(assignment)
    if assignment != "07-pipelines":
        assert variants, "no submitted-correct-unusual fixture"
    for variant in range(1, len(variants) + 1):
        scores = _scores(graded, assignment, f"submitted-correct-unusual-{variant}")
        lost = {grade_id: score for grade_id, score in scores.items() if score[0] != score[1]}
        assert not lost, f"an unusual correct answer (variant {variant}) lost points: {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stderr_noise_costs_no_points(graded, assignment):
    """Done-when 5: TF log lines and the input_shape= warning in a correct submission cost nothing."""
    scores = _scores(graded, assignment, "submitted-stderr-noise")
    lost = {grade_id: score for grade_id, score in scores.items() if score[0] != score[1]}
    assert not lost, f"stderr noise cost points: {lost}"
    sources = "\n".join(
        path.read_text()
        for path in (harness.FIXTURES / assignment / "submitted-stderr-noise").glob("*.cell")
    )
    assert "os.write(2," in sources and ("warnings.warn" in sources or "input_shape=" in sources), (
        "the stderr-noise fixture must write TF-style log lines to fd 2 and warn"
    )
    validation = graded["validations"][assignment + "/stderr-noise"]
    assert "Success! Your notebook passes all the tests." in validation, (
        "without nbgrader's IgnorePattern backstop (plain `nbgrader validate`) the noisy "
        "submission must still pass: the test cells silence stderr themselves\n" + validation[-2000:]
    )


def test_stderr_in_a_graded_cell_scores_zero_in_nbgrader():
    """'stderr scores zero': nbgrader zeroes a passing test cell with stderr output."""
    cell = nbformat.v4.new_code_cell("assert True")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 2, "grade_id": "x"}
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="W0000 00:00 log\n")]
    assert determine_grade(cell) == (0, 2.0)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="PASS\n")]
    assert determine_grade(cell) == (2.0, 2.0)


@pytest.fixture(scope="module")
def graded_by_cli(tmp_path_factory):
    """The same fixture students graded by ``convclinic grade`` (sandbox, judging outside the
    kernel): {assignment: {student: {grade_id: (auto_score, max_score)}}} of the autograded parts,
    as harness.read_scores gives plain nbgrader's."""
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("cli-exercises")
    students = {}
    for assignment in ASSIGNMENTS:
        for student_id, (notebook, _, _) in harness.students(assignment).items():
            folder = base / "submissions" / student_id / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, str(folder / f"{assignment}.ipynb"))
            students.setdefault(assignment, []).append(student_id)
    done = subprocess.run([sys.executable, "-m", "convclinic.cli", "grade", str(base / "submissions"),
                           "--out", str(base / "out"), "--workers", "2", "--quiet"],
                          capture_output=True, text=True, timeout=5400, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    journal = base / "out" / ".convclinic" / "journal"
    return {assignment: {student: {part["grade_id"]: (part["auto_score"], part["max_score"]) for part in
                                   json.loads((journal / assignment / f"{student}.json").read_text())["parts"]
                                   if not part["manual"]}
                         for student in names}
            for assignment, names in students.items()}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_convclinic_grade_scores_like_plain_nbgrader(graded, graded_by_cli, assignment):
    """Every fixture student plain `nbgrader autograde` grades (none of them tampers) gets the same
    score on every autograded part from `convclinic grade`, which judges outside the kernel, as
    from plain nbgrader, where the test cells judge inside it."""
    plain = {student: {grade_id: score for grade_id, (score, _) in parts.items()}
             for student, parts in graded["scores"][assignment].items()}
    assert set(plain) == set(harness.plain_students(assignment))
    assert set(graded_by_cli[assignment]) == set(harness.students(assignment))
    cli = {student: {grade_id: score for grade_id, (score, _) in graded_by_cli[assignment][student].items()
                     if grade_id in plain[student]}
           for student in plain}
    assert cli == plain


FIXTURE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_fixture_submissions_are_named_after_their_case():
    """Done-when 6: fixture folders and files are kebab-case names of the case they cover."""
    allowed = {"submitted-correct-different", "submitted-correct-unusual", "submitted-stderr-noise",
               "submitted-wrong"}
    for assignment_folder in sorted(harness.FIXTURES.iterdir()):
        assert assignment_folder.name in ASSIGNMENTS
        for case_folder in assignment_folder.iterdir():
            assert case_folder.name in allowed, case_folder
        for path in assignment_folder.rglob("*.cell"):
            assert FIXTURE_NAME.match(path.stem), path
            assert path.stem not in {"wrong", "case", "test", "fixture"}, path


def test_grading_timings_recorded(graded):
    """The autograde cost per notebook is measured (artifacts/grading-timings.json)."""
    for assignment in ASSIGNMENTS:
        timing = graded["timings"][assignment]
        assert timing["notebooks"] >= 4
        assert timing["per_notebook"] > 0
