"""Assignment 02 (lesson 02) judged outside the learner's reach: convclinic.judging.ex02.

The truth of Part 1 is rule 4 of :mod:`convclinic.shapes`, pinned here against real
``tf.nn.conv2d``; each named mistake (odd pixel before, dilation ignored, floor for same,
no ``max(..., 0)``, a lookup table of the visible cases) fails the visible self-check.
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from convclinic.judging import core, ex02, fresh
from convclinic.shapes import same_padding
from tests import judging_cases, judging_fixtures

ASSIGNMENT = "02-padding"
pytestmark = pytest.mark.slow


def _truths(answer_id):
    if answer_id != "ex02-same-padding-split-answer":
        return ()
    cases = judging_fixtures.hidden_cases(ASSIGNMENT)["ex02-same-padding-split"]
    return tuple(str(same_padding(*case)) for case in cases if sum(same_padding(*case)))


(test_correct_answers_pass_visible_and_hidden_cases,
 test_wrong_answer_fails_the_visible_check_naming_its_mistake,
 test_visible_checks_in_a_real_kernel) = judging_cases.fixture_tests(ASSIGNMENT, _truths)


def test_the_truth_is_what_tensorflow_pads():
    """Padding a row by rule 4 and convolving VALID gives exactly TF's SAME, on a grid of cases."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for size, kernel, stride, dilation in itertools.product((1, 2, 5, 6, 7, 10), (1, 2, 3, 5),
                                                            (1, 2, 3, 5), (1, 2, 3)):
        if stride > 1 and dilation > 1:
            continue  # TensorFlow's CPU kernel refuses that pair
        row = rng.normal(size=(1, 1, size, 1)).astype("float32")
        taps = rng.normal(size=(1, kernel, 1, 1)).astype("float32")
        before, after = same_padding(size, kernel, stride, dilation)
        same = tf.nn.conv2d(row, taps, strides=stride, padding="SAME", dilations=dilation)
        padded = np.pad(row, ((0, 0), (0, 0), (before, after), (0, 0)))
        valid = tf.nn.conv2d(padded, taps, strides=stride, padding="VALID", dilations=dilation)
        np.testing.assert_allclose(valid, same, atol=1e-5, err_msg=str((size, kernel, stride, dilation)))


def test_every_stated_requirement_has_a_hidden_case():
    hidden = judging_fixtures.hidden_cases(ASSIGNMENT)
    covered = set().union(*(ex02.covers(case) for case in hidden["ex02-same-padding-split"]))
    assert covered == set(range(len(ex02.SPLIT_REQUIREMENTS)))
    assert hidden["ex02-fix-model"]


def test_visible_cases_show_each_mistake():
    """Visible: an odd total, dilation, a stride that does not divide, a negative raw total."""
    cases = [c for c in core.get_part("ex02-same-padding-split").visible if c != fresh.FRESH]
    covered = set().union(*(ex02.covers(case) for case in cases))
    assert covered == set(range(len(ex02.SPLIT_REQUIREMENTS)))


def test_the_fresh_case_is_new_and_the_same_for_the_same_function():
    part = core.get_part("ex02-same-padding-split")
    listed = [list(c) for c in part.visible if c != fresh.FRESH]

    def one(size, kernel_size, stride=1, dilation=1):
        return same_padding(size, kernel_size, stride, dilation)

    def other(size, kernel_size, stride=1, dilation=1):
        return tuple(same_padding(size, kernel_size, stride, dilation))

    first = ex02._fresh_case(fresh.draw(one), listed)
    assert first == ex02._fresh_case(fresh.draw(one), listed) and first not in listed
    drawn = {tuple(ex02._fresh_case(fresh.draw(f), listed)) for f in (one, other, lambda *a: a)}
    assert len(drawn) > 1
    assert isinstance(fresh.draw(print), random.Random)  # a builtin has no bytecode: seed 0


def test_malformed_data_is_a_failed_finding_never_a_crash():
    for grade_id in ("ex02-same-padding-split", "ex02-fix-model"):
        part = core.get_part(grade_id)
        for data in ([1, 2], [{"value": [1, 2, 3]}] * len(part.visible), [{"case": [0, 0], "result": {}}]):
            findings = core.judge_stage(part, {"collected": core.encode(data)}, part.visible, hidden=False)
            assert findings and not all(f.ok for f in findings), (grade_id, data)


def test_reveal_runs_the_real_calls(capsys):
    right = ex02.reveal_predictions({"a": (1, 4, 4, 8), "b": "AttributeError", "c": (1, 28, 28, 8),
                                     "d": "ValueError", "e": (1, 4, 4, 8)})
    assert right == 5, capsys.readouterr().out
