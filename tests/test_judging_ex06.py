"""Assignment 06's judged parts (convclinic/judging/ex06.py, ex06_model.py), lesson 06.

Fast tests check the judge's own rules (scenario labels, named counting mistakes)
without TensorFlow; slow ones run every fixture answer cell through collect and
judge, check the rules against the real Keras, and run the release's test cells
in a real kernel (nbclient).
"""

from __future__ import annotations

import pytest

from convclinic.judging import core, ex06
from tests import judging_fixtures as jf

ASSIGNMENT = "06-shape-detective"
CAUSES = core.get_part("ex06-name-the-cause")
FEATURES = core.get_part("ex06-flatten-features")


def test_cases_never_carry_the_expected_label():
    """The label is derived by the judge; a case (sent to the kernel) never holds one."""
    for case in list(CAUSES.visible) + jf.hidden_cases(ASSIGNMENT)["ex06-name-the-cause"]:
        assert not set(ex06.LABELS) & {str(item) for item in case}, case


def test_every_label_has_visible_and_hidden_scenarios():
    hidden = jf.hidden_cases(ASSIGNMENT)["ex06-name-the-cause"]
    assert {ex06.scenario_label(case) for case in CAUSES.visible} == set(ex06.LABELS)
    assert {ex06.scenario_label(case) for case in hidden} == set(ex06.LABELS)


def test_counting_mistakes_are_named_on_the_visible_cases():
    """Each named mistake changes the count of at least one visible case (so it fails visibly)."""
    for _, mistake, _ in ex06.FEATURE_MISTAKES:
        assert any(ex06.simulate(shape, settings, mistake) != ex06.simulate(shape, settings)
                   for shape, settings in FEATURES.visible), mistake


def test_visible_feature_cases_hold_a_stride_and_a_non_square_input():
    assert any(settings[3] > 1 for _, layers in FEATURES.visible for settings in layers
               if settings[0] == "conv")
    assert any(shape[0] != shape[1] for shape, _ in FEATURES.visible)


@pytest.mark.slow
def test_scenarios_fail_on_the_installed_tensorflow():
    for case in list(CAUSES.visible) + jf.hidden_cases(ASSIGNMENT)["ex06-name-the-cause"]:
        assert isinstance(ex06.run_scenario(case), str), case


@pytest.mark.slow
def test_simulate_without_a_mistake_matches_keras():
    for shape, settings in list(FEATURES.visible) + jf.hidden_cases(ASSIGNMENT)["ex06-flatten-features"]:
        assert ex06.simulate(shape, settings) == ex06.keras_features(shape, settings), (shape, settings)


@pytest.mark.slow
@pytest.mark.parametrize("answer_id,case,source",
                         jf.params(ASSIGNMENT, "correct-different", "stderr-noise", "correct-unusual"))
def test_correct_answers_pass_visible_and_hidden(answer_id, case, source):
    grade_id = jf.part_id(answer_id)
    visible, hidden = jf.judge_cell(source, grade_id, jf.hidden_cases(ASSIGNMENT)[grade_id])
    assert all(f.ok for f in visible + hidden), jf.failed_text(visible + hidden)


@pytest.mark.slow
@pytest.mark.parametrize("answer_id,case,source", jf.params(ASSIGNMENT, "wrong"))
def test_wrong_answers_fail_visibly_and_hidden_hints_hide_the_cases(answer_id, case, source):
    grade_id = jf.part_id(answer_id)
    cases = jf.hidden_cases(ASSIGNMENT)[grade_id]
    visible, hidden = jf.judge_cell(source, grade_id, cases)
    assert not all(f.ok for f in visible), f"{case} passes the visible self-check"
    assert not all(f.ok for f in hidden), f"{case} passes the hidden cases"
    jf.assert_hints_hide_the_cases(hidden, cases)


@pytest.mark.slow
def test_every_requirement_fails_some_wrong_answer_on_hidden_cases():
    failed = jf.requirement_failures(ASSIGNMENT)
    for part in ex06.PARTS:
        missing = set(part.requirements) - failed.get(part.grade_id, set())
        assert not missing, (part.grade_id, missing)


MISTAKES = {
    ("ex06-name-the-cause-answer", "ndim-means-channels"): "expected 'missing-axis'",
    ("ex06-name-the-cause-answer", "lookup-table"): "a lookup table",
    ("ex06-flatten-features-answer", "square-only"): "the width was taken equal to the height",
    ("ex06-flatten-features-answer", "padding-ignored"): "'same' padding was treated like 'valid'",
    ("ex06-flatten-features-answer", "strides-ignored"): "the strides were ignored",
    ("ex06-flatten-features-answer", "lookup-table"): "a lookup table",
    ("ex06-fix-model-answer", "no-max-pooling"): "no MaxPooling2D",
    ("ex06-fix-model-answer", "hard-coded-batch-size"): "prepare must work for any number of images",
    ("ex06-fix-model-answer", "shape-fixed-dtype-not"): "cast to float32",
}


@pytest.mark.slow
def test_release_self_checks_name_each_mistake_in_a_real_kernel():
    jf.assert_release_self_checks(ASSIGNMENT, MISTAKES)
