"""Read Keras and TensorFlow error messages: pure string functions, no TensorFlow.

Lesson 06 ("shape detective") teaches reading the message before anything
else: which layer it names, the shape it expected and the one it received.
Every function here takes the text of a message (already cleaned by
:func:`convclinic.runtime.clean_message`) and returns plain Python values,
so they are tested on literal messages from Keras 3 and Keras 2
(``tests/test_diagnosis_parsing.py``) without importing TensorFlow.
"""

from __future__ import annotations

import re

__all__ = [
    "SHAPE", "names_in", "layer_named_in", "parse_shape", "expected_axis", "expected_vs_found",
    "full_shape", "received", "after_received", "first_line", "first_sentence",
    "is_too_small", "is_gpu_init_failure", "is_nchw_on_cpu", "integer_dtype_named",
    "is_dtype_refusal", "argument_named", "filter_depth", "weight_shapes", "matmul_sizes",
    "is_kernel_rank_mismatch", "is_integer_dtype",
]

#: A parenthesised shape in a message: ``(None, 28, 28, 1)``.
SHAPE = r"\(([^()]*)\)"

_NAME_PATTERNS = (
    re.compile(r"of layer '([^']+)'"),
    re.compile(r'of layer "([^"]+)"'),
    re.compile(r"calling layer ['\"]([^'\"]+)['\"]"),
    re.compile(r"received by layer ['\"]([^'\"]+)['\"]"),
    re.compile(r"due to downsampling in ([\w.-]+?)\. "),
    re.compile(r"\{\{node ([^}]+)\}\}"),
)
_MODEL_NAME = re.compile(r"(sequential|functional|model)(_\d+)?$")
_OP_NAMES = ("Conv2D", "MatMul", "convolution", "BiasAdd")


def names_in(message):
    """Every layer-like name the message quotes, in reading order (node paths split on ``/``)."""
    found = []
    for pattern in _NAME_PATTERNS:
        for match in pattern.finditer(message):
            for part in match.group(1).split("/"):
                found.append((match.start(), part))
    return [name for _, name in sorted(found)]


def layer_named_in(message, known=()):
    """The innermost layer the message names.

    With ``known`` (the model's layer names) only those count, also with a
    ``_1`` suffix Keras adds to a node name; without, model names
    (``sequential_2``) and op names (``Conv2D``) are skipped.
    """
    names = names_in(message)
    if known:
        for name in reversed(names):
            if name in known:
                return name
            base = re.sub(r"_\d+$", "", name)
            if base in known:
                return base
        return None
    for name in reversed(names):
        if not _MODEL_NAME.match(name) and name != "None" and not name.startswith(_OP_NAMES):
            return name
    return None


def parse_shape(text):
    """``"None, 28, 28"`` -> ``(None, 28, 28)`` (``?`` is Keras 2's unknown size)."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if part:
            values.append(None if part in ("None", "?") else int(part))
    return tuple(values)


def expected_axis(message):
    """``(axis, value, received shape)`` from "expected axis -1 of input shape to have value 3"."""
    match = re.search(
        r"expected axis (-?\d+) of input shape to have value (\d+), but received input with "
        r"shape " + SHAPE,
        message,
    )
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), parse_shape(match.group(3))


def expected_vs_found(message):
    """``(expected, found)`` from Keras 3 "Expected shape (..), but input has incompatible
    shape (..)" or Keras 2 "expected shape=(..), found shape=(..)"."""
    for pattern in (
        r"Expected shape " + SHAPE + r", but input has incompatible shape " + SHAPE,
        r"expected shape=" + SHAPE + r", found shape=" + SHAPE,
    ):
        match = re.search(pattern, message)
        if match:
            return parse_shape(match.group(1)), parse_shape(match.group(2))
    return None


def full_shape(message):
    """The shape after "Full shape received:" (Keras's min_ndim errors), or None."""
    match = re.search(r"Full shape received: " + SHAPE, message)
    return parse_shape(match.group(1)) if match else None


def received(message):
    """The value after "Received:" ("Received: padding=invalid" -> ``"invalid"``), or None."""
    match = re.search(r"Received:? (?:\w+=)?([^\s.]+)", message)
    return match.group(1) if match else None


def after_received(message):
    """Everything after the last "Received:"."""
    return message.split("Received:")[-1].strip()


def first_line(text):
    """The first line of ``text`` ('' for None)."""
    lines = (text or "").splitlines()
    return lines[0] if lines else ""


def first_sentence(text):
    """The first sentence of ``text``: up to the first '.', '!' or '?' followed by a space and
    a capital or an opening bracket (so shapes and decimals are not cut)."""
    text = " ".join((text or "").split())
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text, maxsplit=1)
    return parts[0] if parts else ""


_TOO_SMALL = (
    "computed output size would be zero or negative",
    "computed output size would be negative",
    "negative dimension size caused by subtracting",
    "one of the dimensions in the output is <= 0",
)


def is_too_small(message):
    """True for the output-size-zero-or-negative family (Keras 3, Keras 2, TF ops)."""
    low = message.lower()
    return any(words in low for words in _TOO_SMALL)


_GPU_INIT = (
    "failed to get convolution algorithm", "cudnn failed to initialize", "cudnn_status",
    "dnn library initialization failed", "dnn library is not found",
)


def is_gpu_init_failure(message):
    """True for cuDNN failing to start ("Failed to get convolution algorithm" and variants)."""
    low = message.lower()
    return any(words in low for words in _GPU_INIT)


def is_nchw_on_cpu(message):
    """True for TF's "The Conv2D op currently only supports the NHWC tensor format on the CPU"."""
    return "only supports the nhwc tensor format" in message.lower()


def is_kernel_rank_mismatch(message):
    """True for Keras 3's "Kernel shape must have the same length as input" (a rank-5 input)."""
    return "kernel shape must have the same length as input" in message.lower()


_DTYPE_REFUSALS = (
    "incompatible type conversion requested to type",
    "is not in the list of allowed values",
    "cannot compute conv2d as input",
)
_INT_DTYPE = re.compile(r"\b(u?int\d+|bool)\b")


def is_dtype_refusal(message):
    """True for the messages a float layer gives an integer tensor."""
    low = message.lower()
    return any(words in low for words in _DTYPE_REFUSALS)


def integer_dtype_named(message):
    """The first integer/bool dtype the message names (``"uint8"``), or None."""
    match = _INT_DTYPE.search(message)
    return match.group(0) if match else None


def is_integer_dtype(dtype):
    """True for an integer or bool dtype name (``"uint8"``, ``"int32"``, ``"bool"``)."""
    return bool(dtype) and (str(dtype).startswith(("int", "uint")) or dtype == "bool")


_ARGUMENTS = (
    ("filters", re.compile(r"argument `filters`|filters must be evenly divisible|number of "
                           r"filters must be", re.I)),
    ("groups", re.compile(r"number of input channels must be evenly divisible", re.I)),
    ("kernel_size", re.compile(r"`kernel_size` argument", re.I)),
    ("strides", re.compile(r"`strides` argument|argument `strides`", re.I)),
    ("dilation_rate", re.compile(r"`dilation_rate` argument|argument `dilation_rate`", re.I)),
    ("pool_size", re.compile(r"`pool_size` argument", re.I)),
)


def argument_named(message):
    """The Conv2D/pooling argument an argument-validation message is about, or None."""
    for argument, pattern in _ARGUMENTS:
        if pattern.search(message):
            return argument
    return None


def filter_depth(message):
    """``(input depth, filter depth)`` from TF's "input depth must be evenly divisible by
    filter depth: 1 vs 3", ``(None, None)`` without the numbers, None for another message."""
    if "input depth must be evenly divisible by filter depth" not in message.lower():
        return None
    match = re.search(r"filter depth: (\d+) vs (\d+)", message)
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def weight_shapes(message):
    """``(wanted, given)`` from a weight-loading error ("weight shape (25088, 10) is not
    compatible with provided weight shape (21632, 10)"), or None."""
    match = re.search(r"weight shape " + SHAPE + r" is not compatible with provided weight "
                      r"shape " + SHAPE, message)
    if not match:
        return None
    return parse_shape(match.group(1)), parse_shape(match.group(2))


def matmul_sizes(message):
    """``(built for, received)`` feature counts from a MatMul/graph shape error, or None."""
    match = re.search(r"Dimensions must be equal, but are (\d+) and (\d+)", message) or re.search(
        r"Matrix size-incompatible: In\[0\]: \[\d+,(\d+)\], In\[1\]: \[(\d+),\d+\]", message)
    if not match:
        return None
    return int(match.group(2)), int(match.group(1))
