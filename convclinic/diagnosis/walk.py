"""The real per-layer walk: run the layers one at a time and find the first that fails.

This is step 2 of lesson 06's method (the plain-Keras version is
``for layer in model.layers: x = layer(x); print(layer.name, x.shape)``).
The result is a :class:`convclinic.shapes.Trace` of the shapes Keras really
returned. Beside it, :func:`predicted_trace` traces the layers' configs with
:func:`convclinic.shapes.trace` (the rules of lessons 00-04, via
:func:`convclinic.shapes.specs_from_layers`).
"""

from __future__ import annotations

import warnings

import numpy as np

from convclinic import shapes
from convclinic.diagnosis.context import dtype_of, keras_for, shape_of
from convclinic.diagnosis.parsing import first_line, is_integer_dtype
from convclinic.runtime import clean_message

__all__ = ["adjust_rank", "walk", "predicted_trace"]


def adjust_rank(x, declared):
    """What Keras models do to an input whose rank is one off (``_adjust_input_rank``):
    add a missing trailing axis of 1, or squeeze an extra one."""
    if declared is None or x is None:
        return x
    shape = shape_of(x)
    if len(shape) == len(declared) - 1 and declared[-1] == 1:
        return np.expand_dims(np.asarray(x), -1)
    if len(shape) == len(declared) + 1 and shape[-1] == 1:
        return np.squeeze(np.asarray(x), -1)
    return x


def _failure(error):
    return f"{type(error).__name__}: {first_line(clean_message(error))}"


def walk(ctx, record_only=False, outcome=None):
    """Run the layers one at a time on the real input; fill ``ctx.trace`` and, unless
    ``record_only``, ``ctx.failing``/``ctx.failing_input`` with the first layer that fails.

    A single layer is not run again: ``outcome`` is what the whole call gave (its
    output, or the exception it raised).
    """
    target = ctx.target
    if target is None or ctx.x is None:
        return
    if not ctx.is_model:
        ctx.trace = shapes.Trace(input_shape=ctx.x_shape)
        ctx.predicted = predicted_trace([target], ctx.x_shape)

        def replay():
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome

        _step(ctx, target, ctx.x_shape, replay, record_only)
        return
    x = adjust_rank(ctx.x, ctx.declared)
    if is_integer_dtype(dtype_of(x)):
        x = np.asarray(x).astype("float32")  # models cast their input to the declared dtype
    ctx.trace = shapes.Trace(input_shape=shape_of(x))
    ctx.predicted = predicted_trace(ctx.layers, shape_of(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if type(target).__name__ == "Sequential" or _is_linear(target):
            _walk_sequential(ctx, x, record_only)
        else:
            _walk_graph(ctx, x, record_only)


def _step(ctx, layer, shape_in, run, record_only):
    """Run one layer; add its row to ``ctx.trace``; return its output, or None when it fails."""
    try:
        out = run()
    except BaseException as error:  # noqa: BLE001 - the real error is the finding
        if isinstance(error, KeyboardInterrupt):
            raise
        ctx.trace.steps.append(shapes.TraceStep(layer.name, shape_in, None, _failure(error)))
        if not record_only:
            ctx.failing, ctx.failing_input = layer, shape_in
        return None
    ctx.trace.steps.append(shapes.TraceStep(layer.name, shape_in, shape_of(out)))
    return out


def _walk_sequential(ctx, x, record_only):
    h = x
    for layer in ctx.layers:
        h = _step(ctx, layer, shape_of(h), lambda layer=layer, h=h: layer(h), record_only)
        if h is None:
            return


def _walk_graph(ctx, x, record_only):
    """A functional model: each layer's output through a sub-model from the real inputs."""
    keras = keras_for(ctx.legacy)
    target = ctx.target
    for layer in ctx.layers:
        try:
            shape_in = shape_of(layer.input)
            shape_in = (ctx.x_shape[0],) + tuple(shape_in[1:]) if shape_in else None
        except Exception:  # noqa: BLE001 - a layer used twice has no single input
            shape_in = None

        def run(layer=layer):
            return keras.Model(target.inputs, layer.output)(x)

        if _step(ctx, layer, shape_in, run, record_only) is None:
            return


def _is_linear(model):
    try:
        for previous, layer in zip(model.layers, model.layers[1:], strict=False):
            inbound = layer.input
            if isinstance(inbound, list | tuple) or previous.output is not inbound:
                return False
        return True
    except Exception:  # noqa: BLE001
        return False


def predicted_trace(layers, input_shape):
    """:func:`convclinic.shapes.trace` over the layers' configs, when every layer has a spec."""
    if input_shape is None or len(input_shape) != 4:
        return None
    specs = shapes.specs_from_layers(layers)
    if specs is None:
        return None
    try:
        return shapes.trace(specs, input_shape)
    except Exception:  # noqa: BLE001 - a trace is a help, not a requirement
        return None
