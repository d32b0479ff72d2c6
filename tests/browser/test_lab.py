"""Lessons in a real JupyterLab, driven through Chromium.

Lesson 00 is run with Run > Run All Cells, then its playground's controls are
moved in the page; after every move the readout in the DOM must equal what a
Keras Conv2D called directly in this test process gives, including two
settings where Keras raises (the page must show the real error text).
"""

from __future__ import annotations

import pathlib
import re

import pytest

from tests.browser import harness
from tests.browser.conftest import walk_playground

pytestmark = pytest.mark.browser

LESSON00 = "notebooks/00-convolution-shapes.ipynb"
LESSONS = sorted(p.relative_to(harness.ROOT).as_posix()
                 for p in (harness.ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def test_lesson00_playground_in_jupyterlab_matches_keras(lab, new_page):
    page = new_page()
    harness.open_notebook(page, lab, LESSON00)
    harness.run_all_cells(page)
    assert harness.failed_cells(page) == []
    explorers = page.locator(".convclinic-explorer")
    assert explorers.count() >= 1, "lesson 00 shows no ConvExplorer after Run All"
    root = harness.explorer_root(page, explorers.count() - 1)  # the playground is the last one
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


def test_lessons_run_in_jupyterlab_without_widget_errors(lab, new_page):
    """Run All on every lesson (01-06) in JupyterLab tabs: no failing untagged cell, no
    widget-manager error, every ConvExplorer readout filled in."""
    lessons = [lesson for lesson in LESSONS if lesson != LESSON00]  # 00: the playground test
    assert lessons, "no lessons besides 00 in notebooks/"
    page = new_page()
    harness.open_in_tabs(page, lab, lessons)
    for lesson in lessons:
        harness.run_all_in_tab(page, lesson)
    harness.wait_all_run(page, lessons)
    page.wait_for_timeout(500)  # let the widget manager finish rendering views
    problems = {}
    for lesson in lessons:
        report = harness.tab_report(page, lesson)
        harness.activate_tab(page, lesson)
        harness.screenshot(page, f"lab-{pathlib.PurePosixPath(lesson).stem}")
        wrong = {key: report[key] for key in ("failed_cells", "widget_errors") if report[key]}
        bad_readouts = [
            text for text in report["readouts"]
            if not re.match(r"(Output shape: \(|\w+ \(at \w+\): )", text)
        ]
        if bad_readouts:
            wrong["readouts"] = bad_readouts
        if report["widget_outputs"] and not report["rendered_widgets"]:
            wrong["widgets"] = "widget outputs present but nothing rendered"
        if wrong:
            problems[lesson] = wrong
    assert problems == {}
    harness.close_notebook(page, lab)
