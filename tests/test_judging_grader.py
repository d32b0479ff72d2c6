"""The grader's side of judging, without running a kernel: test-cell plans, answers records,
verdict outputs scored by nbgrader's own determine_grade, the static check of student cells."""

from __future__ import annotations

import ast

import nbformat
import pytest
from nbgrader.utils import determine_grade

from convclinic.grading import judged, tamper
from convclinic.judging import core
from tests.conftest import ROOT


def _test_cell(source, grade_id="zz-part"):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 2,
                                 "schema_version": 3, "solution": False}
    return cell


JUDGED = '''"""Part 1: doubles."""
check("zz-part")
### BEGIN HIDDEN TESTS
check.hidden("zz-part", [[5, 4], {"a": (1, 2)}, -3])
### END HIDDEN TESTS'''


def test_plan_reads_the_part_and_its_hidden_literal_without_running_it():
    plan = judged.plan_cell(_test_cell(JUDGED), 3)
    assert (plan.index, plan.grade_id, plan.hidden_cases, plan.problem) == (3, "zz-part", [[5, 4], {"a": (1, 2)}, -3], "")
    visible, hidden = judged.split_hidden(JUDGED)
    assert "check.hidden" not in visible and "check.hidden" in hidden


@pytest.mark.parametrize("source", ["with part('x'):\n    assert 1", "check('a')\ncheck('b')", "print(1)"])
def test_old_style_cells_are_left_to_the_kernel(source):
    assert judged.plan_cell(_test_cell(source), 0) is None


@pytest.mark.parametrize("hidden", ["check.hidden('zz-part', [open('x')])", "check.hidden('other', [1])",
                                    "check.hidden('zz-part', [1]", "import os"])
def test_an_unreadable_hidden_block_is_a_master_problem_never_executed(hidden):
    source = f"check('zz-part')\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
    plan = judged.plan_cell(_test_cell(source), 0)
    assert plan.hidden_cases is None and "fix the master" in plan.problem


def _record(grade_id="zz-part", stage="visible", data=None):
    payload = core.make_record(grade_id, stage, data or {"collected": [1]})
    return nbformat.v4.new_output("display_data", data={core.MIME: payload, "text/plain": "x"})


def test_answers_records_take_the_one_record_of_the_part():
    outputs = [nbformat.v4.new_output("stream", text="hi"), _record(), _record("other-part"),
               _record(stage="hidden")]
    assert judged.answers_records(outputs, "zz-part", "visible") == ({"collected": [1]}, "")
    assert judged.answers_records([], "zz-part", "visible") == (None, "")


@pytest.mark.parametrize("extra", [_record(data={"collected": [2]}), nbformat.v4.new_output(
    "display_data", data={core.MIME: {"grade_id": 1}})])
def test_a_second_or_malformed_record_is_a_forgery(extra):
    envelope, problem = judged.answers_records([_record(), extra], "zz-part", "visible")
    assert envelope is None and "forged record" in problem


@pytest.mark.parametrize("passed,lines,points", [(True, ["PASS  Part 1 x"], 2.0),
                                                  (False, ["FAIL  Part 1 x: wrong", "FAIL  Part 1 x: also"], 0.0)])
def test_verdict_outputs_are_scored_by_nbgraders_determine_grade(passed, lines, points):
    cell = _test_cell(JUDGED)
    cell.outputs = judged.verdict_outputs(passed, lines)
    assert determine_grade(cell)[0] == points
    assert cell.outputs[0].text == "\n".join(lines) + "\n"


def test_an_unknown_part_fails_with_a_message():
    plan = judged.plan_cell(_test_cell(JUDGED.replace("zz-part", "ex99-nothing")), 0)
    passed, lines = judged.judge(plan, {"collected": []}, None)
    assert not passed and "cannot be judged" in lines[0]


def _notebook(*sources, meta=None):
    notebook = nbformat.v4.new_notebook()
    for source in sources:
        cell = nbformat.v4.new_code_cell(source)
        if meta:
            cell.metadata["nbgrader"] = dict(meta)
        notebook.cells.append(cell)
    return notebook


@pytest.mark.parametrize("source,words", [
    ("def check(*a):\n    print('PASS')", "rebinds the test harness name 'check'"),
    ("check = print", "rebinds the test harness name 'check'"),
    ("from os import path as check", "rebinds the test harness name 'check'"),
    ("check.hidden = print", "patches check.hidden"),
    ("np.allclose = lambda *a: True", "patches np.allclose"),
    ("setattr(np, 'allclose', max)", "patches np"),
    ("f.__code__ = g.__code__", "patches f.__code__"),
    ("import inspect\nx = inspect.currentframe().f_back.f_locals['expected']", "reads the caller's frame"),
    ("import sys\nsys._getframe(1)", "reads the caller's frame"),
    ("print(In[-1][::-1])", "input history"),
    ("print(_ih)", "input history"),
    ("print(_i3)", "input history"),
    ("print(open('02-padding.ipynb').read())", "reads files"),
    ("import pathlib\npathlib.Path('x').read_text()", "reads files"),
    ("get_ipython().events.register('post_run_cell', print)", "registers an IPython event hook"),
    ("import os\nos._exit(0)", "ends the kernel (os._exit)"),
    ("try:\n    pass\nexcept BaseException:\n    pass", "catches BaseException"),
])
def test_tamper_attempts_are_named(source, words):
    notes = tamper.notes(tamper.scan(_notebook(source)))
    assert len(notes) == 1 and notes[0].startswith("tamper attempt: an ungraded code cell ") and words in notes[0]


@pytest.mark.parametrize("source,words", [
    ("from convclinic.shapes import same_padding\nsame_padding_split = same_padding", "imports convclinic"),
    ("import importlib\nsame_padding_split = importlib.import_module('x').f", "imports importlib"),
    ("same_padding_split = __import__('conv' + 'clinic').shapes.same_padding", "calls __import__"),
    ("import sys\nsame_padding_split = sys.modules['x'].f", "reads sys.modules"),
    ("same_padding_split = 'convclinic'", "names convclinic"),
    ("same_padding_split = check.__globals__['sys'].modules['conv' + 'clinic.shapes'].same_padding",
     "reaches other modules through __globals__"),
    ("same_padding_split = eval('__imp' + 'ort__')('x').f", "runs code built at run time (eval)"),
    ("name = '__glo' + 'bals__'\nsame_padding_split = getattr(check, name)['f']",
     "looks up attributes by a computed or special name (getattr)"),
    ("same_padding_split = getattr(check, '__globals__')['f']",
     "looks up attributes by a computed or special name (getattr)"),
])
def test_an_answer_using_convclinic_blocks_the_parts_it_defines(source, words):
    meta = {"grade": False, "grade_id": "x-answer", "locked": False, "solution": True, "schema_version": 3}
    scans = tamper.scan(_notebook(source, meta=meta))
    blocked = tamper.delegated_names(scans)
    assert "same_padding_split" in blocked and words in blocked["same_padding_split"]
    assert "answer cell 'x-answer'" in tamper.notes(scans)[0]


def test_a_cell_claiming_to_be_locked_without_an_id_is_still_read():
    scans = tamper.scan(_notebook("print(In)", meta={"locked": True, "grade": False, "solution": False}))
    assert scans and "input history" in tamper.notes(scans)[0]


def test_locked_master_cells_are_not_read():
    meta = {"grade": True, "grade_id": "x", "locked": True, "solution": False, "points": 1}
    assert tamper.scan(_notebook("from convclinic.judging import check\nprint(In)", meta=meta)) == []


def test_no_master_answer_is_flagged():
    """The masters' own answers (and the harmless code around them) accuse nobody."""
    masters = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    assert len(masters) >= 6
    for path in masters:
        notebook = nbformat.read(str(path), as_version=4)
        assert tamper.scan(notebook) == [], path


def test_names_bound_by_an_answer_cell():
    tree = ast.parse("def f():\n    y = 1\nclass C: pass\nA = B = 2\nimport numpy as np\nfor i in []: pass")
    assert tamper._bound_names(tree) >= {"f", "C", "A", "B", "np", "i"}
