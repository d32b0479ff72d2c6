"""Assignment 06's judged parts (convclinic/judging/ex06.py, ex06_model.py), lesson 06.

Fast tests check the judge's own rules (scenario labels, named counting mistakes)
without TensorFlow; slow ones run every fixture answer cell through collect and
judge, check the rules against the real Keras, and run the release's test cells
in a real kernel (nbclient).
"""

from __future__ import annotations

import pytest

from convclinic.judging import core, ex06
from convclinic.judging.fresh import FRESH
from tests import judging_fixtures as jf

ASSIGNMENT = "06-shape-detective"
CAUSES = core.get_part("ex06-name-the-cause")
FEATURES = core.get_part("ex06-flatten-features")
LISTED = [case for case in FEATURES.visible if case != FRESH]
SCENARIOS = [case for case in CAUSES.visible if case != FRESH]


def test_cases_never_carry_the_expected_label():
    """The label is derived by the judge; a case (sent to the kernel) never holds one."""
    for case in SCENARIOS + jf.hidden_cases(ASSIGNMENT)["ex06-name-the-cause"]:
        assert not set(ex06.LABELS) & {str(item) for item in case}, case


def test_every_label_has_visible_and_hidden_scenarios():
    hidden = jf.hidden_cases(ASSIGNMENT)["ex06-name-the-cause"]
    assert {ex06.scenario_label(case) for case in SCENARIOS} == set(ex06.LABELS)
    assert FRESH in CAUSES.visible  # and one scenario drawn per answer: a table of messages fails
    assert {ex06.scenario_label(case) for case in hidden} == set(ex06.LABELS)


def test_counting_mistakes_are_named_on_the_visible_cases():
    """Each named mistake changes the count of at least one visible case (so it fails visibly)."""
    for _, mistake, _ in ex06.FEATURE_MISTAKES:
        assert any(ex06.simulate(shape, settings, mistake) != ex06.simulate(shape, settings)
                   for shape, settings in LISTED), mistake


def test_visible_feature_cases_hold_a_stride_and_a_non_square_input():
    assert any(settings[3] > 1 for _, layers in LISTED for settings in layers if settings[0] == "conv")
    assert any(shape[0] != shape[1] for shape, _ in LISTED)
    assert FRESH in FEATURES.visible  # and one case drawn per answer: a lookup table fails


def test_drawn_case_depends_on_the_answer_and_is_checked_strictly():
    def one(input_shape, layer_settings):
        return 1

    def two(input_shape, layer_settings):
        return 2

    drawn = ex06.draw_features_case(one)
    assert drawn == ex06.draw_features_case(one)  # the same answer meets the same case
    assert ex06.read_features_case(drawn) == drawn
    assert any(ex06.draw_features_case(f) != drawn for f in (two, lambda shape, layers: 3, lambda shape, layers: 4))
    with pytest.raises(ValueError):
        ex06.read_features_case([[5, 5, 1], [["conv", 4, 7, 1, "valid"]]])  # does not fit
    with pytest.raises(ValueError):
        ex06.read_features_case([[5000, 5, 1], [["pool", 2]]])


def _answers():
    """Many distinct functions, so that the drawn scenarios cover every kind."""
    return [eval(f"lambda message: {value}") for value in range(60)]  # noqa: S307 - fixed text


def test_drawn_scenarios_cover_every_label_and_are_checked_strictly():
    drawn = [ex06.draw_scenario(function) for function in _answers()]
    assert {ex06.scenario_label(case) for case in drawn} == set(ex06.LABELS)
    assert all(ex06.read_scenario(case) == case for case in drawn)
    for forged in (["conv", [1, 9999, 2, 1], "float32", {}], ["conv", [1, 8, 8, 1], "object", {}],
                   ["conv", [1, 8, 8, 1], "float32", {"activation": "relu"}], ["exec", "rm -rf /"]):
        with pytest.raises(ValueError):
            ex06.read_scenario(forged)


@pytest.mark.slow
def test_scenarios_fail_on_the_installed_tensorflow():
    drawn = [ex06.draw_scenario(function) for function in _answers()]
    bad = [["conv", [1, 28, 28, 1], "float32", arguments] for arguments in ex06.BAD_ARGUMENTS]
    for case in SCENARIOS + jf.hidden_cases(ASSIGNMENT)["ex06-name-the-cause"] + drawn + bad:
        assert isinstance(ex06.run_scenario(case), str), case


@pytest.mark.slow
def test_simulate_without_a_mistake_matches_keras():
    drawn = [ex06.draw_features_case(function) for function in (len, print, test_cases_never_carry_the_expected_label)]
    for shape, settings in LISTED + drawn + jf.hidden_cases(ASSIGNMENT)["ex06-flatten-features"]:
        assert ex06.simulate(shape, settings) == ex06.keras_features(shape, settings), (shape, settings)


(test_correct_answers_pass_visible_and_hidden,
 test_wrong_answers_fail_visibly_and_hidden_hints_hide_the_cases,
 test_every_requirement_fails_some_wrong_answer_on_hidden_cases) = jf.fixture_tests(ASSIGNMENT, ex06.PARTS)


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
