"""Fixtures of the browser tests: Debian's Chromium, JupyterLab and Voila on 127.0.0.1.

Servers and browser are session-scoped (JupyterLab takes seconds to start);
each test gets fresh pages and a screenshot in artifacts/<test>.png.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

from tests.browser import harness
from tests.conftest import require_command


@pytest.fixture(scope="session")
def chromium_executable():
    return require_command("chromium", "the browser tests drive Debian's Chromium")


@pytest.fixture(scope="module")
def browser(chromium_executable):
    """Chromium for one test module. Module scope on purpose: Playwright's sync API keeps an
    event loop in this thread while it is open, which breaks in-process asyncio users (nbclient,
    another sync_playwright) in later test modules."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = harness.launch_chromium(playwright, chromium_executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def lab():
    """JupyterLab serving the repository (autosave off); fails the run if a notebook got outputs."""
    started = time.time()
    server = harness.start_lab()
    yield server
    server.stop()
    saved = harness.notebooks_with_outputs(started)
    assert saved == [], f"the browser tests saved outputs into {saved}"


@pytest.fixture(scope="session")
def voila():
    server = harness.start_voila("notebooks/playground.ipynb")
    yield server
    server.stop()


@pytest.fixture
def new_page(browser, request):
    """Pages for this test; each is screenshotted into artifacts/ when the test ends."""
    pages = []

    def make(width=1400, height=1000):
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.console_errors = []
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        pages.append(page)
        return page

    yield make
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    for index, page in enumerate(pages):
        if not page.is_closed():
            harness.screenshot(page, name if index == 0 else f"{name}-{index}")
        page.context.close()


def direct_keras(height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3, strides=1,
                 dilation_rate=1, padding="valid", data_format="channels_last"):
    """What a Keras Conv2D called directly in this process does: an output shape or the exception."""
    from convclinic.runtime import import_keras

    keras = import_keras()
    shape = ((batch, channels, height, width) if data_format == "channels_first"
             else (batch, height, width, channels))
    x = np.ones(shape, dtype="float32")
    try:
        layer = keras.layers.Conv2D(
            filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
            dilation_rate=dilation_rate, name="conv2d",
        )
        return tuple(int(v) for v in layer(x).shape)
    except Exception as error:  # noqa: BLE001 - the error IS the expected result
        return error


def expected_readout(outcome):
    """``(matches(normalized_text), description)`` for the readout of a direct Keras outcome."""
    from convclinic.runtime import clean_message

    if isinstance(outcome, tuple):
        text = f"Output shape: {outcome}"
        return (lambda shown: shown == text), text
    kind = type(outcome).__name__
    message = harness.normalize(clean_message(outcome))
    pattern = re.compile(rf"^{re.escape(kind)} \(at (construct|build|call)\): {re.escape(message)}$")
    return (lambda shown: bool(pattern.match(shown))), f"{kind} (at ...): {message}"


# The playground walk both JupyterLab (lesson 00) and Voila (playground.ipynb) go through:
# (what the step shows, [(control label, kind, value), ...]); the last two fail in Keras.
PLAYGROUND_STEPS = [
    ("kernel size 5", [("kernel size", "slider", 5)]),
    ("stride 2", [("stride", "slider", 2)]),
    ("same padding", [("padding", "dropdown", "same")]),
    ("input 17 x 23", [("input height", "slider", 17), ("input width", "slider", 23)]),
    ("channels_first", [("data format", "dropdown", "channels_first")]),
    ("kernel 9 on a 5-pixel-high input, valid (fails at build)",
     [("data format", "dropdown", "channels_last"), ("padding", "dropdown", "valid"),
      ("kernel size", "slider", 9), ("input height", "slider", 5)]),
    ("stride 2 with dilation 2 (fails at construct)",
     [("input height", "slider", 28), ("kernel size", "slider", 3), ("dilation", "slider", 2)]),
]
LABEL_TO_SETTING = {
    "input height": "height", "input width": "width", "channels": "channels", "batch size": "batch",
    "filters": "filters", "kernel size": "kernel_size", "stride": "strides",
    "dilation": "dilation_rate", "padding": "padding", "data format": "data_format",
}
LESSON00_START = dict(height=28, width=28, channels=1, batch=1, filters=8, kernel_size=3,
                      strides=1, dilation_rate=1, padding="valid", data_format="channels_last")


def check_readout(root, settings, step):
    """Wait for the page's readout to show what a direct Keras call gives for ``settings``."""
    outcome = direct_keras(**settings)
    matches, wanted = expected_readout(outcome)
    shown = harness.wait_readout(root, matches)
    assert matches(harness.normalize(shown)), (
        f"step {step!r}: the page shows\n  {harness.normalize(shown)!r}\n"
        f"but Keras called directly with {settings} gives\n  {wanted!r}"
    )
    if isinstance(outcome, tuple):
        # the rule is a separate widget, updated just after the readout: poll it too
        wanted_rule = f"Predicted output shape: {outcome}"
        rule_box = root.locator(harness.RULE).first
        deadline = time.monotonic() + 30
        while True:
            rule = harness.normalize(rule_box.inner_text())
            if rule.endswith(wanted_rule) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert rule.endswith(wanted_rule), (step, rule)
    return outcome


def walk_playground(root, start=LESSON00_START, steps=PLAYGROUND_STEPS):
    """Move the controls through ``steps`` in the page, checking the readout after each step."""
    settings = dict(start)
    outcomes = [check_readout(root, settings, "initial")]
    for step, changes in steps:
        for label, kind, value in changes:
            if kind == "slider":
                harness.set_slider(root, label, value)
                assert harness.slider_value(root, label) == str(value), (step, label)
            else:
                harness.select(root, label, value)
            settings[LABEL_TO_SETTING[label]] = value
        outcomes.append(check_readout(root, settings, step))
    failures = [o for o in outcomes if isinstance(o, Exception)]
    assert len(failures) == 2, f"the walk should include two Keras failures, got {outcomes}"
    return outcomes
