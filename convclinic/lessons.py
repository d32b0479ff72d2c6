"""Small helpers shared by lessons 01 (missing channel axis), 02 (padding) and 03 (stride and dilation).

- :func:`grayscale_images`: a batch of real grayscale pictures as an image loader
  gives them, ``(N, H, W)`` ``uint8``, with no download (lesson 01).
- :func:`attempt`: run a Keras call and keep its result or its real exception, so a
  lesson can show "what really happens" without stopping the notebook (lessons 01-03).
- :func:`keras_trace`: apply REAL Keras layers one at a time to a ``keras.Input`` and
  report each output shape, or the first layer that fails (lesson 03). It returns the
  same :class:`convclinic.shapes.Trace` record as the arithmetic trace, so the two can
  be compared side by side.
- :func:`draw_same_padding`: TF's asymmetric SAME padding on a picture (lesson 02).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from convclinic.runtime import clean_message
from convclinic.shapes import Trace, TraceStep, same_padding

__all__ = [
    "grayscale_images",
    "Attempt",
    "attempt",
    "keras_trace",
    "draw_same_padding",
]

def grayscale_images(count=4, size=28):
    """``count`` grayscale crops of matplotlib's sample photo, shape ``(count, size, size)``, uint8.

    Lesson 01: this is what most image loaders hand you for grayscale pictures:
    no channel axis and integer pixels. The photo ships with matplotlib, so
    nothing is downloaded.
    """
    import matplotlib.cbook
    import matplotlib.image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    photo = matplotlib.image.imread(path)  # (600, 512, 3) uint8
    gray = photo[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    step = 4  # block-average 4x4 pixels: 600x512 -> 150x128
    height, width = (gray.shape[0] // step) * step, (gray.shape[1] // step) * step
    small = gray[:height, :width].reshape(height // step, step, width // step, step).mean(axis=(1, 3))
    rows = np.linspace(0, small.shape[0] - size, count).astype(int)
    cols = np.linspace(0, small.shape[1] - size, count).astype(int)[::-1]
    crops = [small[r : r + size, c : c + size] for r, c in zip(rows, cols, strict=True)]
    return np.clip(np.rint(np.stack(crops)), 0, 255).astype(np.uint8)


@dataclass
class Attempt:
    """The outcome of :func:`attempt`: a value (and its shape) or the real exception."""

    value: object = None
    error: BaseException | None = None

    @property
    def ok(self):
        return self.error is None

    @property
    def shape(self):
        shape = getattr(self.value, "shape", None)
        return None if shape is None else tuple(shape)

    @property
    def error_type(self):
        return None if self.error is None else type(self.error).__name__

    @property
    def message(self):
        """The cleaned Keras/TF message (see :func:`convclinic.runtime.clean_message`)."""
        return None if self.error is None else clean_message(self.error)

    def __repr__(self):
        if self.ok:
            return f"works: output shape {self.shape}" if self.shape is not None else "works"
        return f"{self.error_type}: {self.message}"


def attempt(function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and return an :class:`Attempt` (never raises).

    Lessons 01-03 use it to show the error Keras really raises next to the code
    that caused it, while the notebook keeps running.
    """
    try:
        return Attempt(value=function(*args, **kwargs))
    except Exception as error:  # noqa: BLE001 - showing the real error is the point
        return Attempt(error=error)


def keras_trace(layer_list, input_shape):
    """Apply real Keras layers one by one to ``keras.Input(input_shape[1:])``; stop at the first failure.

    Lesson 03: Keras's own message ("Computed output size would be zero or
    negative. Received inputs shape=(None, 2, 2, 16) ...") does not name the
    layer; applying the layers one at a time does. The result is a
    :class:`convclinic.shapes.Trace`, like :func:`convclinic.shapes.trace`.
    """
    from convclinic.runtime import import_keras

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


def draw_same_padding(size=6, kernel=3, stride=2):
    """Draw TF's SAME padding beside a symmetric split, for a ``size`` x ``size`` input (lesson 02).

    (``convclinic.plots.draw_conv`` draws TF's padding alone, with the output map.)

    Left: TensorFlow, where the odd padding row/column goes at the bottom/right
    (:func:`convclinic.shapes.same_padding`). Right: a symmetric split, as
    PyTorch's ``padding=1`` does. Padding cells are hatched; the first and last
    kernel windows along the top row are outlined. Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    before, after = same_padding(size, kernel, stride)
    total = before + after
    symmetric = (total + 1) // 2
    layouts = [
        (f"TensorFlow SAME: pad {before} before, {after} after", before, after),
        (f"symmetric (PyTorch padding={symmetric}): {symmetric} each side", symmetric, symmetric),
    ]
    figure, axes = plt.subplots(1, 2, figsize=(8, 4))
    for axis, (title, top, bottom) in zip(axes, layouts, strict=True):
        padded = size + top + bottom
        for r in range(padded):
            for c in range(padded):
                inside = top <= r < top + size and top <= c < top + size
                axis.add_patch(
                    Rectangle(
                        (c, r), 1, 1,
                        facecolor="#dddddd" if inside else "white",
                        hatch=None if inside else "///",
                        edgecolor="#999999", lw=0.5,
                    )
                )
        outputs = (padded - kernel) // stride + 1
        for index, style in ((0, "-"), (outputs - 1, "--")):
            start = index * stride
            axis.add_patch(
                Rectangle((start, 0), kernel, kernel, fill=False, edgecolor="#0072B2",
                          lw=2.5, linestyle=style)
            )
        axis.set_title(f"{title}\n{outputs}x{outputs} outputs", fontsize=9)
        axis.set_xlim(-0.2, padded + 0.2)
        axis.set_ylim(padded + 0.2, -0.2)
        axis.set_aspect("equal")
        axis.axis("off")
    figure.tight_layout()
    return figure
