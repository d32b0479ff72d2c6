"""Classification: a real error and its context -> a cause and a fix.

:data:`RULES` is an ordered table of small rule functions; the first that
returns a :class:`~convclinic.diagnosis.findings.Finding` wins, so the table's
order IS the precedence (printed in ``docs/causes.md``). The order matters
where messages overlap: the hardware and constructor-argument errors are
unambiguous and come first; rank problems come before channel counts (a
missing axis also shows up as a wrong channel count); a layout swap is
checked before a plain channel mismatch; size problems after both. Lesson 06
teaches the same order by hand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from convclinic import shapes
from convclinic.diagnosis import findings, fixes, parsing
from convclinic.diagnosis.findings import Finding, layer_phrase
from convclinic.diagnosis.frames import owner_of_weight

__all__ = ["Evidence", "RULES", "classify", "precedence", "gives"]


def gives(*cause_ids):
    """Mark a rule with the causes it can name (listed in docs/causes.md, checked by a test)."""

    def mark(rule):
        rule.causes = cause_ids
        return rule

    return mark


def when_parsed(parser):
    """A rule that answers only when ``parser`` finds its values in the message; it gets them."""

    def wrap(rule):
        @functools.wraps(rule)
        def apply(ev):
            found = parser(ev.message)
            return None if found is None else rule(ev, found)

        return apply

    return wrap


@dataclass
class Evidence:
    """What every rule reads: the error, its cleaned message, the context, the layer named."""

    error: object
    message: str
    ctx: object
    layer: str | None

    def __post_init__(self):
        failing = self.ctx.failing
        self.low = self.message.lower()
        self.fmt = getattr(failing, "data_format", None) or self.ctx.first_format()
        self.shape_in = self.ctx.failing_input or self.ctx.x_shape
        self.versus = parsing.expected_vs_found(self.message)
        self.args = self.ctx.init_args or {}

    @property
    def where(self):
        return layer_phrase(self.layer, capital=False)

    def config_fix(self, argument, value):
        return {self.layer: {argument: value}} if self.layer and value is not None else None


@gives("gpu_init_failure")
def gpu_init_failure(ev):
    """cuDNN failed to start: a message about the GPU library, whatever the shapes."""
    if not parsing.is_gpu_init_failure(ev.message):
        return None
    return Finding(
        "gpu_init_failure",
        "cuDNN, the GPU convolution library, failed to initialise: usually the GPU memory is "
        "already taken, or the installed CUDA/cuDNN does not match the TensorFlow build. By "
        "default TensorFlow maps nearly all GPU memory, so a second process or notebook kernel "
        "leaves cuDNN none. Nothing is wrong with the model's shapes.",
        "import tensorflow as tf\n"
        "for gpu in tf.config.list_physical_devices('GPU'):\n"
        "    tf.config.experimental.set_memory_growth(gpu, True)  # before any op runs\n"
        "# and close other kernels that hold the GPU (nvidia-smi lists them);\n"
        "# still failing: compare tf.sysconfig.get_build_info() with the installed CUDA/cuDNN",
    )


@gives("nchw_unsupported_on_cpu")
def nchw_unsupported_on_cpu(ev):
    """TensorFlow's CPU kernel refuses NCHW: the platform, not the shapes."""
    if not parsing.is_nchw_on_cpu(ev.message):
        return None
    text = (
        f"TensorFlow's plain CPU Conv2D kernel only supports NHWC, and {ev.where} is "
        "channels_first (NCHW). channels_first works on CPU only through oneDNN (on by default "
        "only on some x86 CPUs, off with TF_ENABLE_ONEDNN_OPTS=0) and only for float32."
    )
    config_fix = fixes.format_config_fix(ev.ctx, "channels_last")
    shape = ev.shape_in
    if shape and len(shape) == 4 and findings.looks_nhwc(shape):
        if config_fix:
            config_fix.pop("__input_shape__", None)
        return Finding(
            "nchw_unsupported_on_cpu",
            f"{text} The input {shape} already looks channels_last: use "
            "data_format='channels_last' and keep the input as it is.",
            "layers.Conv2D(..., data_format='channels_last')  # the input is already NHWC",
            config_fix=config_fix,
        )
    moved = fixes.to_layout(shape, "channels_first", "channels_last")
    perm = shapes.layout_permutation("channels_first", "channels_last")
    return Finding(
        "nchw_unsupported_on_cpu",
        f"{text} Use channels_last on CPU and transpose the input {shape} -> {moved}.",
        f"x = np.transpose(x, {perm})  # NCHW -> NHWC\n"
        "layers.Conv2D(..., data_format='channels_last')",
        input_fix=fixes.transpose_fix(perm),
        config_fix=config_fix,
    )


def _bad_string_arg(ev, name):
    """AttributeError "'int' object has no attribute 'lower'" (or a list's TypeError)."""
    value = ev.args.get(name)
    if name not in ev.args or isinstance(value, str) or value is None:
        return False
    return isinstance(ev.error, AttributeError | TypeError)


@gives("invalid_padding")
def invalid_padding(ev):
    """padding other than 'valid'/'same' (a constructor argument)."""
    if not ("`padding` argument" in ev.message or "`padding` must be" in ev.message
            or _bad_string_arg(ev, "padding")):
        return None
    value = ev.args.get("padding", parsing.received(ev.message))
    return Finding(
        "invalid_padding",
        f"padding={value!r} is not accepted by {ev.where}: Conv2D takes only 'valid' (no "
        "padding, the output shrinks by kernel-1) or 'same' (the output keeps "
        "ceil(n / stride)). An explicit number of pixels (PyTorch's padding=1) is a "
        "ZeroPadding2D layer before a 'valid' Conv2D.",
        "layers.Conv2D(filters, kernel_size, padding='same')\n"
        "# or, for exactly p pixels:\n"
        "layers.ZeroPadding2D(padding=p), layers.Conv2D(filters, kernel_size, padding='valid')",
        config_fix=ev.config_fix("padding", "same"),
    )


@gives("invalid_data_format")
def invalid_data_format(ev):
    """data_format other than 'channels_last'/'channels_first' (a constructor argument)."""
    if not ("`data_format` argument" in ev.message or _bad_string_arg(ev, "data_format")):
        return None
    value = ev.args.get("data_format", parsing.received(ev.message))
    wanted = "channels_first" if "nchw" in str(value).lower() else "channels_last"
    return Finding(
        "invalid_data_format",
        f"data_format={value!r} is not accepted by {ev.where}: Keras takes 'channels_last' "
        "(N, H, W, C) or 'channels_first' (N, C, H, W). 'NHWC'/'NCHW' are TensorFlow op "
        "names, not Keras values.",
        f"layers.Conv2D(filters, kernel_size, data_format='{wanted}')",
        config_fix=ev.config_fix("data_format", wanted),
    )


@gives("stride_dilation_conflict")
def stride_dilation_conflict(ev):
    """strides > 1 with dilation_rate > 1 (Keras refuses it at construction)."""
    if "not supported in conjunction with" not in ev.low:
        return None
    return Finding(
        "stride_dilation_conflict",
        f"{layer_phrase(ev.layer)} has strides > 1 AND dilation_rate > 1 "
        f"({parsing.after_received(ev.message)})"
        ". Keras refuses the combination. Keep the dilation with strides=1 and "
        "downsample afterwards (a pooling layer), or drop the dilation.",
        "layers.Conv2D(filters, kernel_size, dilation_rate=2, strides=1)\n"
        "layers.MaxPooling2D(pool_size=2)  # the downsampling the stride did",
        config_fix=ev.config_fix("strides", 1),
    )


_GOOD_VALUES = {"filters": 32, "groups": 1, "kernel_size": 3, "strides": 1, "dilation_rate": 1,
                "pool_size": 2}


@gives("invalid_argument")
def invalid_argument(ev):
    """A non-positive or wrongly sized filters/kernel/strides/dilation, or groups that do not divide."""
    argument = parsing.argument_named(ev.message)
    if argument is None:
        return None
    good = _GOOD_VALUES[argument]
    value = ev.args.get(argument, parsing.received(ev.message))
    snippet = f"layers.Conv2D(filters, kernel_size, {argument}={good!r})"
    if argument == "groups":
        explanation = ("the input's channels are not divisible by groups: each group convolves "
                       "channels/groups of them. Use groups=1, or a groups value that divides "
                       "the channel count.")
    elif argument == "filters" and "groups" in ev.message:
        explanation = (f"filters={value!r} is not divisible by groups (or not an integer): "
                       "filters must be a positive integer multiple of groups.")
    else:
        explanation = (f"{argument}={value!r} is invalid. Conv2D needs strictly positive "
                       "integers, given as one int or a tuple of exactly 2 (height, width).")
    if argument == "filters":
        snippet = f"layers.Conv2D(filters={good}, kernel_size=3)"
    elif argument == "kernel_size":
        snippet = f"layers.Conv2D(filters, kernel_size={good})"
    return Finding("invalid_argument", f"{layer_phrase(ev.layer)}: {explanation}", snippet,
                   config_fix=ev.config_fix(argument, good))


@gives("integer_dtype")
def integer_dtype(ev):
    """An integer or bool input refused by a float layer."""
    named = parsing.integer_dtype_named(ev.message)
    if not parsing.is_dtype_refusal(ev.message) or not (
            parsing.is_integer_dtype(ev.ctx.x_dtype) or named):
        return None
    dtype = ev.ctx.x_dtype or named
    scale = " / 255.0" if dtype == "uint8" else ""
    return Finding(
        "integer_dtype",
        f"The input is {dtype} but {ev.where} has float32 weights; a direct layer call does "
        "not cast (a model would). Convert the images to float first"
        + (" and scale 0-255 to 0-1." if scale else "."),
        f'x = x.astype("float32"){scale}',
        input_fix=fixes.cast_fix(scale != ""),
    )


@gives("extra_axis")
def extra_axis(ev):
    """Rank 5 (one axis too many): before the channel rules, which it would mislead."""
    ctx, versus = ev.ctx, ev.versus
    if parsing.is_kernel_rank_mismatch(ev.message):
        received = ev.shape_in
    elif versus is not None and len(versus[1]) == len(versus[0]) + 1:
        received = versus[1]
    elif (ctx.x_shape is not None and ctx.declared is not None
          and len(ctx.x_shape) == len(ctx.declared) + 1):
        received = ctx.x_shape  # a model squeezed a trailing 1 and a later check failed
    else:
        return None
    if received is None or len(received) < 5:
        return None
    return findings.extra_axis(received, ev.layer)


@gives("missing_channel_axis")
def two_missing_axes(ev):
    """Rank 2: one grayscale image without its batch AND channel axes."""
    versus = ev.versus
    if not ("expected min_ndim=4, found ndim=2" in ev.message
            or (versus is not None and len(versus[1]) == len(versus[0]) - 2)):
        return None
    received = versus[1] if versus else parsing.full_shape(ev.message) or ev.ctx.x_shape
    channel_axis = 1 if ev.fmt == "channels_first" else -1
    return Finding(
        "missing_channel_axis",
        f"The input {received} has only 2 axes: one grayscale image without its batch AND "
        "its channel axis. Conv2D needs 4 (batch, height, width, channels).",
        "x = x[None, ..., None]  # (height, width) -> (1, height, width, 1)",
        input_fix=fixes.two_axes_fix(channel_axis),
        layer=ev.layer,
    )


def _missing_is_batch(received, declared, fmt):
    """Decide whether a rank-3 input lacks the batch axis (one image) or the channel axis."""
    if received is None or len(received) != 3:
        return False
    if declared is not None and len(declared) == 4:
        if tuple(received) == tuple(declared[1:]) or (
                declared[-1] not in (None, 1) and received[-1] == declared[-1]):
            return True
        if fmt != "channels_first" and tuple(received[1:]) == tuple(declared[1:3]):
            return False
    if fmt == "channels_first":
        return received[0] in (1, 3, 4) and all(v is None or v > 4 for v in received[1:])
    return received[-1] in (1, 3, 4) and (received[0] is None or received[0] > 4)


@gives("missing_batch_axis", "missing_channel_axis")
def one_missing_axis(ev):
    """Rank 3: one image without its batch axis, or a batch without its channel axis."""
    versus, ctx = ev.versus, ev.ctx
    if not ("expected min_ndim=4, found ndim=3" in ev.message
            or (versus is not None and len(versus[1]) == len(versus[0]) - 1)):
        return None
    received = versus[1] if versus else parsing.full_shape(ev.message) or ctx.x_shape
    declared = versus[0] if versus else ctx.declared
    constructing = ctx.target is None or "Full shape received: (None" in ev.message
    if constructing and received and received[0] is None:
        # keras.Input((28, 28)) then a Conv2D: the declared shape lacks the channel axis.
        return findings.missing_channel(ctx, received, declared, ev.fmt, ev.layer,
                                        declared_input=True)
    if _missing_is_batch(received, declared, ev.fmt):
        return findings.missing_batch(received, ev.layer)
    return findings.missing_channel(ctx, received, declared, ev.fmt, ev.layer)


@gives("missing_batch_axis")
def image_given_to_model(ev):
    """ONE image (H, W, 1) given to a model: Keras added an axis, the conv then saw nonsense."""
    ctx = ev.ctx
    if not (ctx.is_model and ctx.x_shape is not None and ctx.declared is not None
            and len(ctx.x_shape) == len(ctx.declared) - 1 and parsing.is_too_small(ev.message)):
        return None
    return findings.missing_batch(ctx.x_shape, ev.layer, added_axis=True)


def _axis_expectation(ev):
    axis_info = parsing.expected_axis(ev.message)
    versus = ev.versus
    if axis_info is None and versus is not None and len(versus[0]) == len(versus[1]):
        expected, received = versus
        axis = -1 if ev.fmt != "channels_first" else 1
        axis_info = (axis, expected[axis], received)
    return axis_info


@gives("downstream_shape_mismatch", "data_format_mismatch", "channel_mismatch")
def channels_or_layout(ev):
    """An axis that should hold N values: a Dense head, a swapped layout, or the channel count."""
    axis_info = _axis_expectation(ev)
    if axis_info is None:
        return None
    axis, value, received = axis_info
    failing, ctx = ev.ctx.failing, ev.ctx
    if type(failing).__name__ == "Dense" or (
            failing is None and ctx.layers and ev.layer and ctx.layer_kind(ev.layer) == "Dense"):
        return findings.downstream(ev.layer, value, received[-1])
    layout = findings.layout_swapped(received, value, axis)
    if layout is not None:
        return findings.format_mismatch(received, layout, ev.layer, silent=False)
    return findings.channel_mismatch(received, value, axis, ev.layer)


@gives("channel_mismatch")
@when_parsed(parsing.filter_depth)
def filter_depth(ev, depths):
    """TF's own "input depth must be evenly divisible by filter depth": a channel count."""
    got, want = depths
    return findings.channel_mismatch(ev.shape_in, want, -1, ev.layer, got=got)


@gives("data_format_mismatch", "spatial_too_small")
def spatial_too_small(ev):
    """Output size zero or negative: a swapped layout if the shape says so, else a window too big."""
    if not parsing.is_too_small(ev.message):
        return None
    shape = ev.shape_in
    if shape and len(shape) == 4:
        if ev.fmt == "channels_first" and findings.looks_nhwc(shape):
            return findings.format_mismatch(shape, "nhwc_into_nchw", ev.layer, silent=False)
        if ev.fmt != "channels_first" and findings.looks_nchw(shape):
            return findings.format_mismatch(shape, "nchw_into_nhwc", ev.layer, silent=False)
    return findings.too_small(ev.ctx, ev.layer, shape)


@gives("downstream_shape_mismatch")
@when_parsed(parsing.weight_shapes)
def saved_weights(ev, weights):
    """Loaded weights made for another size (after a padding/stride/kernel change)."""
    wanted, given = weights
    owner = owner_of_weight(ev.error, wanted)
    return findings.downstream(owner or ev.layer, wanted[0], given[0], weights=True)


@gives("downstream_shape_mismatch")
@when_parsed(parsing.matmul_sizes)
def feature_count(ev, sizes):
    """A MatMul/graph error about feature counts: the Dense head got another size."""
    return findings.downstream(ev.layer, *sizes)


#: The classification, in precedence order: the first rule that answers wins.
RULES = (
    gpu_init_failure,
    nchw_unsupported_on_cpu,
    invalid_padding,
    invalid_data_format,
    stride_dilation_conflict,
    invalid_argument,
    integer_dtype,
    extra_axis,
    two_missing_axes,
    one_missing_axis,
    image_given_to_model,
    channels_or_layout,
    filter_depth,
    spatial_too_small,
    saved_weights,
    feature_count,
)


def classify(error, message, ctx, layer):
    """The first rule's finding, or an ``unknown`` finding that keeps Keras's words."""
    evidence = Evidence(error, message, ctx, layer)
    for rule in RULES:
        finding = rule(evidence)
        if finding is not None:
            return finding
    kind = type(error).__name__ if isinstance(error, BaseException) else "Error"
    return Finding(
        "unknown",
        f"This error is not one of the Conv2D failures this tool knows. Keras said: "
        f"{kind}: {parsing.first_line(message)}",
        "Trace the shapes layer by layer (convclinic.shapes.trace) and compare them with "
        "the rules of lessons 00-04; then write a minimal reproducer (lesson 05).",
    )


def precedence():
    """``[(rule name, causes it can name, first docstring line)]`` in the order tried."""
    return [(rule.__name__, rule.causes, (rule.__doc__ or "").strip().splitlines()[0])
            for rule in RULES]
