"""Layer specs and shape traces: a stack of layers followed shape by shape (lessons 03, 06).

A spec is a frozen dataclass with the arguments of the Keras layer it stands
for and an ``output_shape(input_shape)`` method built on
:mod:`convclinic.shapes.rules`. :func:`trace` follows a shape through a list
of specs and stops at the first layer that fails. Specs for real Keras layers
come from :func:`convclinic.shapes.keras_layers.spec_from_layer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from convclinic.shapes.rules import (
    conv2d_output_shape,
    join_shape,
    normalize_data_format,
    pool2d_output_shape,
    positive_int,
    split_shape,
)


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
        batch, (height, width), channels = split_shape(input_shape, fmt)
        return join_shape(batch, (height + top + bottom, width + left + right), channels, fmt)


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
        positive_int(self.units, "units")
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
    def failed_step(self):
        """The first step that fails, or None."""
        return next((step for step in self.steps if step.error is not None), None)

    @property
    def failed_layer(self):
        """Name of the first layer that fails, or None."""
        step = self.failed_step
        return None if step is None else step.name

    @property
    def error(self):
        """The first failure's message, or None."""
        step = self.failed_step
        return None if step is None else step.error

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
