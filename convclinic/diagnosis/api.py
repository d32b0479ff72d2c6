"""The entry points: :func:`diagnose` (run it and see) and :func:`diagnose_error` (read an error).

Lesson 06's method, automated: run on the real input and keep the real
exception; walk the layers to find the first that fails
(:mod:`~convclinic.diagnosis.walk`); name the cause
(:mod:`~convclinic.diagnosis.classify`, or :mod:`~convclinic.diagnosis.silent`
when nothing was raised); report a fix that can be applied.
"""

from __future__ import annotations

import warnings

from convclinic.diagnosis.classify import classify
from convclinic.diagnosis.context import context_for, dtype_of, is_layer, shape_of
from convclinic.diagnosis.frames import full_tracebacks, locate_from_traceback
from convclinic.diagnosis.parsing import layer_named_in
from convclinic.diagnosis.report import Report
from convclinic.diagnosis.silent import silent_finding
from convclinic.diagnosis.walk import walk
from convclinic.runtime import clean_message

__all__ = ["diagnose", "diagnose_error"]


def diagnose(target, x=None):
    """Run ``target`` on ``x`` and name what goes wrong (lesson 06). Never raises.

    ``target``: a Keras model, a layer, or a zero-argument function building
    the model. ``x``: an array, a tensor or a shape; ``None`` uses the model's
    declared input shape (batch 1).
    """
    try:
        return _diagnose(target, x)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - the promise is: never raise
        return Report(
            ok=False, cause="unknown",
            explanation=f"diagnose() itself could not analyse this: {type(error).__name__}: "
            f"{clean_message(error)}",
            error_type=type(error).__name__, message=clean_message(error),
        )


def diagnose_error(exc, target=None, x=None):
    """Name the cause of an exception already caught (lesson 06). Never raises.

    ``target``/``x`` (optional) give context: the model or layer and its input.
    """
    try:
        ctx = context_for(target, x)
        if target is None:
            locate_from_traceback(ctx, exc)
        return _from_exception(exc, None, ctx)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        return Report(
            ok=False, cause="unknown",
            explanation=f"could not analyse the error ({type(error).__name__}: {error})",
            error_type=type(exc).__name__ if isinstance(exc, BaseException) else None,
            message=clean_message(exc) if isinstance(exc, BaseException) else str(exc),
        )


def _not_a_model(what):
    return Report(
        ok=False, cause="unknown",
        explanation=f"diagnose() needs a Keras model, a layer or a function that builds one; "
        f"got {what}.",
        fix="report = convclinic.diagnose(lambda: build_model(), x)",
    )


def _construct(builder, x):
    """Call the builder: ``(model, None)``, or ``(None, report)`` when building failed."""
    try:
        with full_tracebacks():
            target = builder()
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        ctx = context_for(None, x)
        locate_from_traceback(ctx, error)
        return None, _from_exception(error, "construct", ctx)
    if not is_layer(target):
        report = _not_a_model(f"a builder that returned {type(target).__name__}")
        report.explanation += " End the builder with `return model`."
        report.fix = "def build_model():\n    model = keras.Sequential([...])\n    return model"
        return None, report
    return target, None


def _default_input(ctx):
    from convclinic.probe import make_input

    shape = tuple((1 if i == 0 else 32) if v is None else v for i, v in enumerate(ctx.declared))
    ctx.x = make_input(shape)
    ctx.x_shape, ctx.x_dtype = shape_of(ctx.x), dtype_of(ctx.x)


def _diagnose(target, x):
    constructed = False
    if not is_layer(target):
        if not callable(target):
            return _not_a_model(type(target).__name__)
        target, report = _construct(target, x)
        if report is not None:
            return report
        constructed = True
    ctx = context_for(target, x)
    if ctx.x is None:
        if ctx.declared is None:
            return Report(
                ok=True, cause="ok", legacy=ctx.legacy,
                explanation=("It was constructed without error. " if constructed else "")
                + "Nothing was run: give an input, diagnose(target, x), to check a call.",
            )
        _default_input(ctx)
    try:
        with warnings.catch_warnings(), full_tracebacks():
            warnings.simplefilter("ignore")
            output = target(ctx.x)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        walk(ctx, outcome=error)
        if ctx.failing is None:
            locate_from_traceback(ctx, error)
        return _from_exception(error, "call", ctx)
    out_shape = shape_of(output[0] if isinstance(output, list | tuple) else output)
    walk(ctx, record_only=True, outcome=output)
    found = silent_finding(ctx, out_shape)
    if found is not None:
        finding, layer = found
        return _finding_report(ctx, finding, layer=layer, output_shape=out_shape, silent=True)
    return Report(
        ok=True, cause="ok",
        explanation=f"The input {ctx.x_shape} runs through and gives {out_shape}; the layout "
        "matches the layers' data_format and no axis had to be added.",
        input_shape=ctx.x_shape, output_shape=out_shape, legacy=ctx.legacy, trace=ctx.trace,
    )


def _from_exception(error, phase, ctx):
    message = clean_message(error if isinstance(error, BaseException) else str(error))
    error_type = type(error).__name__ if isinstance(error, BaseException) else "Error"
    layer_name = ctx.failing.name if is_layer(ctx.failing) else None
    if layer_name is None:
        layer_name = layer_named_in(message, ctx.layer_names())
    if layer_name is None and ctx.predicted is not None and ctx.predicted.failed_layer:
        layer_name = ctx.predicted.failed_layer
    if layer_name is None and ctx.layers and phase == "call":
        layer_name = ctx.layers[0].name
    finding = classify(error, message, ctx, layer_name)
    return _finding_report(
        ctx, finding, layer=finding.layer if finding.layer is not None else layer_name,
        error_type=error_type, message=message, phase=phase,
    )


def _finding_report(ctx, finding, layer, **details):
    """A not-ok Report for ``finding`` in context ``ctx`` (a raised or a silent failure)."""
    return Report(
        ok=False, cause=finding.cause, layer=layer, explanation=finding.explanation,
        fix=finding.fix, input_shape=ctx.x_shape, legacy=ctx.legacy, trace=ctx.trace,
        input_fix=finding.input_fix, config_fix=finding.config_fix, **details,
    )
