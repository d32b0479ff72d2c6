"""Shared by the feedback, re-grade and exchange tests: a small class of 01-channel-axis graded by
the real ``convclinic grade``, manual grades written through nbgrader's Gradebook API (as
formgrader writes them), and the hidden-test text of the masters to look for in every page."""

from __future__ import annotations

import ast
import html
import json
import os
import subprocess
import sys

import nbformat

from tests.conftest import ROOT
from tests.fixtures.submissions import matrix

CLI = [sys.executable, "-m", "convclinic.cli"]
NBGRADER = os.path.join(os.path.dirname(sys.executable), "nbgrader")
ASSIGNMENT = matrix.ASSIGNMENT
NOTEBOOK = matrix.NOTEBOOK.removesuffix(".ipynb")
MANUAL_ID = "ex01-explain"
COURSE_ID = "conv2d-clinic"


def run(command, cwd=ROOT, env=None, timeout=900):
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def grade(submissions, out, *extra):
    return run([*CLI, "grade", str(submissions), "--out", str(out), "--workers", "2", "--timeout", "60",
                "--assignment", ASSIGNMENT, *extra])


def gradebook(course):
    from nbgrader.api import Gradebook

    return Gradebook("sqlite:///" + str(course / "gradebook.db"), COURSE_ID)


def review(course, student, score, comment):
    """What a TA does in formgrader: a manual score, the cell marked graded, a comment."""
    with gradebook(course) as book:
        grade_row = book.find_grade(MANUAL_ID, NOTEBOOK, ASSIGNMENT, student)
        grade_row.manual_score = score
        grade_row.needs_manual_grade = False
        book.find_comment(MANUAL_ID, NOTEBOOK, ASSIGNMENT, student).manual_comment = comment
        book.db.commit()


def manual_state(course, student):
    with gradebook(course) as book:
        grade_row = book.find_grade(MANUAL_ID, NOTEBOOK, ASSIGNMENT, student)
        comment = book.find_comment(MANUAL_ID, NOTEBOOK, ASSIGNMENT, student)
        return grade_row.manual_score, grade_row.needs_manual_grade, comment.manual_comment


def hidden_texts(master_path=ROOT / "solutions" / ASSIGNMENT / matrix.NOTEBOOK):
    """Every text that must never reach a student: the hidden block markers, each line of every
    hidden block, and the literal hidden cases (whole lists, and each case of three or more
    values), as written and HTML-escaped."""
    texts = {"BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "check.hidden("}
    for cell in nbformat.read(str(master_path), as_version=4).cells:
        if "BEGIN HIDDEN TESTS" not in cell.source:
            continue
        block = cell.source.split("BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS", 1)[0]
        for line in block.splitlines():
            if line.strip():
                texts.add(line.strip())
                call = ast.parse(line.strip()).body[0].value
                cases = ast.literal_eval(call.args[1])
                texts.add(json.dumps(cases))
                texts.update(json.dumps(case) for case in cases if len(case) >= 3)
    assert len(texts) > 10, texts
    return texts | {html.escape(text) for text in texts}


def leaks(page_text, texts):
    return sorted(text for text in texts if text in page_text)


def add_bookkeeping(folder, secret):
    """The files `nbgrader collect` leaves beside a submitted notebook."""
    (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text(secret)
