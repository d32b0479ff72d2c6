"""Assignment 07 (Conv2D in real pipelines): the judged parts. Lesson 07 teaches all four.

- ``ex07-make-dataset``: ``make_dataset(folder, batch_size)`` loads a folder of
  PNG files for a ``(28, 28, 1)`` model, see :mod:`convclinic.judging.ex07_dataset`.
- ``ex07-any-size-classifier``: ``build_classifier(classes)`` takes grayscale
  images of any size and 0-255 pixels; the model travels as data and is rebuilt
  here (:func:`convclinic.judging.truth.rebuild_model`).
- ``ex07-autoencoder``: ``build_autoencoder(size)`` gives back ``(size, size, 1)``
  for sizes that are not multiples of 4 (the 27-vs-28 decoder).
- ``ex07-port-dense``: ``port_dense_kernel(weight, channels, height, width)``
  reorders a channels-first ``Dense`` weight; the truth is a real Keras
  ``Flatten`` + ``Dense`` against the channels-first computation.
"""

from __future__ import annotations

import math

import numpy as np

from convclinic.judging.casework import as_array, call, error_text, judge_each, read_array
from convclinic.judging.core import Part, register
from convclinic.judging.ex07_dataset import DATASET_PART, ints
from convclinic.judging.models import layers_of, rebuilt, record_model
from convclinic.judging.truth import judge_data, no_retracing_warnings, train_one_step

# --- Parts 2 and 3: models -----------------------------------------------------------------


def compiled_like(recorded, loss_names):
    """Is the recorded compile config Adam with one of ``loss_names`` (strings or class names)?"""
    config = recorded.get("compile") if isinstance(recorded, dict) else None
    if not isinstance(config, dict):
        return False
    optimizer = config.get("optimizer")
    name = optimizer if isinstance(optimizer, str) else (optimizer or {}).get("class_name", "")
    loss = config.get("loss")
    if isinstance(loss, dict):
        inner = loss.get("config") if isinstance(loss.get("config"), dict) else {}
        loss_name = loss.get("class_name")
        if loss_name == "SparseCategoricalCrossentropy" and inner.get("from_logits") is not True:
            return False
    else:
        loss_name = loss
    return str(name).lower() == "adam" and loss_name in loss_names


def output_shape(model, images):
    """The shape of ``model(images)``, or the name of the error it raised (a size TensorFlow
    refuses at run time: the learner's model failing IS the verdict)."""
    try:
        return tuple(np.asarray(model(images)).shape)
    except Exception as error:  # noqa: BLE001 - the learner's model failing IS the verdict
        return type(error).__name__


def compiled_then_trained(verdicts, where, recorded, compiling, training):
    """``compiling = (index, loss names, how)``: fail it unless the model is compiled with Adam
    and one of the losses; then ``training = (index, model, images, targets, hint)``: one step."""
    index, loss_names, why = compiling
    if not compiled_like(recorded, loss_names):
        verdicts.fail(index, f"{where}: the model is not compiled as asked: {why}", why)
        return
    index, model, images, targets, hint = training
    ok, why = train_one_step(model, images, targets)
    if not ok:
        verdicts.fail(index, f"{where}: {why}", hint)


def classifier_case(case):
    """``[classes, batch, height, width, seed]``; ValueError when malformed."""
    return ints(case, 5, "classifier", ((2, 10), (1, 8), (16, 128), (16, 128), (0, 2**31 - 1)))


def collect_models(name, read_case):
    def collect(answers, cases):
        function = answers[name]
        return [call(function, read_case(case)[0], convert=record_model) for case in cases]
    return collect


CLASSIFIER_REQUIREMENTS = (
    "the model takes grayscale images of any size, (n, height, width, 1) -> (n, classes) logits "
    "(global pooling instead of Flatten)",
    "the model scales 0-255 pixels itself: Rescaling(1/255) before the first Conv2D",
    "it is compiled with Adam and SparseCategoricalCrossentropy(from_logits=True)",
    "it trains one step on 0-255 images of that size",
)


def _rescales_first(model):
    stack = layers_of(model)
    kinds = [type(layer).__name__ for layer in stack]
    first_conv = kinds.index("Conv2D") if "Conv2D" in kinds else len(kinds)
    for layer in stack[:first_conv]:
        config = layer.get_config()
        if (type(layer).__name__ == "Rescaling" and math.isclose(float(config.get("scale", 0)), 1 / 255)
                and float(config.get("offset", 0)) == 0):
            return True
    return False


def _judge_classifier_case(verdicts, case, row):
    classes, batch, height, width, seed = classifier_case(case)
    model, recorded = rebuilt(verdicts, row, "build_classifier", range(4))
    if model is None:
        return
    images, labels = judge_data((batch, height, width, 1), classes, seed)
    images = np.floor(images * 256).astype("float32")
    where = f"build_classifier({classes}) on {batch} images of {height} x {width}"
    shape = output_shape(model, images)
    if shape != (batch, classes):
        why = ("declare keras.Input((None, None, 1)) and use GlobalAveragePooling2D (not Flatten): "
               "the model must take any image size and give one logit per class")
        verdicts.fail(0, f"{where} gives {shape}, expected {(batch, classes)}: {why}", why)
    if not _rescales_first(model):
        why = "put layers.Rescaling(1 / 255) first, before the first Conv2D (the loader gives 0-255)"
        verdicts.fail(1, f"{where}: no Rescaling(1/255) before the first Conv2D: {why}", why)
    compiled_then_trained(
        verdicts, where, recorded,
        (2, ("SparseCategoricalCrossentropy",), "compile with optimizer='adam' and "
         "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
        (3, model, images, labels, "the model must train one step on 0-255 images"))


def judge_classifier(data, cases, hidden):
    with no_retracing_warnings():
        return judge_each(CLASSIFIER_REQUIREMENTS, data, cases, hidden, _judge_classifier_case)


def autoencoder_case(case):
    """``[size, seed]``; ValueError when malformed."""
    return ints(case, 2, "autoencoder", ((8, 64), (0, 2**31 - 1)))


AUTOENCODER_REQUIREMENTS = (
    "the encoder is kept: keras.Input((size, size, 1)), then Conv2D(8) and Conv2D(16), stride 2, same",
    "the decoder upsamples with two stride-2 Conv2DTranspose layers",
    "the output is (size, size, 1) for every size, also sizes that are not multiples of 4",
    "it is compiled with Adam and 'mse' and trains one step to rebuild its input",
)


def _encoder_kept(model, size):
    convs = [layer.get_config() for layer in layers_of(model) if type(layer).__name__ == "Conv2D"]
    return (tuple(model.input_shape) == (None, size, size, 1) and len(convs) >= 2
            and [c["filters"] for c in convs[:2]] == [8, 16]
            and all(tuple(c["strides"]) == (2, 2) and c["padding"] == "same" for c in convs[:2]))


def _judge_autoencoder_case(verdicts, case, row):
    from convclinic.shapes import conv_output_size

    size, seed = autoencoder_case(case)
    model, recorded = rebuilt(verdicts, row, "build_autoencoder", range(4))
    if model is None:
        return
    where = f"build_autoencoder({size})"
    if not _encoder_kept(model, size):
        why = "keep the given encoder: keras.Input((size, size, 1)), Conv2D(8, ...) and Conv2D(16, ...)"
        verdicts.fail(0, f"{where}: the encoder was changed: {why}", why)
    transposes = [layer for layer in layers_of(model) if type(layer).__name__ == "Conv2DTranspose"
                  and tuple(layer.get_config()["strides"]) == (2, 2)]
    if len(transposes) < 2:
        why = "upsample with two Conv2DTranspose(..., strides=2) layers"
        verdicts.fail(1, f"{where}: {len(transposes)} stride-2 Conv2DTranspose layers: {why}", why)
    images, _ = judge_data((2, size, size, 1), 2, seed)
    shape = output_shape(model, images)
    if shape != (2, size, size, 1):
        half = conv_output_size(size, 3, 2, "same")
        down = [size, half, conv_output_size(half, 3, 2, "same")]
        why = ("choose each transpose's output_padding (or crop) so that it gives back the size its "
               "encoder level received")
        verdicts.fail(2, f"{where} gives {shape} for 2 images, expected {(2, size, size, 1)}: the encoder "
                         f"goes {' -> '.join(map(str, down))}; {why}", why)
    compiled_then_trained(
        verdicts, where, recorded,
        (3, ("mse", "mean_squared_error", "MeanSquaredError"), "compile with optimizer='adam' and loss='mse'"),
        (3, model, images, images, "the model must train one step to rebuild its input"))


def judge_autoencoder(data, cases, hidden):
    with no_retracing_warnings():
        return judge_each(AUTOENCODER_REQUIREMENTS, data, cases, hidden, _judge_autoencoder_case)


# --- Part 4: the ported Dense kernel -------------------------------------------------------


def port_case(case):
    """``[out, channels, height, width, seed]``; ValueError when malformed."""
    return ints(case, 5, "port", ((1, 32), (1, 32), (1, 16), (1, 16), (0, 2**31 - 1)))


def torch_weight(case):
    """The channels-first ``Linear`` weight ``(out, channels * height * width)`` of a case (both sides)."""
    out, channels, height, width, seed = port_case(case)
    return np.random.default_rng(seed).normal(size=(out, channels * height * width)).astype("float32")


def collect_port(answers, cases):
    port = answers["port_dense_kernel"]
    return [call(port, torch_weight(case), *port_case(case)[1:4], convert=as_array) for case in cases]


PORT_REQUIREMENTS = (
    "the result is a Keras Dense kernel: shape (height * width * channels, out)",
    "its rows follow Keras's (height, width, channels) flatten order, so the ported layer gives the "
    "channels-first model's outputs",
)


def keras_outputs(kernel, case):
    """Judge side: a real Keras Flatten + Dense (channels_last) with ``kernel``, on features of the case."""
    from convclinic.judging.truth import default_keras_config

    out, channels, height, width, seed = port_case(case)
    features = np.random.default_rng(seed + 1).normal(size=(3, channels, height, width)).astype("float32")
    with default_keras_config() as keras:
        head = keras.Sequential([keras.Input((height, width, channels)), keras.layers.Flatten(),
                                 keras.layers.Dense(out, use_bias=False)])
        head.layers[-1].set_weights([np.asarray(kernel, "float32")])
        got = np.asarray(head(features.transpose(0, 2, 3, 1)))
    return got, features.reshape(3, -1) @ torch_weight(case).T


def _port_mistake(got, case):
    out, channels, height, width, _ = port_case(case)
    weight = torch_weight(case)
    if got.shape == weight.T.shape and np.allclose(got, weight.T):
        return "this is weight.T: the shape fits, but the rows are in channels-first (C, H, W) order"
    swapped = weight.reshape(out, channels, height, width).transpose(3, 2, 1, 0).reshape(-1, out)
    if got.shape == swapped.shape and np.allclose(got, swapped):
        return "height and width are swapped: the rows must go (H, W, C)"
    return "the rows are not in (H, W, C) order"


def _check_port(verdicts, case, row):
    out, channels, height, width, _ = port_case(case)
    where = f"port_dense_kernel(weight of shape {(out, channels * height * width)}, {channels}, {height}, {width})"
    error = error_text(row, "port_dense_kernel")
    got = read_array(row)
    expected_shape = (height * width * channels, out)
    if error or got is None or got.shape != expected_shape:
        error = error or f"returned shape {None if got is None else got.shape}"
        why = "a Dense kernel is (inputs, outputs): (height * width * channels, out)"
        verdicts.fail(0, f"{where}: {error}, expected {expected_shape}: {why}", why)
        return
    outputs, reference = keras_outputs(got, case)
    if not np.allclose(outputs, reference, atol=1e-4):
        why = ("reorder the rows from (C, H, W) to (H, W, C): "
               "weight.reshape(out, C, H, W).transpose(2, 3, 1, 0).reshape(-1, out)")
        verdicts.fail(1, f"{where}: the ported layer gives other outputs than the channels-first model: "
                         f"{_port_mistake(got, case)}; {why}", "the rows must follow (H, W, C) order")


def judge_port(data, cases, hidden):
    return judge_each(PORT_REQUIREMENTS, data, cases, hidden, _check_port)


PARTS = tuple(register(part) for part in (
    DATASET_PART,
    Part(grade_id="ex07-any-size-classifier", label="Part 2 build_classifier", names=("build_classifier",),
         visible=([2, 4, 28, 28, 0], [3, 2, 40, 32, 1]),
         collect=collect_models("build_classifier", classifier_case), judge=judge_classifier,
         requirements=CLASSIFIER_REQUIREMENTS),
    Part(grade_id="ex07-autoencoder", label="Part 3 build_autoencoder", names=("build_autoencoder",),
         visible=([28, 0], [27, 1]),
         collect=collect_models("build_autoencoder", autoencoder_case), judge=judge_autoencoder,
         requirements=AUTOENCODER_REQUIREMENTS),
    Part(grade_id="ex07-port-dense", label="Part 4 port_dense_kernel", names=("port_dense_kernel",),
         visible=([4, 2, 3, 3, 0], [5, 3, 4, 2, 1]),
         collect=collect_port, judge=judge_port, requirements=PORT_REQUIREMENTS),
))
