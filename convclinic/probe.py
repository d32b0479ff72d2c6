"""Run a REAL ``keras.layers.Conv2D`` for given settings and report what happened.

Used by every lesson's live widget (lessons 00-05) and by the contract tests:
the readout a learner sees is the output shape or the error that Keras itself
produced, never a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from convclinic.runtime import clean_message, import_keras

PHASES = ("construct", "build", "call")


@dataclass
class ProbeResult:
    """What a real Conv2D did with the given settings and input.

    ``phase`` says where it failed: ``construct`` (the constructor refused an
    argument), ``build`` (the input was refused before the layer had weights:
    input checks and weight creation) or ``call`` (the layer was built and the
    computation itself failed). ``None`` when it worked.
    """

    settings: dict
    input_shape: tuple
    output_shape: tuple | None = None
    error_type: str | None = None
    message: str | None = None
    phase: str | None = None
    output: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self):
        return self.error_type is None

    @property
    def headline(self):
        """First line of the error message, or the output shape as text."""
        if self.ok:
            return f"output shape {self.output_shape}"
        return self.message.splitlines()[0] if self.message else ""

    def __str__(self):
        if self.ok:
            return f"input {self.input_shape} -> output {self.output_shape}"
        return (
            f"input {self.input_shape} -> {self.error_type} at {self.phase}: {self.message}"
        )


def conv2d_settings(
    filters=8,
    kernel_size=3,
    strides=1,
    padding="valid",
    dilation_rate=1,
    data_format="channels_last",
    **extra,
):
    """The keyword arguments of a Conv2D, with the course's defaults."""
    return dict(
        filters=filters,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        data_format=data_format,
        **extra,
    )


def make_input(shape, dtype="float32"):
    """A deterministic test image batch of the given (possibly wrong) shape."""
    shape = tuple(int(v) for v in shape)
    size = int(np.prod(shape)) if shape else 1
    values = (np.arange(size) % 7).reshape(shape) if shape else np.array(0)
    return values.astype(dtype)


def probe(input_shape=None, x=None, dtype="float32", legacy=False, keep_output=False, **settings):
    """Build a real Conv2D with ``settings`` and call it on ``x`` (or a made-up input).

    ``input_shape`` is the FULL shape, batch axis included, exactly as given
    (a wrong rank is the point of lesson 01). ``legacy=True`` uses Keras 2
    (``tf_keras``) instead of Keras 3 (lesson 05).

    >>> probe((1, 28, 28, 1), filters=32).output_shape   # doctest: +SKIP
    (1, 26, 26, 32)
    """
    if x is None:
        if input_shape is None:
            raise TypeError("probe() needs input_shape or x")
        x = make_input(input_shape, dtype)
    shape = tuple(int(v) for v in np.shape(x))
    settings = conv2d_settings(**settings)
    settings.setdefault("name", "conv2d")
    keras = import_keras(legacy=legacy)
    result = ProbeResult(settings=settings, input_shape=shape)
    try:
        layer = keras.layers.Conv2D(**settings)
    except Exception as error:  # noqa: BLE001 - reporting the real error is the point
        return _failed(result, error, "construct")
    try:
        output = layer(x)
    except Exception as error:  # noqa: BLE001
        return _failed(result, error, "call" if layer.built else "build")
    result.output_shape = tuple(int(v) for v in output.shape)
    if keep_output:
        result.output = np.asarray(output)
    return result


def _failed(result, error, phase):
    result.error_type = type(error).__name__
    result.message = clean_message(error)
    result.phase = phase
    return result
