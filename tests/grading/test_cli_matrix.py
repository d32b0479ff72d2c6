"""``convclinic grade`` on the whole fixture matrix, in ONE batch (2 workers), asserted per row.

The matrix (tests/fixtures/submissions/matrix.py) is built from the real master and
release of 01-channel-axis: every robustness case and every attack is one student,
named after its case, with its exact expected score and status. The batch runs the
real CLI, which runs the real nbgrader, every kernel in the bubblewrap sandbox.
"""

from __future__ import annotations

import csv
import hashlib
import html
import json
import os
import pathlib
import re
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CLI = [sys.executable, "-m", "convclinic.cli"]
ASSIGNMENT = matrix.ASSIGNMENT


def run_cli(*args, timeout=1500):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=False)


def feedback_text(path):
    """The text of a feedback page as a reader sees it (tags stripped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", pathlib.Path(path).read_text()))


def tree_hashes(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(pathlib.Path(folder).rglob("*")) if p.is_file() and ".convclinic" not in p.parts}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("cli-matrix")
    submissions, out = base / "submissions", base / "out"
    state = out / ".convclinic"
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    notebook = f"{ASSIGNMENT}/{matrix.NOTEBOOK}"
    context = {
        "secrets": [ROOT / "solutions" / notebook, state / "course" / "source" / notebook,
                    state / "course" / "gradebook.db"],
        "others": [submissions / "full-solution" / notebook, state / "staged" / ASSIGNMENT / "full-solution" / matrix.NOTEBOOK],
        "state": [out / "grades.csv", out / "report.md", state / "course" / "gradebook.db",
                  state / "journal" / ASSIGNMENT / "full-solution.json"],
        "port": listener.getsockname()[1],
    }
    matrix.build(submissions, master, release, context)
    before = matrix.file_hashes(submissions)
    done = run_cli("grade", submissions, "--out", out, "--workers", 2, "--timeout", matrix.TIMEOUT,
                   "--assignment", ASSIGNMENT)
    listener.close()
    rows = list(csv.DictReader((out / "grades.csv").open()))
    hidden = json.loads((state / "course" / "master.json").read_text())["assignments"][ASSIGNMENT]["hidden_lines"]
    return {"done": done, "rows": rows, "out": out, "submissions": submissions, "before": before,
            "hidden": hidden, "context": context, "feedback": tree_hashes(out / "feedback"),
            "grades": (out / "grades.csv").read_bytes()}


def test_batch_completes_with_exit_zero_and_one_row_per_student(batch):
    """Whatever the students did, the batch completes (exit 0) with one row per student."""
    assert batch["done"].returncode == 0, batch["done"].stderr[-3000:]
    assert [row["student_id"] for row in batch["rows"]] == sorted(matrix.CASES)
    assert {row["assignment"] for row in batch["rows"]} == {ASSIGNMENT}
    assert list(batch["rows"][0]) == ["student_id", "assignment", "score", "max_score", "submitted_at",
                                      "late_penalty", "status"]


@pytest.mark.parametrize("case", sorted(matrix.CASES))
def test_case_has_its_exact_score_and_status(batch, case):
    """Each fixture case: exact score out of the assignment's maximum and exact status words."""
    _, score, status = matrix.CASES[case]
    row = next(row for row in batch["rows"] if row["student_id"] == case)
    assert (float(row["score"]), float(row["max_score"]), row["status"]) == (score, matrix.MAX, status)


def test_every_graded_row_has_its_feedback_page(batch):
    """OUT/feedback/<student>/<assignment>/<notebook>.html for every graded row, none for the others."""
    for row in batch["rows"]:
        page = batch["out"] / "feedback" / row["student_id"] / ASSIGNMENT / matrix.NOTEBOOK.replace(".ipynb", ".html")
        assert page.exists() == row["status"].startswith("graded"), row


def test_report_lists_every_problem(batch):
    """report.md names every student whose row has something to look at, with the reason."""
    report = (batch["out"] / "report.md").read_text()
    for row in batch["rows"]:
        if row["status"] not in ("graded", matrix.GRADED_MANUAL):
            assert f"### {row['student_id']} / {ASSIGNMENT}" in report
    assert "is not valid JSON" in report and f"ran past the per-cell time limit of {matrix.TIMEOUT} s" in report


def test_submissions_are_never_modified(batch):
    """The submissions folder has the same files with the same bytes after grading."""
    assert matrix.file_hashes(batch["submissions"]) == batch["before"]


@pytest.mark.parametrize("attack", sorted(matrix.ATTACKS))
def test_attack_fails_at_the_attack(batch, attack):
    """Reading the masters / another student / the grader's state, or opening a socket, fails inside
    the sandbox (the error is in the attacker's feedback), and the honest parts still score."""
    text = feedback_text(batch["out"] / "feedback" / attack / ASSIGNMENT / matrix.NOTEBOOK.replace(".ipynb", ".html"))
    assert matrix.SUCCESS_MARK not in text
    expected_error = {"attack-network": "ConnectionRefusedError"}.get(attack, "FileNotFoundError")
    assert expected_error in text


def test_network_attack_cannot_resolve_names(batch):
    """No DNS either: the second network attempt fails before any connection."""
    text = feedback_text(batch["out"] / "feedback" / "attack-network" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert "gaierror" in text


def test_grader_state_untouched_by_attacker(batch):
    """grades.csv, report.md, the journal and the gradebook were not written by the attacker."""
    for path in batch["context"]["state"]:
        assert b"hacked" not in pathlib.Path(path).read_bytes(), path
    honest = next(row for row in batch["rows"] if row["student_id"] == "full-solution")
    assert float(honest["score"]) == matrix.FULL


def test_no_feedback_contains_hidden_test_source(batch):
    """Hidden test lines appear in nobody's feedback, not even an attacker's who printed the kernel's
    whole input history (it never held them: the hidden blocks are not sent to the kernel)."""
    assert len(batch["hidden"]) >= 3
    pages = list((batch["out"] / "feedback").rglob("*.html"))
    assert len(pages) >= 15
    for page in pages:
        text = feedback_text(page)
        leaked = [line for line in batch["hidden"] if line in text or line[::-1] in text]
        assert not leaked, (page, leaked[:3])
    attacker = feedback_text(batch["out"] / "feedback" / "attack-print-hidden-tests" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert attacker.count("def as_model_input") >= 2  # its source, and the history it printed


def test_rerun_is_idempotent_and_grades_nobody_again(batch):
    """The same command again: nothing re-graded, byte-identical grades.csv and feedback."""
    again = run_cli("grade", batch["submissions"], "--out", batch["out"], "--workers", 2, "--timeout", 60,
                    "--assignment", ASSIGNMENT, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(matrix.CASES)} already done" in again.stdout and " 0 to grade" in again.stdout
    assert (batch["out"] / "grades.csv").read_bytes() == batch["grades"]
    assert tree_hashes(batch["out"] / "feedback") == batch["feedback"]
    assert not any(name.startswith("grades.csv.tmp") for name in os.listdir(batch["out"]))


def test_timeout_feedback_states_the_limit(batch):
    """The student whose cell ran too long reads the per-cell time limit in their feedback."""
    text = feedback_text(batch["out"] / "feedback" / "infinite-loop-in-one-part" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert f"this cell ran longer than the per-cell time limit of {matrix.TIMEOUT} seconds" in text
