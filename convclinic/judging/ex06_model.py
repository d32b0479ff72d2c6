"""Assignment 06, Part 3 (``ex06-fix-model``): repair a model with three faults. Lesson 06.

The task: ``prepare(images)`` turns any number of ``(n, 28, 28)`` uint8 images
into the model's input, and ``build_fixed_model()`` returns the broken model
repaired (a 3x3 Conv2D with 16 filters that keeps 28 x 28, max pooling,
Flatten, 10 logits) and compiled like the broken one (Adam,
``SparseCategoricalCrossentropy(from_logits=True)``), so that it trains one
step on the prepared images.

A case is ``[n, seed]``: the images are ``default_rng(seed).integers(0, 256,
(n, 28, 28), uint8)`` on both sides (``[12, 0]`` are the notebook's
``raw_images``). A channels_first answer (``(n, 1, 28, 28)`` into a model whose
layers are channels_first) is accepted too. The kernel records ``prepare``'s arrays and the model
(:func:`convclinic.judging.models.record_model`); the judge rebuilds the model
(:func:`convclinic.judging.truth.rebuild_model`: ``safe_mode``, default
``keras.config``), reads its layers and compile config, and trains it one step
on the recorded arrays with labels of its own.
"""

from __future__ import annotations

import numpy as np

from convclinic.judging.casework import (
    Verdicts,
    as_array,
    call,
    error_text,
    hint_of,
    read_array,
    records,
)
from convclinic.judging.core import Part
from convclinic.judging.models import layers_of, rebuilt, record_model
from convclinic.judging.truth import no_retracing_warnings

SIDE = 28


def images(case):
    """The uint8 images ``(n, 28, 28)`` of a case ``[n, seed]`` (both sides)."""
    count, seed = (int(v) for v in case)
    return np.random.default_rng(seed).integers(0, 256, size=(count, SIDE, SIDE), dtype="uint8")


def labels(case):
    """Judge-made labels for one training step."""
    count, seed = (int(v) for v in case)
    return np.random.default_rng(seed + 1000).integers(0, 10, size=count)


def collect_fix(answers, cases):
    """Record ``prepare`` on each case's images and the model ``build_fixed_model`` returns."""
    prepare, build = answers["prepare"], answers["build_fixed_model"]
    prepared = [call(prepare, images(case), convert=as_array) for case in cases]
    return {"prepared": prepared, "model": call(build, convert=record_model)}


REQUIREMENTS = (
    "prepare gives a float batch with a channel axis, (n, 28, 28, 1), for any number n of images",
    "prepare keeps every pixel in its place (scaling is fine)",
    "build_fixed_model is compiled like the broken model: Adam, SparseCategoricalCrossentropy(from_logits=True)",
    "the layers keep their roles: a 3x3 Conv2D with 16 filters that keeps 28 x 28, MaxPooling2D, Flatten, "
    "Dense(10) logits",
    "the model trains one step on the prepared images and gives (n, 10) logits",
)


def _pixels_in_place(raw, prepared):
    """Is every prepared image a non-decreasing function of its raw pixels (not all equal)?"""
    for before, after in zip(raw, prepared, strict=True):
        order = np.argsort(before.ravel(), kind="stable")
        values = after.ravel()[order].astype("float64")
        if not np.all(np.isfinite(values)) or np.any(np.diff(values) < -1e-6):
            return False
        if before.max() > before.min() and values[-1] - values[0] <= 0:
            return False
    return True


def _check_prepared(verdicts, case, record):
    """R1/R2 for one case; the usable prepared array or None."""
    count = int(case[0])
    error = error_text(record, "prepare")
    got = read_array(record)
    if error or got is None:
        error = error or "prepare did not return an array"
        verdicts.fail(0, f"{error} (for {count} images: prepare must work for any number of images)",
                      f"{hint_of(error)}: prepare must work for any number of images")
        return None
    if got.shape[:1] != (count,):
        why = "prepare must work for any number of images: never assume the batch size"
        verdicts.fail(0, f"prepare of {count} images gave shape {got.shape}: {why}", why)
        return None
    if got.shape not in ((count, SIDE, SIDE, 1), (count, 1, SIDE, SIDE)):
        why = "the model needs a channel axis: (n, 28, 28, 1), e.g. images[..., np.newaxis]"
        verdicts.fail(0, f"prepare of {count} images gave shape {got.shape}, expected {(count, SIDE, SIDE, 1)}: "
                         f"{why}", why)
        return None
    if not np.issubdtype(got.dtype, np.floating):
        why = "fixing the shape is not enough: cast to float32 (uint8 fails in Conv2D)"
        verdicts.fail(0, f"the prepared dtype is {got.dtype}: {why}", why)
        return None
    if not _pixels_in_place(images(case), got.reshape(count, SIDE, SIDE)):
        why = "the pixels moved or were lost: keep each pixel where it is (dividing by 255 is fine)"
        verdicts.fail(1, f"prepare of {count} images: {why}", why)
        return None
    return got


def _optimizer_ok(config):
    optimizer = config.get("optimizer")
    name = optimizer if isinstance(optimizer, str) else (optimizer or {}).get("class_name", "")
    return str(name).lower() == "adam"


def _loss_ok(config):
    loss = config.get("loss")
    if not isinstance(loss, dict):
        return False
    inner = loss.get("config") if isinstance(loss.get("config"), dict) else {}
    return loss.get("class_name") == "SparseCategoricalCrossentropy" and inner.get("from_logits") is True


def _check_compile(verdicts, recorded):
    config = recorded.get("compile")
    why = ("compile it like the broken model: optimizer='adam', "
           "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)")
    if not isinstance(config, dict):
        verdicts.fail(2, f"the model is not compiled: {why}", why)
    elif not (_optimizer_ok(config) and _loss_ok(config)):
        verdicts.fail(2, f"the model is compiled differently: {why}", why)


def _spatial(layer):
    shape = tuple(layer.output.shape)
    return shape[2:4] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[1:3]


def _check_roles(verdicts, model):
    stack = layers_of(model)
    kinds = {type(layer).__name__ for layer in stack}
    convs = [layer for layer in stack if type(layer).__name__ == "Conv2D"
             and layer.filters == 16 and tuple(layer.kernel_size) == (3, 3)]
    why = ("keep the roles: Conv2D(16, 3, padding='same') (it keeps 28 x 28, like PyTorch's padding=1), "
           "MaxPooling2D(2), Flatten(), Dense(10) without activation (logits)")
    last = stack[-1] if stack else None
    problems = []
    if not convs:
        problems.append("no 3x3 Conv2D with 16 filters")
    elif _spatial(convs[0]) != (SIDE, SIDE):
        problems.append(f"the convolution gives {_spatial(convs[0])}, not 28 x 28")
    if "MaxPooling2D" not in kinds:
        problems.append("no MaxPooling2D")
    if "Flatten" not in kinds:
        problems.append("no Flatten")
    if type(last).__name__ != "Dense" or last.units != 10 or last.get_config().get("activation") != "linear":
        problems.append("the last layer is not Dense(10) logits")
    if problems:
        verdicts.fail(3, f"{'; '.join(problems)}: {why}", why)


def _check_training(verdicts, model, prepared, cases):
    with no_retracing_warnings():
        _train_each(verdicts, model, prepared, cases)


def _train_each(verdicts, model, prepared, cases):
    from convclinic.judging.truth import train_one_step

    for case, batch in zip(cases, prepared, strict=True):
        if batch is None:
            continue
        try:
            output = np.asarray(model(batch))
        except Exception as error:  # noqa: BLE001 - the learner's model failing IS the verdict
            output = np.zeros(0)
            why = f"{type(error).__name__}"
        else:
            why = f"it gives {output.shape}"
        if output.shape != (len(batch), 10):
            verdicts.fail(4, f"for {len(batch)} prepared images the model fails ({why}): expected (n, 10) logits",
                          "the prepared images must go through the model and give (n, 10) logits")
            return
        ok, loss = train_one_step(model, batch, labels(case))
        if not ok:
            verdicts.fail(4, f"{loss}", "the model must train one step on the prepared images")
            return


def judge_fix(data, cases, hidden):
    """Part 3 verdicts (see the module doc)."""
    verdicts = Verdicts(REQUIREMENTS, hidden)
    if not isinstance(data, dict) or records(data.get("prepared"), len(cases)) is None:
        verdicts.unreadable()
        return verdicts.findings()
    prepared = [_check_prepared(verdicts, case, record) for case, record in zip(cases, data["prepared"], strict=True)]
    model, recorded = rebuilt(verdicts, data.get("model"), "build_fixed_model", (2, 3, 4))
    if model is None:
        return verdicts.findings()
    _check_compile(verdicts, recorded)
    _check_roles(verdicts, model)
    _check_training(verdicts, model, prepared, cases)
    return verdicts.findings()


FIX_MODEL_PART = Part(
    grade_id="ex06-fix-model",
    label="Part 3 prepare + build_fixed_model",
    names=("prepare", "build_fixed_model"),
    visible=([12, 0], [3, 1]),
    collect=collect_fix,
    judge=judge_fix,
    requirements=REQUIREMENTS,
)
