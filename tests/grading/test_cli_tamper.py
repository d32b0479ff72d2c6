"""``convclinic grade`` against every way a student tried to beat the judging (one batch).

The students (tests/fixtures/submissions/tamper.py) are built from the real master and
release of 02-padding. Each tamper student carries the same wrong Part 1 answer as
``wrong-answer`` plus one attempt (redefining the harness, patching the judging module or
NumPy, reading frames, catching BaseException, os._exit after a fake PASS, printing the
input history, reading the submission file, forging an answers record, a post_run_cell
hook, editing/deleting/converting the locked test cell). Each must score EXACTLY what
``wrong-answer`` scores, part by part, with the attempt named in grades.csv and report.md;
no feedback page and no autograded notebook may show a hidden input, a hidden expected
value or a hidden source line.
"""

from __future__ import annotations

import csv
import html
import json
import pathlib
import re
import subprocess
import sys

import nbformat
import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import tamper

pytestmark = [pytest.mark.grading, pytest.mark.slow]

ASSIGNMENT = tamper.ASSIGNMENT
SOLUTIONS = ROOT / "solutions"
RELEASES = ROOT / "exercises"
CASES = sorted([*tamper.ATTEMPTS, *tamper.LOCKED])


def run_cli(*args, timeout=2400):
    return subprocess.run([sys.executable, "-m", "convclinic.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, check=False)


def feedback_text(path):
    return html.unescape(re.sub(r"<[^>]+>", "", pathlib.Path(path).read_text()))


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("cli-tamper")
    master = nbformat.read(str(SOLUTIONS / ASSIGNMENT / tamper.NOTEBOOK), as_version=4)
    release = nbformat.read(str(RELEASES / ASSIGNMENT / tamper.NOTEBOOK), as_version=4)
    students = tamper.build(base / "submissions", master, release)
    out = base / "out"
    done = run_cli("grade", base / "submissions", "--out", out, "--workers", 2, "--timeout", 60,
                   "--assignment", ASSIGNMENT, "--solutions", SOLUTIONS)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["student_id"]: row for row in csv.DictReader((out / "grades.csv").open())}
    journal = {student: json.loads((out / ".convclinic" / "journal" / ASSIGNMENT / f"{student}.json").read_text())
               for student in students}
    return {"out": out, "rows": rows, "journal": journal, "students": students, "master": master}


def part_scores(batch, student):
    return {part["grade_id"]: part["auto_score"] for part in batch["journal"][student]["parts"]}


def test_every_student_is_graded(batch):
    assert sorted(batch["rows"]) == batch["students"]
    assert all(row["status"].startswith("graded") for row in batch["rows"].values())


def test_wrong_answer_loses_part_1_and_nothing_else(batch):
    honest, wrong = part_scores(batch, "honest"), part_scores(batch, "wrong-answer")
    assert wrong[tamper.TEST] == 0 and honest[tamper.TEST] > 0
    assert {k: v for k, v in wrong.items() if k != tamper.TEST} == {k: v for k, v in honest.items() if k != tamper.TEST}


@pytest.mark.parametrize("case", CASES)
def test_tamper_attempt_scores_exactly_the_wrong_answer(batch, case):
    assert part_scores(batch, case) == part_scores(batch, "wrong-answer")
    assert batch["rows"][case]["score"] == batch["rows"]["wrong-answer"]["score"]


@pytest.mark.parametrize("case", CASES)
def test_tamper_attempt_is_named_in_status_and_report(batch, case):
    words = tamper.named(case)
    assert words in batch["rows"][case]["status"]
    report = (batch["out"] / "report.md").read_text()
    section = report.split(f"### {case} / {ASSIGNMENT}")[1].split("###")[0]
    assert words in section


def test_honest_students_are_not_accused(batch):
    for student in ("honest", "wrong-answer"):
        status = batch["rows"][student]["status"]
        assert not any(word in status for word in ("tamper", "edited", "deleted", "converted", "convclinic")), status


def _autograded(batch, student):
    path = batch["out"] / "course" / "autograded" / student / ASSIGNMENT / tamper.NOTEBOOK
    return nbformat.read(str(path), as_version=4)


@pytest.mark.parametrize("case", CASES)
def test_test_cell_shows_the_verdict_not_what_the_kernel_printed(batch, case):
    notebook = _autograded(batch, case)
    cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == tamper.TEST)
    kinds = [(o.output_type, o.get("name") or o.get("ename")) for o in cell.outputs]
    assert kinds == [("stream", "stdout"), ("error", "AssertionError")]
    assert cell.outputs[0].text.startswith(f"FAIL  {tamper.LABEL}: ")
    assert "PASS" not in cell.outputs[0].text and "HOOK" not in cell.outputs[0].text


def _secrets(master):
    """Every string that would reveal a hidden case: the hidden source lines (and reversed),
    each hidden case as written, each as a call of the learner's function, and the messages
    the judge would give if the wrong answer's hidden cases were shown like visible ones."""
    from convclinic.grading.judged import plan_cell
    from convclinic.grading.nbgrader_setup import hidden_test_lines
    from convclinic.judging import core

    secrets = set()
    for line in hidden_test_lines(master):
        secrets |= {line, line[::-1]}
    wrong = {}
    exec(tamper.WRONG, wrong)  # noqa: S102 - the fixture's own wrong answer
    for index, cell in enumerate(master.cells):
        judged = plan_cell(cell, index)
        if judged is None or judged.hidden_cases is None:
            continue
        part = core.get_part(judged.grade_id)
        hidden = [case for case in judged.hidden_cases if case not in part.visible]
        for case in hidden:
            secrets.add(json.dumps(case))
            if isinstance(case, list) and case and all(isinstance(v, int) for v in case):
                secrets |= {f"{name}({', '.join(map(str, case[:2]))}" for name in part.names}
        if judged.grade_id == tamper.TEST:
            envelope = core.collect_from(part, {"same_padding_split": wrong["same_padding_split"]}, hidden)
            leaky = part.judge(core.decode(envelope["collected"]), hidden, False)
            secrets |= {f.message for f in leaky if not f.ok and f.message}
    return secrets


def test_no_hidden_input_expected_value_or_source_line_anywhere(batch):
    secrets = _secrets(batch["master"])
    assert len(secrets) >= 10
    pages = sorted((batch["out"] / "feedback").rglob("*.html"))
    assert len(pages) == len(batch["students"])
    for page in pages:
        text = feedback_text(page)
        leaked = [s for s in secrets if s in text]
        assert not leaked, (page, leaked[:3])
    for student in batch["students"]:
        notebook = _autograded(batch, student)
        shown = json.dumps([cell.get("outputs", []) for cell in notebook.cells]) + json.dumps(notebook.metadata)
        shown = shown.replace("\\n", "\n").replace('\\"', '"')
        leaked = [s for s in secrets if s in shown]
        assert not leaked, (student, leaked[:3])
