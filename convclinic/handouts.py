"""Workshop handouts: every lesson executed and written as ONE self-contained HTML file.

``make handouts`` runs ``python -m convclinic.handouts build/handouts``, which

1. executes each ``notebooks/NN-*.ipynb`` with nbclient (kernel ``python3``),
   storing the widget state (cells tagged ``raises-exception`` may fail; any
   other error stops the build and names the lesson and cell);
2. writes ``NN-*.html``: nbconvert's lab template with plots embedded as data
   URIs, the widget state embedded, and the ipywidgets renderer
   (``@jupyter-widgets/html-manager``, vendored in ``convclinic/handouts_assets``)
   inlined instead of loaded from a CDN, so a handout works offline;
   each live widget carries a visible note that it is frozen (no kernel) and a
   static snapshot (readout text and last plot) shown if scripts cannot run;
3. writes ``index.html`` (links to every handout), ``manifest.json`` (what each
   handout contains, for ``tests/test_handouts.py``) and the executed notebooks;
4. prints the whole series into ``conv2d-clinic-handouts.pdf`` with Debian's
   Chromium (Playwright ``page.pdf``) when Chromium is installed (``--no-pdf``
   skips it).

The workshop path of the README points presenters here.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import html
import json
import os
import pathlib
import re
import shutil
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ASSETS = pathlib.Path(__file__).resolve().parent / "handouts_assets"
WIDGET_MANAGER_JS = ASSETS / "html-manager-embed.js"
PDF_NAME = "conv2d-clinic-handouts.pdf"
ERROR_TAG = "raises-exception"
STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
FROZEN_NOTE = (
    "Interactive widget, frozen at the moment this handout was built: its controls "
    "do not recompute here (there is no Python kernel behind a handout). Run the notebook "
    "(<code>make lab</code>) or the playground (<code>make playground</code>) to use it."
)
CSS = """
.convclinic-handout-banner { margin: 12px auto; padding: 8px 14px; max-width: 1100px;
  border: 1px solid #0072B2; background: #eef6fb; font-family: sans-serif; font-size: 0.9em; }
.convclinic-frozen-note { font-family: sans-serif; font-size: 0.85em; color: #444;
  border-left: 4px solid #E69F00; padding: 2px 8px; margin: 4px 0; }
.convclinic-widget-snapshot { border: 1px dashed #999; padding: 6px; }
.convclinic-widget-snapshot pre { white-space: pre-wrap; }
/* once the embedded widget manager has rendered the live view, hide the static snapshot */
.widget-subarea:not(:empty) ~ .convclinic-widget-snapshot { display: none; }
.convclinic-page-break { break-before: page; }
@media print { .convclinic-handout-banner { break-inside: avoid; } }
"""


def lessons(notebooks=NOTEBOOKS):
    """The lesson notebooks, in order: ``notebooks/NN-*.ipynb`` (the playground is not a lesson)."""
    return sorted(pathlib.Path(notebooks).glob("[0-9][0-9]-*.ipynb"))


class HandoutError(RuntimeError):
    """A lesson failed where it should not (an error in a cell not tagged raises-exception)."""


def execute(path, timeout=600):
    """Run a lesson top to bottom like a learner would; return the executed notebook.

    Widget state is stored in the notebook metadata (nbclient ``store_widget_state``).
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = pathlib.Path(path)
    notebook = nbformat.read(path, as_version=4)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        raise HandoutError(f"{path.name}: a cell not tagged {ERROR_TAG!r} failed:\n{error}") from error
    return notebook


def unintended_errors(notebook):
    """``(cell index, ename)`` of every error output in a cell NOT tagged raises-exception."""
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or ERROR_TAG in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append((index, output.get("ename")))
    return found


def headings(notebook):
    """The markdown headings of a notebook as plain text (``#``/``##``... lines, markup dropped)."""
    found = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        in_fence = False
        for line in cell.source.splitlines():
            if line.lstrip().startswith("```"):
                in_fence = not in_fence
            match = None if in_fence else re.match(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if match:
                found.append(plain_heading(match.group(2)))
    return found


def plain_heading(text):
    """Heading markdown as the text a browser shows (backticks, emphasis, links dropped)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("`", "").replace("**", "").replace("__", "")
    text = re.sub(r"(?<!\w)\*(\S[^*]*)\*", r"\1", text)
    return " ".join(text.split())


# ------------------------------------------------------------------ widget snapshots


def _widget_state(notebook):
    return notebook.metadata.get("widgets", {}).get(STATE_MIME, {}).get("state", {})


def _children_ids(model_state):
    """Model ids referenced from a widget's state (``IPY_MODEL_<id>`` strings)."""
    found = []

    def walk(value):
        if isinstance(value, str) and value.startswith("IPY_MODEL_"):
            found.append(value[len("IPY_MODEL_"):])
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(model_state.get("state", {}))
    return found


def snapshot_html(model_id, state):
    """A static picture of a widget tree: the texts of its HTML/Label widgets and its images.

    Shown when scripts cannot run; hidden by CSS once the live view rendered.
    """
    parts, seen, stack = [], set(), [model_id]
    while stack:
        current = stack.pop(0)
        if current in seen or current not in state:
            continue
        seen.add(current)
        model = state[current]
        name = model.get("model_name", "")
        values = model.get("state", {})
        classes = values.get("_dom_classes", [])
        if name == "ImageModel":
            for buffer in model.get("buffers", []):
                if buffer.get("path") == ["value"] and buffer.get("encoding") == "base64":
                    image_format = values.get("format", "png")
                    parts.append(
                        f'<img class="convclinic-snapshot-plot" alt="last rendered plot" '
                        f'src="data:image/{image_format};base64,{buffer["data"]}">'
                    )
        elif name in ("HTMLModel", "LabelModel") and values.get("value"):
            if any(str(c).startswith("convclinic-") for c in classes) or name == "LabelModel":
                text = re.sub(r"<[^>]+>", "", str(values["value"]))
                parts.append(f"<pre>{html.escape(html.unescape(text))}</pre>")
        elif values.get("description") and "value" in values and not name.startswith("Layout"):
            parts.append(
                f"<div>{html.escape(str(values['description']))}: "
                f"{html.escape(str(values['value']))}</div>"
            )
        stack.extend(_children_ids(model))
    return (
        '<div class="convclinic-widget-snapshot"><em>Snapshot of the widget at build time.</em>'
        + "".join(parts) + "</div>"
    )


_VIEW_SCRIPT = re.compile(
    r'(<script type="' + re.escape(VIEW_MIME) + r'">\s*(\{.*?\})\s*</script>)', re.DOTALL
)


def _decorate_widget_views(page, state):
    """Put the frozen-widget note before and a static snapshot after every widget view."""

    def replace(match):
        try:
            model_id = json.loads(match.group(2))["model_id"]
        except (ValueError, KeyError):
            return match.group(1)
        return (
            f'<div class="convclinic-frozen-note">{FROZEN_NOTE}</div>'
            + match.group(1)
            + snapshot_html(model_id, state)
        )

    return _VIEW_SCRIPT.sub(replace, page)


# ------------------------------------------------------------------ HTML


def to_html(notebook, title, banner):
    """The self-contained HTML page of an executed notebook."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="handout", extra_template_basedirs=[str(ASSETS)], embed_images=True,
    )
    resources = {
        "metadata": {"name": title},
        "convclinic": {
            "widget_manager_js": WIDGET_MANAGER_JS.read_text(),
            "css": CSS,
            "banner": banner,
        },
    }
    page, _ = exporter.from_notebook_node(notebook, resources=resources)
    return _decorate_widget_views(page, _widget_state(notebook))


def external_references(page):
    """``src``/``href`` of ``<script>``, ``<link>`` and CSS ``@import``/``url()`` that point at http(s)."""
    found = re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']?(https?://[^\"'\s>]+)", page, re.I)
    found += re.findall(r"<link[^>]*\bhref\s*=\s*[\"']?(https?://[^\"'\s>]+)", page, re.I)
    found += re.findall(r"@import\s+(?:url\()?[\"']?(https?://[^\"')\s;]+)", _without_comments(page))
    return found


def _without_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)


def _title(notebook, path):
    for heading in headings(notebook)[:1]:
        return heading
    return path.stem


def combined(notebooks):
    """One notebook holding every lesson in turn (page breaks between), for the PDF."""
    import nbformat

    series = nbformat.v4.new_notebook()
    series.metadata = copy.deepcopy(notebooks[0].metadata)
    state = {}
    for index, notebook in enumerate(notebooks):
        if index:
            series.cells.append(
                nbformat.v4.new_markdown_cell('<div class="convclinic-page-break"></div>')
            )
        for cell in copy.deepcopy(notebook.cells):
            if "id" in cell:
                cell["id"] = f"lesson{index:02d}-{cell['id']}"[:64]
            series.cells.append(cell)
        state.update(_widget_state(notebook))
    if state:
        series.metadata["widgets"] = {
            STATE_MIME: {"version_major": 2, "version_minor": 0, "state": state}
        }
    else:
        series.metadata.pop("widgets", None)
    return series


# ------------------------------------------------------------------ PDF


#: Chromium flags for a machine without network (docs/pitfalls.md, "Browsers").
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium():
    """The Chromium executable (Debian's package), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def print_pdf(html_path, pdf_path, timeout_ms=60_000):
    """Print an HTML handout to PDF with Debian's Chromium (headless, through Playwright).

    Waits until the embedded widget manager has rendered every widget view.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(pathlib.Path(html_path).resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                f"""() => document.querySelectorAll('script[type="{VIEW_MIME}"]').length ===
                       document.querySelectorAll('.widget-subarea:not(:empty)').length""",
                timeout=timeout_ms,
            )
            page.pdf(path=str(pdf_path), format="A4", print_background=True,
                     margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
        finally:
            browser.close()


# ------------------------------------------------------------------ build


def build(out_dir, paths=None, pdf=True, log=print):
    """Execute every lesson and write the handouts into ``out_dir``; return the manifest."""
    import nbformat

    out_dir = pathlib.Path(out_dir)
    (out_dir / "executed").mkdir(parents=True, exist_ok=True)
    paths = [pathlib.Path(p) for p in (paths or lessons())]
    if not paths:
        raise HandoutError(f"no lessons found in {NOTEBOOKS}")
    built = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    manifest = {"built": built, "lessons": [], "pdf": None}
    executed = []
    for path in paths:
        start = time.perf_counter()
        notebook = execute(path)
        errors = unintended_errors(notebook)
        if errors:
            raise HandoutError(f"{path.name}: error output in untagged cells {errors}")
        title = _title(notebook, path)
        banner = (
            f"Conv2D Clinic handout: <strong>{html.escape(path.name)}</strong>, executed "
            f"{built}. Plots are embedded pictures; widgets show their state at build time."
        )
        page = to_html(notebook, title, banner)
        html_path = out_dir / f"{path.stem}.html"
        html_path.write_text(page)
        nbformat.write(notebook, out_dir / "executed" / path.name)
        executed.append(notebook)
        manifest["lessons"].append({
            "notebook": f"notebooks/{path.name}",
            "html": html_path.name,
            "title": title,
            "headings": headings(notebook),
            "widget_views": len(_VIEW_SCRIPT.findall(page)),
            "seconds": round(time.perf_counter() - start, 1),
        })
        log(f"{path.name}: {html_path} ({time.perf_counter() - start:.1f} s)")
    links = "".join(
        f'<li><a href="{html.escape(item["html"])}">{html.escape(item["title"])}</a></li>'
        for item in manifest["lessons"]
    )
    pdf_link = f'<p><a href="{PDF_NAME}">The whole series as one PDF</a></p>' if pdf else ""
    (out_dir / "index.html").write_text(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Conv2D Clinic "
        f"handouts</title></head><body><h1>Conv2D Clinic handouts</h1><p>Built {built}.</p>"
        f"<ol>{links}</ol>{pdf_link}</body></html>\n"
    )
    if pdf:
        if chromium() is None:
            log("PDF skipped: Chromium is missing (`make system-deps` installs it).")
        else:
            series_html = out_dir / "series.html"
            series_html.write_text(to_html(combined(executed), "Conv2D Clinic", "Conv2D Clinic: "
                                           f"all lessons, executed {built}."))
            print_pdf(series_html, out_dir / PDF_NAME)
            manifest["pdf"] = PDF_NAME
            log(f"PDF: {out_dir / PDF_NAME}")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default="build/handouts")
    parser.add_argument("notebooks", nargs="*", help="lessons to build (default: all)")
    parser.add_argument("--no-pdf", action="store_true", help="skip the PDF of the series")
    args = parser.parse_args(argv)
    try:
        build(args.out_dir, args.notebooks or None, pdf=not args.no_pdf)
    except HandoutError as error:
        print(f"handouts: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
