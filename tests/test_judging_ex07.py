"""Assignment 07 (lesson 07) judged outside the learner's reach: convclinic.judging.ex07.

Fast tests check the cases and malformed records without TensorFlow; slow ones run
every fixture answer cell (tests/fixtures/exercises/07-pipelines) through collect
and judge: each correct answer passes the visible and hidden cases, each wrong one
fails the visible self-check with a message naming its mistake and fails the hidden
cases with hints only, and every stated requirement is failed by some wrong answer
on the hidden cases. The release's test cells also run in a real kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

from convclinic.judging import core, ex07, ex07_dataset
from tests import judging_cases, judging_fixtures

ASSIGNMENT = "07-pipelines"
GRADE_IDS = ("ex07-make-dataset", "ex07-any-size-classifier", "ex07-autoencoder", "ex07-port-dense")


def test_every_part_is_registered_and_found_by_its_grade_id():
    assert tuple(part.grade_id for part in ex07.PARTS) == GRADE_IDS
    for grade_id in GRADE_IDS:
        part = core.get_part(grade_id)
        assert part.requirements and part.visible


@pytest.mark.parametrize("bad", [[6, 28, 0, "CMYK", 4], [6, 28, 0, "L"], [0, 28, 0, "L", 4],
                                 [6, 500, 0, "L", 4], [6, 28, 0, "L", True], "folder"])
def test_malformed_folder_cases_are_refused(bad):
    with pytest.raises(ValueError):
        ex07_dataset.folder_case(bad)


@pytest.mark.parametrize("judge,cases", [
    (ex07_dataset.judge_dataset, [[6, 28, 0, "L", 4]]),
    (ex07.judge_classifier, [[2, 4, 28, 28, 0]]),
    (ex07.judge_autoencoder, [[28, 0]]),
    (ex07.judge_port, [[4, 2, 3, 3, 0]]),
])
def test_malformed_data_is_unreadable_not_a_crash(judge, cases):
    findings = judge({"no": "list"}, cases, False)
    assert findings and not any(f.ok for f in findings)
    assert all("could not be read" in f.message for f in findings)


def test_port_weight_is_the_same_on_both_sides_and_never_an_expected_value():
    """The kernel gets the channels-first weight (the learner's input); the kernel it must
    return is computed only in the judge."""
    case = [4, 2, 3, 3, 0]
    assert np.array_equal(ex07.torch_weight(case), ex07.torch_weight(list(case)))
    assert ex07.torch_weight(case).shape == (4, 18)


@pytest.mark.slow
@pytest.mark.parametrize("answer_id,case,source", judging_cases.params(
    judging_cases.correct_answers(ASSIGNMENT)))
def test_correct_answers_pass_visible_and_hidden_cases(answer_id, case, source):
    judging_cases.check_correct(ASSIGNMENT, answer_id, source)


@pytest.mark.slow
@pytest.mark.parametrize("answer_id,case,source", judging_cases.params(
    judging_cases.wrong_answers(ASSIGNMENT)))
def test_wrong_answer_fails_the_visible_check_naming_its_mistake(answer_id, case, source):
    judging_cases.check_wrong(ASSIGNMENT, answer_id, source)
    _, hidden = judging_cases.judge(ASSIGNMENT, answer_id, source)
    cases = judging_fixtures.hidden_cases(ASSIGNMENT)[judging_fixtures.part_id(answer_id)]
    judging_fixtures.assert_hints_hide_the_cases(hidden, cases)


@pytest.mark.slow
def test_every_requirement_fails_some_wrong_answer_on_hidden_cases():
    failed = judging_fixtures.requirement_failures(ASSIGNMENT)
    for part in ex07.PARTS:
        missing = set(part.requirements) - failed.get(part.grade_id, set())
        assert not missing, f"{part.grade_id}: no wrong fixture fails {missing}"


def test_hidden_cases_go_beyond_the_visible_ones():
    """Part 1: colour files and sizes other than 28, and a batch larger than the folder;
    Part 2: non-square sizes; Part 3: sizes that are not multiples of 4 (odd and even);
    Part 4: non-square maps and a single channel."""
    hidden = judging_fixtures.hidden_cases(ASSIGNMENT)
    folders = [ex07_dataset.folder_case(case) for case in hidden["ex07-make-dataset"]]
    assert any(mode == "RGB" for _, _, _, mode, _ in folders)
    assert any(size not in (28, 256) for _, size, _, _, _ in folders)
    assert any(batch > 2 * per_class for per_class, _, _, _, batch in folders)
    assert any(h != w for _, _, h, w, _ in map(ex07.classifier_case, hidden["ex07-any-size-classifier"]))
    sizes = [ex07.autoencoder_case(case)[0] for case in hidden["ex07-autoencoder"]]
    assert {size % 4 for size in sizes} == {0, 1, 2, 3}
    ports = [ex07.port_case(case) for case in hidden["ex07-port-dense"]]
    assert any(h != w for _, _, h, w, _ in ports) and any(c == 1 for _, c, _, _, _ in ports)


@pytest.mark.slow
def test_the_truth_ignores_the_learners_global_data_format():
    """A learner who switched Keras to channels_first does not change the port judge's truth."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    case = [4, 2, 3, 3, 0]
    weight = ex07.torch_weight(case)
    right = weight.reshape(4, 2, 3, 3).transpose(2, 3, 1, 0).reshape(18, 4)
    keras.config.set_image_data_format("channels_first")
    try:
        findings = ex07.judge_port([{"value": right}], [case], False)
    finally:
        keras.config.set_image_data_format("channels_last")
    assert all(f.ok for f in findings), findings


@pytest.mark.slow
@pytest.mark.notebooks
def test_visible_checks_in_a_real_kernel():
    judging_cases.check_in_a_real_kernel(ASSIGNMENT)
