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

Parts 1 and 2 end their visible cases with one case drawn per answer
(:mod:`convclinic.judging.fresh`): a table of the listed messages or counts fails
the self-check.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from convclinic.judging.casework import call, error_text, hint_of
from convclinic.judging.core import Part, register
from convclinic.judging.ex06_model import FIX_MODEL_PART
from convclinic.judging.fresh import FRESH, collect_cases, draw, judge_cases
from convclinic.shapes import conv_output_size

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


SCENARIO_DTYPES = ("float32", "uint8", "int16", "int32", "int64")
BAD_ARGUMENTS = ({"padding": "full"}, {"strides": 0}, {"filters": -1}, {"data_format": "NHWC"},
                 {"kernel_size": 0}, {"dilation_rate": -2})


def draw_scenario(function):
    """A scenario nobody listed (:mod:`convclinic.judging.fresh`): one of the five causes,
    with sizes drawn from the learner's function."""
    rng = draw(function)
    height, width = rng.randint(6, 40), rng.randint(6, 40)
    kind = rng.choice(LABELS)
    if kind == "missing-axis":
        return ["conv", rng.choice([[height, width], [height, width, rng.randint(1, 3)]]), "float32", {}]
    if kind == "channel-mismatch":
        built, given = rng.sample(range(1, 6), 2)
        return ["built-for", built, [1, height, width, given]]
    if kind == "kernel-too-large":
        return ["conv", [1, height, width, 1], "float32", {"dilation_rate": rng.randint(21, 40)}]
    if kind == "integer-input":
        return ["conv", [1, height, width, rng.randint(1, 3)], rng.choice(SCENARIO_DTYPES[1:]), {}]
    return ["conv", [1, height, width, 1], "float32", dict(rng.choice(BAD_ARGUMENTS))]


def read_scenario(case):
    """A drawn scenario, checked strictly (it comes back from the kernel); ValueError when bad."""
    def sizes(shape, low, high):
        return (isinstance(shape, list) and low <= len(shape) <= high
                and all(isinstance(v, int) and 1 <= v <= 64 for v in shape))

    if isinstance(case, list) and len(case) == 3 and case[0] == "built-for":
        if isinstance(case[1], int) and 1 <= case[1] <= 8 and sizes(case[2], 4, 4):
            return case
    if isinstance(case, list) and len(case) == 4 and case[0] == "conv" and sizes(case[1], 2, 4):
        arguments = case[3]
        if (case[2] in SCENARIO_DTYPES and isinstance(arguments, dict) and set(arguments) <= set(CONSTRUCTOR)
                and all(isinstance(v, int | str) for v in arguments.values())):
            return case
    raise ValueError("malformed scenario")


def _call_cause(function, case):
    message = run_scenario(case)
    answer = call(function, message) if message is not None else None
    return {"message": message, "answer": answer}


def collect_causes(answers, cases):
    """Produce each scenario's real message; record it and the learner's label for it.
    For :data:`FRESH`, draw the scenario from the function itself and record it too."""
    name_the_cause = answers["name_the_cause"]
    return collect_cases(cases, lambda case: _call_cause(name_the_cause, case),
                         lambda: draw_scenario(name_the_cause))


CAUSE_REQUIREMENTS = tuple(f"messages of the '{label}' kind are labelled {label!r}" for label in LABELS)
CAUSE_HINTS = {
    "missing-axis": "an input with too few axes says 'expected min_ndim=4, found ndim=...'",
    "channel-mismatch": "a layer built for other channels says 'expected axis -1 of input shape to have value ...'",
    "kernel-too-large": "a kernel that does not fit says 'Computed output size would be zero or negative' "
                        "(also with strides, dilation or the wrong data_format)",
    "integer-input": "integer inputs (uint8, int32, int64, ...) say 'Incompatible type conversion requested to type ...'",
    "bad-argument": "a refused constructor argument can say many things (padding, strides, filters, data_format)",
}


def _check_cause(verdicts, case, row, fresh=False):
    """The learner's label for one scenario (a drawn one is judged like a listed one)."""
    label = scenario_label(case)
    index = LABELS.index(label)
    message = row.get("message")
    if not isinstance(message, str):
        verdicts.fail(index, "a scenario did not fail on the installed TensorFlow: tell your instructor",
                      "a scenario did not fail on the installed TensorFlow: tell your instructor")
        return
    answer = row.get("answer")
    error = error_text(answer, "name_the_cause")
    got = answer.get("value") if isinstance(answer, dict) else None
    if error:
        verdicts.fail(index, error, hint_of(error))
    elif not isinstance(got, str) or got.strip().lower() != label:
        first = message.splitlines()[0][:120] if message else ""
        verdicts.fail(index, f"name_the_cause({first!r}) returned {got!r}, expected {label!r}: "
                             f"{CAUSE_HINTS[label]}", CAUSE_HINTS[label])


def judge_causes(data, cases, hidden):
    """Part 1 verdicts: the learner's label against :func:`scenario_label`."""
    return judge_cases(CAUSE_REQUIREMENTS, data, cases, hidden, read_scenario, _check_cause)


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


MAX_FEATURE_SIDE = 64
MAX_LAYERS = 4


def draw_features_case(function):
    """A case nobody listed (:mod:`convclinic.judging.fresh`): non-square, 2-3 layers that fit."""
    rng = draw(function)
    height, width = rng.sample(range(12, 41), 2)
    shape, settings = [height, width, rng.randint(1, 4)], []
    for _ in range(rng.randint(2, 3)):
        if settings and rng.random() < 0.3:
            layer = ["pool", rng.randint(2, 3)]
        else:
            layer = ["conv", rng.randint(2, 16), rng.choice([1, 3, 5]), rng.randint(1, 3),
                     rng.choice(["valid", "same"])]
        if _fits(shape, settings + [layer]):
            settings.append(layer)
    return [shape, settings or [["conv", 4, 3, 2, "same"]]]


def _fits(shape, settings):
    """Does every layer of ``settings`` leave at least one pixel per side?"""
    height, width, _ = shape
    for layer in settings:
        needed = layer[1] if layer[0] == "pool" else (layer[2] if layer[4] == "valid" else 1)
        if min(height, width) < needed:
            return False
        height, width, _ = _step((height, width, 0), layer)
    return True


def _step(shape, layer, mistake=None):
    height, width, channels = shape
    if layer[0] == "pool":
        rounding = math.ceil if mistake == "pool-ceil" else math.floor
        return rounding(height / layer[1]), rounding(width / layer[1]), channels
    _, filters, kernel, stride, padding = layer
    stride = 1 if mistake == "no-stride" else stride
    height, width, stride, kernel = int(height), int(width), int(stride), int(kernel)
    if min(height, width) <= 0:
        return height, width, filters  # an earlier layer was already refused
    if padding == "same" and mistake != "same-as-valid":
        return (conv_output_size(height, 1, stride, "same"),
                conv_output_size(width, 1, stride, "same"), filters)
    if min(height, width) < kernel:
        # Keras refuses this stack; the (zero or negative) sizes name the mistake
        return 1 + (height - kernel) // stride, 1 + (width - kernel) // stride, filters
    return (conv_output_size(height, kernel, stride), conv_output_size(width, kernel, stride),
            filters)


def read_features_case(case):
    """A drawn case, checked strictly (it comes back from the kernel); ValueError when bad."""
    if not isinstance(case, list | tuple) or len(case) != 2:
        raise ValueError("bad case")
    shape, settings = case
    if (not isinstance(shape, list | tuple) or len(shape) != 3
            or not all(isinstance(v, int) and 1 <= v <= MAX_FEATURE_SIDE for v in shape)):
        raise ValueError("bad input shape")
    if not isinstance(settings, list | tuple) or not 1 <= len(settings) <= MAX_LAYERS:
        raise ValueError("bad layers")
    for layer in settings:
        conv = (isinstance(layer, list | tuple) and len(layer) == 5 and layer[0] == "conv"
                and all(isinstance(v, int) and 1 <= v <= 16 for v in layer[1:4]) and layer[4] in ("valid", "same"))
        pool = isinstance(layer, list | tuple) and len(layer) == 2 and layer[0] == "pool" and layer[1] in (2, 3)
        if not (conv or pool):
            raise ValueError("bad layer")
    if not _fits(shape, settings):
        raise ValueError("a layer does not fit")
    return [list(shape), [list(layer) for layer in settings]]


def _call_features(function, case):
    shape, settings = case
    return call(function, tuple(shape), [tuple(item) for item in settings], convert=as_count)


def collect_features(answers, cases):
    """Call ``flatten_features`` on each case (tuples, as the task says); record the count.
    For :data:`FRESH`, draw the case from the function itself and record it with the count."""
    flatten_features = answers["flatten_features"]
    return collect_cases(cases, lambda case: _call_features(flatten_features, case),
                         lambda: draw_features_case(flatten_features))


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
    shape = tuple(input_shape)
    for layer in layer_settings:
        shape = _step(shape, layer, mistake)
    height, width, channels = shape
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


def _check_features(verdicts, case, row, fresh=False):
    """The learner's count for one case (a drawn one is judged like a listed one)."""
    shape, settings = case
    truth = keras_features(shape, settings)
    error = error_text(row, "flatten_features")
    got = row.get("value")
    if error or not isinstance(got, int):
        error = error or "flatten_features did not return a whole number"
        verdicts.fail(3, error, hint_of(error))
        return
    if got == truth:
        return
    shown = f"flatten_features({tuple(shape)}, {[tuple(item) for item in settings]}) returned {got}, expected {truth}"
    for index, mistake, why in FEATURE_MISTAKES:
        if simulate(shape, settings, mistake) == got:
            verdicts.fail(index, f"{shown}: {why}", why)
            return
    why = ("valid: floor((n - k) / s) + 1, same: ceil(n / s), pooling: floor(n / p), "
           "then height * width * channels")
    verdicts.fail(3, f"{shown}: {why}", why)


def judge_features(data, cases, hidden):
    """Part 2 verdicts: the learner's count against the real Keras Flatten."""
    return judge_cases(FEATURE_REQUIREMENTS, data, cases, hidden, read_features_case, _check_features)


PARTS = tuple(register(part) for part in (
    Part(grade_id="ex06-name-the-cause", label="Part 1 name_the_cause", names=("name_the_cause",),
         visible=(
             ["conv", [28, 20, 1], "float32", {}],
             ["built-for", 3, [1, 28, 20, 1]],
             ["conv", [1, 28, 20, 1], "float32", {"dilation_rate": [2, 15]}],
             ["conv", [1, 9, 7, 1], "uint8", {}],
             ["conv", [1, 28, 28, 1], "float32", {"padding": "invalid"}],
             FRESH,
         ),
         collect=collect_causes, judge=judge_causes, requirements=CAUSE_REQUIREMENTS),
    Part(grade_id="ex06-flatten-features", label="Part 2 flatten_features",
         names=("flatten_features",),
         visible=(
             [[28, 28, 1], [["conv", 32, 3, 1, "valid"]]],
             [[28, 22, 3], [["conv", 8, 3, 2, "same"], ["pool", 2], ["conv", 16, 3, 1, "valid"]]],
             FRESH,
         ),
         collect=collect_features, judge=judge_features, requirements=FEATURE_REQUIREMENTS),
    FIX_MODEL_PART,
))
