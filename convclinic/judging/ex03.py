"""Assignment 03 (stride and dilation): the judged parts. Lesson 03 teaches both.

- ``ex03-stack-output-shape``: ``stack_output_shape(input_shape, convs)`` gives
  the output of a stack of Conv2D layers, or None when one would have no output
  pixel. The truth is real Keras Conv2D layers on a ``keras.Input``
  (:func:`keras_truth`), built under Keras' default settings with an explicit
  ``data_format``.
- ``ex03-fix-model``: the repaired model keeps its dilated convolution and
  downsamples with a pooling layer after it (see :mod:`convclinic.judging.modelparts`).

The predictions of Part 2 carry no points: :func:`reveal_predictions`.
"""

from __future__ import annotations

from convclinic import shapes
from convclinic.judging import fresh, modelparts, truth
from convclinic.judging.casework import call, case_items, error_text, requirement_table
from convclinic.judging.core import Part, register
from convclinic.judging.predictions import revealer

MAX_SIZE = 256
MAX_LAYERS = 8

STACK_REQUIREMENTS, STACK_HINTS = requirement_table(
    ("stack_output_shape returns (height, width, channels) or None for any input and stack "
     "(not only for the cases you were shown)",
     "compute the shape from the arguments, layer after layer, for any stack"),
    ("valid: floor((n - effective_kernel) / stride) + 1 on each axis",
     "a valid layer gave the wrong size: floor((n - effective_kernel) / stride) + 1"),
    ("same: ceil(n / stride) on each axis",
     "a same layer gave the wrong size: ceil(n / stride), whatever the kernel"),
    ("dilation widens the kernel: effective kernel = dilation * (kernel_size - 1) + 1",
     "a case with dilation failed: effective kernel = dilation * (kernel_size - 1) + 1"),
    ("the channels are the last layer's filters",
     "the channels after a Conv2D are its filters"),
    ("None when some layer would have no output pixel (Keras raises)",
     "return None exactly when a layer's (dilated) kernel is larger than its input with "
     "valid padding"),
    ("height and width are computed separately (inputs need not be square)",
     "a non-square case failed: compute height and width separately"),
)
ANY, VALID, SAME, DILATION, CHANNELS, NONE, AXES = range(len(STACK_REQUIREMENTS))
KEYS = ("filters", "kernel_size", "strides", "padding", "dilation_rate")


def stack_case(case):
    """``[[h, w, c], [[filters, kernel, stride, padding, dilation], ...]]``; ValueError when malformed."""
    shape, layers = case_items(case, 2)
    if not isinstance(layers, list | tuple) or not 1 <= len(layers) <= MAX_LAYERS:
        raise ValueError(f"bad case {case!r}")
    if not isinstance(shape, list | tuple) or len(shape) != 3 or not _ints(shape):
        raise ValueError(f"bad case {case!r}")
    convs = []
    for layer in layers:
        if not isinstance(layer, list | tuple) or len(layer) != 5 or layer[3] not in ("valid", "same"):
            raise ValueError(f"bad case {case!r}")
        if not _ints([*layer[:3], layer[4]]) or (layer[2] > 1 and layer[4] > 1):
            raise ValueError(f"bad case {case!r}")
        convs.append(tuple(layer))
    return tuple(shape), tuple(convs)


def _ints(values):
    return all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE for v in values)


def settings(layer):
    """One layer of a case as the dict of Conv2D settings the learner's function receives."""
    return dict(zip(KEYS, layer, strict=True))


def _convert(value):
    """None, or (height, width, channels) as three Python ints (tuples, lists, arrays, NumPy ints)."""
    if value is None:
        return None
    if hasattr(value, "as_list"):
        value = value.as_list()
    items = list(value)
    if len(items) != 3:
        raise TypeError(f"returned {len(items)} values, expected 3: (height, width, channels)")
    result = []
    for item in items:
        if hasattr(item, "item") and callable(item.item):
            item = item.item()
        if isinstance(item, bool) or not (isinstance(item, int) or
                                          (isinstance(item, float) and item.is_integer())):
            raise TypeError(f"{item!r} is not a whole number")
        result.append(int(item))
    return result


def _call_stack(function, case):
    shape, layers = stack_case(case)
    return call(function, shape, [settings(layer) for layer in layers], convert=_convert)


def _draw_stack_case(function, listed):
    rng = fresh.draw(function)
    while True:
        height = rng.randint(9, 40)
        shape = [height, height + rng.randint(1, 9), rng.randint(1, 4)]
        layers = []
        for _ in range(rng.randint(1, 3)):
            stride = rng.randint(1, 3)
            dilation = 1 if stride > 1 else rng.randint(1, 3)
            layers.append([rng.randint(2, 16), rng.randint(1, 5), stride,
                           rng.choice(["valid", "same"]), dilation])
        case = [shape, layers]
        if case not in listed:
            return case


def collect_stack(answers, cases):
    """Call ``stack_output_shape`` on each case (fresh dicts every call); a FRESH case is drawn here."""
    function = answers["stack_output_shape"]
    listed = [case for case in cases if case != fresh.FRESH]
    return fresh.collect_cases(cases, lambda case: _call_stack(function, case),
                               lambda: _draw_stack_case(function, listed))


# --- clean side -------------------------------------------------------------------------


def keras_truth(shape, layers):
    """Real Keras: the stack's output (height, width, channels), or None when Keras raises."""
    with truth.default_keras_config() as keras:
        def build():
            outputs = keras.Input(shape)
            for layer in layers:
                outputs = keras.layers.Conv2D(**settings(layer), data_format="channels_last")(outputs)
            return outputs

        result = truth.outcome(build)
    return None if isinstance(result, str) else tuple(result[1:])


def _variant(shape, layers, dilation=True, ceil=True, plus_one=True, square=False, channels=True):
    """A named WRONG way to compute the stack (to name the learner's mistake), or None."""
    height, width, depth = shape
    if square:
        width = height
    for filters, kernel, stride, padding, rate in layers:
        effective = shapes.effective_kernel_size(int(kernel), int(rate) if dilation else 1)
        sizes = []
        for n in (height, width):
            if padding == "same":
                sizes.append(shapes.conv_output_size(int(n), 1, int(stride), "same") if ceil else n // stride)
            elif n < effective:
                return None
            else:
                sizes.append((n - effective) // stride + (1 if plus_one else 0))
        height, width = sizes
        depth = filters if channels else depth
    return (height, width, depth)


MISTAKES = (
    (DILATION, {"dilation": False}, "the dilation was ignored: a kernel k with dilation d spans "
                                    "d * (k - 1) + 1 pixels"),
    (SAME, {"ceil": False}, "floor instead of ceil for same: same gives ceil(n / stride)"),
    (VALID, {"plus_one": False}, "the + 1 of the valid formula is missing"),
    (AXES, {"square": True}, "the width was computed from the height: inputs need not be square"),
    (CHANNELS, {"channels": False}, "the channels must become the last layer's filters"),
)


def _diagnose(shape, layers, got, expected):
    """(requirement, why) for a wrong answer."""
    for requirement, switches, why in MISTAKES:
        wrong = _variant(shape, layers, **switches)
        if wrong != expected and wrong == got:
            return requirement, why
    if expected is None:
        return NONE, "Keras raises 'Computed output size would be zero or negative' here: return None"
    if got is None:
        return NONE, "Keras gives an output here: return None only when a kernel does not fit"
    if got[2] != expected[2]:
        return CHANNELS, "the channels must become the last layer's filters"
    if any(layer[4] > 1 for layer in layers):
        return DILATION, "check the effective kernel d * (k - 1) + 1 of the dilated layers"
    if any(layer[3] == "same" for layer in layers):
        return SAME, "valid: floor((n - k_eff) / s) + 1, same: ceil(n / s), layer after layer"
    return VALID, "valid: floor((n - k_eff) / s) + 1, layer after layer"


def _call_text(shape, layers):
    return f"stack_output_shape({shape}, {[settings(layer) for layer in layers]})"


LOOKUP = fresh.lookup_text("shape")


def _check_stack(verdicts, case, record, drawn=False):
    shape, layers = case
    what = (fresh.DRAWN if drawn else "") + _call_text(shape, layers)
    error = error_text(record, what)
    if error:
        verdicts.fail(ANY, f"{error}; {LOOKUP}" if drawn else error,
                      f"stack_output_shape raised {record.get('error')}: {STACK_HINTS[ANY]}")
        return False
    got = record.get("value")
    got = None if got is None else tuple(got)
    if got is not None and (len(got) != 3 or not all(type(v) is int for v in got)):
        raise ValueError("malformed record")
    expected = keras_truth(shape, layers)
    if got == expected:
        return True
    return fresh.fail_diagnosed(verdicts, _diagnose(shape, layers, got, expected),
                                f"{what} gave {got}, Keras gives {expected}", STACK_HINTS, drawn, LOOKUP)


def judge_stack(data, cases, hidden):
    """Part 1 verdicts against real Keras layers; the fresh case is judged last (names a table)."""
    return fresh.judge_fresh_last(STACK_REQUIREMENTS, data, cases, hidden, stack_case, _check_stack)


def covers(case):
    """The requirements a case exercises (each has a hidden case: tests/test_judging_ex03.py)."""
    shape, layers = stack_case(case)
    found = {ANY, CHANNELS}
    found |= {VALID for layer in layers if layer[3] == "valid"}
    found |= {SAME for layer in layers if layer[3] == "same"}
    found |= {DILATION for layer in layers if layer[4] > 1}
    if shape[0] != shape[1]:
        found.add(AXES)
    if _variant(shape, layers) is None:
        found.add(NONE)
    return found


# --- Part 2: predictions, no points ------------------------------------------------------


def prediction_cases():
    """The five calls of Part 2: key -> (description, call, why)."""
    import numpy as np

    from convclinic.runtime import import_keras

    layers = import_keras().layers

    def conv_on(*args, **kwargs):
        return lambda: layers.Conv2D(*args, data_format="channels_last", **kwargs)(
            np.zeros((1, 28, 28, 1), dtype="float32"))

    return {
        "a": ("strides=2 with dilation_rate=2", conv_on(8, 3, strides=2, dilation_rate=2),
              "Keras refuses strides > 1 together with dilation_rate > 1"),
        "b": ("strides=50 on 28 x 28", conv_on(4, 3, strides=50),
              "a stride larger than the input still leaves the first window: floor(25 / 50) + 1 = 1"),
        "c": ("dilation_rate=14", conv_on(4, 3, dilation_rate=14),
              "the effective kernel is 14 * 2 + 1 = 29 > 28: no window fits"),
        "d": ("dilation_rate=13", conv_on(4, 3, dilation_rate=13),
              "the effective kernel is 13 * 2 + 1 = 27 <= 28: 28 - 27 + 1 = 2"),
        "e": ("strides=3, same", conv_on(8, 3, strides=3, padding="same"),
              "same gives ceil(28 / 3) = 10"),
    }


reveal_predictions = revealer(prediction_cases)


# --- Part 3: repair the model --------------------------------------------------------------


def _upstream(layer, seen=None):
    """Every operation feeding ``layer`` in the rebuilt model's graph."""
    seen = set() if seen is None else seen
    for node in getattr(layer, "_inbound_nodes", []):
        for parent in getattr(node, "parent_nodes", []):
            operation = parent.operation
            if id(operation) not in seen:
                seen.add(id(operation))
                _upstream(operation, seen)
    return seen


def _is_dilated(layer):
    return modelparts.conv_matches(layer, kernel=3, dilation=2, stride=1)


def _no_stride_with_dilation(model):
    for layer in modelparts.convolutions(model):
        config = modelparts.layer_config(layer)
        strides, rates = modelparts.pair(config["strides"]), modelparts.pair(config["dilation_rate"])
        if max(strides) > 1 and max(rates) > 1:
            return (f"{layer.name} still combines strides={strides} with dilation_rate={rates}: "
                    "Keras refuses that (and your model would not even build)")
    return None


def _pools_after(model):
    dilated = [layer for layer in modelparts.convolutions(model) if _is_dilated(layer)]
    pools = [layer for layer in modelparts.all_layers(model) if type(layer).__name__ == "MaxPooling2D"]
    if not pools:
        return "there is no layers.MaxPooling2D: downsample with MaxPooling2D(2) after the convolution"
    halving = [layer for layer in pools
               if modelparts.pair(modelparts.layer_config(layer).get("pool_size")) == (2, 2)
               and modelparts.pair(modelparts.layer_config(layer).get("strides")) == (2, 2)]
    if not halving:
        return ("a MaxPooling2D that does not halve the map does not downsample: use "
                "layers.MaxPooling2D(2) (pool size 2, stride 2)")
    if dilated and not any(id(conv) in _upstream(pool) for pool in halving for conv in dilated):
        return ("the MaxPooling2D(2) comes before the dilated convolution: put it AFTER, so the "
                "convolution still sees the full-size map")
    return None


FIX_MODEL = modelparts.ModelTask(input_shape=(32, 32, 3), rules=(
    modelparts.conv_rule(
        "the model keeps a dilated 3x3 Conv2D (dilation_rate=2) at stride 1",
        "the receptive field was the point: keep Conv2D(..., 3, dilation_rate=2), stride 1",
        kernel=3, dilation=2, stride=1),
    modelparts.Rule(
        "no layer combines strides > 1 with dilation_rate > 1", _no_stride_with_dilation,
        "a layer still combines strides > 1 with dilation_rate > 1"),
    modelparts.Rule(
        "a separate layers.MaxPooling2D(2) after the dilated convolution downsamples",
        _pools_after,
        "downsample with layers.MaxPooling2D(2) placed after the dilated convolution"),
), visible=([8, 0],))

PARTS = tuple(register(part) for part in (
    Part(grade_id="ex03-stack-output-shape", label="Part 1 stack_output_shape",
         names=("stack_output_shape",),
         visible=([[28, 28, 1], [[32, 3, 1, "valid", 1]]],
                  [[28, 20, 3], [[4, 3, 1, "valid", 4], [2, 2, 2, "valid", 1]]],
                  [[7, 9, 2], [[8, 3, 2, "same", 1]]],
                  [[9, 9, 1], [[4, 3, 1, "valid", 5]]],
                  fresh.FRESH),
         collect=collect_stack, judge=judge_stack, requirements=STACK_REQUIREMENTS),
    FIX_MODEL.part("ex03-fix-model", "Part 3 build_fixed_model"),
))
