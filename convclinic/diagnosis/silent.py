"""Silent problems: it ran, and it is still wrong (lessons 01, 03 and 04).

Checked in order, after a call that raised nothing:

1. Keras added the missing channel axis itself (a model declared ``(H, W, 1)``
   expands ``(N, H, W)``, lesson 01);
2. one axis too many that Keras squeezed, or that Keras 2 read as a second
   batch axis;
3. the rules say a layer's output is empty but Keras 2 returned something
   (lesson 03: it does not raise);
4. the input looks laid out for the other data format (lesson 04).
"""

from __future__ import annotations

from convclinic.diagnosis import findings, fixes, parsing
from convclinic.diagnosis.context import shape_of
from convclinic.diagnosis.walk import adjust_rank

__all__ = ["silent_finding", "CHECKS"]


def silent_finding(ctx, output_shape):
    """``(finding, layer)`` for a run without error that is still wrong, or None."""
    for check in CHECKS:
        found = check(ctx, output_shape)
        if found is not None:
            return found
    return None


def _first_name(ctx):
    return ctx.layers[0].name if ctx.layers else None


def _channel_axis_added(ctx, output_shape):
    """missing_channel_axis: a model declared (H, W, 1) added the axis to (N, H, W) itself."""
    x_shape, declared = ctx.x_shape, ctx.declared
    if not (ctx.is_model and declared is not None and x_shape is not None
            and len(x_shape) == len(declared) - 1 and declared[-1] == 1):
        return None
    new = tuple(x_shape) + (1,)
    finding = findings.Finding(
        "missing_channel_axis",
        f"It ran, but only because Keras added the missing channel axis itself: the model "
        f"was declared with a last axis of 1, so {x_shape} became {new} (Keras models do "
        f"this: _adjust_input_rank). Output {output_shape}. The same input fails on a "
        "plain layer, on a model declared for RGB, and when the declared channel axis "
        "changes: add the axis yourself.",
        f"x = np.expand_dims(x, axis=-1)  # {x_shape} -> {new}",
        input_fix=fixes.expand_fix(-1),
    )
    return finding, _first_name(ctx)


def _extra_axis_absorbed(ctx, output_shape):
    """extra_axis: a rank-5 input ran (Keras squeezed a trailing 1, or Keras 2 took a second
    batch axis)."""
    x_shape = ctx.x_shape
    if x_shape is None or len(x_shape) != 5 or ctx.first_conv() is None:
        return None
    finding = findings.extra_axis(x_shape, None, ran=output_shape)
    return finding, ctx.first_conv().name


def _empty_output_returned(ctx, output_shape):
    """spatial_too_small: the rules say a layer's output is empty, Keras 2 returned one."""
    # Keras 2 (tf_keras) returns an empty (or, through oneDNN, a garbage-sized) output
    # instead of raising when the rules say the output is empty.
    predicted = ctx.predicted
    if predicted is None or not predicted.failed_layer or not parsing.is_too_small(predicted.error):
        return None
    layer = predicted.failed_layer
    real = next((s.output_shape for s in (ctx.trace.steps if ctx.trace else ())
                 if s.name == layer), output_shape)
    ctx.failing = ctx.layer_named(layer)
    finding = findings.too_small(ctx, layer, ctx.predicted_step(layer).input_shape)
    finding.explanation += (
        f" No error was raised: this layer returned {real}, although by the rule its output "
        "is empty. The numbers after it are meaningless."
    )
    return finding, layer


def _layout_looks_swapped(ctx, output_shape):
    """data_format_mismatch: the input looks laid out for the other data format."""
    conv = ctx.first_conv()
    shape = shape_of(adjust_rank(ctx.x, ctx.declared)) if ctx.is_model else ctx.x_shape
    if conv is None or shape is None or len(shape) != 4:
        return None
    fmt = getattr(conv, "data_format", "channels_last")
    layout = None
    if fmt == "channels_last" and findings.looks_nchw(shape):
        layout = "nchw_into_nhwc"
    elif fmt == "channels_first" and findings.looks_nhwc(shape):
        layout = "nhwc_into_nchw"
    if layout is None:
        return None
    return findings.format_mismatch(shape, layout, conv.name, True, output_shape), conv.name


#: The silent checks, in the order they are tried.
CHECKS = (_channel_axis_added, _extra_axis_absorbed, _empty_output_returned,
          _layout_looks_swapped)
