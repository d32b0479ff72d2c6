"""Assignment 01 (lesson 01) judged outside the learner's reach: convclinic.judging.ex01.

Correct answers written any way (NumPy or tf tensors, NumPy ints, a helper named ``conv``,
a Reshape layer, Keras' global data format switched) pass; each named mistake fails the
VISIBLE self-check with its name, and the hidden cases too, with hints only.
"""

from __future__ import annotations

import numpy as np
import pytest

from convclinic.judging import core, ex01
from convclinic.judging.predictions import normalize
from tests import judging_cases, judging_fixtures

ASSIGNMENT = "01-channel-axis"
pytestmark = pytest.mark.slow


(test_correct_answers_pass_visible_and_hidden_cases,
 test_wrong_answer_fails_the_visible_check_naming_its_mistake,
 test_visible_checks_in_a_real_kernel) = judging_cases.fixture_tests(ASSIGNMENT)


def test_every_stated_requirement_has_a_hidden_case():
    hidden = judging_fixtures.hidden_cases(ASSIGNMENT)
    axis = set().union(*(ex01.axis_covers(case) for case in hidden["ex01-add-channel-axis"]))
    assert axis == set(range(len(ex01.AXIS_REQUIREMENTS)))
    inputs = set().union(*(ex01.input_covers(case) for case in hidden["ex01-as-model-input"]))
    assert inputs == set(range(len(ex01.INPUT_REQUIREMENTS)))
    # a model case checks every requirement of the model part (layers, output, compile, training)
    assert hidden["ex01-fix-model"] and len(ex01.FIX_MODEL.requirements) == 4


def test_visible_cases_hold_a_non_square_size_both_formats_and_a_float_image():
    axis = [ex01.axis_case(c) for c in core.get_part("ex01-add-channel-axis").visible if c != "fresh"]
    assert any(h != w and f == "channels_first" for _, h, w, _, f in axis)
    assert {f for *_, f in axis} == {"channels_last", "channels_first", None}
    images = [ex01.input_case(c) for c in core.get_part("ex01-as-model-input").visible if c != "fresh"]
    assert any(h != w for h, w, _, _ in images) and any(d.startswith("float") for *_, d in images)


def test_a_uint8_tensor_keeps_its_dtype_although_its_dtype_prints_differently():
    import tensorflow as tf

    tensor = tf.expand_dims(tf.zeros((2, 3, 4), tf.uint8), -1)
    assert str(tensor.dtype) == "<dtype: 'uint8'>"  # what the old hidden test compared with "uint8"
    part = core.get_part("ex01-add-channel-axis")
    envelope = core.collect_from(part, {"add_channel_axis": lambda images, data_format="channels_last":
                                        tf.expand_dims(images, -1 if data_format == "channels_last" else 1)},
                                 part.visible)
    assert all(f.ok for f in core.judge_stage(part, envelope, part.visible, hidden=False))


def test_malformed_data_is_a_failed_finding_never_a_crash():
    for grade_id in ("ex01-add-channel-axis", "ex01-as-model-input", "ex01-fix-model"):
        part = core.get_part(grade_id)
        for data in ([1, 2], [{"value": "x"}] * len(part.visible), {"a": 1}, [[{"model": 3}]]):
            findings = core.judge_stage(part, {"collected": core.encode(data)}, part.visible, hidden=False)
            assert findings and not all(f.ok for f in findings), (grade_id, data)


@pytest.mark.parametrize("prediction,expected", [
    ((1, 26, 26, 8), (1, 26, 26, 8)), ([1, 26, 26, 8], (1, 26, 26, 8)),
    (np.array([1, 26, 26, 8]), (1, 26, 26, 8)), ((np.int64(1), 26), (1, 26)),
    (ValueError, "ValueError"), (" ValueError ", "ValueError"), (..., None), (3.5, None),
])
def test_predictions_are_read_in_any_spelling(prediction, expected):
    assert normalize(prediction) == expected


def test_reveal_waits_for_every_prediction_then_shows_tensorflow(capsys):
    assert ex01.reveal_predictions({"a": ..., "b": (1, 26, 26, 8)}) is None
    assert "Not revealed yet" in capsys.readouterr().out
    right = ex01.reveal_predictions({"a": ValueError, "b": np.array([1, 26, 26, 8]), "c": "ValueError",
                                     "d": (1, 26, 26, 8), "e": (4, 26, 26, 9)})
    out = capsys.readouterr().out
    assert right == 4 and "[WRONG]" in out and "(4, 26, 26, 8)" in out and "no points" in out
