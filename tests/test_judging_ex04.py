"""Assignment 04's judged parts (convclinic/judging/ex04.py), lesson 04.

Fast tests feed the judge hand-made records (no TensorFlow); slow ones run every
fixture answer cell (tests/fixtures/exercises/04-data-format) through collect and
judge, and the release's test cells in a real kernel (nbclient).
"""

from __future__ import annotations

import numpy as np
import pytest

from convclinic.judging import core, ex04
from convclinic.judging.fresh import FRESH
from tests import judging_fixtures as jf

ASSIGNMENT = "04-data-format"
TRANSPOSE = core.get_part("ex04-transpose")
LISTED = [case for case in TRANSPOSE.visible if case != FRESH]


def _records(function_last, function_first, cases):
    data = []
    for case in cases:
        (n, c, h, w), dtype = ex04.transpose_case(case)
        data.append({"last": {"value": function_last(ex04.batch((n, c, h, w), dtype))},
                     "first": {"value": function_first(ex04.batch((n, h, w, c), dtype))}})
    return data


def test_transpose_truth_is_numpy_transpose_and_names_a_height_width_swap():
    right = _records(lambda b: np.transpose(b, (0, 2, 3, 1)), lambda b: np.transpose(b, (0, 3, 1, 2)),
                     LISTED)
    assert all(f.ok for f in ex04.judge_transpose(right, LISTED, False))
    swapped = _records(lambda b: np.transpose(b, (0, 3, 2, 1)), lambda b: np.transpose(b, (0, 3, 2, 1)),
                       LISTED)
    failed = [f for f in ex04.judge_transpose(swapped, LISTED, False) if not f.ok]
    assert failed and all("height and width are swapped" in f.message for f in failed)


def test_transpose_visible_cases_catch_square_only_code():
    """Every visible check holds a non-square image, so an H/W swap fails visibly."""
    assert any(case[2] != case[3] for case in LISTED)
    assert any(case[4] != "float32" for case in LISTED)  # a cast fails visibly too


def test_malformed_data_is_unreadable_not_a_crash():
    findings = ex04.judge_transpose({"no": "list"}, TRANSPOSE.visible, False)
    assert findings and not any(f.ok for f in findings)
    assert "could not be read" in findings[0].message


(test_correct_answers_pass_visible_and_hidden,
 test_wrong_answers_fail_visibly_and_hidden_hints_hide_the_cases,
 test_every_requirement_fails_some_wrong_answer_on_hidden_cases) = jf.fixture_tests(ASSIGNMENT, ex04.PARTS)


@pytest.mark.slow
def test_keras_layer_with_the_converted_kernel_matches_reference_conv2d():
    """The judge's truth: lesson 04's NumPy reference against a real Keras Conv2D."""
    from convclinic.formats import reference_conv2d

    weight, images = ex04.torch_weight([2, 5, 3, 2])
    got = ex04.keras_output(np.transpose(weight, (2, 3, 1, 0)), images)
    assert np.allclose(got, reference_conv2d(images, weight), atol=1e-4)
    assert not np.allclose(ex04.keras_output(np.transpose(weight, (2, 3, 1, 0))[::-1, ::-1], images),
                           reference_conv2d(images, weight), atol=1e-4)


MISTAKES = {
    ("ex04-transpose-answer", "height-width-swapped"): "height and width are swapped",
    ("ex04-transpose-answer", "reshape-instead-of-transpose"): "a reshape gives the right shape",
    ("ex04-transpose-answer", "casts-to-float"): "must not cast",
    ("ex04-torch-kernel-answer", "flipped-kernel"): "the kernel is flipped",
    ("ex04-torch-kernel-answer", "full-reverse-transpose"): "rows and columns are swapped",
    ("ex04-torch-kernel-answer", "in-out-swapped"): "in and out channels are swapped",
}


@pytest.mark.slow
def test_release_self_checks_name_each_mistake_in_a_real_kernel():
    """The release's own test cells, in a real kernel: each named mistake FAILs naming it, the
    correct-unusual answers PASS (global channels_first included)."""
    jf.assert_release_self_checks(ASSIGNMENT, MISTAKES)


@pytest.mark.slow
def test_reveal_ignores_a_global_channels_first():
    """The ungraded Part 3 reveal: every layer names its data_format, so a learner's global
    ``keras.config.set_image_data_format("channels_first")`` does not change what is shown."""
    import contextlib
    import io

    from convclinic.judging.truth import default_keras_config

    right = {"a": (1, 8, 26, 26), "b": (1, 1, 26, 8), "c": (1, 8, 26, 1), "d": "ValueError", "e": "ValueError"}
    with default_keras_config() as keras, contextlib.redirect_stdout(io.StringIO()) as shown:
        keras.config.set_image_data_format("channels_first")
        assert ex04.reveal_predictions({key: ... for key in right}) is None
        assert ex04.reveal_predictions(right) == len(right)
    assert "5 of 5 right" in shown.getvalue()


def test_drawn_cases_are_non_square_and_checked_strictly():
    """The case drawn per answer (a lookup table of the visible cases fails it) has height != width
    and kernel_h != kernel_w; a forged one that is too big is refused."""
    assert all(FRESH in part.visible for part in ex04.PARTS)
    functions = [eval(f"lambda batch: {value}") for value in range(20)]  # noqa: S307 - fixed text
    for function in functions:
        n, c, h, w, dtype = ex04.draw_transpose_case(function)
        assert h != w and ex04.transpose_case([n, c, h, w, dtype])
        out_channels, in_channels, kernel_h, kernel_w = ex04.draw_kernel_case(function)
        assert kernel_h != kernel_w and out_channels != in_channels
    for forged in ([64, 64, 64, 64, "float32"], [1, 1, 2, 2, "object"]):
        with pytest.raises(ValueError):
            ex04.transpose_case(forged)
    with pytest.raises(ValueError):
        ex04.kernel_case([64, 64, 64, 64])
