"""Assignment 04 (data format): the judged parts. Lesson 04 teaches both.

- ``ex04-transpose``: ``to_channels_last`` / ``to_channels_first`` move every
  pixel to its place (a transpose, not a reshape) and keep the dtype.
- ``ex04-torch-kernel``: ``torch_kernel_to_keras`` turns a PyTorch
  ``(out, in, kh, kw)`` weight into a Keras ``(kh, kw, in, out)`` kernel; a
  real Keras ``Conv2D`` holding it must compute what PyTorch computes, whose
  truth is the ONE NumPy reference convolution of lesson 04
  (:func:`convclinic.formats.reference_conv2d`).

The inputs are rebuilt from the case on both sides (:func:`batch`,
:func:`torch_weight`): the kernel only ever sees inputs and records what the
learner's functions return. The truth is computed by :func:`judge_transpose`
and :func:`judge_torch_kernel`, which never read the learner's globals
(the Keras layer gets its ``data_format`` and ``dtype`` explicitly).

Each part's visible cases end with one case drawn per answer
(:mod:`convclinic.judging.fresh`), so a table of the listed cases fails the
self-check. The predictions of Part 3 carry no points: :func:`reveal_predictions`.
"""

from __future__ import annotations

import numpy as np

from convclinic.judging.casework import as_array, call, error_text, hint_of, read_array
from convclinic.judging.core import Part, register
from convclinic.judging.fresh import FRESH, collect_cases, draw, judge_cases
from convclinic.judging.predictions import revealer
from convclinic.shapes import layout_permutation

NCHW_TO_NHWC = layout_permutation("channels_first", "channels_last")
NHWC_TO_NCHW = layout_permutation("channels_last", "channels_first")
TORCH_TO_KERAS = (2, 3, 1, 0)
DTYPES = ("float32", "float64", "uint8", "int32", "int64")
MAX_SIDE = 64
MAX_PIXELS = 100_000
MAX_CHANNELS = 16
MAX_KERNEL = 7


# --- inputs, the same on both sides ------------------------------------------------------


def _ints(case, count, what):
    values = list(case)[:count]
    if len(values) != count or not all(isinstance(v, int) and 1 <= v <= MAX_SIDE for v in values):
        raise ValueError(f"bad {what} case {case!r}")
    return tuple(values)


def transpose_case(case):
    """``[n, c, h, w, dtype]`` -> ((n, c, h, w), dtype); ValueError when malformed or too big."""
    shape = _ints(case, 4, "transpose")
    if int(np.prod(shape)) > MAX_PIXELS:
        raise ValueError(f"case too big {case!r}")
    dtype = case[4] if len(case) == 5 else None
    if dtype not in DTYPES:
        raise ValueError(f"bad dtype in {case!r}")
    return shape, dtype


def batch(shape, dtype):
    """A batch whose pixels are numbered, so that a misplaced pixel shows."""
    size = int(np.prod(shape))
    values = np.arange(size) % 256 if dtype == "uint8" else np.arange(size)
    return values.reshape(shape).astype(dtype)


def kernel_case(case):
    """``[out, in, kh, kw]``; ValueError when malformed or too big."""
    values = _ints(case, 4, "kernel")
    if max(values[:2]) > MAX_CHANNELS or max(values[2:]) > MAX_KERNEL:
        raise ValueError(f"kernel case too big {case!r}")
    return values


def torch_weight(case):
    """The PyTorch weight (out, in, kh, kw) of a case, and NCHW images it fits."""
    out_channels, in_channels, kernel_h, kernel_w = kernel_case(case)
    rng = np.random.default_rng(1000 * out_channels + 100 * in_channels + 10 * kernel_h + kernel_w)
    weight = rng.normal(size=(out_channels, in_channels, kernel_h, kernel_w)).astype("float32")
    images = rng.normal(size=(2, in_channels, kernel_h + 4, kernel_w + 3)).astype("float32")
    return weight, images


# --- kernel side ----------------------------------------------------------------------


def draw_transpose_case(function):
    """A case nobody listed (:mod:`convclinic.judging.fresh`): height != width, any dtype."""
    rng = draw(function)
    height, width = rng.sample(range(2, 12), 2)
    return [rng.randint(1, 4), rng.randint(1, 5), height, width, rng.choice(DTYPES)]


def draw_kernel_case(function):
    """A kernel nobody listed: kernel_h != kernel_w, in != out."""
    rng = draw(function)
    out_channels, in_channels = rng.sample(range(1, 7), 2)
    kernel_h, kernel_w = rng.sample(range(1, 6), 2)
    return [out_channels, in_channels, kernel_h, kernel_w]


def _call_transpose(to_last, to_first, case):
    (n, c, h, w), dtype = transpose_case(case)
    return {"last": call(to_last, batch((n, c, h, w), dtype), convert=as_array),
            "first": call(to_first, batch((n, h, w, c), dtype), convert=as_array)}


def collect_transpose(answers, cases):
    """Call both functions of Part 1 on each case's batch; record what they return
    (for :data:`FRESH`, on a case drawn from ``to_channels_last``, recorded with it)."""
    to_last, to_first = answers["to_channels_last"], answers["to_channels_first"]
    return collect_cases(cases, lambda case: _call_transpose(to_last, to_first, case),
                         lambda: draw_transpose_case(to_last))


def collect_torch_kernel(answers, cases):
    """Call ``torch_kernel_to_keras`` on each case's weight; record the kernel it returns."""
    convert = answers["torch_kernel_to_keras"]
    return collect_cases(
        cases, lambda case: {"kernel": call(convert, torch_weight(case)[0], convert=as_array)},
        lambda: draw_kernel_case(convert))


def _read_drawn(read):
    def check(case):
        if not isinstance(case, list):
            raise ValueError("malformed case")
        read(case)
        return case
    return check


# --- clean side: Part 1 ---------------------------------------------------------------------

TRANSPOSE_REQUIREMENTS = (
    "to_channels_last turns (N, C, H, W) into (N, H, W, C) with every pixel in its place",
    "to_channels_first turns (N, H, W, C) into (N, C, H, W) with every pixel in its place",
    "both keep the dtype",
)


def _layout_mistakes(source, target_axes):
    """Named wrong results for moving the axes of ``source``: (mistake, what it gives)."""
    target_shape = tuple(source.shape[i] for i in target_axes)
    return [
        ("height and width are swapped (the transpose (0, 3, 2, 1) does that)",
         np.transpose(source, (0, 3, 2, 1))),
        ("a reshape gives the right shape and scrambles the pixels: transpose the axes instead",
         source.reshape(target_shape)),
        ("the batch came back unchanged", source),
    ]


def _check_layout(verdicts, index, what, record, source, axes, axes_text, dtype):
    error = error_text(record, what)
    if error:
        verdicts.fail(index, error, hint_of(error))
        return
    got = read_array(record)
    if got is None:
        verdicts.fail(index, f"{what} did not return an array", f"{what} must return an array")
        return
    expected = np.transpose(source, axes)
    if got.shape == expected.shape and np.array_equal(got, expected):
        if str(got.dtype) != dtype:
            verdicts.fail(2, f"{what} changed the dtype {dtype} to {got.dtype}: moving axes must not cast",
                          "the dtype changed: moving axes must not cast (no astype, no float division)")
        return
    for mistake, wrong in _layout_mistakes(source, axes):
        if got.shape == wrong.shape and np.array_equal(got, wrong):
            shape = (f"has the right shape {got.shape}" if got.shape == expected.shape
                     else f"gave shape {got.shape}, expected {expected.shape}")
            verdicts.fail(index, f"{what} of a {source.shape} batch {shape}: {mistake}; "
                                 f"use np.transpose(batch, {axes_text})",
                          f"{mistake}; use np.transpose(batch, {axes_text})")
            return
    if got.shape != expected.shape:
        verdicts.fail(index, f"{what} of a {source.shape} batch gave shape {got.shape}, expected "
                             f"{expected.shape}: use np.transpose(batch, {axes_text}) and never assume a size",
                      f"the shape is wrong: use np.transpose(batch, {axes_text}), never assume a size")
        return
    verdicts.fail(index, f"{what} of a {source.shape} batch has the right shape but pixels moved: "
                         f"use np.transpose(batch, {axes_text})",
                  f"the shape is right but pixels moved: use np.transpose(batch, {axes_text})")


def _check_transpose(verdicts, case, row, fresh=False):
    """Both functions on one case (a drawn case is judged like a listed one)."""
    (n, c, h, w), dtype = transpose_case(case)
    _check_layout(verdicts, 0, "to_channels_last", row.get("last"), batch((n, c, h, w), dtype),
                  NCHW_TO_NHWC, "(0, 2, 3, 1)", dtype)
    _check_layout(verdicts, 1, "to_channels_first", row.get("first"), batch((n, h, w, c), dtype),
                  NHWC_TO_NCHW, "(0, 3, 1, 2)", dtype)


def judge_transpose(data, cases, hidden):
    """Part 1 verdicts: the truth is ``np.transpose`` of the same numbered batch."""
    return judge_cases(TRANSPOSE_REQUIREMENTS, data, cases, hidden, _read_drawn(transpose_case),
                       _check_transpose)


# --- clean side: Part 2 ---------------------------------------------------------------------

KERNEL_REQUIREMENTS = (
    "the kernel has Keras' shape (kernel_h, kernel_w, in_channels, out_channels)",
    "a Keras Conv2D holding the kernel computes what PyTorch computes (no flip, no reshape)",
)


def _kernel_mistakes(weight):
    """Named wrong conversions of a PyTorch weight: (mistake, kernel it gives)."""
    keras_kernel = np.transpose(weight, TORCH_TO_KERAS)
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    return [
        ("the kernel is flipped (rotated by 180 degrees): Keras and PyTorch both compute a "
         "cross-correlation, so the kernel is used as it is, never flipped",
         keras_kernel[::-1, ::-1]),
        ("kernel rows and columns are swapped: (kw, kh, in, out), the transpose (3, 2, 1, 0) does that",
         np.transpose(weight, (3, 2, 1, 0))),
        ("in and out channels are swapped: (kh, kw, out, in), the transpose (2, 3, 0, 1) does that",
         np.transpose(weight, (2, 3, 0, 1))),
        ("a reshape gives the right shape and scrambles the weights: transpose the axes instead",
         weight.reshape(kernel_h, kernel_w, in_channels, out_channels)),
    ]


def keras_output(kernel, images_nchw):
    """A real Keras Conv2D (channels_last, float32, set explicitly) with ``kernel``, as NCHW."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    kernel_h, kernel_w, _, out_channels = kernel.shape
    layer = keras.layers.Conv2D(out_channels, (kernel_h, kernel_w), use_bias=False,
                                data_format="channels_last", dtype="float32")
    layer.build((None, images_nchw.shape[2], images_nchw.shape[3], images_nchw.shape[1]))
    layer.set_weights([kernel.astype("float32")])
    output = layer(np.transpose(images_nchw, NCHW_TO_NHWC))
    return np.transpose(np.asarray(output), NHWC_TO_NCHW)


def _check_kernel(verdicts, case, row, fresh=False):
    """The kernel returned for one case (a drawn case is judged like a listed one)."""
    from convclinic.formats import reference_conv2d

    record = row.get("kernel")
    weight, images = torch_weight(case)
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    error = error_text(record, "torch_kernel_to_keras")
    kernel = read_array(record)
    if error or kernel is None:
        error = error or "torch_kernel_to_keras did not return an array"
        verdicts.fail(0, error, hint_of(error))
        verdicts.fail(1, error, hint_of(error))
        return
    expected_shape = (kernel_h, kernel_w, in_channels, out_channels)
    named = [m for m, wrong in _kernel_mistakes(weight)
             if wrong.shape == kernel.shape and np.allclose(wrong, kernel)]
    if kernel.shape != expected_shape:
        mistake = named[0] if named else "Keras wants (kernel_h, kernel_w, in, out): transpose (2, 3, 1, 0)"
        verdicts.fail(0, f"the Keras kernel for a PyTorch weight {weight.shape} has shape {kernel.shape}, "
                         f"expected {expected_shape}: {mistake}", mistake)
        verdicts.fail(1, "the kernel cannot be loaded into the Keras layer: fix its shape first", mistake)
        return
    if not np.issubdtype(kernel.dtype, np.number) or np.issubdtype(kernel.dtype, np.complexfloating):
        verdicts.fail(1, f"the kernel holds {kernel.dtype} values, not real numbers", "return real numbers")
        return
    truth = reference_conv2d(images, weight)
    if np.allclose(keras_output(kernel, images), truth, atol=1e-4):
        return
    mistake = named[0] if named else ("kernel rows/columns or in/out channels are mixed up: "
                                      "transpose (2, 3, 1, 0)")
    verdicts.fail(1, f"a Keras Conv2D with your kernel for a PyTorch weight {weight.shape} computes "
                     f"other numbers than PyTorch: {mistake}", mistake)


def judge_torch_kernel(data, cases, hidden):
    """Part 2 verdicts: Keras with the learner's kernel vs :func:`reference_conv2d`."""
    return judge_cases(KERNEL_REQUIREMENTS, data, cases, hidden, _read_drawn(kernel_case),
                       _check_kernel)


# --- Part 3: predictions (no points) -------------------------------------------------------


def prediction_cases():
    """The calls of Part 3: ``{key: (description, call, why)}``; every data_format explicit,
    so a learner's global ``keras.config`` cannot change what is revealed."""
    from convclinic.runtime import import_keras

    layers = import_keras().layers

    def conv_on(shape, data_format):
        return lambda: layers.Conv2D(8, 3, data_format=data_format)(np.zeros(shape, dtype="float32"))

    return {
        "a": ("channels_first layer, NCHW data", conv_on((1, 3, 28, 28), "channels_first"),
              "the formats agree: 3 channels, 28 x 28 -> 26 x 26, filters on axis 1 "
              "(on a CPU this needs TensorFlow's oneDNN path, which the course turns on)"),
        "b": ("channels_last layer (the default), NCHW data", conv_on((1, 3, 28, 28), "channels_last"),
              "silently wrong: 28 'channels', a 3 x 28 'image' -> 1 x 26, no error at all"),
        "c": ("channels_first layer, NHWC data", conv_on((1, 28, 28, 3), "channels_first"),
              "silently wrong: 28 'channels', a 28 x 3 'image' -> 26 x 1"),
        "d": ("channels_first layer, NHWC grayscale", conv_on((1, 28, 28, 1), "channels_first"),
              "the 'image' is 28 x 1 and a 3 x 3 kernel does not fit: 'Computed output size would be "
              "zero or negative ... kernel shape=(3, 3, 28, 8)', which never mentions the data format"),
        "e": ("data_format='NCHW'", conv_on((1, 3, 28, 28), "NCHW"),
              "Keras accepts only 'channels_first' or 'channels_last'"),
    }


reveal_predictions = revealer(prediction_cases)


PARTS = tuple(register(part) for part in (
    Part(grade_id="ex04-transpose", label="Part 1 to_channels_last / to_channels_first",
         names=("to_channels_last", "to_channels_first"),
         visible=([2, 3, 4, 5, "float32"], [1, 3, 28, 28, "uint8"], FRESH),
         collect=collect_transpose, judge=judge_transpose, requirements=TRANSPOSE_REQUIREMENTS),
    Part(grade_id="ex04-torch-kernel", label="Part 2 torch_kernel_to_keras",
         names=("torch_kernel_to_keras",),
         visible=([4, 3, 3, 3], [2, 5, 3, 2], FRESH),
         collect=collect_torch_kernel, judge=judge_torch_kernel, requirements=KERNEL_REQUIREMENTS),
))
