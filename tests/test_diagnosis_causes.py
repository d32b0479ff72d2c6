"""The cause vocabulary is written once, docs/causes.md is generated from it, and the
diagnosis package keeps its modules small (no TensorFlow needed here)."""

from __future__ import annotations

import ast
import pathlib

import convclinic
from convclinic.diagnosis import CAUSES, causes, classify
from convclinic.diagnosis.reference import causes_markdown

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convclinic" / "diagnosis"


def test_committed_causes_doc_is_the_generated_one():
    """Regenerate with: python -m convclinic.diagnosis.reference > docs/causes.md"""
    committed = (ROOT / "docs" / "causes.md").read_text()
    assert committed == causes_markdown(), (
        "docs/causes.md is stale: python -m convclinic.diagnosis.reference > docs/causes.md")


def test_one_vocabulary_every_cause_documented_with_an_existing_lesson():
    ids = [entry.id for entry in causes.VOCABULARY]
    assert len(ids) == len(set(ids))
    assert list(CAUSES) == ids
    assert convclinic.CAUSES is CAUSES
    for entry in causes.VOCABULARY:
        assert entry.name and entry.summary and entry.description
        if entry.id != "ok":
            assert (ROOT / causes.lesson_path(entry.id)).is_file(), entry
        assert f"| `{entry.id}` | {entry.name} |" in causes_markdown()
    assert causes.recognised("extra_axis") and not causes.recognised("unknown")
    assert not causes.recognised("ok") and not causes.recognised("no_such_cause")


def test_public_api_is_unchanged_after_every_submodule_is_imported():
    """``convclinic.diagnose`` stays the function (no submodule shadows it)."""
    import importlib

    for path in PACKAGE.glob("*.py"):
        importlib.import_module(f"convclinic.diagnosis.{path.stem}".replace(".__init__", ""))
    from convclinic.diagnosis import api

    assert convclinic.diagnose is api.diagnose and callable(convclinic.diagnose)
    assert convclinic.diagnose_error is api.diagnose_error
    assert convclinic.Report is convclinic.diagnosis.Report
    assert set(convclinic.diagnosis.__all__) == {"CAUSES", "Report", "FixNotApplicable",
                                                 "diagnose", "diagnose_error"}
    assert callable(convclinic.load_ipython_extension)


def test_the_vocabulary_is_not_written_twice():
    """The package docstring points at the vocabulary instead of repeating it."""
    for path in PACKAGE.glob("*.py"):
        if path.name == "causes.py":
            continue
        text = path.read_text()
        assert "``missing_batch_axis``\n" not in text, path


def test_precedence_in_the_doc_is_the_rule_table_order():
    doc = causes_markdown()
    positions = [doc.index(f"`{rule.__name__}` (") for rule in classify.RULES]
    assert positions == sorted(positions)
    assert len(classify.RULES) >= 15


def test_every_named_failure_has_a_rule_that_can_name_it():
    named = {cause for rule in classify.RULES for cause in rule.causes}
    assert named <= set(CAUSES)
    assert named == set(CAUSES) - {"ok", "unknown"}


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_modules_and_functions_stay_small():
    """One idea per module: each under 450 lines, each function under 60."""
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) < 450, path
        for node in _functions(ast.parse(text)):
            length = node.end_lineno - node.lineno + 1
            assert length < 60, f"{path.name}:{node.name} has {length} lines"
