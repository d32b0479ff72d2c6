"""The fixture-driven checks shared by tests/test_judging_ex01.py .. ex03.py (assignments 01-03).

Every wrong fixture (``submitted-wrong/<answer-id>/<case>.cell``) starts with a line
``# visible check names: <phrase>``: the visible self-check must FAIL with a message
holding that phrase (the mistake named), and the hidden cases must fail too. Every
correct answer (the master's, ``submitted-correct-different``, ``-correct-unusual``
and ``-stderr-noise``) must pass both. Fixture cells run through
:mod:`tests.judging_fixtures` (B3's runner, shared by assignments 04-06).
"""

from __future__ import annotations

import itertools
import re

import pytest

from tests import judging_fixtures

NAMES = re.compile(r"^# visible check names: (.+)$", re.MULTILINE)
RESET = 'keras.config.set_image_data_format("channels_last")\n'


def named(source):
    """The phrase a wrong fixture's visible FAIL message must hold."""
    match = NAMES.search(source)
    assert match, "a wrong fixture must start with '# visible check names: <phrase>'"
    return match.group(1).strip()


def master_answers(assignment):
    """[(answer_id, "master", source)] of the master's code answer cells."""
    found = []
    for cell in judging_fixtures.master(assignment).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution") and not meta.get("grade"):
            found.append((meta["grade_id"], "master", cell.source))
    return found


def correct_answers(assignment):
    """Every correct answer: master, correct-different, correct-unusual, stderr-noise."""
    found = master_answers(assignment)
    for kind in ("correct-different", "correct-unusual", "stderr-noise"):
        found += [(answer_id, f"{kind}/{case}", source)
                  for answer_id, case, source in judging_fixtures.fixtures(assignment, kind)]
    return found


def wrong_answers(assignment):
    return judging_fixtures.fixtures(assignment, "wrong")


def params(answers):
    return [pytest.param(answer_id, case, source, id=f"{answer_id}-{case}")
            for answer_id, case, source in answers]


def judge(assignment, answer_id, source):
    """(visible findings, hidden findings) for one answer cell, in this process."""
    grade_id = judging_fixtures.part_id(answer_id)
    hidden = judging_fixtures.hidden_cases(assignment)[grade_id]
    return judging_fixtures.judge_cell(source, grade_id, hidden)


def leaks(text, cases, extra=()):
    """Hidden inputs (consecutive numbers of a case, as a call or a shape would show them)
    or expected values (``extra``) found in ``text``."""
    found = [value for value in extra if value in text]
    for case in cases:
        numbers = [str(v) for v in _flatten(case) if isinstance(v, int) and not isinstance(v, bool)]
        for a, b in itertools.pairwise(numbers):
            for shown in (f"{a}, {b}", f"{a}x{b}", f"{a} x {b}"):
                if shown in text:
                    found.append(shown)
    return found


def _flatten(value):
    if isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def check_correct(assignment, answer_id, source):
    visible, hidden = judge(assignment, answer_id, source)
    assert all(f.ok for f in visible), judging_fixtures.failed_text(visible)
    assert all(f.ok for f in hidden), judging_fixtures.failed_text(hidden)


def check_wrong(assignment, answer_id, source, expected_leaks=()):
    """The visible check names the mistake; the hidden cases fail too, with hints only."""
    visible, hidden = judge(assignment, answer_id, source)
    text = judging_fixtures.failed_text(visible)
    assert text, "the visible self-check passed a wrong answer"
    assert named(source) in text, f"the visible FAIL does not name the mistake: {text}"
    hidden_text = judging_fixtures.failed_text(hidden)
    assert hidden_text, "the hidden cases passed a wrong answer"
    assert all(f.message.startswith("a hidden case failed") for f in hidden if not f.ok), hidden_text
    cases = judging_fixtures.hidden_cases(assignment)[judging_fixtures.part_id(answer_id)]
    assert not leaks(hidden_text, cases, expected_leaks), hidden_text


def check_in_a_real_kernel(assignment):
    """Every wrong fixture FAILS the release's visible check cell in a real kernel, naming its
    mistake; every correct-unusual and correct-different answer PASSES it. Each answer cell
    starts from Keras' default data format (some correct answers switch it globally)."""
    wrong = wrong_answers(assignment)
    correct = [(a, c, s) for a, c, s in correct_answers(assignment) if c != "master"]
    answers = [(answer_id, RESET + source) for answer_id, _, source in wrong + correct]
    outputs = judging_fixtures.run_test_cells(assignment, answers)
    assert len(outputs) == len(answers)
    problems = []
    for (answer_id, case, source), output in zip(wrong, outputs[:len(wrong)], strict=True):
        if "FAIL" not in output or named(source) not in output:
            problems.append(f"{answer_id}/{case}: expected FAIL naming {named(source)!r}, got {output!r}")
    for (answer_id, case, _), output in zip(correct, outputs[len(wrong):], strict=True):
        if "PASS" not in output or "FAIL" in output:
            problems.append(f"{answer_id}/{case}: expected PASS, got {output!r}")
    assert not problems, "\n".join(problems)


def fixture_tests(assignment, truths=lambda answer_id: ()):
    """The three fixture-driven tests every assignment 01-03 runs, for its test module to bind
    (pytest collects them there, under these names). ``truths(answer_id)``: expected values
    no hidden hint of that answer may show."""

    @pytest.mark.parametrize("answer_id,case,source", params(correct_answers(assignment)))
    def test_correct_answers_pass_visible_and_hidden_cases(answer_id, case, source):
        check_correct(assignment, answer_id, source)

    @pytest.mark.parametrize("answer_id,case,source", params(wrong_answers(assignment)))
    def test_wrong_answer_fails_the_visible_check_naming_its_mistake(answer_id, case, source):
        check_wrong(assignment, answer_id, source, truths(answer_id))

    @pytest.mark.notebooks
    def test_visible_checks_in_a_real_kernel():
        check_in_a_real_kernel(assignment)

    return (test_correct_answers_pass_visible_and_hidden_cases,
            test_wrong_answer_fails_the_visible_check_naming_its_mistake,
            test_visible_checks_in_a_real_kernel)
