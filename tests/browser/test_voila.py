"""The workshop playground served by Voila (`make playground`), driven through Chromium.

After the common playground walk (``walk_playground``), the page's two newer
controls are driven too: **input layout** (the array's layout, independent of
the layer's data format) and **feed input to** (a bare Conv2D or a
``keras.Sequential`` model declared with ``keras.Input``). After every step the
readout in the DOM must equal what Keras called directly in this test process
gives, including its errors.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.browser import harness
from tests.browser.conftest import expected_readout, walk_playground

pytestmark = pytest.mark.browser

PLAYGROUND_START = dict(height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3,
                        strides=1, dilation_rate=1, padding="valid",
                        data_format="channels_last")

# After the common walk: back to a plain 28x28 setting, then the new controls.
# (what the step shows, [(control label, kind, value)], the setting the page must now run)
RESET = [("input width", "slider", 28), ("dilation", "slider", 1), ("stride", "slider", 1)]
NEW_CONTROL_STEPS = [
    ("RGB image", RESET + [("channels", "slider", 3)],
     dict(channels=3, layout="channels_last", data_format="channels_last", drop=(),
          feed="layer")),
    ("NHWC array into a channels_first layer (silently wrong shape)",
     [("data format", "dropdown", "channels_first"),
      ("input layout", "dropdown", "channels_last")],
     dict(channels=3, layout="channels_last", data_format="channels_first", drop=(),
          feed="layer")),
    ("input layout back to the data format",
     [("input layout", "dropdown", "same as data format")],
     dict(channels=3, layout="channels_first", data_format="channels_first", drop=(),
          feed="layer")),
    ("gray image without its channel axis, bare layer (fails)",
     [("data format", "dropdown", "channels_last"), ("channels", "slider", 1),
      ("drop axes", "multi", ("channel",))],
     dict(channels=1, layout="channels_last", data_format="channels_last", drop=("channel",),
          feed="layer")),
    ("the same array fed to a keras.Input model (the model adds the axis)",
     [("feed input to", "dropdown", "keras.Input model")],
     dict(channels=1, layout="channels_last", data_format="channels_last", drop=("channel",),
          feed="model")),
    ("an RGB model fed a gray image without channel axis (fails)",
     [("channels", "slider", 3)],
     dict(channels=3, layout="channels_last", data_format="channels_last", drop=("channel",),
          feed="model")),
]


def direct_keras(channels, layout, data_format, drop, feed, height=28, width=28, batch=1):
    """What Keras does, called here directly: a bare Conv2D or Sequential([keras.Input, Conv2D])."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    axes = {"batch": batch, "height": height, "width": width, "channel": channels}
    order = (("batch", "height", "width", "channel") if layout == "channels_last"
             else ("batch", "channel", "height", "width"))
    x = np.ones(tuple(axes[a] for a in order if a not in drop), dtype="float32")
    try:
        layer = keras.layers.Conv2D(8, 3, data_format=data_format, name="conv2d")
        if feed == "model":
            declared = tuple(axes[a] for a in order[1:])
            model = keras.Sequential([keras.Input(shape=declared, name="input"), layer],
                                     name="model")
            return tuple(int(v) for v in model(x).shape)
        return tuple(int(v) for v in layer(x).shape)
    except Exception as error:  # noqa: BLE001 - the error IS the expected result
        return error


CAPTION = ".convclinic-caption"


def wait_text(locator, fragment, timeout=30.0):
    """Poll an element until its text holds ``fragment``; return the last text seen."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = harness.normalize(locator.inner_text())
        if fragment in text:
            break
        time.sleep(0.05)
    return text


def walk_new_controls(root):
    outcomes = []
    for step, changes, setting in NEW_CONTROL_STEPS:
        for label, kind, value in changes:
            if kind == "slider":
                harness.set_slider(root, label, value)
                assert harness.slider_value(root, label) == str(value), (step, label)
            elif kind == "multi":
                harness.select_many(root, label, value)
            else:
                harness.select(root, label, value)
        outcome = direct_keras(**setting)
        matches, wanted = expected_readout(outcome)
        shown = harness.normalize(harness.wait_readout(root, matches))
        assert matches(shown), (
            f"step {step!r}: the page shows\n  {shown!r}\nbut Keras called directly with "
            f"{setting} gives\n  {wanted!r}")
        # the picture's caption follows too (it is sent after the readout)
        caption = (str(outcome) if isinstance(outcome, tuple)
                   else f"no output: {type(outcome).__name__} at")
        shown_caption = wait_text(root.locator(CAPTION).first, caption)
        assert caption in shown_caption, (step, shown_caption)
        outcomes.append(outcome)
    return outcomes


def test_voila_playground_matches_keras_and_shows_no_code(voila, new_page):
    page = new_page()
    page.goto(voila.url(""), timeout=180_000)
    page.wait_for_selector(harness.READOUT, timeout=180_000)
    root = harness.explorer_root(page)
    walk_playground(root, start=PLAYGROUND_START)
    outcomes = walk_new_controls(root)
    # the walk shows both sides: the silent NHWC-as-NCHW shape, the model that adds an axis,
    # and two refusals
    assert outcomes[1] == (1, 8, 26, 1) and outcomes[4] == (1, 26, 26, 8)
    assert [isinstance(o, Exception) for o in outcomes] == [False, False, False, True, False, True]
    # A Voila app shows outputs only: no input cells, no editor, no source text.
    assert page.locator(".jp-CodeCell").count() >= 1
    hidden_code = ".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor, .jp-InputPrompt"
    assert page.locator(hidden_code).count() == 0
    body = page.locator("body").inner_text()
    assert "ConvExplorer(" not in body and "from convclinic" not in body
    assert harness.widget_errors(page) == []
    assert page.console_errors == []
