"""The course in a real JupyterLab, driven through Chromium.

The playground (``notebooks/playground.ipynb``) is run with Run > Run All Cells, then its
controls are moved in the page; after every move the readout in the DOM must equal what a
Keras Conv2D called directly in this test process gives, including settings where Keras
raises (the page must show the real error text).

The lessons are executed once per test session (the handouts build, see
``tests/notebooks/test_lessons_execute.py``); here JupyterLab opens those executed copies
and must show them with no failing cell and no widget-manager error, without running the
lessons a second time.
"""

from __future__ import annotations

import pathlib
import re
import shutil

import pytest

from tests.browser import harness
from tests.browser.conftest import walk_playground

pytestmark = pytest.mark.browser

PLAYGROUND = "notebooks/playground.ipynb"
EXECUTED = harness.ROOT / "build" / "lab-executed-lessons"


def test_playground_in_jupyterlab_matches_keras(lab, new_page):
    page = new_page()
    harness.open_notebook(page, lab, PLAYGROUND)
    harness.run_all_cells(page)
    assert harness.failed_cells(page) == []
    explorers = page.locator(".convclinic-explorer")
    assert explorers.count() >= 1, "the playground shows no ConvExplorer after Run All"
    root = harness.explorer_root(page, explorers.count() - 1)
    root.scroll_into_view_if_needed()
    walk_playground(root)
    assert harness.widget_errors(page) == []
    harness.close_notebook(page, lab)


def test_nbgrader_extension_is_loaded_in_jupyterlab(lab, new_page):
    """nbgrader's lab extension: its menu, its panels, and the Validate button on notebooks."""
    page = new_page()
    page.goto(lab.url("lab/tree/exercises"))
    menu = page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Nbgrader$"))
    menu.wait_for(timeout=60_000)
    menu.click()
    items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
    for label in ("Assignment List", "Course List", "Formgrader"):
        assert label in items, f"nbgrader menu lacks {label!r}: {items}"
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Assignment List$")).click()
    tab = page.locator(".lm-TabBar-tabLabel").filter(has_text=re.compile(r"^Assignments$"))
    tab.wait_for(timeout=30_000)
    assert harness.widget_errors(page) == []
    harness.close_notebook(page, lab)


@pytest.fixture(scope="module")
def executed_lessons(tmp_path_factory):
    """The session's executed lessons, copied where JupyterLab (root: the repository) sees them."""
    out_dir, manifest = harness.handouts_built(tmp_path_factory.getbasetemp())
    shutil.rmtree(EXECUTED, ignore_errors=True)
    EXECUTED.mkdir(parents=True)
    paths = []
    for item in manifest["lessons"]:
        name = item["notebook"].split("/")[-1]
        shutil.copy(out_dir / "executed" / name, EXECUTED / name)
        paths.append((EXECUTED / name).relative_to(harness.ROOT).as_posix())
    yield paths
    shutil.rmtree(EXECUTED, ignore_errors=True)


def test_executed_lessons_render_in_jupyterlab_without_widget_errors(lab, new_page, executed_lessons):
    """Every executed lesson opened in JupyterLab tabs (outputs from the session's one execution):
    no failing untagged cell and no widget-manager error. JupyterLab does not render widget views
    from saved state without their kernel, so the readouts themselves are checked in the executed
    notebooks (tests/notebooks) and rendered offline in Chromium (test_handouts_offline)."""
    assert len(executed_lessons) >= 7, executed_lessons
    with_explorers = [path for path in executed_lessons
                      if "ConvExplorer" in (harness.ROOT / path).read_text()]
    assert with_explorers, "no lesson builds a ConvExplorer"
    page = new_page()
    harness.open_in_tabs(page, lab, executed_lessons)
    problems = {}
    for lesson in executed_lessons:
        harness.activate_tab(page, lesson)
        report = harness.tab_report(page, lesson)
        harness.screenshot(page, f"lab-{pathlib.PurePosixPath(lesson).stem}")
        wrong = {key: report[key] for key in ("failed_cells", "widget_errors") if report[key]}
        bad_readouts = [
            text for text in report["readouts"]
            if not re.match(r"(Output shape: \(|\w+ \(at \w+\): )", text)
        ]
        if bad_readouts:
            wrong["readouts"] = bad_readouts
        if wrong:
            problems[lesson] = wrong
    assert problems == {}
    harness.close_notebook(page, lab)
