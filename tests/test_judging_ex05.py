"""Assignment 05's judged parts (convclinic/judging/ex05.py), lesson 05.

Part 1 runs on the recording fake ``tf`` (no TensorFlow): fast tests call the
learner-style functions through the real collect and judge. Slow tests run every
fixture answer cell and the release's test cells in a real kernel (nbclient).
"""

from __future__ import annotations

import json

import pytest

from convclinic.judging import core, ex05
from tests import judging_fixtures as jf

ASSIGNMENT = "05-framework-version"
GROWTH = core.get_part("ex05-memory-growth")


def _judge_growth(function, cases):
    envelope = json.loads(json.dumps(core.collect_from(GROWTH, {"enable_memory_growth": function}, cases)))
    return core.judge_stage(GROWTH, envelope, cases, hidden=False)


def _keyword_spelling(tf):
    gpus = tf.config.experimental.list_physical_devices(device_type="GPU")
    for gpu in gpus:
        tf.config.experimental.set_memory_growth(device=gpu, enable=True)
    return [gpu.name for gpu in gpus]


def _first_gpu_only(tf):
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        tf.config.experimental.set_memory_growth(gpus[0], True)
    return [gpu.name for gpu in gpus]


def test_every_real_api_spelling_passes():
    assert all(f.ok for f in _judge_growth(_keyword_spelling, [0, 1, 3]))


def test_first_gpu_only_fails_the_visible_cases_naming_it():
    assert any(count > 1 for count in GROWTH.visible) and 0 in GROWTH.visible
    failed = [f for f in _judge_growth(_first_gpu_only, list(GROWTH.visible)) if not f.ok]
    assert failed and "only the first GPU gets memory growth" in failed[0].message


def test_returning_devices_instead_of_names_fails():
    def devices(tf):
        gpus = tf.config.list_physical_devices("GPU")
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        return gpus

    failed = [f for f in _judge_growth(devices, [2]) if not f.ok]
    assert failed and "return gpu.name" in failed[0].message


(test_correct_answers_pass_visible_and_hidden,
 test_wrong_answers_fail_visibly_and_hidden_hints_hide_the_cases,
 test_every_requirement_fails_some_wrong_answer_on_hidden_cases) = jf.fixture_tests(ASSIGNMENT, ex05.PARTS)


@pytest.mark.slow
def test_reveal_shows_the_installed_keras_behaviour():
    """The ungraded Part 3 reveal: nothing until every case is predicted, then TF's answers."""
    import contextlib
    import io

    cases = ex05.prediction_cases()
    with contextlib.redirect_stdout(io.StringIO()):
        assert ex05.reveal_predictions({key: ... for key in cases}) is None
        right = ex05.reveal_predictions({"a": (1, 98, 98, 32), "b": "ValueError", "c": "ValueError",
                                         "d": "ValueError", "e": "ValueError"})
    assert right == len(cases)


MISTAKES = {
    ("ex05-memory-growth-answer", "first-gpu-only"): "only the first GPU gets memory growth",
    ("ex05-memory-growth-answer", "all-devices"): "memory growth was set on ['/physical_device:CPU:0']",
    ("ex05-memory-growth-answer", "names-only"): "got no memory growth",
    ("ex05-keras3-input-answer", "fixed-input-shape"): "never a fixed shape",
    ("ex05-keras3-input-answer", "input-shape-kept"): "building the model warned",
    ("ex05-keras3-input-answer", "warning-silenced"): "a layer still got input_shape=",
}


@pytest.mark.slow
def test_release_self_checks_name_each_mistake_in_a_real_kernel():
    jf.assert_release_self_checks(ASSIGNMENT, MISTAKES)
