"""convclinic.figures: the explanatory pictures of lessons 00, 01 and 04 (no TensorFlow needed).

Each picture draws the numbers it is given; these tests check that the numbers and labels
really end up in the figure, that bad input is refused, and that no pyplot state is used.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from convclinic import figures
from convclinic.plots.render import figure_to_png


def texts(figure):
    return [text.get_text() for axis in figure.axes for text in axis.texts] + [
        text.get_text() for text in figure.texts
    ]


def test_phases_name_the_three_phases_and_render():
    figure = figures.draw_phases()
    assert isinstance(figure, Figure)
    shown = texts(figure)
    for name, code, _, failure in figures.PHASES:
        assert name in shown and code in shown
        assert any(failure in text for text in shown)
    assert figure_to_png(figure).startswith(b"\x89PNG")


def test_number_map_writes_every_number_in_its_cell():
    values = np.array([[9, 9, 6], [9, 9, 6], [6, 6, 4]], dtype="float32")
    figure = figures.draw_number_map(values, "real pixels", ("row", "column"))
    written = sorted(text for text in texts(figure) if text.isdigit())
    assert written == sorted(str(int(v)) for v in values.ravel())
    with pytest.raises(ValueError):
        figures.draw_number_map(np.zeros(3), "not 2-D")


def test_axis_readings_label_every_axis_and_refuse_a_wrong_count():
    readings = {"you meant": ["height", "width", "channels", "(added)"],
                "the Conv2D reads": ["batch", "height", "width", "channels"]}
    figure = figures.draw_axis_readings((28, 28, 1, 1), readings)
    shown = texts(figure)
    for index, size in enumerate((28, 28, 1, 1)):
        assert f"axis {index}: {size}" in shown
    assert {"batch", "(added)", "you meant", "the Conv2D reads"} <= set(shown)
    with pytest.raises(ValueError):
        figures.draw_axis_readings((28, 28), readings)


def test_photo_thumbnail_is_one_nhwc_image_in_unit_range():
    image = figures.photo_thumbnail(size=28)
    assert image.shape == (1, 28, 28, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() < image.max() <= 1.0
    assert image.std() > 0.05, "a real picture, not a flat colour"


def test_misread_image_shows_rows_of_the_photo_as_channels():
    image = figures.photo_thumbnail(size=28)
    figure = figures.draw_misread_image(image, shown=4)
    panels = figure.axes
    assert len(panels) == 1 + 4
    for index, panel in enumerate(panels[1:]):
        drawn = panel.images[0].get_array()
        assert drawn.shape == (28, 3)
        np.testing.assert_allclose(drawn, image[0, index])  # channel i = row i of the photo
    with pytest.raises(ValueError):
        figures.draw_misread_image(image[0])
