"""convclinic.plots: the drawings show what the real Conv2D does (lessons 00, 02, 03)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from convclinic import plots, shapes
from convclinic.probe import probe
from convclinic.runtime import import_keras

SETTINGS = [
    # (size, kernel, stride, dilation, padding)
    (6, 3, 2, 1, "same"),
    (7, 3, 2, 1, "same"),
    (8, 4, 3, 1, "same"),
    (9, 3, 1, 2, "same"),
    (10, 3, 1, 1, "valid"),
    (11, 2, 3, 1, "valid"),
    (12, 3, 1, 3, "valid"),
    (5, 5, 1, 1, "same"),
]


def real_ones_convolution(size, kernel, stride, dilation, padding):
    """A Keras Conv2D with an all-ones kernel on an all-ones image: each output counts real taps."""
    keras = import_keras()
    layer = keras.layers.Conv2D(1, kernel, strides=stride, dilation_rate=dilation,
                                padding=padding, use_bias=False, kernel_initializer="ones")
    return np.asarray(layer(np.ones((1, size, size, 1), "float32")))[0, :, :, 0]


@pytest.mark.slow
def test_lesson02_same_padding_6x6_stride2_matches_tf():
    """Lesson 02: the coverage map of 6x6, k=3, s=2, same is TF's [[9,9,6],[9,9,6],[6,6,4]]."""
    figure = plots.ConvFigure()
    figure.update(6, 6, 3, 2, 1, "same")
    coverage = np.asarray(figure.output_image.get_array())
    assert coverage.tolist() == real_ones_convolution(6, 3, 2, 1, "same").tolist()
    assert coverage.tolist() == [[9, 9, 6], [9, 9, 6], [6, 6, 4]]


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s)))
def test_output_map_equals_a_real_convolution_of_ones(setting):
    """The shade of each output cell (taps on real pixels) equals Keras' ones-conv-ones output."""
    size, kernel, stride, dilation, padding = setting
    geometry = shapes.conv_geometry(size, size, kernel, stride, dilation, padding)
    expected = real_ones_convolution(*setting).tolist()
    assert [list(row) for row in geometry.coverage] == expected
    assert plots.coverage_image(geometry).tolist() == expected
    figure = plots.ConvFigure()
    figure.update(size, size, kernel, stride, dilation, padding)
    assert np.asarray(figure.output_image.get_array()).tolist() == expected


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: "-".join(map(str, s)))
def test_geometry_agrees_with_shapes(setting):
    """Padding split and output size come from convclinic.shapes (rules 2-4)."""
    size, kernel, stride, dilation, padding = setting
    geometry = shapes.conv_geometry(size, size + 1, kernel, stride, dilation, padding)
    assert isinstance(geometry, shapes.ConvGeometry)
    expected_pad = (shapes.same_padding(size, kernel, stride, dilation),
                    shapes.same_padding(size + 1, kernel, stride, dilation)) \
        if padding == "same" else ((0, 0), (0, 0))
    assert geometry.pad == expected_pad
    assert geometry.out == (shapes.conv_output_size(size, kernel, stride, padding, dilation),
                            shapes.conv_output_size(size + 1, kernel, stride, padding, dilation))
    assert geometry.k_eff == (shapes.effective_kernel_size(kernel, dilation),) * 2
    assert geometry.error is None and geometry.ok


def test_refused_settings_have_no_output_and_say_why():
    """A kernel larger than the input, or stride with dilation: out is 0 and the error is kept."""
    too_big = shapes.conv_geometry(28, 28, 30)
    assert too_big.out == (0, 0) and not too_big.ok and too_big.kernel_too_big
    assert "zero or negative" in too_big.error
    both = shapes.conv_geometry(28, 28, 3, 2, 2)
    assert both.out == (0, 0) and not both.kernel_too_big
    assert "dilation_rate" in both.error
    zero = shapes.conv_geometry(28, 28, 0)
    assert zero.out == (0, 0) and zero.k_eff == (0, 0) and "strictly positive" in zero.error
    word = shapes.conv_geometry(28, 28, 3, padding=1)
    assert word.out == (0, 0) and "ZeroPadding2D" in word.error


def test_padding_is_hatched_at_the_bottom_right_only():
    """TF's extra SAME row/column is drawn after the input (bottom/right), hatched, not colour only."""
    figure = plots.ConvFigure(annotate=False)
    figure.update(6, 6, 3, 2, 1, "same")
    assert figure.input_image.get_extent() == [-0.5, 6.5, 6.5, -0.5]
    image = np.asarray(figure.input_image.get_array())[..., :3]
    cell = image.shape[0] // 7
    assert image.shape[:2] == (7 * cell, 7 * cell)
    hatch = np.all(image == 120, axis=-1)
    assert hatch[6 * cell:, :].any() and hatch[:, 6 * cell:].any()  # bottom row, right column
    assert not hatch[: 6 * cell, : 6 * cell].any()  # never inside the real input
    assert "bottom 1" in figure.caption() and "right 1" in figure.caption()


def test_taps_are_marked_with_glyphs_not_only_colour():
    """The taps of output (0, 0) carry black 'x' pixels; cells without taps do not."""
    figure = plots.ConvFigure(annotate=False)
    figure.update(8, 8, 3, 3, 1, "valid")
    image = np.asarray(figure.input_image.get_array())[..., :3]
    cell = image.shape[0] // 8
    black = np.all(image == 0, axis=-1)
    orange = np.all(image == np.round(plots.paint.TAP * 255).astype(np.uint8), axis=-1)
    first_tap = (slice(0, cell), slice(0, cell))
    assert black[first_tap].any() and orange[first_tap].any()
    assert not orange[7 * cell:, 7 * cell:].any()


@pytest.mark.slow
def test_output_panel_reports_a_failed_result_in_words():
    """With a failed probe outcome the output panel hides the map and names the error and phase."""
    result = probe((1, 28, 28, 1), kernel_size=30)
    figure = plots.ConvFigure()
    figure.update(28, 28, 30, result=result)
    assert not figure.output_image.get_visible()
    assert figure.output_message.get_text() == "no output:\nValueError at build"


def test_output_map_uses_a_colour_blind_safe_colormap():
    """cividis for the output shade, Okabe-Ito for the marks."""
    figure = plots.ConvFigure()
    assert figure.output_image.get_cmap().name == "cividis"
    assert plots.OKABE_ITO["orange"] == "#E69F00"


def test_update_moves_artists_instead_of_recreating_them():
    """The figure is built once: the same artists survive updates."""
    figure = plots.ConvFigure()
    artists = (figure.input_image, figure.output_image, figure.footprint)
    n_children = len(figure.ax_input.get_children())
    for size in (5, 9, 30):
        figure.update(size, size, 3, 1, 1, "same")
    assert (figure.input_image, figure.output_image, figure.footprint) == artists
    assert len(figure.ax_input.get_children()) == n_children
    assert figure.to_png()[:4] == b"\x89PNG" and figure.to_png_fast()[:4] == b"\x89PNG"


def test_photo_is_an_nhwc_batch_of_one():
    """Lesson 00: grace_hopper.jpg (shipped with matplotlib) as (1, H, W, 3) in [0, 1]."""
    photo = plots.load_photo()
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[-1] == 3
    batch = plots.photo_batch()
    assert batch.shape == (1, *photo.shape) and batch.dtype == np.float32
    assert 0.0 <= batch.min() and batch.max() <= 1.0


def test_photo_drawing_names_all_four_axes():
    """Lesson 00: the drawing labels batch, height, width and channel axes in words."""
    figure = plots.draw_photo_axes()
    assert isinstance(figure, Figure)
    texts = " ".join(
        [ax.get_title() for ax in figure.axes]
        + [ax.get_xlabel() for ax in figure.axes]
        + [t.get_text() for ax in figure.axes for t in ax.texts]
        + [figure._suptitle.get_text()]
    )
    for word in ("axis 0 = batch", "axis 1: height", "axis 2: width", "axis 3 = channel"):
        assert word in texts
    assert str(plots.photo_batch().shape) in texts
    with pytest.raises(ValueError, match="NHWC"):
        plots.draw_photo_axes(plots.load_photo())


def test_sampling_grid_is_a_single_panel_figure():
    """Lesson 03: draw_sampling_grid draws the input, taps and output positions only."""
    figure = plots.draw_sampling_grid(9, 3, 2, 1)
    assert isinstance(figure, Figure) and len(figure.axes) == 1
    figure = plots.draw_conv(6, 6, 3, 2, 1, "same")
    assert len(figure.axes) == 2
