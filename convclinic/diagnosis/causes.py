"""The cause vocabulary: every name ``Report.cause`` can take, written once.

:data:`VOCABULARY` is the single source. :data:`CAUSES` (id -> one-line
summary) is derived from it, and so is ``docs/causes.md``
(:func:`convclinic.diagnosis.reference.causes_markdown`; a test fails when the
committed file differs). Each cause names the lesson that teaches it; the
IPython extension's box points the learner there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cause", "VOCABULARY", "CAUSES", "cause", "lesson_path", "recognised"]


@dataclass(frozen=True)
class Cause:
    """One cause: its id (``Report.cause``), a plain name, a one-line summary, the longer
    description, and the lesson notebook (stem under ``notebooks/``) that teaches it."""

    id: str
    name: str
    summary: str
    description: str
    lesson: str | None = None


VOCABULARY = (
    Cause("ok", "nothing wrong", "It ran and nothing looks wrong.",
          "It ran and nothing looks wrong."),
    Cause("missing_channel_axis", "the channel axis is missing",
          "The input has no channel axis (e.g. grayscale (N, H, W)).",
          "The input has no channel axis, e.g. grayscale `(N, H, W)`. Also reported when a "
          "model RAN only because Keras added the axis itself (a model declared `(H, W, 1)` "
          "expands `(N, H, W)`).", "01-missing-channel-axis"),
    Cause("missing_batch_axis", "the batch axis is missing",
          "One image (H, W, C) was given without its batch axis.",
          "One image `(H, W, C)` was given without its batch axis.", "01-missing-channel-axis"),
    Cause("extra_axis", "one axis too many",
          "The input has one axis too many (rank 5, e.g. a batch of batches).",
          "The input has 5 axes where Conv2D takes 4: a batch of batches (double batching, "
          "`np.stack` of `(1, H, W, C)` images) or an extra axis of size 1. Also reported when "
          "it ran only because Keras squeezed a trailing axis of 1 itself, or because Keras 2 "
          "treated the extra axis as a second batch axis.", "07-data-pipelines"),
    Cause("channel_mismatch", "wrong number of channels",
          "The input has a different number of channels than the layer expects.",
          "The number of channels differs from what the layer was built for (grayscale into "
          "an RGB model, RGBA into RGB, RGB into grayscale).", "01-missing-channel-axis"),
    Cause("data_format_mismatch", "channels_first vs channels_last",
          "The input is laid out for the other data_format (NCHW vs NHWC).",
          "The input is laid out channels_first for a channels_last layer, or the reverse. "
          "Also reported when it ran but the layout looks wrong (silent).", "04-data-format"),
    Cause("spatial_too_small", "the window is larger than the input",
          "A (dilated) kernel or pooling window is larger than the padded input.",
          "A (dilated) kernel or pooling window is larger than the padded input, also after "
          "earlier layers shrank it.", "03-stride-and-dilation"),
    Cause("stride_dilation_conflict", "strides and dilation together",
          "strides > 1 together with dilation_rate > 1 is refused by Keras.",
          "`strides > 1` together with `dilation_rate > 1`.", "03-stride-and-dilation"),
    Cause("invalid_padding", "padding is not 'valid' or 'same'",
          "padding must be 'valid' or 'same' (explicit amounts: ZeroPadding2D).",
          "A padding value other than `'valid'`/`'same'` (`'invalid'`, `1`, a list).",
          "02-padding"),
    Cause("invalid_data_format", "data_format is not a Keras value",
          "data_format must be 'channels_last' or 'channels_first'.",
          "A data_format other than `'channels_last'`/`'channels_first'` (`'NCHW'`).",
          "04-data-format"),
    Cause("invalid_argument", "an invalid Conv2D argument",
          "A Conv2D argument is invalid (non-positive, wrong length, groups).",
          "Non-positive filters/kernel/strides/dilation, a tuple of the wrong length, filters "
          "or channels not divisible by `groups`.", "00-convolution-shapes"),
    Cause("integer_dtype", "integer input to a float layer",
          "Integer or bool input to a float layer: cast it to float32.",
          "Integer (`uint8`, `int32`) or bool input given to a float layer.",
          "01-missing-channel-axis"),
    Cause("downstream_shape_mismatch", "a later layer got another size",
          "A later layer got a size it was not built for.",
          "A later layer (Dense after Flatten, loaded weights) got a size it was not built "
          "for, because an earlier padding/stride/kernel change altered it.", "02-padding"),
    Cause("nchw_unsupported_on_cpu", "NCHW refused by the CPU kernel",
          "TensorFlow's CPU Conv2D kernel refuses NCHW here.",
          "TensorFlow's CPU kernel refuses NCHW (channels_first without oneDNN, or float64).",
          "04-data-format"),
    Cause("gpu_init_failure", "cuDNN failed to start",
          "cuDNN failed to initialise (GPU memory already taken?).",
          "cuDNN failed to initialise (\"Failed to get convolution algorithm\", \"DNN library "
          "initialization failed\"): GPU memory already taken, or a CUDA/cuDNN version that "
          "does not match the TensorFlow build.", "05-framework-version-hardware"),
    Cause("unknown", "not recognised", "Not recognised; the raw error is kept.",
          "None of the above; the raw error is kept in `Report.message`.",
          "06-shape-detective"),
)

CAUSES = {entry.id: entry.summary for entry in VOCABULARY}
_BY_ID = {entry.id: entry for entry in VOCABULARY}


def cause(cause_id):
    """The :class:`Cause` named ``cause_id`` (KeyError for a name outside the vocabulary)."""
    return _BY_ID[cause_id]


def lesson_path(cause_id):
    """``notebooks/<lesson>.ipynb`` for the cause, or None when no lesson teaches it."""
    lesson = cause(cause_id).lesson
    return f"notebooks/{lesson}.ipynb" if lesson else None


def recognised(cause_id):
    """True for a named failure: anything but ``ok`` and ``unknown``."""
    return cause_id in _BY_ID and cause_id not in ("ok", "unknown")
