"""The workshop handouts (`make handouts`): one self-contained HTML file per lesson, plus a PDF.

The handouts are built once per test session by running ``python -m convclinic.handouts``
(what ``make handouts`` runs). Set ``CONVCLINIC_HANDOUTS=build/handouts`` to check a
folder that ``make handouts`` has just built instead. Rendering in Chromium, offline, is
checked in ``tests/browser/test_handouts_offline.py``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser

import nbformat
import pytest

from convclinic import handouts
from tests.browser import harness
from tests.conftest import require_command

LESSONS = handouts.lessons()
pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The handout folder and its manifest (built once per session, like `make handouts`)."""
    if not LESSONS:
        pytest.fail("no lessons in notebooks/: nothing to build handouts from")
    return harness.handouts_built(tmp_path_factory.getbasetemp())


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
