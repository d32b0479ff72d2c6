"""convclinic.judging.truth against the installed TensorFlow/Keras: models travel as data and are
rebuilt safely under Keras' default settings; one training step; the outcome of a real call."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convclinic.judging import core, kernel, truth
from convclinic.runtime import import_keras

pytestmark = pytest.mark.slow  # imports TensorFlow at module level

keras = import_keras()


def _model(compiled=True, data_format="channels_last"):
    shape = (8, 8, 1) if data_format == "channels_last" else (1, 8, 8)
    model = keras.Sequential([keras.Input(shape), keras.layers.Conv2D(2, 3, data_format=data_format),
                              keras.layers.Flatten(), keras.layers.Dense(3)])
    if compiled:
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _through_json(data):
    return core.decode(json.loads(json.dumps(core.encode(data))))


def test_a_model_survives_the_trip_as_data():
    model = _model()
    rebuilt = truth.rebuild_model(_through_json(kernel.model_record(model)))
    images = np.random.default_rng(0).random((2, 8, 8, 1), dtype="float32")
    np.testing.assert_allclose(rebuilt(images).numpy(), model(images).numpy(), rtol=1e-5, atol=1e-6)
    ok, loss = truth.train_one_step(rebuilt, images, np.array([0, 2]))
    assert ok and np.isfinite(loss)


def test_a_lambda_layer_is_refused_by_safe_mode():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    with pytest.raises(truth.ModelError, match="cannot be rebuilt"):
        truth.rebuild_model(_through_json(kernel.model_record(model)))


@pytest.mark.parametrize("data", [None, {"config": "x"}, {"config": {"class_name": "Nope", "config": {}}},
                                  {"config": {"class_name": "Dense", "config": {"units": 2}}}])
def test_malformed_model_data_is_a_model_error(data):
    with pytest.raises(truth.ModelError):
        truth.rebuild_model(data)


def test_wrong_weights_are_a_model_error():
    data = _through_json(kernel.model_record(_model()))
    data["weights"] = [np.zeros(3, dtype="float32")]
    with pytest.raises(truth.ModelError, match="weights"):
        truth.rebuild_model(data)


def test_the_learners_global_settings_never_change_the_truth():
    keras.config.set_image_data_format("channels_first")
    try:
        with truth.default_keras_config():
            assert keras.config.image_data_format() == "channels_last"
        assert keras.config.image_data_format() == "channels_first"
    finally:
        keras.config.set_image_data_format("channels_last")


def test_an_uncompiled_model_does_not_train():
    ok, why = truth.train_one_step(truth.rebuild_model(_through_json(kernel.model_record(_model(False)))),
                                   *truth.judge_data((2, 8, 8, 1), classes=3))
    assert not ok and "not compiled" in why


def test_outcome_is_a_shape_or_an_error_name():
    assert truth.outcome(lambda: keras.layers.Conv2D(4, 3)(np.zeros((1, 7, 7, 1), "float32"))) == (1, 5, 5, 4)
    assert truth.outcome(lambda: keras.layers.Conv2D(4, 5)(np.zeros((1, 4, 4, 1), "float32"))) == "ValueError"
