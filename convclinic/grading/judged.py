"""Judged test cells under ``convclinic grade`` (grader/README.md, "How a part is judged").

A judged test cell (a master test cell calling ``check("<grade_id>")``, with its
hidden cases in ``check.hidden("<grade_id>", <literal>)`` inside the hidden block)
is handled by :class:`~convclinic.grading.execute.SandboxedExecute` with these helpers:

- :func:`plan_cell`: the part a test cell judges and its hidden cases, parsed with
  ``ast.literal_eval`` (never executed here);
- :func:`seal_source`, :func:`collect_source`: what the kernel runs before the first cell
  and instead of each judged test cell (the hidden block never reaches the kernel);
- :func:`answers_records`: the answers records a cell's outputs carry;
- :func:`hidden_source`: the one line that collects a part's hidden cases after the
  last cell (its outputs are never stored);
- :func:`verdict_outputs`: the cell's new outputs, decided here in the grading
  worker with the real TensorFlow (a stdout stream of PASS/FAIL lines, plus an
  ``error`` output on failure, which nbgrader's own ``determine_grade`` scores 0).

Old-style test cells (no ``check`` call) are left to the kernel, as plain nbgrader does.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from nbformat.notebooknode import NotebookNode

from convclinic.judging import core

BEGIN = "BEGIN HIDDEN TESTS"
END = "END HIDDEN TESTS"
NO_RECORD = "no answer was collected: the test cell did not run its check"


@dataclass
class JudgedCell:
    """One judged test cell of the notebook being graded."""

    index: int
    grade_id: str          # the part's id, from check("<id>")
    hidden_cases: object   # the literal of check.hidden, or None (no hidden block)
    problem: str = ""      # a master problem (unreadable hidden block), for the instructor


def split_hidden(source):
    """(source without the hidden block, the hidden block's text)."""
    kept, hidden, inside = [], [], False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            kept.append(line)
    return "\n".join(kept), "\n".join(hidden)


def _check_call(node):
    """The grade id of ``check("<id>")`` (or None)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def _hidden_call(node):
    """(grade id, cases node) of ``check.hidden("<id>", <literal>)`` (or None)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "hidden"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "check"
            and len(node.args) == 2 and isinstance(node.args[0], ast.Constant)):
        return node.args[0].value, node.args[1]
    return None


def plan_cell(cell, index):
    """A :class:`JudgedCell` for a judged test cell, or None (not a grade code cell, or old style)."""
    grading = cell.get("metadata", {}).get("nbgrader", {})
    if cell.get("cell_type") != "code" or not grading.get("grade") or grading.get("solution"):
        return None
    visible, hidden = split_hidden(cell.source)
    try:
        tree = ast.parse(visible)
    except SyntaxError:
        return None
    ids = [i for i in (_check_call(node) for node in ast.walk(tree)) if i]
    if len(ids) != 1:
        return None
    judged = JudgedCell(index, ids[0], None)
    if hidden.strip():
        try:
            calls = [c for c in (_hidden_call(node) for node in ast.walk(ast.parse(hidden))) if c]
            (grade_id, cases), = calls
            if grade_id != judged.grade_id:
                raise ValueError("check.hidden names another part")
            judged.hidden_cases = ast.literal_eval(cases)
        except (SyntaxError, ValueError, TypeError) as error:
            judged.problem = f"the hidden block of '{judged.grade_id}' cannot be read ({error}); fix the master"
    return judged


def answers_records(outputs, grade_id, stage):
    """(envelope or None, problem): the one answers record of ``grade_id`` at ``stage`` in
    ``outputs``. Records of other parts are ignored; several records of this part, or an
    unreadable one (a notebook printing its own), give no envelope and a problem."""
    found, bad = [], 0
    for output in outputs:
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue
        payload = output.get("data", {}).get(core.MIME)
        if payload is None:
            continue
        try:
            record_id, record_stage, envelope = core.read_record(payload)
        except core.RecordError:
            bad += 1
            continue
        if record_id == grade_id and record_stage == stage:
            found.append(envelope)
    if len(found) == 1 and not bad:
        return found[0], ""
    if not found and not bad:
        return None, ""
    return None, (f"the notebook printed its own answers record for '{grade_id}' "
                  "(a forged record): the part scores 0")


def seal_source(grade_ids, name):
    """Run before the first cell (outside the input history): store the kernel's sealed
    collector (:func:`convclinic.judging.kernel.seal`) under the random builtins ``name``."""
    return (f'__import__("builtins").__dict__[{name!r}] = '
            f'__import__("convclinic.judging.kernel", fromlist=["seal"]).seal({list(grade_ids)!r})')


def collect_source(grade_id, name):
    """What the kernel runs instead of a judged test cell: the sealed collector on the visible
    cases (a notebook rebinding ``check`` changes nothing; the hidden block is never sent; the
    stored notebook keeps the cell's source)."""
    return f"{name}({grade_id!r})"


def hidden_source(grade_id, cases, name):
    """The code that collects ``grade_id``'s hidden ``cases`` in the kernel (after the last cell)."""
    return f"{name}({grade_id!r}, {cases!r})"


def judge(judged, visible, hidden, blocked=""):
    """(passed, lines) of a judged cell: ``visible``/``hidden`` are envelopes (or None).

    ``blocked`` (a message) fails the part without judging (an answer using convclinic).
    """
    try:
        part = core.get_part(judged.grade_id)
    except KeyError:
        return False, [f"FAIL  {judged.grade_id}: this part cannot be judged (no such part in "
                       "convclinic.judging): tell your instructor"]
    if blocked:
        return False, [f"FAIL  {part.label}: {blocked}"]
    cases = judged.hidden_cases
    if cases is not None and hidden is None:
        hidden = {"unreadable": "the hidden cases did not finish (the per-cell time limit, or the kernel "
                                "stopped)"}
    findings = core.judge_records(part, visible, hidden, cases)
    return core.verdict_lines(part, findings)


def verdict_outputs(passed, lines):
    """The outputs a judged cell gets: the PASS/FAIL lines, and an ``error`` output on failure."""
    outputs = [NotebookNode(output_type="stream", name="stdout", text="\n".join(lines) + "\n")]
    if not passed:
        first = lines[0][len("FAIL  "):] if lines else "failed"
        outputs.append(NotebookNode(output_type="error", ename="AssertionError", evalue=first,
                                    traceback=[f"AssertionError: {first}"]))
    return outputs
