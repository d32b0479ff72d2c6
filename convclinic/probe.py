"""Run REAL Keras layers and report what happened: the course's ground truth.

Used by every lesson's live widget (lessons 00-05) and by the contract tests:
the readout a learner sees is the output shape or the error that Keras itself
produced, never a prediction.

- :func:`probe`: a real ``keras.layers.Conv2D`` for given settings, returned as
  a :class:`convclinic.outcome.Outcome` that also says in which phase it failed
  (:data:`PHASES`); :func:`explain_phase` says where to look in a traceback
  for that phase (lesson 05, "Reading a traceback");
- :func:`keras_trace`: real Keras layers applied one at a time, reported as the
  same :class:`convclinic.shapes.Trace` as the arithmetic trace (lesson 03).
"""

from __future__ import annotations

import numpy as np

from convclinic.outcome import Outcome
from convclinic.runtime import clean_message, import_keras
from convclinic.shapes import Trace, TraceStep

#: Where a Conv2D can fail: the constructor refused an argument (``construct``),
#: the first input was refused before the layer had weights (``build``), or the
#: layer was built and the computation itself failed (``call``).
PHASES = ("construct", "build", "call")

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
    (``tf_keras``) instead of Keras 3 (lesson 05). Returns an
    :class:`~convclinic.outcome.Outcome` with ``settings``, ``input_shape``,
    ``output_shape`` or the error and its ``phase``; with ``keep_output=True``
    its ``value`` is the output as a NumPy array.

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
    context = dict(settings=settings, input_shape=shape)
    try:
        layer = keras.layers.Conv2D(**settings)
    except Exception as error:  # noqa: BLE001 - reporting the real error is the point
        return Outcome.of_error(error, phase="construct", **context)
    try:
        output = layer(x)
    except Exception as error:  # noqa: BLE001
        return Outcome.of_error(error, phase="call" if layer.built else "build", **context)
    output_shape = tuple(int(v) for v in output.shape)
    return Outcome(value=np.asarray(output) if keep_output else None,
                   output_shape=output_shape, **context)


PHASE_EXPLANATIONS = {
    "construct": (
        "The constructor refused an argument: the traceback ends in the line that creates "
        "the layer (layers.Conv2D(...)). Fix the argument; no input is involved yet."
    ),
    "build": (
        "The layer refused its FIRST input before it had weights: input rank, the channel "
        "axis, or an output size that would be zero or negative. Look at the shape you fed "
        "it and at the layer's data_format."
    ),
    "call": (
        "The layer was built and the computation itself failed, often inside a TensorFlow "
        "op (its name is in [Op:...]). Look at dtype, device and data format, and at what "
        "changed since the layer was built."
    ),
}


def explain_phase(result):
    """Where to look in a traceback, from a :func:`probe` outcome. Lesson 05."""
    if result.ok:
        return f"No error: output shape {result.output_shape}."
    return f"{result.error_type} at {result.phase}: {PHASE_EXPLANATIONS[result.phase]}"


def keras_trace(layer_list, input_shape):
    """Apply real Keras layers one by one to ``keras.Input(input_shape[1:])``; stop at the first failure.

    Lesson 03: Keras's own message ("Computed output size would be zero or
    negative. Received inputs shape=(None, 2, 2, 16) ...") does not name the
    layer; applying the layers one at a time does. The result is a
    :class:`convclinic.shapes.Trace`, like :func:`convclinic.shapes.trace`.
    """
    keras = import_keras()
    tensor = keras.Input(tuple(input_shape[1:]), batch_size=input_shape[0])
    result = Trace(input_shape=tuple(input_shape))
    for layer in layer_list:
        shape = tuple(tensor.shape)
        try:
            tensor = layer(tensor)
        except Exception as error:  # noqa: BLE001 - the real error is the result
            result.steps.append(TraceStep(layer.name, shape, None, clean_message(error)))
            return result
        result.steps.append(TraceStep(layer.name, shape, tuple(tensor.shape)))
    return result
