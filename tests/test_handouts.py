"""The workshop handouts (`make handouts`): one self-contained HTML file per lesson, plus a PDF.

The handouts are built once for this module (every lesson executed through
nbclient, as ``convclinic.handouts`` does). Set ``CONVCLINIC_HANDOUTS=build/handouts``
to check a folder that ``make handouts`` has just built instead.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import pathlib
import re
from html.parser import HTMLParser

import nbformat
import pytest

from convclinic import handouts
from tests.conftest import require_command

LESSONS = handouts.lessons()
pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The handout folder and its manifest (built now unless CONVCLINIC_HANDOUTS names one)."""
    if not LESSONS:
        pytest.fail("no lessons in notebooks/: nothing to build handouts from")
    given = os.environ.get("CONVCLINIC_HANDOUTS")
    if given:
        out_dir = pathlib.Path(given)
        manifest = json.loads((out_dir / "manifest.json").read_text())
    else:
        out_dir = tmp_path_factory.mktemp("handouts")
        manifest = handouts.build(out_dir, pdf=handouts.chromium() is not None, log=lambda *_: None)
    return out_dir, manifest


def _page(out_dir, lesson):
    return (out_dir / f"{lesson.stem}.html").read_text()


def _without_scripts(page):
    """The page minus inline scripts (the inlined widget manager is 1.9 MB of JavaScript)."""
    return re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.DOTALL | re.IGNORECASE)


class _Headings(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self._depth, self._text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if re.fullmatch(r"h[1-6]", tag):
            self._depth += 1
            self._text = []
        elif tag == "a" and self._depth and ("class", "anchor-link") in attrs:
            self._depth += 100  # skip the pilcrow anchor nbconvert adds

    def handle_endtag(self, tag):
        if tag == "a" and self._depth > 100:
            self._depth -= 100
        elif re.fullmatch(r"h[1-6]", tag) and self._depth:
            self._depth -= 1
            self.found.append(" ".join("".join(self._text).split()))

    def handle_data(self, data):
        if 0 < self._depth < 100:
            self._text.append(data)


def test_every_lesson_has_a_handout(built):
    out_dir, manifest = built
    assert [item["notebook"] for item in manifest["lessons"]] == [
        f"notebooks/{path.name}" for path in LESSONS
    ]
    index = (out_dir / "index.html").read_text()
    for lesson in LESSONS:
        assert (out_dir / f"{lesson.stem}.html").is_file(), f"no handout for {lesson.name}"
        assert f'href="{lesson.stem}.html"' in index


@pytest.mark.parametrize("lesson", LESSONS, ids=[path.stem for path in LESSONS])
def test_handout_has_the_lessons_headings(built, lesson):
    """Every heading of the lesson's markdown is a heading of the handout, in order."""
    out_dir, _ = built
    expected = handouts.headings(nbformat.read(lesson, as_version=4))
    assert expected, f"{lesson.name} has no markdown headings"
    parser = _Headings()
    parser.feed(_without_scripts(_page(out_dir, lesson)))
    shown = iter(html.unescape(text) for text in parser.found)
    missing = [heading for heading in expected if heading not in shown]  # in order
    assert missing == [], f"{lesson.name}: headings missing from the handout (or out of order)"


@pytest.mark.parametrize("lesson", LESSONS, ids=[path.stem for path in LESSONS])
def test_handout_embeds_every_plot(built, lesson):
    """Each picture the executed lesson produced is an <img> with a data URI in the handout."""
    out_dir, _ = built
    page = _page(out_dir, lesson)
    executed = nbformat.read(out_dir / "executed" / lesson.name, as_version=4)
    pictures = [
        output["data"]["image/png"]
        for cell in executed.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    images = re.findall(r'<img\b[^>]*\bsrc="data:image/(?:png|jpeg|svg\+xml);base64,([^"]+)"', page)
    assert len(images) >= len(pictures)
    for picture in pictures:
        data = picture.replace("\n", "")
        base64.b64decode(data, validate=True)
        assert data in images, f"{lesson.name}: a plot of the executed lesson is not embedded"
    assert not re.search(r'<img\b[^>]*\bsrc="(?!data:)', page), "an <img> points at a file"
    views = len(re.findall(r'<script type="application/vnd\.jupyter\.widget-view\+json">', page))
    if views:
        assert 'type="application/vnd.jupyter.widget-state+json"' in page, "widget state missing"
        assert page.count('class="convclinic-frozen-note"') == views
        assert page.count('class="convclinic-widget-snapshot"') == views


@pytest.mark.parametrize("lesson", LESSONS, ids=[path.stem for path in LESSONS])
def test_handout_shows_errors_only_where_the_lesson_means_them(built, lesson):
    """Tracebacks appear only in cells tagged raises-exception (executed notebook and HTML)."""
    out_dir, _ = built
    executed = nbformat.read(out_dir / "executed" / lesson.name, as_version=4)
    assert handouts.unintended_errors(executed) == []
    cells = re.split(r'(?=<div class="jp-Cell )', _without_scripts(_page(out_dir, lesson)))
    for cell in cells:
        if "Traceback (most recent call last)" in cell or "ansi-red-fg\">---" in cell:
            assert "celltag_raises-exception" in cell.split(">", 1)[0], (
                f"{lesson.name}: a traceback in a cell not tagged raises-exception:\n"
                + re.sub(r"<[^>]+>", "", cell)[:800]
            )
    tagged = [c for c in executed.cells if "raises-exception" in c.metadata.get("tags", [])]
    shown = sum("Traceback (most recent call last)" in c or "ansi-red-fg\">---" in c for c in cells)
    assert shown <= len(tagged)


@pytest.mark.parametrize("lesson", LESSONS, ids=[path.stem for path in LESSONS])
def test_handout_references_nothing_online(built, lesson):
    """No <script src>, <link href> or CSS @import to http(s): the handout works offline."""
    out_dir, _ = built
    page = _page(out_dir, lesson)
    assert handouts.external_references(page) == []
    assert "require.js" not in _without_scripts(page)
    assert "cdn.jsdelivr.net" not in _without_scripts(page)


def test_external_reference_check_catches_cdn_links():
    """The offline check itself: nbconvert's default output would fail it."""
    page = (
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js">'
        '</script><link rel="stylesheet" href="https://example.org/a.css">'
        "<style>@import url('https://fonts.googleapis.com/css?family=Roboto');</style>"
    )
    assert len(handouts.external_references(page)) == 3
    assert handouts.external_references("<style>/* @import url('https://x/y.css'); */</style>") == []


def test_vendored_widget_manager_is_the_documented_file():
    """convclinic/handouts_assets/html-manager-embed.js matches the checksum in its README."""
    readme = (handouts.ASSETS / "README.md").read_text()
    expected = re.search(r"sha256\s+([0-9a-f]{64})\s+html-manager-embed\.js", readme).group(1)
    digest = hashlib.sha256(handouts.WIDGET_MANAGER_JS.read_bytes()).hexdigest()
    assert digest == expected
    assert "</script" not in handouts.WIDGET_MANAGER_JS.read_text().lower()


def test_series_pdf_has_every_lesson(built):
    """The PDF of the whole series exists and has at least one page per lesson."""
    require_command("chromium", "prints the handouts to PDF")
    out_dir, manifest = built
    assert manifest["pdf"] == handouts.PDF_NAME
    data = (out_dir / handouts.PDF_NAME).read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages >= len(LESSONS)


@pytest.mark.browser
def test_handouts_render_widgets_offline_in_chromium(built):
    """Opened from disk with every network request blocked, each widget view renders."""
    chromium = require_command("chromium", "renders the handouts in a real browser")
    from playwright.sync_api import sync_playwright

    from tests.browser import harness

    out_dir, manifest = built
    with sync_playwright() as playwright:
        browser = harness.launch_chromium(playwright, chromium)
        try:
            context = browser.new_context()
            online = []

            def block(route):
                online.append(route.request.url)
                route.abort()

            context.route(re.compile(r"^https?://"), block)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            for item in manifest["lessons"]:
                page.goto((out_dir / item["html"]).resolve().as_uri(), wait_until="load")
                if item["widget_views"]:
                    page.wait_for_function(
                        "n => document.querySelectorAll('.widget-subarea:not(:empty)').length >= n",
                        arg=item["widget_views"], timeout=30_000,
                    )
                    assert page.locator(".convclinic-readout").first.is_visible()
                    assert not page.locator(".convclinic-widget-snapshot").first.is_visible()
                assert harness.widget_errors(page) == [], item["html"]
                harness.screenshot(page, f"handout-{pathlib.Path(item['html']).stem}")
            assert errors == []
            assert online == [], f"the handouts tried to reach the network: {online}"

            # Without JavaScript the static snapshot (readout text and plot) is what shows.
            static = browser.new_context(java_script_enabled=False).new_page()
            with_views = [item for item in manifest["lessons"] if item["widget_views"]]
            if with_views:
                static.goto((out_dir / with_views[0]["html"]).resolve().as_uri())
                snapshot = static.locator(".convclinic-widget-snapshot").first
                assert snapshot.is_visible()
                assert re.search(r"Output shape: \(|Error \(at ", snapshot.inner_text())
        finally:
            browser.close()
