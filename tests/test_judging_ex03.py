"""Assignment 03 (lesson 03) judged outside the learner's reach: convclinic.judging.ex03.

The truth of Part 1 is real Keras layers built under Keras' default settings; each named
mistake (dilation ignored, floor for same, the + 1 missing, square-only, no None branch,
a lookup table) fails the visible self-check, and Part 3 checks every stated requirement
(a MaxPooling2D(1) before the convolution is not "pooling after it").
"""

from __future__ import annotations

import itertools

import pytest

from convclinic.judging import core, ex03, fresh
from convclinic.judging.truth import default_keras_config
from tests import judging_cases, judging_fixtures

ASSIGNMENT = "03-stride-dilation"
pytestmark = pytest.mark.slow


def _truths(answer_id):
    if answer_id != "ex03-stack-output-shape-answer":
        return ()
    cases = judging_fixtures.hidden_cases(ASSIGNMENT)["ex03-stack-output-shape"]
    truths = (ex03.keras_truth(*ex03.stack_case(case)) for case in cases)
    return tuple(str(truth) for truth in truths if truth is not None)


(test_correct_answers_pass_visible_and_hidden_cases,
 test_wrong_answer_fails_the_visible_check_naming_its_mistake,
 test_visible_checks_in_a_real_kernel) = judging_cases.fixture_tests(ASSIGNMENT, _truths)


def test_every_stated_requirement_has_a_hidden_case():
    hidden = judging_fixtures.hidden_cases(ASSIGNMENT)
    covered = set().union(*(ex03.covers(case) for case in hidden["ex03-stack-output-shape"]))
    assert covered == set(range(len(ex03.STACK_REQUIREMENTS)))
    assert hidden["ex03-fix-model"]


def test_visible_cases_hold_dilation_same_with_a_remainder_non_square_and_none():
    cases = [c for c in core.get_part("ex03-stack-output-shape").visible if c != fresh.FRESH]
    covered = set().union(*(ex03.covers(case) for case in cases))
    assert covered == set(range(len(ex03.STACK_REQUIREMENTS)))


def test_the_truth_ignores_the_learners_global_data_format():
    from convclinic.runtime import import_keras

    keras = import_keras()
    case = ex03.stack_case([[28, 20, 3], [[4, 3, 1, "valid", 4], [2, 2, 2, "valid", 1]]])
    with default_keras_config():
        keras.config.set_image_data_format("channels_first")
        assert ex03.keras_truth(*case) == (10, 6, 2)
        assert keras.config.image_data_format() == "channels_first"


def test_the_rules_used_to_name_mistakes_agree_with_keras():
    """ex03._variant() with no switch is the right rule: it must equal Keras on a grid."""
    for size, kernel, stride, padding, dilation in itertools.product(
            (3, 7, 12), (1, 3, 5), (1, 2, 4), ("valid", "same"), (1, 3)):
        if stride > 1 and dilation > 1:
            continue
        layers = ((4, kernel, stride, padding, dilation),)
        assert ex03._variant((size, size + 2, 1), layers) == ex03.keras_truth((size, size + 2, 1), layers)


def test_malformed_data_is_a_failed_finding_never_a_crash():
    for grade_id in ("ex03-stack-output-shape", "ex03-fix-model"):
        part = core.get_part(grade_id)
        for data in ([1], [{"value": [1, 2]}] * len(part.visible), [{"value": "x"}] * len(part.visible)):
            findings = core.judge_stage(part, {"collected": core.encode(data)}, part.visible, hidden=False)
            assert findings and not all(f.ok for f in findings), (grade_id, data)


def test_reveal_runs_the_real_calls(capsys):
    right = ex03.reveal_predictions({"a": "ValueError", "b": (1, 1, 1, 4), "c": "ValueError",
                                     "d": (1, 2, 2, 4), "e": (1, 10, 10, 8)})
    assert right == 5, capsys.readouterr().out
