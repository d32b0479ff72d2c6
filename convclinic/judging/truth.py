"""The truth, asked from the real TensorFlow/Keras in the clean (judging) process.

Used by the ``judge`` half of the parts (:mod:`convclinic.judging.core`): nothing
here runs a learner's code. A learner's model arrives as data (its config, weights
and compile config, see :func:`convclinic.judging.kernel.model_record`) and is
rebuilt here with ``safe_mode=True`` (no lambdas, no custom classes) under a fresh
default ``keras.config``: the learner's global settings (``image_data_format``,
``floatx``) never change the truth.
"""

from __future__ import annotations

import contextlib
import logging
import math

import numpy as np

from convclinic.judging.kernel import quiet

DEFAULTS = {"image_data_format": "channels_last", "floatx": "float32", "epsilon": 1e-7}


def keras():
    from convclinic.runtime import import_keras

    return import_keras()


def tensorflow():
    from convclinic.runtime import import_tensorflow

    return import_tensorflow()


def _headline(error):
    from convclinic.runtime import headline

    return headline(error)


def outcome(call):
    """Run ``call()`` for real: the output shape as a tuple, or the error type's name
    (TensorFlow's log lines and warnings kept out of the cell)."""
    with quiet():
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - the error IS the outcome
            return type(error).__name__
    return tuple(int(v) if v is not None else None for v in result.shape)


@contextlib.contextmanager
def default_keras_config():
    """Keras' global settings at their defaults inside the block, restored after."""
    k = keras()
    saved = (k.config.image_data_format(), k.config.floatx(), k.config.epsilon())
    k.config.set_image_data_format(DEFAULTS["image_data_format"])
    k.config.set_floatx(DEFAULTS["floatx"])
    k.config.set_epsilon(DEFAULTS["epsilon"])
    try:
        yield k
    finally:
        k.config.set_image_data_format(saved[0])
        k.config.set_floatx(saved[1])
        k.config.set_epsilon(saved[2])


class ModelError(ValueError):
    """A collected model that cannot be rebuilt (the message says why, for the learner)."""


def rebuild_model(data, compile=True):
    """A Keras model from ``{"config", "weights", "compile"}`` data (``safe_mode=True``).

    Raises :class:`ModelError` with a teaching message when the data is not a
    model Keras can rebuild safely.
    """
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise ModelError("the answer is not a Keras model")
    with quiet(), default_keras_config() as k:
        try:
            model = k.saving.deserialize_keras_object(data["config"], safe_mode=True)
        except Exception as error:  # noqa: BLE001 - any refusal is the learner's model
            raise ModelError(f"the model cannot be rebuilt from its config ({type(error).__name__}: "
                             f"{_headline(error)[:160]}); use only built-in Keras layers") from None
        if not isinstance(model, k.Model):
            raise ModelError(f"the answer is a {type(model).__name__}, not a Keras model")
        _set_weights(model, data.get("weights"))
        if compile:
            _compile(k, model, data.get("compile"))
    return model


def _set_weights(model, weights):
    if weights is None:
        return
    if not isinstance(weights, list) or not all(isinstance(w, np.ndarray) for w in weights):
        raise ModelError("the model's weights could not be read")
    try:
        model.set_weights(weights)
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"the model's weights do not fit its layers ({type(error).__name__})") from None


def _compile(k, model, config):
    if config is None:
        return
    if not isinstance(config, dict):
        raise ModelError("the model's compile settings could not be read")
    try:
        settings = k.saving.deserialize_keras_object(config, safe_mode=True)
        model.compile(**settings)
    except Exception as error:  # noqa: BLE001
        raise ModelError(f"the model's compile settings cannot be rebuilt ({type(error).__name__}: "
                         f"{_headline(error)[:160]})") from None


def judge_data(shape, classes=10, seed=0, dtype="float32"):
    """Images of ``shape`` (batch first) and integer labels, made by the judge (seeded)."""
    rng = np.random.default_rng(seed)
    return rng.random(shape).astype(dtype), rng.integers(0, classes, size=shape[0])


@contextlib.contextmanager
def no_retracing_warnings():
    """TensorFlow logs a retracing WARNING (on stdout in a notebook) from the sixth model trained
    in a row; a judge that trains one model per case keeps it out of the learner's test cell."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def eagerly(model):
    """One step runs eagerly: tracing a ``tf.function`` for a single step costs ~0.5 s a model,
    the step itself ~0.05 s (the same layers, losses and gradients). A model that already has a
    training function (the learner trained it) is left as it is, and the learner's model gets
    its own setting back, with no function built here left behind."""
    changed = getattr(model, "train_function", None) is None and not getattr(model, "run_eagerly", True)
    if changed:
        model.run_eagerly = True
    try:
        yield
    finally:
        if changed:
            model.run_eagerly = False
            model.train_function = None


def train_one_step(model, images, labels):
    """One training step of a rebuilt, compiled model: ``(True, loss)`` or ``(False, why)``."""
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        return False, "the model is not compiled: call model.compile(optimizer=..., loss=...) before returning it"
    with quiet(), default_keras_config(), eagerly(model):
        try:
            loss = model.train_on_batch(images, labels)
        except Exception as error:  # noqa: BLE001 - turned into a teaching message
            return False, (f"one training step failed: {type(error).__name__}: "
                           f"{_headline(error)[:160]}")
    if isinstance(loss, list | tuple):
        loss = loss[0]
    loss = float(loss)
    if not math.isfinite(loss):
        return False, f"the training loss is {loss}: not a finite number"
    return True, loss
