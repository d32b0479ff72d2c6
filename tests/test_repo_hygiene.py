"""Repository rules from DESIGN.md: no committed outputs (ruff runs in `make lint`)."""

import json
import subprocess

import pytest

from tests.conftest import ROOT

NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb")) + sorted(ROOT.glob("solutions/**/*.ipynb"))


def committed(path):
    done = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=ROOT,
                          capture_output=True, check=False)
    return done.returncode == 0


def test_there_are_lessons_to_check():
    assert len(list(ROOT.glob("notebooks/*.ipynb"))) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_has_no_outputs(path):
    """Lessons and masters are committed without outputs or execution counts."""
    notebook = json.loads(path.read_text())
    dirty = [
        index for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_uses_the_course_kernel_and_no_pip_install(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"].get("kernelspec", {}).get("name") == "python3", path.name
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        assert "pip install" not in source or cell["cell_type"] == "markdown", path.name
