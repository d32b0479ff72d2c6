"""Run fixture answer cells of an assignment through its judged parts, in this process.

Used by ``tests/test_judging_ex04.py`` .. ``ex06.py``: a fixture cell (the complete
source of one answer cell, see ``tests/grading/harness.py``) is executed in a fresh
namespace holding what the assignment's setup cell defines (``np``, ``tf``,
``keras``, ``layers``), then the part graded by that answer cell collects its
visible cases and the hidden cases of the master's test cell, and judges them.
The release's test cells are run in a real kernel by :func:`run_test_cells`.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import json
import pathlib
import re

import nbformat

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "exercises"
HIDDEN = re.compile(r"check\.hidden\(\s*\"([^\"]+)\",\s*(.*)\)\s*$", re.DOTALL)


def master(assignment):
    return nbformat.read(str(ROOT / "solutions" / assignment / f"{assignment}.ipynb"), as_version=4)


def release(assignment):
    return nbformat.read(str(ROOT / "exercises" / assignment / f"{assignment}.ipynb"), as_version=4)


def hidden_cases(assignment):
    """{grade_id: hidden cases} parsed from the master's test cells (``ast.literal_eval``)."""
    found = {}
    for cell in master(assignment).cells:
        source = cell.source
        if "### BEGIN HIDDEN TESTS" not in source:
            continue
        block = source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0].strip()
        match = HIDDEN.match(block)
        assert match, f"hidden block is not one check.hidden call: {block[:200]}"
        found[match.group(1)] = ast.literal_eval(match.group(2))
    return found


def fixtures(assignment, kind):
    """[(answer_id, case, source)] of ``submitted-<kind>``: one level (``<answer_id>.cell``)
    or two (``<answer_id>/<case>.cell``)."""
    base = FIXTURES / assignment / f"submitted-{kind}"
    result = []
    for path in sorted(base.rglob("*.cell")):
        relative = path.relative_to(base)
        answer_id = relative.parts[0].removesuffix(".cell")
        result.append((answer_id, path.stem, path.read_text()))
    return result


def part_id(answer_id):
    return answer_id.removesuffix("-answer")


def namespace():
    from convclinic.runtime import import_keras, import_tensorflow

    keras = import_keras()
    import numpy as np

    return {"np": np, "tf": import_tensorflow(), "keras": keras, "layers": keras.layers}


def judge_cell(source, grade_id, hidden):
    """(visible findings, hidden findings) of ``grade_id`` for an answer cell ``source``."""
    from convclinic.judging import core
    from convclinic.judging.kernel import quiet
    from convclinic.judging.truth import default_keras_config

    part = core.get_part(grade_id)
    names = namespace()
    with quiet(), default_keras_config():
        exec(compile(source, f"<{grade_id}-answer>", "exec"), names)  # noqa: S102 - fixture code
        visible = core.collect_answers(part, names, part.visible)
        found_hidden = core.collect_answers(part, names, hidden)
        # the envelopes (already encoded) travel as JSON text between kernel and judge
        visible, found_hidden = (json.loads(json.dumps(e)) for e in (visible, found_hidden))
        return (core.judge_stage(part, visible, part.visible, hidden=False),
                core.judge_stage(part, found_hidden, hidden, hidden=True))


def failed_text(findings):
    return " | ".join(f.message for f in findings if not f.ok)


def synthetic_notebook(assignment, answers):
    """The release's setup cell, then for each ``(answer_id, source)`` that answer and the
    release's test cell of its part (hidden block already stripped by nbgrader)."""
    notebook = release(assignment)
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}
    result = copy.deepcopy(notebook)
    result.cells = [copy.deepcopy(cells["setup"])]
    for answer_id, source in answers:
        result.cells.append(nbformat.v4.new_code_cell(source))
        result.cells.append(copy.deepcopy(cells[part_id(answer_id)]))
    return result


def run_test_cells(assignment, answers, timeout=600):
    """Execute :func:`synthetic_notebook` in a real kernel; the stdout of each test cell, in order."""
    from nbclient import NotebookClient

    notebook = synthetic_notebook(assignment, answers)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(ROOT)}})
    with contextlib.chdir(ROOT):
        client.execute()
    outputs = []
    for cell in notebook.cells[2::2]:
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream"
                       and out.name == "stdout")
        outputs.append(text)
    return outputs


def fixture_path(assignment, kind, answer_id, case):
    return pathlib.Path(FIXTURES / assignment / f"submitted-{kind}" / answer_id / f"{case}.cell")


# --- shared assertions of tests/test_judging_ex04.py .. ex06.py ---------------------------------

#: Words that show a value in a visible message; a hidden hint never uses them.
VALUE_WORDS = re.compile(r"\b(expected|returned|got|gave)\b")


def params(assignment, *kinds):
    """pytest params ``(answer_id, case, source)`` of the fixtures of ``kinds``."""
    import pytest

    return [pytest.param(answer_id, case, source, id=f"{kind}-{answer_id}-{case}")
            for kind in kinds for answer_id, case, source in fixtures(assignment, kind)]


def assert_hints_hide_the_cases(findings, cases):
    """No hidden finding shows a value word or a hidden case's numbers."""
    for finding in findings:
        if finding.ok:
            continue
        assert finding.message == finding.hint, finding
        unquoted = re.sub(r"'[^']*'", "", finding.hint)  # quoted TensorFlow wording is a teaching hint
        assert not VALUE_WORDS.search(unquoted), finding.hint
        for case in cases:
            numbers = [int(v) for v in re.findall(r"\d+", json.dumps(case))]
            shown = ", ".join(str(v) for v in numbers[:4])
            assert len(numbers) < 2 or f"({shown}" not in finding.hint, (finding.hint, case)


def requirement_failures(assignment):
    """{grade_id: set of requirement texts that some wrong fixture fails on HIDDEN cases}."""
    hidden = hidden_cases(assignment)
    failed = {}
    for answer_id, _, source in fixtures(assignment, "wrong"):
        grade_id = part_id(answer_id)
        _, found = judge_cell(source, grade_id, hidden[grade_id])
        failed.setdefault(grade_id, set()).update(f.requirement for f in found if not f.ok)
    return failed


def assert_release_self_checks(assignment, mistakes):
    """The release's test cells in ONE real kernel: each wrong fixture of ``mistakes``
    ({(answer_id, case): phrase}) FAILs naming its mistake, then every correct-unusual fixture
    PASSes (those that switch Keras' global settings run last: they stay switched)."""
    wrong = [(answer_id, fixture_path(assignment, "wrong", answer_id, case).read_text())
             for answer_id, case in mistakes]
    unusual = sorted(((answer_id, source) for answer_id, _, source in fixtures(assignment, "correct-unusual")),
                     key=lambda item: "keras.config.set_" in item[1])
    outputs = run_test_cells(assignment, wrong + unusual)
    for ((_, case), phrase), text in zip(mistakes.items(), outputs[:len(wrong)], strict=True):
        assert text.startswith("FAIL") and phrase in text, (case, text)
    for (answer_id, source), text in zip(unusual, outputs[len(wrong):], strict=True):
        assert text.startswith("PASS"), (answer_id, source.splitlines()[0], text)


def assert_correct_passes(assignment, answer_id, source):
    """A correct answer passes every visible and every hidden case of its part."""
    grade_id = part_id(answer_id)
    visible, hidden = judge_cell(source, grade_id, hidden_cases(assignment)[grade_id])
    assert all(f.ok for f in visible + hidden), failed_text(visible + hidden)


def assert_wrong_fails_with_hidden_hints(assignment, answer_id, case, source):
    """A wrong answer fails the visible self-check and the hidden cases, whose hints hide them."""
    grade_id = part_id(answer_id)
    cases = hidden_cases(assignment)[grade_id]
    visible, hidden = judge_cell(source, grade_id, cases)
    assert not all(f.ok for f in visible), f"{case} passes the visible self-check"
    assert not all(f.ok for f in hidden), f"{case} passes the hidden cases"
    assert_hints_hide_the_cases(hidden, cases)


def fixture_tests(assignment, parts):
    """The three fixture-driven tests every assignment 04-06 runs, for its test module to bind
    (pytest collects them there, under these names): correct answers pass, wrong answers fail
    with hidden hints, and every requirement of ``parts`` fails some wrong answer's hidden cases."""
    import pytest

    @pytest.mark.slow
    @pytest.mark.parametrize("answer_id,case,source",
                             params(assignment, "correct-different", "stderr-noise", "correct-unusual"))
    def test_correct_answers_pass_visible_and_hidden(answer_id, case, source):
        assert_correct_passes(assignment, answer_id, source)

    @pytest.mark.slow
    @pytest.mark.parametrize("answer_id,case,source", params(assignment, "wrong"))
    def test_wrong_answers_fail_visibly_and_hidden_hints_hide_the_cases(answer_id, case, source):
        assert_wrong_fails_with_hidden_hints(assignment, answer_id, case, source)

    @pytest.mark.slow
    def test_every_requirement_fails_some_wrong_answer_on_hidden_cases():
        failed = requirement_failures(assignment)
        for part in parts:
            missing = set(part.requirements) - failed.get(part.grade_id, set())
            assert not missing, (part.grade_id, missing)

    return (test_correct_answers_pass_visible_and_hidden,
            test_wrong_answers_fail_visibly_and_hidden_hints_hide_the_cases,
            test_every_requirement_fails_some_wrong_answer_on_hidden_cases)
