"""convclinic.figures, the photo-based pictures: lesson 01's grayscale batch and lesson 02's SAME-padding drawing."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convclinic import figures as pictures
from convclinic import plots, shapes


def test_grayscale_images_are_rank3_uint8_crops_of_the_course_photo():
    images = pictures.grayscale_images(count=4, size=28)
    assert images.shape == (4, 28, 28) and images.dtype == np.uint8
    assert len({image.tobytes() for image in images}) == 4  # four different crops
    # the first crop is the top-left corner of the 4x4 block-averaged grey photo, column-shifted
    gray = plots.load_photo().astype(np.float64) @ pictures.LUMA
    small = gray[:600, :512].reshape(150, 4, 128, 4).mean(axis=(1, 3))
    expected = np.clip(np.rint(small[0:28, 100:128]), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(images[0], expected)


def test_draw_same_padding_is_a_plain_figure_without_pyplot():
    figure = pictures.draw_same_padding(size=6, kernel=3, stride=2)
    assert isinstance(figure, Figure) and isinstance(figure.canvas, FigureCanvasAgg)
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []  # nothing registered in pyplot's state
    left, right = figure.axes
    before, after = shapes.same_padding(6, 3, 2)
    assert left.get_title().startswith(f"TensorFlow SAME: pad {before} before, {after} after")
    assert right.get_title().startswith("symmetric (PyTorch padding=1): 1 each side")
    assert left.get_title().endswith("3x3 outputs") and right.get_title().endswith("3x3 outputs")
    hatched = [patch for patch in left.patches if patch.get_hatch() == "///"]
    padded = 6 + before + after
    assert len(hatched) == padded * padded - 36
    assert plots.figure_to_png(figure).startswith(b"\x89PNG")
