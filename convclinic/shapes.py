"""Conv2D shape arithmetic, exactly as Keras 3 does it, without importing TensorFlow.

Taught in lesson 00 (the numbered rules), 02 (SAME padding), 03 (stride,
dilation, a stack that shrinks to nothing) and 06 (tracing a whole model).

The rules, numbered as the lessons number them:

1. Effective kernel: ``k_eff = d * (k - 1) + 1`` (dilation spreads the taps).
2. ``valid``: ``out = floor((n - k_eff) / s) + 1``; Keras raises when
   ``out <= 0``, i.e. when the (dilated) kernel is larger than the input.
3. ``same``: ``out = ceil(n / s)``; never empty.
4. TF's SAME padding is asymmetric: ``total = max((out - 1) * s + k_eff - n, 0)``,
   ``before = total // 2``, the extra row/column goes after (bottom/right).
5. Keras refuses ``strides > 1`` together with ``dilation_rate > 1``.

Every function raises ``ValueError`` exactly where Keras raises, with a
message a learner can act on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "effective_kernel_size",
    "conv_output_size",
    "same_padding",
    "normalize_padding",
    "normalize_data_format",
    "conv2d_output_shape",
    "pool2d_output_shape",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "ZeroPadding2D",
    "Flatten",
    "Dense",
    "TraceStep",
    "Trace",
    "trace",
]

PADDINGS = ("valid", "same")
DATA_FORMATS = ("channels_last", "channels_first")


def _positive_pair(value, name):
    """Turn an int or a 2-sequence into a pair of positive ints, as Keras does."""
    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be an integer or a tuple of 2 integers, got {value!r}.")
    if isinstance(value, int):
        pair = (value, value)
    else:
        try:
            pair = tuple(value)
        except TypeError:
            raise ValueError(
                f"`{name}` must be an integer or a tuple of 2 integers, got {value!r}."
            ) from None
        if len(pair) != 2:
            raise ValueError(
                f"`{name}` must be an integer or a tuple of 2 integers, got {value!r} "
                f"({len(pair)} values). Conv2D works on height and width: give 2."
            )
        try:
            pair = tuple(int(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must contain integers, got {value!r}.") from None
    bad = [v for v in pair if v <= 0]
    if bad:
        raise ValueError(
            f"`{name}` must be strictly positive, got {value!r}. "
            f"Keras requires every value of `{name}` to satisfy value > 0."
        )
    return pair


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    if value <= 0:
        raise ValueError(
            f"`{name}` must be strictly positive, got {value}. "
            f"A Conv2D needs at least one {name[:-1] if name.endswith('s') else name}."
        )
    return value


def normalize_padding(padding):
    """Return 'valid' or 'same' for any case of those words; raise like Keras otherwise.

    Lesson 02: Conv2D accepts only these two words. Explicit amounts of
    padding are done with a ``ZeroPadding2D`` layer before the Conv2D.
    """
    if not isinstance(padding, str):
        raise ValueError(
            f"padding={padding!r} is not accepted by Conv2D: use 'valid' or 'same'. "
            "For an explicit number of pixels (PyTorch's padding=1), put a "
            "ZeroPadding2D layer before a 'valid' Conv2D. "
            "(Keras itself raises AttributeError for an int and fails at call time for a list.)"
        )
    lowered = padding.lower()
    if lowered not in PADDINGS:
        raise ValueError(
            f"padding={padding!r} is not accepted: Conv2D takes only 'valid' "
            "(no padding, the output shrinks) or 'same' (pads so that out = ceil(n / stride))."
        )
    return lowered


def normalize_data_format(data_format):
    """Return 'channels_last' or 'channels_first' (any case); raise like Keras otherwise.

    Lesson 04: ``"NHWC"``/``"NCHW"`` are TensorFlow op names, not Keras values.
    """
    if data_format is None:
        return "channels_last"
    lowered = str(data_format).lower()
    if lowered not in DATA_FORMATS:
        hint = ""
        if lowered in ("nhwc", "nchw"):
            wanted = "channels_last" if lowered == "nhwc" else "channels_first"
            hint = f" {data_format!r} is TensorFlow's op name; Keras calls it {wanted!r}."
        raise ValueError(
            f"data_format={data_format!r} is not accepted: use 'channels_last' "
            f"(N, H, W, C) or 'channels_first' (N, C, H, W).{hint}"
        )
    return lowered


def effective_kernel_size(kernel, dilation=1):
    """Rule 1 (lesson 03): a kernel of ``kernel`` taps with ``dilation`` covers d*(k-1)+1 pixels."""
    kernel = _positive_int(kernel, "kernel_size")
    dilation = _positive_int(dilation, "dilation_rate")
    return dilation * (kernel - 1) + 1


def conv_output_size(size, kernel, stride=1, padding="valid", dilation=1):
    """Output length along one spatial axis (rules 1-3, lessons 00 and 03).

    >>> conv_output_size(28, 3)
    26
    >>> conv_output_size(28, 3, stride=2, padding="same")
    14
    """
    size = _positive_int(size, "size")
    stride = _positive_int(stride, "strides")
    padding = normalize_padding(padding)
    k_eff = effective_kernel_size(kernel, dilation)
    if padding == "same":
        return -(-size // stride)
    if size < k_eff:
        dilated = f" (kernel {kernel} with dilation {dilation})" if dilation > 1 else ""
        raise ValueError(
            f"Computed output size would be zero or negative: the kernel covers {k_eff} "
            f"pixels{dilated} but the input is only {size} wide with padding='valid'. "
            f"Use padding='same', a smaller kernel or dilation, or a larger input."
        )
    return (size - k_eff) // stride + 1


def same_padding(size, kernel, stride=1, dilation=1):
    """TF's SAME padding split ``(before, after)`` along one axis (rule 4, lesson 02).

    The odd pixel goes AFTER (bottom/right), unlike PyTorch's symmetric padding.

    >>> same_padding(6, 3, stride=2)
    (0, 1)
    """
    size = _positive_int(size, "size")
    stride = _positive_int(stride, "strides")
    k_eff = effective_kernel_size(kernel, dilation)
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def _check_stride_dilation(strides, dilation):
    if max(strides) > 1 and max(dilation) > 1:
        raise ValueError(
            f"strides={strides} together with dilation_rate={dilation} is refused by Keras "
            "(`strides > 1` not supported in conjunction with `dilation_rate > 1`). "
            "Use one or the other, or follow a dilated Conv2D with a pooling layer."
        )


def conv2d_output_shape(
    input_shape,
    filters,
    kernel_size,
    strides=1,
    padding="valid",
    dilation_rate=1,
    data_format="channels_last",
):
    """Output shape of ``keras.layers.Conv2D`` for a batched 4-D input shape (lesson 00).

    ``input_shape`` includes the batch axis, which may be ``None``.

    >>> conv2d_output_shape((None, 28, 28, 1), 32, 3)
    (None, 26, 26, 32)
    >>> conv2d_output_shape((8, 3, 32, 32), 16, 5, strides=2, padding="same",
    ...                     data_format="channels_first")
    (8, 16, 16, 16)
    """
    filters = _positive_int(filters, "filters")
    kernel = _positive_pair(kernel_size, "kernel_size")
    strides = _positive_pair(strides, "strides")
    dilation = _positive_pair(dilation_rate, "dilation_rate")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    _check_stride_dilation(strides, dilation)
    input_shape = tuple(input_shape)
    if len(input_shape) != 4:
        raise ValueError(
            f"Conv2D expects a 4-D input (batch, height, width, channels) but got "
            f"{len(input_shape)}-D shape {input_shape} (Keras: expected min_ndim=4, "
            f"found ndim={len(input_shape)}). Add the missing batch or channel axis."
        )
    if data_format == "channels_last":
        batch, height, width, channels = input_shape
    else:
        batch, channels, height, width = input_shape
    out = []
    for axis, (n, k, s, d) in enumerate(zip((height, width), kernel, strides, dilation, strict=True)):
        name = ("height", "width")[axis]
        try:
            out.append(conv_output_size(n, k, s, padding, d))
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    if data_format == "channels_last":
        return (batch, out[0], out[1], filters)
    return (batch, filters, out[0], out[1])


def pool2d_output_shape(
    input_shape, pool_size=2, strides=None, padding="valid", data_format="channels_last"
):
    """Output shape of MaxPooling2D/AveragePooling2D (strides default to pool_size)."""
    pool = _positive_pair(pool_size, "pool_size")
    strides = pool if strides is None else _positive_pair(strides, "strides")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    input_shape = tuple(input_shape)
    if len(input_shape) != 4:
        raise ValueError(f"2-D pooling expects a 4-D input, got shape {input_shape}.")
    if data_format == "channels_last":
        batch, height, width, channels = input_shape
    else:
        batch, channels, height, width = input_shape
    out = []
    for axis, (n, p, s) in enumerate(zip((height, width), pool, strides, strict=True)):
        name = ("height", "width")[axis]
        if padding == "same":
            out.append(-(-n // s))
        elif n < p:
            raise ValueError(
                f"{name}: Computed output size would be zero or negative: pool size {p} "
                f"is larger than the input ({n}) with padding='valid'."
            )
        else:
            out.append((n - p) // s + 1)
    if data_format == "channels_last":
        return (batch, out[0], out[1], channels)
    return (batch, channels, out[0], out[1])


# --- Layer specs for shape traces (lessons 03 and 06) ----------------------------------


@dataclass(frozen=True)
class Conv2D:
    """A Conv2D in a shape trace; arguments as ``keras.layers.Conv2D``."""

    filters: int
    kernel_size: object = 3
    strides: object = 1
    padding: str = "valid"
    dilation_rate: object = 1
    data_format: str = "channels_last"
    name: str | None = None

    def output_shape(self, input_shape):
        return conv2d_output_shape(
            input_shape,
            self.filters,
            self.kernel_size,
            self.strides,
            self.padding,
            self.dilation_rate,
            self.data_format,
        )


@dataclass(frozen=True)
class MaxPooling2D:
    """A 2-D pooling layer in a shape trace."""

    pool_size: object = 2
    strides: object = None
    padding: str = "valid"
    data_format: str = "channels_last"
    name: str | None = None

    def output_shape(self, input_shape):
        return pool2d_output_shape(
            input_shape, self.pool_size, self.strides, self.padding, self.data_format
        )


@dataclass(frozen=True)
class AveragePooling2D(MaxPooling2D):
    """Same shape rule as MaxPooling2D."""


@dataclass(frozen=True)
class ZeroPadding2D:
    """Explicit padding: an int, (rows, cols) or ((top, bottom), (left, right))."""

    padding: object = 1
    data_format: str = "channels_last"
    name: str | None = None

    def output_shape(self, input_shape):
        p = self.padding
        if isinstance(p, int):
            (top, bottom), (left, right) = (p, p), (p, p)
        elif all(isinstance(v, int) for v in p):
            (top, bottom), (left, right) = (p[0], p[0]), (p[1], p[1])
        else:
            (top, bottom), (left, right) = p
        if min(top, bottom, left, right) < 0:
            raise ValueError(f"ZeroPadding2D padding must be >= 0, got {p!r}.")
        fmt = normalize_data_format(self.data_format)
        if len(input_shape) != 4:
            raise ValueError(f"ZeroPadding2D expects a 4-D input, got shape {tuple(input_shape)}.")
        if fmt == "channels_last":
            b, h, w, c = input_shape
            return (b, h + top + bottom, w + left + right, c)
        b, c, h, w = input_shape
        return (b, c, h + top + bottom, w + left + right)


@dataclass(frozen=True)
class Flatten:
    """Flatten everything but the batch axis."""

    name: str | None = None

    def output_shape(self, input_shape):
        return (input_shape[0], math.prod(input_shape[1:]))


@dataclass(frozen=True)
class Dense:
    """Dense acts on the last axis. ``built_for`` is the input size its weights
    were made for (a loaded or already built model); a different size fails."""

    units: int
    built_for: int | None = None
    name: str | None = None

    def output_shape(self, input_shape):
        _positive_int(self.units, "units")
        if self.built_for is not None and input_shape[-1] != self.built_for:
            raise ValueError(
                f"expected axis -1 of input shape to have value {self.built_for}, but "
                f"received input with shape {tuple(input_shape)}: this Dense was built for "
                f"{self.built_for} features. An earlier layer (padding, stride, kernel) "
                f"changed the size that reaches it."
            )
        return tuple(input_shape[:-1]) + (self.units,)


@dataclass(frozen=True)
class TraceStep:
    """One row of a shape trace."""

    name: str
    input_shape: tuple
    output_shape: tuple | None
    error: str | None = None


@dataclass
class Trace:
    """The result of :func:`trace`: a row per layer reached, and the first failure."""

    input_shape: tuple
    steps: list = field(default_factory=list)

    @property
    def ok(self):
        return all(step.error is None for step in self.steps)

    @property
    def failed_layer(self):
        """Name of the first layer that fails, or None."""
        for step in self.steps:
            if step.error is not None:
                return step.name
        return None

    @property
    def error(self):
        for step in self.steps:
            if step.error is not None:
                return step.error
        return None

    @property
    def output_shape(self):
        return self.steps[-1].output_shape if self.steps and self.ok else None

    def __str__(self):
        lines = [f"{'layer':<16} {'input':<22} output", f"{'input':<16} {'':<22} {self.input_shape}"]
        for step in self.steps:
            result = step.output_shape if step.error is None else f"FAILS: {step.error}"
            lines.append(f"{step.name:<16} {str(step.input_shape):<22} {result}")
        return "\n".join(lines)

    def _repr_html_(self):
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(s.name)}</td><td>{escape(str(s.input_shape))}</td>"
            f"<td>{escape(str(s.output_shape)) if s.error is None else '<b>FAILS</b>: ' + escape(s.error)}</td></tr>"
            for s in self.steps
        )
        return (
            "<table><tr><th>layer</th><th>input shape</th><th>output shape</th></tr>"
            f"{rows}</table>"
        )


def trace(layers, input_shape):
    """Trace a shape through a stack of layer specs; stop at the first failure.

    Lesson 03 and 06: the first failing layer is where to look, even when Keras
    reports the error somewhere else.

    >>> t = trace([Conv2D(8, 3), MaxPooling2D(), Flatten(), Dense(10)], (None, 28, 28, 1))
    >>> t.output_shape
    (None, 10)
    """
    result = Trace(input_shape=tuple(input_shape))
    shape = tuple(input_shape)
    counts = {}
    for layer in layers:
        kind = type(layer).__name__
        index = counts.get(kind, 0)
        counts[kind] = index + 1
        default = _snake(kind) + (f"_{index}" if index else "")
        name = getattr(layer, "name", None) or default
        try:
            out = layer.output_shape(shape)
        except ValueError as error:
            result.steps.append(TraceStep(name, shape, None, str(error)))
            return result
        result.steps.append(TraceStep(name, shape, tuple(out)))
        shape = tuple(out)
    return result


def _snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper() and not name[i - 1].isdigit():
            out.append("_")
        out.append(ch.lower())
    return "".join(out).replace("2_d", "2d")
