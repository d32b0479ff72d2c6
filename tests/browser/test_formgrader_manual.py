"""Manual grading in nbgrader's real formgrader, through Chromium, then ``convclinic feedback``.

A class of two (01-channel-axis, built from the master in solutions/) is graded by the real
``convclinic grade``; the real formgrader is started on that course (as ``make formgrader`` does,
tests.browser.harness.start_formgrader) on a free loopback port. In the page a TA goes to
Manual Grading > the assignment > the notebook > Show All Names > one student, and types a score
and a comment into the inputs formgrader shows for the explanation cell (``ex01-explain``). A
separate read of the gradebook through nbgrader's Gradebook API must then hold the score and the
comment with the cell no longer waiting for review (and the other student's cell untouched), and
the page ``convclinic feedback`` writes for the student must show both.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import harness
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.grading import feedback_support as support

pytestmark = [pytest.mark.browser, pytest.mark.grading, pytest.mark.slow]

GRADED, WAITING = "correct-but-different", "partly-wrong"
SCORE = 0.5
COMMENT = "Right axis, but say why: Keras adds the trailing channel axis only inside a model."


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("formgrader-manual")
    submissions, out = base / "submissions", base / "out"
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / support.ASSIGNMENT)
    matrix.build(submissions, master, release, {}, [GRADED, WAITING])
    support.grade(submissions, out)
    server = harness.start_formgrader(out / "course")
    yield {"out": out, "root": out / "course", "server": server}
    server.stop()


def grade_in_formgrader(page, server):
    """Manual Grading > assignment > notebook > the student, as a TA clicks through formgrader."""
    page.goto(server.url("formgrader"))
    page.get_by_role("link", name="Manual Grading", exact=True).first.click()
    page.locator("#main-table").get_by_role("link", name=support.ASSIGNMENT, exact=True).click()
    page.wait_for_url(re.compile(rf"/formgrader/gradebook/{support.ASSIGNMENT}/?$"))
    page.locator("#main-table").get_by_role("link", name=support.NOTEBOOK, exact=True).click()
    page.wait_for_url(re.compile(rf"/formgrader/gradebook/{support.ASSIGNMENT}/{support.NOTEBOOK}/?$"))
    # names are hidden ("Submission #1"); the rows are drawn by script, then the names shown
    student = page.locator("#main-table a.name-shown", has_text=re.compile(rf"^{GRADED}$"))
    student.wait_for(state="attached")
    page.get_by_role("button", name="Show All Names").click()
    student.click()
    page.wait_for_url(re.compile(r"/formgrader/submissions/[0-9a-f]+/?$"))

    score = page.locator(f"input.score#{support.MANUAL_ID}")
    comment = page.locator(f"textarea#{support.MANUAL_ID}-comment")
    # formgrader draws the cell's state by script once its grades are fetched from the API
    # (formgrade_models.js adds the class then): wait for it, up to the page's default timeout;
    # a cell that never shows as waiting fails here
    page.wait_for_function(
        "id => document.getElementById(id)?.classList.contains('needs_manual_grade')",
        arg=support.MANUAL_ID)

    def saved(kind):
        return lambda response: (f"/formgrader/api/{kind}/" in response.url
                                 and response.request.method == "PUT")

    with page.expect_response(saved("grade")) as grade_response:
        score.fill(str(SCORE))
        score.press("Tab")  # formgrader saves on the input's change event
    with page.expect_response(saved("comment")) as comment_response:
        comment.fill(COMMENT)
        comment.press("Tab")
    assert grade_response.value.status == 200 and comment_response.value.status == 200
    # the page re-renders from the saved grade: no longer highlighted as waiting
    page.wait_for_function(
        "id => !document.getElementById(id).classList.contains('needs_manual_grade')",
        arg=support.MANUAL_ID)
    shot = harness.screenshot(page, "formgrader-manual-grade")
    assert shot.is_file()


def test_score_and_comment_typed_in_formgrader_reach_gradebook_and_feedback(course, new_page):
    page = new_page()
    assert support.manual_state(course["root"], GRADED) == (None, True, None)
    grade_in_formgrader(page, course["server"])
    # formgrader's submission page loads MathJax from a CDN (nbconvert's mathjax macro): on a
    # closed network that one script is missing; any other script error fails the test
    assert [e for e in page.console_errors if e != "MathJax is not defined"] == []

    # a separate read of the gradebook, through nbgrader's own API
    assert support.manual_state(course["root"], GRADED) == (SCORE, False, COMMENT)
    assert support.manual_state(course["root"], WAITING) == (None, True, None)
    with support.gradebook(course["root"]) as book:
        notebook = book.find_submission_notebook(support.NOTEBOOK, support.ASSIGNMENT, GRADED)
        assert notebook.needs_manual_grade is False
        assert notebook.score == matrix.FULL + SCORE

    support.run([*support.CLI, "feedback", "--out", str(course["out"]), "--student", GRADED])
    feedback = course["root"] / "feedback" / GRADED / support.ASSIGNMENT / f"{support.NOTEBOOK}.html"
    html = feedback.read_text()
    assert f"Written response</a> (Score: {SCORE} / 1.0)" in html
    assert f"(Score: {matrix.FULL + SCORE} / 8.0)" in html
    assert COMMENT in html
    assert support.leaks(html, support.hidden_texts()) == []

    # and as the student sees it, in the browser
    page.goto(feedback.as_uri(), wait_until="domcontentloaded")
    shown = harness.normalize(page.locator("body").inner_text())
    assert f"Written response (Score: {SCORE} / 1.0)" in shown
    assert COMMENT in shown
