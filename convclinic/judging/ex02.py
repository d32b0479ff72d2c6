"""Assignment 02 (padding): the judged parts. Lesson 02 teaches both.

- ``ex02-same-padding-split``: ``same_padding_split(size, kernel_size, stride,
  dilation)`` returns TF's SAME padding ``(before, after)`` along one axis. The
  truth is :func:`convclinic.shapes.same_padding` (rule 4), which
  ``tests/test_judging_ex02.py`` pins against real ``tf.nn.conv2d``: padding a
  row that way and convolving VALID gives exactly TF's SAME output.
- ``ex02-fix-model``: the model ported from PyTorch keeps its 28 x 28 x 8 feature
  map (see :mod:`convclinic.judging.modelparts`).

The predictions of Part 2 carry no points: :func:`reveal_predictions`.
"""

from __future__ import annotations

from convclinic import shapes
from convclinic.judging import fresh, modelparts
from convclinic.judging.casework import call, case_items, error_text, requirement_table
from convclinic.judging.core import Part, register
from convclinic.judging.predictions import revealer
from convclinic.shapes import same_padding

MAX_SIZE = 512

SPLIT_REQUIREMENTS, SPLIT_HINTS = requirement_table(
    ("same_padding_split computes (before, after), two whole numbers, for any size, kernel, "
     "stride and dilation (not only for the cases you were shown)",
     "compute (before, after) from the arguments and return two whole numbers"),
    ("the total padding gives TF's SAME output size ceil(size / stride)",
     "the total padding was wrong: SAME makes ceil(size / stride) outputs, "
     "total = max((output - 1) * stride + effective_kernel - size, 0)"),
    ("an odd total puts the extra pixel AFTER (bottom/right)",
     "an odd total was split the wrong way: TF puts the extra pixel AFTER"),
    ("dilation widens the kernel: effective kernel = dilation * (kernel_size - 1) + 1",
     "a case with dilation failed: effective kernel = dilation * (kernel_size - 1) + 1"),
    ("the total is never negative: max(..., 0) when the windows already cover the input",
     "a negative padding was returned: the total is max(..., 0)"),
)
ANY, TOTAL, ODD_AFTER, DILATION, NOT_NEGATIVE = range(len(SPLIT_REQUIREMENTS))


def split_case(case):
    """``[size, kernel_size, stride, dilation]`` as four ints; ValueError when malformed."""
    return case_items(case, 4, lambda items: all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE for v in items))


def raw_total(size, kernel_size, stride, dilation, output=None):
    """The SAME total before ``max(..., 0)``; ``output`` replaces ceil(size / stride)."""
    effective = shapes.effective_kernel_size(kernel_size, dilation)
    output = shapes.conv_output_size(size, 1, stride, "same") if output is None else output
    # the span of `output` windows minus the input (shapes.same_padding gives it after max(.., 0))
    return stride * output - stride + effective - size


def covers(case):
    """The requirements a case exercises (each has a hidden case: tests/test_judging_ex02.py)."""
    size, kernel_size, stride, dilation = split_case(case)
    total = raw_total(size, kernel_size, stride, dilation)
    found = {ANY}
    if size % stride and total >= 0:
        found.add(TOTAL)
    if max(total, 0) % 2:
        found.add(ODD_AFTER)
    if dilation > 1:
        found.add(DILATION)
    if total < 0:
        found.add(NOT_NEGATIVE)
    return found


def _fresh_case(rng, listed):
    while True:
        case = [rng.randint(9, 40), rng.randint(2, 7), rng.randint(1, 4), 1]
        if case[2] == 1:
            case[3] = rng.randint(1, 3)
        if case not in listed:
            return case


def collect_split(answers, cases):
    """Call ``same_padding_split`` on each case; a FRESH case is drawn here (see fresh.py)."""
    function = answers["same_padding_split"]
    listed = [list(case) for case in cases if case != fresh.FRESH]
    return fresh.collect_cases(cases, lambda case: call(function, *split_case(case), convert=_two_ints),
                               lambda: _fresh_case(fresh.draw(function), listed))


def _whole(value):
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, bool):
        raise TypeError("a bool is not a number of pixels")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"{value!r} is not a whole number")


def _two_ints(value):
    """(before, after) as two Python ints: tuples, lists, arrays, tensors and NumPy ints are fine."""
    items = list(value)
    if len(items) != 2:
        raise TypeError(f"returned {len(items)} values, expected 2: (before, after)")
    return [_whole(item) for item in items]


def _call_text(case):
    size, kernel_size, stride, dilation = case
    return f"same_padding_split({size}, {kernel_size}, stride={stride}, dilation={dilation})"


def _diagnose(case, got, expected):
    """(requirement, why) for a wrong ``got``."""
    size, kernel_size, stride, dilation = case
    total = sum(expected)
    if min(got) < 0:
        return NOT_NEGATIVE, ("padding cannot be negative; here the windows already cover the "
                              "input, so the total is max(..., 0) = 0" if total == 0 else
                              "padding cannot be negative")
    if sum(got) == total:
        return ODD_AFTER, "the total is right, but TF puts the odd pixel AFTER (bottom/right)"
    if dilation > 1 and sum(got) == max(raw_total(size, kernel_size, stride, 1), 0):
        return DILATION, (f"dilation {dilation} was ignored: a {kernel_size}-pixel kernel with "
                          f"dilation {dilation} spans {shapes.effective_kernel_size(kernel_size, dilation)} pixels")
    floor_total = max(raw_total(size, kernel_size, stride, dilation, output=size // stride), 0)
    if size % stride and sum(got) == floor_total:
        return TOTAL, (f"floor instead of ceil: SAME makes ceil({size} / {stride}) = "
                       f"{_same(size, stride)} outputs, not {size // stride}")
    return TOTAL, (f"the total padding is {sum(got)}, TF pads {total} in all so that the "
                   f"output is ceil({size} / {stride}) = {_same(size, stride)}")


def _same(size, stride):
    return shapes.conv_output_size(size, 1, stride, "same")


LOOKUP = fresh.lookup_text("padding")


def _check_split(verdicts, case, record, drawn=False):
    """Check one case; ``drawn``: a drawn case after all listed cases passed (names a table)."""
    what = (fresh.DRAWN if drawn else "") + _call_text(case)
    error = error_text(record, what)
    if error:
        verdicts.fail(ANY, f"{error}; {LOOKUP}" if drawn else error,
                      f"same_padding_split raised {record.get('error')}: {SPLIT_HINTS[ANY]} "
                      "(no table of known cases)")
        return False
    got = record.get("value")
    if not (isinstance(got, list) and len(got) == 2 and all(type(v) is int for v in got)):
        verdicts.fail(ANY, f"{what} returned {got!r}: return (before, after)", SPLIT_HINTS[ANY])
        return False
    expected = same_padding(*case)
    if tuple(got) == expected:
        return True
    return fresh.fail_diagnosed(verdicts, _diagnose(case, got, expected),
                                f"{what} gave {tuple(got)}, TF pads {expected}", SPLIT_HINTS, drawn, LOOKUP)


def judge_split(data, cases, hidden):
    """Part 1 verdicts against rule 4 (pinned to real TensorFlow by the tests).

    The fresh case (visible only) is judged last: when the listed cases all
    passed and it fails, the message names a lookup table.
    """
    return fresh.judge_fresh_last(SPLIT_REQUIREMENTS, data, cases, hidden, split_case, _check_split)


# --- Part 2: predictions, no points ------------------------------------------------------


def prediction_cases():
    """The five calls of Part 2: key -> (description, call, why)."""
    import numpy as np

    from convclinic.runtime import import_keras

    layers = import_keras().layers

    def conv_on(shape, *args, **kwargs):
        return lambda: layers.Conv2D(*args, data_format="channels_last", **kwargs)(
            np.zeros(shape, dtype="float32"))

    return {
        "a": ("stride 2, same, 7x7", conv_on((1, 7, 7, 1), 8, 3, strides=2, padding="same"),
              "same gives ceil(7 / 2) = 4"),
        "b": ("padding=1", conv_on((1, 28, 28, 1), 8, 3, padding=1),
              "Keras calls padding.lower(): an int has no .lower(); pad with ZeroPadding2D instead"),
        "c": ("padding='SAME'", conv_on((1, 28, 28, 1), 8, 3, padding="SAME"),
              "the padding name is lowercased, and same keeps 28 x 28"),
        "d": ("kernel 5 on 4x4, valid", conv_on((1, 4, 4, 1), 8, 5),
              "valid would give 4 - 5 + 1 = 0: 'Computed output size would be zero or negative'"),
        "e": ("kernel 5 on 4x4, same", conv_on((1, 4, 4, 1), 8, 5, padding="same"),
              "same pads enough for any kernel: output = ceil(4 / 1) = 4"),
    }


reveal_predictions = revealer(prediction_cases)


# --- Part 3: the model ported from PyTorch -------------------------------------------------

FIX_MODEL = modelparts.ModelTask(input_shape=(28, 28, 1), rules=(
    modelparts.conv_rule(
        "the model keeps the Conv2D with 8 filters, a 3x3 kernel and relu at stride 1 (with "
        "Flatten and Dense), and its feature map stays 28 x 28 x 8",
        "use padding=\"same\" (or ZeroPadding2D(1) before a valid 3x3 convolution), stride 1",
        filters=8, kernel=3, stride=1, output_hw=(28, 28), relu=True, present=("Flatten", "Dense")),
    modelparts.dense_inputs_rule(
        "the Dense layer gets 28 * 28 * 8 = 6272 inputs (the PyTorch checkpoint's Linear(6272, 10))",
        "keep 28 x 28 x 8 features before Flatten: padding=\"same\", stride 1",
        inputs=6272, units=10),
))

PARTS = tuple(register(part) for part in (
    Part(grade_id="ex02-same-padding-split", label="Part 1 same_padding_split",
         names=("same_padding_split",),
         visible=([28, 3, 1, 1], [7, 3, 2, 1], [6, 3, 2, 1], [10, 3, 1, 2], [6, 1, 4, 1],
                  fresh.FRESH),
         collect=collect_split, judge=judge_split, requirements=SPLIT_REQUIREMENTS),
    FIX_MODEL.part("ex02-fix-model", "Part 3 build_fixed_model"),
))
