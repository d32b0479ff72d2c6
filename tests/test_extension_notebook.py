"""``%load_ext convclinic`` in a real Jupyter kernel (nbclient): the box under recognised
Conv2D errors, nothing for anything else, the original traceback untouched, unload restores.

The broken cells are convclinic.diagnosis.examples.BROKEN_CELLS (one per cause, the real
Keras/TensorFlow errors). The same notebook is run twice, with the extension and with a
plain ``pass`` in its place, and each error output (name, value, traceback) must be
identical: the extension only ADDS the box.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbclient import NotebookClient

from convclinic.diagnosis.examples import BROKEN_CELLS, SETUP, UNRELATED_CELLS

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

PASSING = "ok_model = layers.Conv2D(4, 3)\nprint(tuple(ok_model(np.zeros((1, 8, 8, 1), 'float32')).shape))"
AFTER_UNLOAD = BROKEN_CELLS[0][1]


def _notebook(load):
    cells = [SETUP, "%load_ext convclinic" if load else "pass"]
    cells += [source for _, source in BROKEN_CELLS]
    cells += [source for _, source in UNRELATED_CELLS]
    cells += [PASSING, "%unload_ext convclinic" if load else "pass", AFTER_UNLOAD]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return notebook


def _execute(notebook):
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True)
    client.execute()
    return notebook


@pytest.fixture(scope="module")
def runs():
    return _execute(_notebook(load=True)), _execute(_notebook(load=False))


def _errors(cell):
    return [o for o in cell.outputs if o.output_type == "error"]


def _boxes(cell):
    return [o for o in cell.outputs if o.output_type == "display_data"
            and "convclinic:" in o.get("data", {}).get("text/plain", "")]


_KERNEL_FILE = re.compile(r"ipykernel_\d+/\d+\.py")
_SPACE = re.compile(r"\s+")
_FLOAT = re.compile(r"\s*-?\d+\.\d+(?:e[-+]?\d+)?\s*")  # fresh random weights (padded)


_STRING_SET = re.compile(r"\{('[^'{}]*'(?:, '[^'{}]*')*)\}")  # a printed set: hash order


def _sorted_set(match):
    return "{" + ", ".join(sorted(match.group(1).split(", "))) + "}"


def _normalised(error_output):
    """The error output with what differs between two kernels masked: the cell's temporary
    file name, random initial weights that some Keras messages print, and the order of a
    printed set of strings (Python's hash seed differs per kernel)."""
    def mask(text):
        text = _STRING_SET.sub(_sorted_set, text)
        text = _FLOAT.sub("<float>", _KERNEL_FILE.sub("<cell>", text))
        return _SPACE.sub(" ", text)  # NumPy wraps a printed array by its (random) width

    return (error_output.ename, mask(error_output.evalue),
            mask("\n".join(error_output.traceback)))


def _cell(notebook, source):
    return next(c for c in notebook.cells if c.source == source)


@pytest.mark.parametrize("cause,source", BROKEN_CELLS, ids=[c for c, _ in BROKEN_CELLS])
def test_each_catalogued_cause_gets_its_box_below_the_unchanged_traceback(runs, cause, source):
    loaded, plain = runs
    cell, baseline = _cell(loaded, source), _cell(plain, source)
    assert len(_errors(cell)) == 1, cell.outputs
    assert _normalised(_errors(cell)[0]) == _normalised(_errors(baseline)[0])
    boxes = _boxes(cell)
    assert len(boxes) == 1, [o.get("data", o.get("text")) for o in cell.outputs]
    text = boxes[0]["data"]["text/plain"]
    assert f"convclinic: {cause} (" in text
    assert "Fix:" in text and "Learn it: lesson" in text
    html = boxes[0]["data"]["text/html"]
    assert cause in html and "convclinic-box" in html
    # the box comes after the traceback
    kinds = [o.output_type for o in cell.outputs]
    assert kinds.index("error") < cell.outputs.index(boxes[0])
    assert not _boxes(baseline)


def test_at_least_ten_causes_are_exercised():
    assert len({cause for cause, _ in BROKEN_CELLS}) >= 10


@pytest.mark.parametrize("name,source", UNRELATED_CELLS, ids=[f"{n}-{i}" for i, (n, _) in
                                                              enumerate(UNRELATED_CELLS)])
def test_unrelated_errors_are_left_exactly_as_they_were(runs, name, source):
    loaded, plain = runs
    cell, baseline = _cell(loaded, source), _cell(plain, source)
    assert [o.output_type for o in cell.outputs] == ["error"]
    assert cell.outputs[0].ename == name
    assert _normalised(cell.outputs[0]) == _normalised(baseline.outputs[0])


def test_a_cell_that_does_not_fail_is_unchanged(runs):
    loaded, plain = runs
    cell, baseline = _cell(loaded, PASSING), _cell(plain, PASSING)
    assert [o.output_type for o in cell.outputs] == ["stream"]
    assert cell.outputs == baseline.outputs
    assert cell.outputs[0].text.strip() == "(1, 6, 6, 4)"


def test_unloading_restores_plain_tracebacks(runs):
    loaded, plain = runs
    cell = loaded.cells[-1]
    assert cell.source == AFTER_UNLOAD
    assert [o.output_type for o in cell.outputs] == ["error"]
    assert _normalised(cell.outputs[0]) == _normalised(plain.cells[-1].outputs[0])
    # ... while the same cell earlier, extension loaded, had its box
    assert _boxes(_cell(loaded, AFTER_UNLOAD))


FRESH_KERNEL = [
    "%load_ext convclinic",
    "import sys, json\nprint(json.dumps([m for m in ('tensorflow', 'keras', 'tf_keras') "
    "if m in sys.modules]))",
    "{}['missing']",
    "print(json.dumps([m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules]))",
]


def test_loading_the_extension_does_not_import_tensorflow():
    """A fresh kernel: after %load_ext convclinic, and after an unrelated error went through
    the handler, TensorFlow and Keras are still not imported."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in FRESH_KERNEL]
    _execute(notebook)
    assert notebook.cells[0].outputs == []
    assert json.loads(notebook.cells[1].outputs[0].text) == []
    assert [o.output_type for o in notebook.cells[2].outputs] == ["error"]
    assert json.loads(notebook.cells[3].outputs[0].text) == []
