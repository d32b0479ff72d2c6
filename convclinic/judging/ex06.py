"""Assignment 06 (shape detective): the judged parts. Lesson 06 teaches all three.

- ``ex06-name-the-cause``: ``name_the_cause(message)`` labels real TensorFlow
  error messages. A case is a SCENARIO (which layer, which input); the kernel
  runs it with the real TensorFlow to get the message (the learner's input)
  and records the learner's label. The expected label is derived here, in the
  judge, from the scenario's structure (:func:`scenario_label`): it is never
  part of a case and never reaches the kernel.
- ``ex06-flatten-features``: ``flatten_features(input_shape, layer_settings)``
  against the real ``Flatten`` output of the same Keras layers, built in the
  judge with an explicit ``data_format``.
- ``ex06-fix-model``: ``prepare(images)`` + ``build_fixed_model()``, see
  :mod:`convclinic.judging.ex06_model`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from convclinic.judging.casework import Verdicts, call, error_text, hint_of, records
from convclinic.judging.core import Part, register
from convclinic.judging.ex06_model import FIX_MODEL_PART

LABELS = ("missing-axis", "channel-mismatch", "kernel-too-large", "integer-input", "bad-argument")
CONSTRUCTOR = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate")


# --- Part 1: scenarios ---------------------------------------------------------------------


def _settings(arguments):
    settings = {"filters": 4, "kernel_size": 3, "data_format": "channels_last", "dtype": "float32"}
    settings.update({key: arguments[key] for key in CONSTRUCTOR if key in arguments})
    return settings


def _tuple(value):
    return tuple(value) if isinstance(value, list) else value


def run_scenario(case):
    """Run a scenario with the real Keras; the cleaned error message, or None when none is raised.

    ``["conv", shape, dtype, arguments]``: a ``Conv2D(**arguments)`` on zeros of that shape and dtype;
    ``["built-for", channels, shape]``: a ``Conv2D`` built for ``channels`` channels, then called on
    ``shape``. The layer's ``data_format`` and ``dtype`` are set explicitly (never the global ones).
    """
    from convclinic.runtime import clean_message, import_keras

    keras = import_keras()
    try:
        if case[0] == "built-for":
            layer = keras.layers.Conv2D(4, 3, data_format="channels_last", dtype="float32")
            layer(np.zeros((1, 8, 8, int(case[1])), "float32"))
            layer(np.zeros(tuple(case[2]), "float32"))
        else:
            settings = {key: _tuple(value) for key, value in _settings(case[3]).items()}
            keras.layers.Conv2D(**settings)(np.zeros(tuple(case[1]), dtype=case[2]))
    except Exception as error:  # noqa: BLE001 - the message IS the input of the learner's function
        return clean_message(error)
    return None


def _valid_argument(key, value):
    if key == "padding":
        return value in ("valid", "same")
    if key == "data_format":
        return value in ("channels_last", "channels_first")
    values = value if isinstance(value, list) else [value]
    return all(isinstance(v, int) and v > 0 for v in values)


def scenario_label(case):
    """The expected label of a scenario, from its structure alone (judge side only)."""
    if case[0] == "built-for":
        return "channel-mismatch"
    _, shape, dtype, arguments = case
    if not all(_valid_argument(key, arguments[key]) for key in CONSTRUCTOR if key in arguments):
        return "bad-argument"
    if len(shape) < 4:
        return "missing-axis"
    if np.issubdtype(np.dtype(dtype), np.integer):
        return "integer-input"
    return "kernel-too-large"


def collect_causes(answers, cases):
    """Produce each scenario's real message; record it and the learner's label for it."""
    name_the_cause = answers["name_the_cause"]
    data = []
    for case in cases:
        message = run_scenario(case)
        answer = call(name_the_cause, message) if message is not None else None
        data.append({"message": message, "answer": answer})
    return data


CAUSE_REQUIREMENTS = tuple(f"messages of the '{label}' kind are labelled {label!r}" for label in LABELS)
CAUSE_HINTS = {
    "missing-axis": "an input with too few axes says 'expected min_ndim=4, found ndim=...'",
    "channel-mismatch": "a layer built for other channels says 'expected axis -1 of input shape to have value ...'",
    "kernel-too-large": "a kernel that does not fit says 'Computed output size would be zero or negative' "
                        "(also with strides, dilation or the wrong data_format)",
    "integer-input": "integer inputs (uint8, int32, int64, ...) say 'Incompatible type conversion requested to type ...'",
    "bad-argument": "a refused constructor argument can say many things (padding, strides, filters, data_format)",
}


def judge_causes(data, cases, hidden):
    """Part 1 verdicts: the learner's label against :func:`scenario_label`."""
    verdicts = Verdicts(CAUSE_REQUIREMENTS, hidden)
    rows = records(data, len(cases))
    if rows is None:
        verdicts.unreadable()
        return verdicts.findings()
    for case, row in zip(cases, rows, strict=True):
        label = scenario_label(case)
        index = LABELS.index(label)
        message = row.get("message")
        if not isinstance(message, str):
            verdicts.fail(index, "a scenario did not fail on the installed TensorFlow: tell your instructor",
                          "a scenario did not fail on the installed TensorFlow: tell your instructor")
            continue
        answer = row.get("answer")
        error = error_text(answer, "name_the_cause")
        got = answer.get("value") if isinstance(answer, dict) else None
        if error:
            verdicts.fail(index, error, hint_of(error))
        elif not isinstance(got, str) or got.strip().lower() != label:
            first = message.splitlines()[0][:120] if message else ""
            verdicts.fail(index, f"name_the_cause({first!r}) returned {got!r}, expected {label!r}: "
                                 f"{CAUSE_HINTS[label]}", CAUSE_HINTS[label])
    return verdicts.findings()


# --- Part 2: feature counts ----------------------------------------------------------------


def as_count(value):
    """An int from an int, a NumPy integer, a whole float or a scalar tensor/array."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool):
        raise TypeError("returned a bool, not a number of features")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    raise TypeError(f"returned {type(value).__name__} {value!r}, not a whole number of features")


def collect_features(answers, cases):
    """Call ``flatten_features`` on each case (tuples, as the task says); record the count."""
    flatten_features = answers["flatten_features"]
    return [
        call(flatten_features, tuple(shape), [tuple(item) for item in settings], convert=as_count)
        for shape, settings in cases
    ]


def keras_features(input_shape, layer_settings):
    """The real Flatten size after the layers (judge side; explicit channels_last)."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    outputs = keras.Input(tuple(input_shape))
    for settings in layer_settings:
        if settings[0] == "conv":
            _, filters, kernel_size, strides, padding = settings
            outputs = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                                          data_format="channels_last")(outputs)
        else:
            outputs = keras.layers.MaxPooling2D(settings[1], data_format="channels_last")(outputs)
    return int(keras.layers.Flatten(data_format="channels_last")(outputs).shape[-1])


def simulate(input_shape, layer_settings, mistake=None):
    """Shape arithmetic with one named mistake, to name what a wrong count did."""
    height, width, channels = input_shape
    for settings in layer_settings:
        if settings[0] == "pool":
            size = settings[1]
            rounding = math.ceil if mistake == "pool-ceil" else math.floor
            height, width = rounding(height / size), rounding(width / size)
            continue
        _, filters, kernel, stride, padding = settings
        stride = 1 if mistake == "no-stride" else stride
        if padding == "same" and mistake != "same-as-valid":
            height, width = math.ceil(height / stride), math.ceil(width / stride)
        else:
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
        channels = filters
    if mistake == "square":
        width = height
    return height * width * (1 if mistake == "no-channels" else channels)


# requirement index, mistake, explanation
FEATURE_MISTAKES = (
    (3, "no-channels", "the channels are missing: Flatten gives height * width * channels"),
    (1, "same-as-valid", "'same' padding was treated like 'valid': same gives ceil(n / s)"),
    (0, "no-stride", "the strides were ignored: valid gives floor((n - k) / s) + 1, same ceil(n / s)"),
    (2, "pool-ceil", "pooling rounds down: floor(n / p)"),
    (4, "square", "the width was taken equal to the height: compute both sides"),
)
FEATURE_REQUIREMENTS = (
    "valid convolutions give floor((n - k) / s) + 1 per side",
    "same convolutions give ceil(n / s) per side",
    "max pooling gives floor(n / p) per side",
    "the count is height * width * channels of the last map (channels = the last filters)",
    "height and width are computed separately (non-square inputs)",
)


def judge_features(data, cases, hidden):
    """Part 2 verdicts: the learner's count against the real Keras Flatten."""
    verdicts = Verdicts(FEATURE_REQUIREMENTS, hidden)
    rows = records(data, len(cases))
    if rows is None:
        verdicts.unreadable()
        return verdicts.findings()
    for (shape, settings), row in zip(cases, rows, strict=True):
        truth = keras_features(shape, settings)
        error = error_text(row, "flatten_features")
        got = row.get("value")
        if error or not isinstance(got, int):
            error = error or "flatten_features did not return a whole number"
            verdicts.fail(3, error, hint_of(error))
            continue
        if got == truth:
            continue
        shown = f"flatten_features({tuple(shape)}, {[tuple(item) for item in settings]}) returned {got}, expected {truth}"
        for index, mistake, why in FEATURE_MISTAKES:
            if simulate(shape, settings, mistake) == got:
                verdicts.fail(index, f"{shown}: {why}", why)
                break
        else:
            why = ("valid: floor((n - k) / s) + 1, same: ceil(n / s), pooling: floor(n / p), "
                   "then height * width * channels")
            verdicts.fail(3, f"{shown}: {why}", why)
    return verdicts.findings()


PARTS = tuple(register(part) for part in (
    Part(
        grade_id="ex06-name-the-cause",
        label="Part 1 name_the_cause",
        names=("name_the_cause",),
        visible=(
            ["conv", [28, 20, 1], "float32", {}],
            ["built-for", 3, [1, 28, 20, 1]],
            ["conv", [1, 28, 20, 1], "float32", {"dilation_rate": [2, 15]}],
            ["conv", [1, 9, 7, 1], "uint8", {}],
            ["conv", [1, 28, 28, 1], "float32", {"padding": "invalid"}],
        ),
        collect=collect_causes,
        judge=judge_causes,
        requirements=CAUSE_REQUIREMENTS,
    ),
    Part(
        grade_id="ex06-flatten-features",
        label="Part 2 flatten_features",
        names=("flatten_features",),
        visible=(
            [[28, 28, 1], [["conv", 32, 3, 1, "valid"]]],
            [[28, 22, 3], [["conv", 8, 3, 2, "same"], ["pool", 2], ["conv", 16, 3, 1, "valid"]]],
        ),
        collect=collect_features,
        judge=judge_features,
        requirements=FEATURE_REQUIREMENTS,
    ),
    FIX_MODEL_PART,
))
