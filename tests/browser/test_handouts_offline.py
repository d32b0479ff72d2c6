"""The HTML handouts in Chromium, opened from disk with the network blocked (workshop rooms)."""

from __future__ import annotations

import pathlib
import re

import pytest

from tests.browser import harness

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return harness.handouts_built(tmp_path_factory.getbasetemp())


def test_handouts_render_widgets_offline_in_chromium(browser, built):
    """Every widget view renders from the embedded state; nothing asks the network."""
    out_dir, manifest = built
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    online = []

    def block(route):
        online.append(route.request.url)
        route.abort()

    context.route(re.compile(r"^https?://"), block)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        with_views = 0
        for item in manifest["lessons"]:
            page.goto((out_dir / item["html"]).resolve().as_uri(), wait_until="load")
            if item["widget_views"]:
                with_views += 1
                page.wait_for_function(
                    "n => document.querySelectorAll('.widget-subarea:not(:empty)').length >= n",
                    arg=item["widget_views"], timeout=30_000,
                )
                readout = page.locator(harness.READOUT).first
                readout.scroll_into_view_if_needed()
                assert re.match(r"(Output shape: \(|\w+ \(at \w+\): )", readout.inner_text())
                assert not page.locator(".convclinic-widget-snapshot").first.is_visible()
                assert page.locator(".convclinic-frozen-note").first.is_visible()
            assert harness.widget_errors(page) == [], item["html"]
            harness.screenshot(page, f"handout-{pathlib.Path(item['html']).stem}")
        assert with_views, "no handout holds a widget: the widget-state path went untested"
    finally:
        context.close()
    assert errors == []
    assert online == [], f"the handouts tried to reach the network: {online}"


def test_handout_snapshot_shows_without_javascript(browser, built):
    """With JavaScript off, each widget's static snapshot (readout text, last plot) is shown."""
    out_dir, manifest = built
    item = next(item for item in manifest["lessons"] if item["widget_views"])
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto((out_dir / item["html"]).resolve().as_uri())
        snapshot = page.locator(".convclinic-widget-snapshot").first
        assert snapshot.is_visible()
        assert re.search(r"Output shape: \(|Error \(at \w+\): ", snapshot.inner_text())
        assert snapshot.locator("img.convclinic-snapshot-plot").count() >= 1
        harness.screenshot(page, f"handout-nojs-{pathlib.Path(item['html']).stem}")
    finally:
        context.close()
