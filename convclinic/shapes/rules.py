"""The numbered Conv2D rules, exactly as Keras 3 applies them (no TensorFlow import).

Every output size, SAME padding split and effective kernel in the course is
computed HERE and nowhere else (``tests/test_architecture.py`` checks it).
Taught in lesson 00 (the numbered rules), 02 (SAME padding), 03 (stride,
dilation) and 04 (data formats: :func:`layout_permutation`).

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

PADDINGS = ("valid", "same")
#: The two values of Keras' ``data_format`` (lesson 04); the only copy in the package.
DATA_FORMATS = ("channels_last", "channels_first")
#: Names of the two spatial axes, in order.
SPATIAL_NAMES = ("height", "width")


def pair(value, name="value"):
    """The one normaliser: an int or a 2-sequence -> a pair of positive ints, as Keras does.

    ``pair(3) == (3, 3)``, ``pair((3, 5)) == (3, 5)``; anything else (3 values,
    a float, zero or a negative number) raises ``ValueError`` naming ``name``.
    """
    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be an integer or a tuple of 2 integers, got {value!r}.")
    if isinstance(value, int):
        values = (value, value)
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(
                f"`{name}` must be an integer or a tuple of 2 integers, got {value!r}."
            ) from None
        if len(values) != 2:
            raise ValueError(
                f"`{name}` must be an integer or a tuple of 2 integers, got {value!r} "
                f"({len(values)} values). Conv2D works on height and width: give 2."
            )
        try:
            values = tuple(int(v) for v in values)
        except (TypeError, ValueError):
            raise ValueError(f"`{name}` must contain integers, got {value!r}.") from None
    bad = [v for v in values if v <= 0]
    if bad:
        raise ValueError(
            f"`{name}` must be strictly positive, got {value!r}. "
            f"Keras requires every value of `{name}` to satisfy value > 0."
        )
    return values


def positive_int(value, name):
    """``value`` when it is an int > 0; a ``ValueError`` naming ``name`` otherwise."""
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
    kernel = positive_int(kernel, "kernel_size")
    dilation = positive_int(dilation, "dilation_rate")
    return dilation * (kernel - 1) + 1


def effective_kernel(kernel, dilation=1):
    """Rule 1 for an int or a (rows, cols) pair: ``effective_kernel((3, 5), 2) == (5, 9)``.

    Two ints give an int (:func:`effective_kernel_size`); anything else is read
    with :func:`pair` and gives a pair, one effective size per spatial axis.
    """
    if all(isinstance(v, int) and not isinstance(v, bool) for v in (kernel, dilation)):
        return effective_kernel_size(kernel, dilation)
    kernels, dilations = pair(kernel, "kernel_size"), pair(dilation, "dilation_rate")
    return tuple(effective_kernel_size(k, d) for k, d in zip(kernels, dilations, strict=True))


def _same_output(size, stride):
    """Rule 3: ``ceil(size / stride)`` in integers."""
    return -(-size // stride)


def _valid_output(size, window, stride):
    """Rule 2: ``floor((size - window) / stride) + 1``, or ``None`` when the window does not fit."""
    if size < window:
        return None
    return (size - window) // stride + 1


def conv_output_size(size, kernel, stride=1, padding="valid", dilation=1):
    """Output length along one spatial axis (rules 1-3, lessons 00 and 03).

    >>> conv_output_size(28, 3)
    26
    >>> conv_output_size(28, 3, stride=2, padding="same")
    14
    """
    size = positive_int(size, "size")
    stride = positive_int(stride, "strides")
    padding = normalize_padding(padding)
    k_eff = effective_kernel_size(kernel, dilation)
    if padding == "same":
        return _same_output(size, stride)
    out = _valid_output(size, k_eff, stride)
    if out is None:
        dilated = f" (kernel {kernel} with dilation {dilation})" if dilation > 1 else ""
        raise ValueError(
            f"Computed output size would be zero or negative: the kernel covers {k_eff} "
            f"pixels{dilated} but the input is only {size} wide with padding='valid'. "
            f"Use padding='same', a smaller kernel or dilation, or a larger input."
        )
    return out


def same_padding(size, kernel, stride=1, dilation=1):
    """TF's SAME padding split ``(before, after)`` along one axis (rule 4, lesson 02).

    The odd pixel goes AFTER (bottom/right), unlike PyTorch's symmetric padding.

    >>> same_padding(6, 3, stride=2)
    (0, 1)
    """
    size = positive_int(size, "size")
    stride = positive_int(stride, "strides")
    k_eff = effective_kernel_size(kernel, dilation)
    out = _same_output(size, stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    return total // 2, total - total // 2


def check_stride_dilation(strides, dilation):
    """Rule 5: raise like Keras when ``strides > 1`` meets ``dilation_rate > 1`` (lesson 03)."""
    strides, dilation = pair(strides, "strides"), pair(dilation, "dilation_rate")
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
    filters = positive_int(filters, "filters")
    kernel = pair(kernel_size, "kernel_size")
    strides = pair(strides, "strides")
    dilation = pair(dilation_rate, "dilation_rate")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    check_stride_dilation(strides, dilation)
    input_shape = tuple(input_shape)
    if len(input_shape) != 4:
        raise ValueError(
            f"Conv2D expects a 4-D input (batch, height, width, channels) but got "
            f"{len(input_shape)}-D shape {input_shape} (Keras: expected min_ndim=4, "
            f"found ndim={len(input_shape)}). Add the missing batch or channel axis."
        )
    batch, spatial, _ = split_shape(input_shape, data_format)
    out = []
    for axis, (n, k, s, d) in enumerate(zip(spatial, kernel, strides, dilation, strict=True)):
        try:
            out.append(conv_output_size(n, k, s, padding, d))
        except ValueError as error:
            raise ValueError(f"{SPATIAL_NAMES[axis]}: {error}") from None
    return join_shape(batch, out, filters, data_format)


def pool2d_output_shape(
    input_shape, pool_size=2, strides=None, padding="valid", data_format="channels_last"
):
    """Output shape of MaxPooling2D/AveragePooling2D (strides default to pool_size)."""
    pool = pair(pool_size, "pool_size")
    strides = pool if strides is None else pair(strides, "strides")
    padding = normalize_padding(padding)
    data_format = normalize_data_format(data_format)
    input_shape = tuple(input_shape)
    if len(input_shape) != 4:
        raise ValueError(f"2-D pooling expects a 4-D input, got shape {input_shape}.")
    batch, spatial, channels = split_shape(input_shape, data_format)
    out = []
    for axis, (n, p, s) in enumerate(zip(spatial, pool, strides, strict=True)):
        size = _same_output(n, s) if padding == "same" else _valid_output(n, p, s)
        if size is None:
            raise ValueError(
                f"{SPATIAL_NAMES[axis]}: Computed output size would be zero or negative: "
                f"pool size {p} is larger than the input ({n}) with padding='valid'."
            )
        out.append(size)
    return join_shape(batch, out, channels, data_format)


# --- Data formats (lesson 04) ------------------------------------------------------------


def split_shape(shape, data_format="channels_last"):
    """``(batch, (height, width), channels)`` of a 4-D ``shape`` laid out in ``data_format``."""
    if normalize_data_format(data_format) == "channels_last":
        batch, height, width, channels = shape
    else:
        batch, channels, height, width = shape
    return batch, (height, width), channels


def join_shape(batch, spatial, channels, data_format="channels_last"):
    """The 4-D shape of ``batch``, ``(height, width)`` and ``channels`` in ``data_format``."""
    height, width = spatial
    if normalize_data_format(data_format) == "channels_last":
        return (batch, height, width, channels)
    return (batch, channels, height, width)


def layout_permutation(source_format, target_format):
    """The ``np.transpose`` axes that move a 4-D array from one data format to the other.

    Lesson 04: ``layout_permutation("channels_last", "channels_first") == (0, 3, 1, 2)``
    (NHWC -> NCHW) and the reverse is ``(0, 2, 3, 1)``; the same format gives
    the identity ``(0, 1, 2, 3)``.
    """
    source = normalize_data_format(source_format)
    target = normalize_data_format(target_format)
    if source == target:
        return (0, 1, 2, 3)
    return (0, 3, 1, 2) if target == "channels_first" else (0, 2, 3, 1)


def permute_shape(shape, permutation):
    """``shape`` after ``np.transpose(x, permutation)``: ``permute_shape((1, 3, 8, 9), (0, 2, 3, 1))``
    is ``(1, 8, 9, 3)``."""
    shape = tuple(shape)
    if sorted(permutation) != list(range(len(shape))):
        raise ValueError(f"{permutation} is not a permutation of the {len(shape)} axes of {shape}")
    return tuple(shape[axis] for axis in permutation)


