"""The workshop playground served by Voila (`make playground`), driven through Chromium."""

from __future__ import annotations

import pytest

from tests.browser import harness
from tests.browser.conftest import walk_playground

pytestmark = pytest.mark.browser

PLAYGROUND_START = dict(height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3,
                        strides=1, dilation_rate=1, padding="valid",
                        data_format="channels_last")


def test_voila_playground_matches_keras_and_shows_no_code(voila, new_page):
    page = new_page()
    page.goto(voila.url(""), timeout=180_000)
    page.wait_for_selector(harness.READOUT, timeout=180_000)
    root = harness.explorer_root(page)
    walk_playground(root, start=PLAYGROUND_START)
    # A Voila app shows outputs only: no input cells, no editor, no source text.
    assert page.locator(".jp-CodeCell").count() >= 1
    hidden_code = ".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor, .jp-InputPrompt"
    assert page.locator(hidden_code).count() == 0
    body = page.locator("body").inner_text()
    assert "ConvExplorer(" not in body and "from convclinic" not in body
    assert harness.widget_errors(page) == []
    assert page.console_errors == []
