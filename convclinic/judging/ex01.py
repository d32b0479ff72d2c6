"""Assignment 01 (the missing channel axis): the judged parts. Lesson 01 teaches all of them.

- ``ex01-add-channel-axis``: ``add_channel_axis(images, data_format)`` adds a
  size-1 channel axis where the data format expects it; the truth is
  ``np.expand_dims`` of the same numbered batch.
- ``ex01-as-model-input``: ``as_model_input(image)`` makes one image a float32
  ``(1, height, width, 1)`` batch in [0, 1]; the truth is the rule the task
  states (integers divided by 255, floats only cast).
- ``ex01-fix-model``: the repaired model (see :mod:`convclinic.judging.modelparts`).

The inputs are rebuilt from each case on both sides (:func:`numbered`): the
kernel only ever sees inputs and records what the learner's functions return
(a NumPy array or any tensor, see :func:`casework.as_array`). The predictions
of Part 3 carry no points: :func:`reveal_predictions`.
"""

from __future__ import annotations

import numpy as np

from convclinic.judging import modelparts
from convclinic.judging.casework import (
    as_array,
    call,
    case_items,
    error_text,
    read_array,
    requirement_table,
)
from convclinic.judging.core import Part, register
from convclinic.judging.fresh import DRAWN, FRESH, collect_cases, draw, judge_cases
from convclinic.judging.predictions import revealer

DTYPES = ("float32", "float64", "uint8", "int32", "int64")
FORMATS = ("channels_last", "channels_first", None)
MAX_SIDE = 64


def numbered(shape, dtype):
    """Pixels 0, 1, 2, ... (mod 256): integers as they are, floats scaled into [0, 1]."""
    values = np.arange(int(np.prod(shape))).reshape(shape) % 256
    return values.astype(dtype) if np.dtype(dtype).kind in "iu" else (values / 255).astype(dtype)


def _sides(values):
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in values):
        raise ValueError(f"bad sizes {values!r}")
    return tuple(values)


def assumed_28(record, sides):
    """The hard-coded 28 x 28 mistake, read from an error ("cannot reshape ... (2,28,28,1)")."""
    detail = str(record.get("detail", "")) if isinstance(record, dict) else ""
    if 28 not in sides and ("28," in detail or ",28" in detail or "28)" in detail):
        return "; never assume 28 x 28: use the shape of the array you were given"
    return ""


def same_arrays(got, expected):
    return got.shape == expected.shape and np.array_equal(got, expected)


def returned_array(verdicts, requirement, hint, what, record, sides):
    """The array ``record`` holds, or None after failing ``requirement`` (the error raised,
    a hard-coded 28 x 28 named, or no array returned)."""
    error = error_text(record, what)
    got = read_array(record)
    if error or got is None:
        error = (error + assumed_28(record, sides)) if error else None
        verdicts.fail(requirement, error or f"{what} did not return an array", hint)
        return None
    return got


# --- Part 1: add_channel_axis ------------------------------------------------------------

AXIS_REQUIREMENTS, AXIS_HINTS = requirement_table(
    ("channels_last puts a size-1 channel axis LAST: (batch, height, width, 1)",
     "channels_last: the new axis goes last and height and width keep their places"),
    ("channels_first puts a size-1 channel axis right after the batch axis: (batch, 1, height, width)",
     "channels_first: the new axis goes at position 1 and height and width keep their "
     "order (a non-square batch shows a swap)"),
    ("without a data_format argument the result is channels_last, like Keras",
     "called without data_format, the function must behave like channels_last"),
    ("the dtype and every pixel value stay as they were",
     "adding an axis must not cast or change pixels (no astype, no division)"),
    ("the images you were given are left unchanged",
     "your function changed the caller's array: return a new array or a view"),
)
LAST, FIRST, DEFAULT, KEEP, UNCHANGED = range(len(AXIS_REQUIREMENTS))


def axis_case(case):
    """``[batch, height, width, dtype, data_format or None]``; ValueError when malformed."""
    case = case_items(case, 5, lambda items: items[3] in DTYPES and items[4] in FORMATS)
    return (*_sides(case[:3]), case[3], case[4])


def _draw_axis_case(function):
    rng = draw(function)
    height = rng.randint(3, 12)
    width = height + rng.randint(1, 5)
    return [rng.randint(1, 4), height, width, rng.choice(DTYPES), rng.choice(FORMATS[:2])]


def _call_axis(function, case):
    batch, height, width, dtype, data_format = axis_case(case)
    images = numbered((batch, height, width), dtype)
    args = (images,) if data_format is None else (images, data_format)
    record = call(function, *args, convert=as_array)
    record["changed"] = not (images.dtype == np.dtype(dtype)
                             and same_arrays(images, numbered((batch, height, width), dtype)))
    return record


def collect_axis(answers, cases):
    """Call ``add_channel_axis`` on each case's numbered batch; record the result and
    whether the batch given was changed."""
    function = answers["add_channel_axis"]
    return collect_cases(cases, lambda case: _call_axis(function, case),
                         lambda: _draw_axis_case(function))


def _axis_mistake(got, images, data_format):
    """A named wrong shape for this batch, or None."""
    batch, height, width = images.shape
    named = {
        (batch, 1, width, height): "height and width are swapped: add the axis at position 1, "
                                   "do not transpose",
        (1, batch, height, width): "the new axis went in front, like a batch axis",
        (batch, height, width): "no axis was added",
    }
    if data_format == "channels_first":
        named[(batch, height, width, 1)] = "the axis went last: data_format was ignored"
    else:
        named[(batch, 1, height, width)] = "the axis went at position 1 (channels_first's place)"
    if got.shape in named:
        return named[got.shape]
    if 28 in got.shape and 28 not in images.shape:
        return "the shape holds a 28 this batch does not have: never assume 28 x 28"
    return None


def _check_axis(verdicts, case, record, fresh=False):
    batch, height, width, dtype, data_format = axis_case(case)
    images = numbered((batch, height, width), dtype)
    requirement = {None: DEFAULT, "channels_last": LAST, "channels_first": FIRST}[data_format]
    fmt = "" if data_format is None else f", {data_format!r}"
    what = (DRAWN if fresh else "") + f"add_channel_axis(<{batch}x{height}x{width} {dtype} batch>{fmt})"
    if record.get("changed") is True:
        verdicts.fail(UNCHANGED, f"{what} changed the batch it was given: return a new array "
                                 "(np.expand_dims, [..., None]) instead of changing `images` in place",
                      AXIS_HINTS[UNCHANGED])
    got = returned_array(verdicts, requirement, AXIS_HINTS[requirement], what, record, (height, width))
    if got is None:
        return
    axis = 1 if data_format == "channels_first" else -1
    expected = np.expand_dims(images, axis)
    if got.shape == expected.shape and np.array_equal(got.astype("float64"), expected.astype("float64")):
        if got.dtype != expected.dtype:
            verdicts.fail(KEEP, f"{what} changed the dtype {dtype} to {got.dtype}: adding an axis "
                                "must not cast", AXIS_HINTS[KEEP])
        return
    if got.shape == expected.shape:
        verdicts.fail(KEEP, f"{what} has the right shape {expected.shape} but other pixel values: "
                            "add an axis, do not reorder or rescale", AXIS_HINTS[KEEP])
        return
    mistake = _axis_mistake(got, images, data_format)
    reason = f": {mistake}" if mistake else ""
    verdicts.fail(requirement, f"{what} gave shape {got.shape}, expected {expected.shape}{reason}",
                  AXIS_HINTS[requirement])


def judge_axis(data, cases, hidden):
    """Part 1 verdicts: the truth is ``np.expand_dims`` of the same numbered batch."""
    return judge_cases(AXIS_REQUIREMENTS, data, cases, hidden, axis_case, _check_axis)


def axis_covers(case):
    """The requirements a case exercises (each has a hidden case: tests/test_judging_ex01.py)."""
    _, _, _, dtype, data_format = axis_case(case)
    found = {UNCHANGED, {None: DEFAULT, "channels_last": LAST, "channels_first": FIRST}[data_format]}
    if dtype != "float32":
        found.add(KEEP)
    return found


# --- Part 2: as_model_input ----------------------------------------------------------------

INPUT_REQUIREMENTS, INPUT_HINTS = requirement_table(
    ("a (height, width) image becomes a (1, height, width, 1) batch",
     "one image needs a batch axis of size 1 in front and a channel axis of size 1 at the "
     "end; use the image's own height and width"),
    ("a (height, width, 1) image becomes (1, height, width, 1) too: no second channel axis",
     "an image that already has its channel axis must not get a second one"),
    ("the result is float32",
     "Conv2D's weights are float32: cast the result with .astype(\"float32\")"),
    ("integer images (uint8, int32, ...) are divided by 255",
     "integer pixels (any integer dtype) must be divided by 255"),
    ("float images keep their values (only cast to float32)",
     "float images are already in [0, 1]: divide only integer images by 255"),
    ("the image you were given is left unchanged",
     "your function changed the caller's image: work on a copy"),
)
SHAPE, CHANNEL, FLOAT32, SCALE_INT, KEEP_FLOAT, IMAGE_UNCHANGED = range(len(INPUT_REQUIREMENTS))


def input_case(case):
    """``[height, width, has_channel_axis (0/1), dtype]``; ValueError when malformed."""
    case = case_items(case, 4, lambda items: (items[2] in (0, 1) and not isinstance(items[2], bool)
                                              and items[3] in DTYPES))
    return (*_sides(case[:2]), case[2], case[3])


def _image(case):
    height, width, channel, dtype = case
    return numbered((height, width, 1) if channel else (height, width), dtype)


def _draw_input_case(function):
    rng = draw(function)
    height = rng.randint(3, 12)
    return [height, height + rng.randint(1, 6), rng.randint(0, 1), rng.choice(DTYPES)]


def _call_input(function, case):
    image = _image(input_case(case))
    record = call(function, image, convert=as_array)
    record["changed"] = not (image.dtype == _image(input_case(case)).dtype
                             and same_arrays(image, _image(input_case(case))))
    return record


def collect_input(answers, cases):
    """Call ``as_model_input`` on each case's image; record the result and whether the image
    given was changed."""
    function = answers["as_model_input"]
    return collect_cases(cases, lambda case: _call_input(function, case),
                         lambda: _draw_input_case(function))


def expected_input(case):
    """The rule the task states: integers / 255, floats kept; float32 (1, height, width, 1)."""
    height, width, _, dtype = case
    image = _image(case).astype("float64")
    if np.dtype(dtype).kind in "iu":
        image = image / 255.0
    return image.reshape(1, height, width, 1).astype("float32")


def _shape_problem(got, case):
    """(requirement, why) for a wrong shape."""
    height, width, channel, _ = case
    named = {
        (1, height, width): (SHAPE, "only the batch axis was added: a layer needs the channel "
                                    "axis too"),
        (height, width, 1): (SHAPE, "the batch axis of size 1 is missing in front"),
        (1, width, height, 1): (SHAPE, "height and width are swapped"),
        (1, height, width, 1, 1): (CHANNEL, "the image already had its channel axis and got a "
                                            "second one"),
        (1, 1, height, width, 1): (CHANNEL, "the image already had its channel axis and got a "
                                            "second one"),
    }
    if got.shape in named:
        return named[got.shape]
    if 28 in got.shape and 28 not in (height, width):
        return SHAPE, "the shape holds a 28 this image does not have: never assume 28 x 28"
    return (CHANNEL if channel else SHAPE), "use the image's own height and width"


def _value_problem(got, case, expected):
    """(requirement, why) for right shape and dtype but wrong values."""
    dtype = case[3]
    raw = _image(case).astype("float32").reshape(expected.shape)
    if np.dtype(dtype).kind in "iu":
        if np.allclose(got, raw, atol=1e-6):
            return SCALE_INT, f"{dtype} pixels were not divided by 255"
        return SCALE_INT, f"{dtype} pixels must be divided by 255, nothing else"
    if np.allclose(got, expected / 255, atol=1e-6):
        return KEEP_FLOAT, f"a {dtype} image was divided by 255: float images are already in [0, 1]"
    return KEEP_FLOAT, f"a {dtype} image must keep its values (only cast to float32)"


def _check_input(verdicts, case, record, fresh=False):
    case = input_case(case)
    height, width, channel, dtype = case
    shape = (height, width, 1) if channel else (height, width)
    what = (DRAWN if fresh else "") + f"as_model_input(<{' x '.join(map(str, shape))} {dtype} image>)"
    if record.get("changed") is True:
        verdicts.fail(IMAGE_UNCHANGED, f"{what} changed the image it was given: work on a copy "
                                       "(astype returns one)", INPUT_HINTS[IMAGE_UNCHANGED])
    main = CHANNEL if channel else SHAPE
    got = returned_array(verdicts, main, INPUT_HINTS[main], what, record, (height, width))
    if got is None:
        return
    expected = expected_input(case)
    if got.shape != expected.shape:
        requirement, why = _shape_problem(got, case)
        verdicts.fail(requirement, f"{what} gave shape {got.shape}, expected {expected.shape}: {why}",
                      INPUT_HINTS[requirement])
        return
    if got.dtype != np.float32:
        verdicts.fail(FLOAT32, f"{what} gave dtype {got.dtype}, expected float32: Conv2D's weights "
                               "are float32 and an integer input fails with 'Incompatible type "
                               "conversion'", INPUT_HINTS[FLOAT32])
    if not np.allclose(got.astype("float64"), expected, atol=1e-6):
        requirement, why = _value_problem(got.astype("float64"), case, expected)
        verdicts.fail(requirement, f"{what}: {why}", INPUT_HINTS[requirement])


def judge_input(data, cases, hidden):
    """Part 2 verdicts against the rule the task states (:func:`expected_input`)."""
    return judge_cases(INPUT_REQUIREMENTS, data, cases, hidden, input_case, _check_input)


def input_covers(case):
    """The requirements a case exercises (each has a hidden case: tests/test_judging_ex01.py)."""
    _, _, channel, dtype = input_case(case)
    integer = np.dtype(dtype).kind in "iu"
    return {CHANNEL if channel else SHAPE, FLOAT32, SCALE_INT if integer else KEEP_FLOAT,
            IMAGE_UNCHANGED}


# --- Part 3: predictions, no points ------------------------------------------------------


def prediction_cases():
    """The five calls of Part 3: key -> (description, call, why)."""
    from convclinic.runtime import import_keras

    layers = import_keras().layers

    def conv_on(shape, dtype="float32"):
        return lambda: layers.Conv2D(8, 3, data_format="channels_last")(np.zeros(shape, dtype=dtype))

    return {
        "a": ("(28, 28, 1) float32", conv_on((28, 28, 1)),
              "Conv2D needs rank 4 (batch, height, width, channels): 'expected min_ndim=4, found ndim=3'"),
        "b": ("(1, 28, 28, 1) float32", conv_on((1, 28, 28, 1)),
              "valid padding: 28 - 3 + 1 = 26 on each side, and 8 filters make 8 channels"),
        "c": ("(1, 28, 28, 1) uint8", conv_on((1, 28, 28, 1), "uint8"),
              "integer inputs cannot be converted to the float32 kernel: cast with .astype('float32')"),
        "d": ("(1, 28, 28, 1) float64", conv_on((1, 28, 28, 1), "float64"),
              "float64 is cast silently to float32; only integer dtypes fail"),
        "e": ("(4, 28, 28, 3) float32", conv_on((4, 28, 28, 3)),
              "a fresh layer takes any channel count; the batch axis passes through"),
    }


reveal_predictions = revealer(prediction_cases)


# --- Part 4: repair the model --------------------------------------------------------------

FIX_MODEL = modelparts.ModelTask(input_shape=(28, 28, 1), rules=(
    modelparts.conv_rule(
        "the model keeps the broken model's layers: Conv2D(8, 3) with relu, Flatten, Dense",
        "repair the input, keep the layers: Conv2D(8, 3, activation=\"relu\"), Flatten, Dense(10)",
        filters=8, kernel=3, relu=True, present=("Flatten", "Dense")),
))

PARTS = tuple(register(part) for part in (
    Part(grade_id="ex01-add-channel-axis", label="Part 1 add_channel_axis",
         names=("add_channel_axis",),
         visible=([2, 28, 28, "float32", "channels_last"], [3, 7, 5, "float32", "channels_first"],
                  [2, 4, 6, "uint8", None], FRESH),
         collect=collect_axis, judge=judge_axis, requirements=AXIS_REQUIREMENTS),
    Part(grade_id="ex01-as-model-input", label="Part 2 as_model_input", names=("as_model_input",),
         visible=([28, 28, 0, "uint8"], [5, 7, 0, "uint8"], [4, 6, 1, "float64"], FRESH),
         collect=collect_input, judge=judge_input, requirements=INPUT_REQUIREMENTS),
    FIX_MODEL.part("ex01-fix-model", "Part 4 build_fixed_model"),
))
