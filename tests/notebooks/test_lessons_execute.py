"""Every lesson executes top to bottom, ONCE per test session, and that execution is checked.

The lessons are executed by the handouts build (``python -m convclinic.handouts``, what
``make handouts`` runs; see ``tests/browser/harness.handouts_built``), which runs each
``notebooks/NN-*.ipynb`` with nbclient in a fresh kernel and keeps the executed copies in
``<build>/executed/``. The checks below read those copies: they are the nbval checks this
course needs, and stricter ones:

- every code cell ran (nbval: the notebook runs);
- an error appears only in a cell tagged ``raises-exception`` (nbval lax);
- every cell tagged ``raises-exception`` really raised (nbval lax does not check this: a lesson
  whose "watch it fail" cell stopped failing would teach something false);
- output hygiene: no TensorFlow C++ log lines and no kernel temp paths in any output, every
  ConvExplorer readout filled in with a shape or an error.

The playground (``notebooks/playground.ipynb``) is not a lesson: the JupyterLab and Voila
browser tests execute it.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from convclinic import handouts
from tests.browser import harness
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
LESSONS = handouts.lessons()
TAG = "raises-exception"
SHOWS_LOG = "shows-tensorflow-log"
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::InitializeLog|oneDNN custom operations",
                         re.M)
KERNEL_TEMP_PATH = re.compile(r"/tmp/ipykernel_\d+")
READOUT = re.compile(r"(Output shape: \(|\w+ \(at \w+\): )")

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def test_lessons_and_playground_exist():
    """Lessons 00-07 in order, plus the playground."""
    names = [path.name for path in LESSONS]
    assert [name[:2] for name in names] == [f"{n:02d}" for n in range(len(names))], names
    assert len(names) >= 7, names
    assert (NOTEBOOKS / "playground.ipynb").is_file()


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The executed copies of every lesson (the handouts build, once per session)."""
    out_dir, manifest = harness.handouts_built(tmp_path_factory.getbasetemp())
    notebooks = {}
    for item in manifest["lessons"]:
        name = item["notebook"].split("/")[-1]
        notebooks[name] = nbformat.read(out_dir / "executed" / name, as_version=4)
    return notebooks


def _code_cells(notebook):
    return [(index, cell) for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]


def _text(output):
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "error":
        return "\n".join(output.get("traceback", []))
    return "\n".join(str(value) for key, value in output.get("data", {}).items()
                     if key.startswith("text/"))


@pytest.mark.parametrize("lesson", [path.name for path in LESSONS])
def test_lesson_executed_every_cell(executed, lesson):
    """Every code cell ran, in order (no cell was skipped by an earlier failure)."""
    assert lesson in executed, f"{lesson} was not executed by the build: {sorted(executed)}"
    counts = [cell.get("execution_count") for _, cell in _code_cells(executed[lesson])
              if cell.source.strip()]
    assert counts and None not in counts, f"{lesson}: cells that never ran: {counts}"
    assert counts == sorted(counts), f"{lesson}: cells ran out of order: {counts}"


@pytest.mark.parametrize("lesson", [path.name for path in LESSONS])
def test_errors_only_where_the_lesson_expects_them(executed, lesson):
    """An error output appears in a cell iff that cell is tagged raises-exception."""
    unexpected, silent = [], []
    for index, cell in _code_cells(executed[lesson]):
        raised = any(output.get("output_type") == "error" for output in cell.outputs)
        tagged = TAG in cell.metadata.get("tags", [])
        if raised and not tagged:
            unexpected.append((index, cell.source.splitlines()[0][:60]))
        if tagged and not raised:
            silent.append((index, cell.source.splitlines()[0][:60]))
    assert unexpected == [], f"{lesson}: untagged cells raised {unexpected}"
    assert silent == [], f"{lesson}: cells tagged {TAG!r} no longer raise: {silent}"


@pytest.mark.parametrize("lesson", [path.name for path in LESSONS])
def test_outputs_are_clean(executed, lesson):
    """No TensorFlow C++ log line and no per-run kernel temp path in any output (cells tagged
    shows-tensorflow-log print TensorFlow's lines on purpose)."""
    noisy = []
    for index, cell in _code_cells(executed[lesson]):
        if SHOWS_LOG in cell.metadata.get("tags", []):
            continue  # lesson 05 prints TensorFlow's stderr lines on purpose, to teach them
        for output in cell.outputs:
            text = _text(output)
            if TF_LOG_LINE.search(text) or KERNEL_TEMP_PATH.search(text):
                noisy.append((index, text.strip().splitlines()[0][:100]))
    assert noisy == [], f"{lesson}: noisy outputs {noisy}"


def _readouts(notebook):
    state = notebook.metadata.get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [model["state"].get("value", "") for model in state.values()
            if "convclinic-readout" in json.dumps(model["state"].get("_dom_classes", []))]


@pytest.mark.parametrize("lesson", [path.name for path in LESSONS])
def test_every_explorer_readout_is_filled(executed, lesson):
    """Widget state saved by the execution: each ConvExplorer readout shows a shape or an error."""
    source = "".join(cell.source for cell in executed[lesson].cells)
    readouts = _readouts(executed[lesson])
    if "ConvExplorer" not in source:
        assert readouts == []
        return
    assert readouts, f"{lesson} builds a ConvExplorer but no readout was saved"
    empty = [text for text in readouts if not READOUT.search(re.sub(r"<[^>]+>", "", text))]
    assert empty == [], f"{lesson}: readouts without a shape or an error: {empty}"
