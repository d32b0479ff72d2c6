"""A finding: a cause with its explanation and fix, for the causes several rules reach.

The classification rules (:mod:`convclinic.diagnosis.classify`) and the
silent-problem checks (:mod:`convclinic.diagnosis.silent`) both end here, so
a cause is explained the same way whichever path found it. The arithmetic
in the explanations (effective kernel, layout permutations) comes from
:mod:`convclinic.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from convclinic import shapes
from convclinic.diagnosis import fixes
from convclinic.diagnosis.context import CHANNEL_COUNTS, is_conv

__all__ = ["Finding", "missing_batch", "missing_channel", "extra_axis", "channel_mismatch",
           "layout_swapped", "looks_nchw", "looks_nhwc", "format_mismatch", "too_small",
           "downstream", "layer_phrase"]


@dataclass
class Finding:
    cause: str
    explanation: str
    fix: str
    input_fix: object = None
    config_fix: dict | None = None
    layer: str | None = None


def layer_phrase(layer, capital=True):
    """``Layer 'conv'`` or ``The layer`` (``layer 'conv'``/``the layer`` in a sentence)."""
    if layer:
        return f"{'Layer' if capital else 'layer'} {layer!r}"
    return "The layer" if capital else "the layer"


def missing_batch(received, layer, added_axis=False):
    new = (1,) + tuple(received)
    extra = ""
    if added_axis:
        extra = (
            f" Here the model added a channel axis itself, {received} -> {tuple(received) + (1,)}"
            f", so the conv saw a batch of {received[0]} images of {received[1]}x{received[2]}: "
            "the error talks about negative sizes and never mentions the batch axis."
        )
    return Finding(
        "missing_batch_axis",
        f"The input {received} is ONE image without its batch axis; Keras layers always take a "
        f"batch, (batch, height, width, channels).{extra} Add a batch axis of 1: {received} -> "
        f"{new}.",
        "x = np.expand_dims(x, axis=0)  # or x[None, ...]: a batch of one image",
        input_fix=fixes.expand_fix(0),
        layer=layer,
    )


def _built_channels(failing):
    if failing is None or not is_conv(failing) or not failing.built:
        return None
    try:
        return int(failing.kernel.shape[-2]) * int(getattr(failing, "groups", 1))
    except Exception:  # noqa: BLE001
        return None


def missing_channel(ctx, received, declared, fmt, layer, declared_input=False):
    channels_first = fmt == "channels_first"
    axis = 1 if channels_first else -1
    if declared_input:
        return Finding(
            "missing_channel_axis",
            f"The declared input {received} has no channel axis: Conv2D needs 4 axes (batch, "
            "height, width, channels), even for grayscale. Declare the channel axis.",
            f"keras.Input(shape={tuple(received[1:]) + (1,)})  # height, width, channels",
            layer=layer,
        )
    want = None
    if declared is not None and len(declared) == 4:
        want = declared[1] if channels_first else declared[-1]
    if want is None:
        want = _built_channels(ctx.failing)
    new = list(received)
    new.insert(1 if channels_first else len(new), 1)
    text = (
        f"The input {received} has 3 axes; Conv2D needs 4 (batch, height, width, channels). It "
        f"looks like a batch of {received[0]} grayscale {received[1]}x{received[2]} images "
        "without the channel axis."
    )
    fix = f"x = np.expand_dims(x, axis={axis})  # {received} -> {tuple(new)}"
    repeat = want if want not in (None, 1) else None
    if repeat:
        text += (
            f" The model was built for {repeat} channels, so after adding the axis repeat the "
            f"gray channel {repeat} times (or build the model for 1 channel)."
        )
        fix = (
            f"x = np.repeat(np.expand_dims(x, axis={axis}), {repeat}, axis={axis})"
            "  # gray -> RGB\n# or build the model with keras.Input((height, width, 1))"
        )
    return Finding(
        "missing_channel_axis", text, fix, input_fix=fixes.expand_fix(axis, repeat), layer=layer
    )


def extra_axis(received, layer, ran=None):
    """Rank 5 where Conv2D takes 4: merge the two leading axes (or squeeze a trailing 1).

    ``ran`` is the output shape when it did not raise (Keras squeezed, or Keras 2
    treated the extra axis as a second batch axis).
    """
    received = tuple(received)
    if len(received) == 5 and received[-1] == 1 and received[-2] in CHANNEL_COUNTS:
        new = received[:-1]
        fix = f"x = np.squeeze(x, axis=-1)  # {received} -> {new}"
        input_fix = fixes.squeeze_fix(-1)
    else:
        merged = None if None in received[:2] else received[0] * received[1]
        new = (merged,) + received[2:]
        if received[1] == 1:
            fix = f"x = np.squeeze(x, axis=1)  # {received} -> {new}"
        else:
            fix = f"x = x.reshape((-1,) + x.shape[2:])  # {received} -> {new}: one batch axis"
        input_fix = fixes.merge_leading_fix()
    text = (
        f"The input {received} has {len(received)} axes; Conv2D takes 4 (batch, height, width, "
        "channels). One axis too many usually means a batch of batches: a dataset batched "
        "twice, or np.stack/np.array over images that already had a batch axis."
    )
    if ran is not None:
        text += (
            f" No error was raised: Keras went on and returned {ran}, so later layers (and "
            "the labels) see the wrong batch."
        )
    text += f" Make it one batch: {received} -> {new}."
    return Finding("extra_axis", text, fix, input_fix=input_fix, layer=layer)


def channel_mismatch(received, want, axis, layer, got=None):
    got = got if got is not None else (received[axis] if received else None)
    text = (
        f"{layer_phrase(layer)} was built for {want} channels (axis {axis}) but received {got}, "
        f"input shape {received}."
    )
    input_fix = None
    if got == 1 and want in (3, 4):
        fix = f"x = np.repeat(x, {want}, axis={axis})  # gray -> {want} channels"
        input_fix = fixes.repeat_fix(want, axis)
        text += " Grayscale images into an RGB model: repeat the channel, or build for 1 channel."
    elif got == 4 and want == 3:
        fix = "x = x[..., :3]  # drop the alpha channel (RGBA -> RGB)"
        input_fix = fixes.slice_fix(3)
        text += " RGBA images into an RGB model: drop the alpha channel."
    elif got in (3, 4) and want == 1:
        fix = "x = x[..., :3].mean(axis=-1, keepdims=True)  # RGB -> gray"
        input_fix = fixes.gray_fix()
        text += " Colour images into a grayscale model: convert them to one channel."
    else:
        fix = (
            f"keras.Input(shape=(height, width, {got}))  # build the model for {got} channels\n"
            "# a layer is built once, on the first input it sees: create a new one"
        )
        text += (
            " A layer fixes its channel count when it is first built: the same layer object "
            "cannot take another number of channels later."
        )
    return Finding("channel_mismatch", text, fix, input_fix=input_fix, layer=layer)


def layout_swapped(received, value, axis):
    """'nchw_into_nhwc' / 'nhwc_into_nchw' when the wanted channel count sits at the other end."""
    if received is None or len(received) != 4:
        return None
    if axis in (-1, 3) and received[1] == value and received[-1] != value:
        return "nchw_into_nhwc"
    if axis == 1 and received[-1] == value and received[1] != value:
        return "nhwc_into_nchw"
    return None


def _big(value):
    return value is not None and value >= 8


def looks_nchw(shape):
    return (shape[1] in CHANNEL_COUNTS and _big(shape[2]) and _big(shape[3])
            and shape[3] not in CHANNEL_COUNTS)


def looks_nhwc(shape):
    return (shape[3] in CHANNEL_COUNTS and _big(shape[1]) and _big(shape[2])
            and shape[1] not in CHANNEL_COUNTS)


_LAYOUTS = {  # how the input is laid out -> (its data_format, the layer's)
    "nchw_into_nhwc": ("channels_first", "channels_last"),
    "nhwc_into_nchw": ("channels_last", "channels_first"),
}


def format_mismatch(received, layout, layer, silent, output_shape=None):
    source, target = _LAYOUTS[layout]
    perm = shapes.layout_permutation(source, target)
    new = fixes.to_layout(received, source, target)
    where = layer_phrase(layer, capital=False)
    if layout == "nchw_into_nhwc":
        text = (
            f"The input {received} is laid out channels_first (N, C, H, W) but {where} is "
            f"channels_last (N, H, W, C): it reads {received[1]} as the height and "
            f"{received[3]} as the channel count."
        )
        fix = f"x = np.transpose(x, {perm})  # NCHW -> NHWC"
    else:
        text = (
            f"The input {received} is laid out channels_last (N, H, W, C) but {where} is "
            f"channels_first (N, C, H, W): it reads {received[1]} as the channel count and "
            f"{received[3]} as the width."
        )
        fix = f"x = np.transpose(x, {perm})  # NHWC -> NCHW\n# or data_format='channels_last'"
    if silent:
        text += (
            f" No error was raised: it returned {output_shape}, a wrong shape computed on the "
            "wrong axes."
        )
    text += f" Transpose the input: {received} -> {new}."
    return Finding("data_format_mismatch", text, fix, input_fix=fixes.transpose_fix(perm),
                   layer=layer)


def _window_rule(failing):
    """The sentence that explains why this layer's window does not fit (lessons 00 and 03)."""
    if failing is not None and is_conv(failing):
        kernel, dilation = tuple(failing.kernel_size), tuple(failing.dilation_rate)
        k_eff = shapes.effective_kernel(kernel, dilation)
        return (
            f" Its kernel {kernel} with dilation {dilation} covers {k_eff} pixels (rule 1: "
            "k_eff = d*(k-1)+1), and with padding='valid' the output is "
            "floor((n - k_eff)/s) + 1, which is zero or negative when n < k_eff."
        )
    if failing is not None and hasattr(failing, "pool_size"):
        return f" Its pooling window {tuple(failing.pool_size)} is larger than the input."
    return ""


def too_small(ctx, layer, shape_in):
    step = ctx.predicted_step(layer)
    received = step.input_shape if step is not None and step.input_shape else shape_in
    detail = f": it receives {received}" if received else ""
    shrunk = ""
    if ctx.predicted is not None and ctx.layers and layer and ctx.layers[0].name != layer:
        shrunk = " Earlier layers shrank the input down to this size (see the layer-by-layer shapes)."
    return Finding(
        "spatial_too_small",
        f"{layer_phrase(layer)} has a window larger than its (padded) input{detail}."
        f"{_window_rule(ctx.failing)}{shrunk}",
        f"layers.Conv2D(..., padding='same')  # in {layer or 'that layer'}: out = ceil(n / s)\n"
        "# or a smaller kernel/dilation, fewer strides or pooling earlier, or a larger input",
        config_fix={layer: {"padding": "same"}} if layer else None,
        layer=layer,
    )


def downstream(layer, built_for, received, weights=False):
    how = "the saved weights were made for" if weights else "it was built for"
    who = layer_phrase(layer) if layer else "A later layer"
    text = (
        f"{who} expects {built_for} input features ({how} {built_for}) but now receives "
        f"{received}. The error shows up here, but the cause is EARLIER: a padding, stride or "
        "kernel change in a convolution changed the spatial size, and Flatten turned it into a "
        "different number of features"
    )
    text += f" ({built_for} vs {received})." if built_for and received else "."
    fix = (
        "# either undo the earlier change (e.g. padding back to what the weights were made for),\n"
        "# or rebuild the head for the new size and retrain (do not load the old weights):\n"
        "model = keras.Sequential.from_config(model.get_config())  # fresh weights\n"
        "# GlobalAveragePooling2D() instead of Flatten() makes the head size-independent"
    )
    return Finding(
        "downstream_shape_mismatch", text, fix, config_fix={} if not weights else None,
        layer=layer,
    )
