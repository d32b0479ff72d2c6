"""Every notebook in notebooks/ runs headless under nbval (lax mode) and passes.

One test per notebook (found by glob, so a lesson added later is covered
without editing this file), each in its own ``python -m pytest --nbval-lax``
subprocess with ``TF_CPP_MIN_LOG_LEVEL=3``. A failure names the lesson and
shows nbval's report. ``test_expected_notebooks_exist`` pins the file names
of the shared contract (widgets_api.md): the 7 lessons plus the playground.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
EXPECTED = (
    "00-convolution-shapes.ipynb",
    "01-missing-channel-axis.ipynb",
    "02-padding.ipynb",
    "03-stride-and-dilation.ipynb",
    "04-data-format.ipynb",
    "05-framework-version-hardware.ipynb",
    "06-shape-detective.ipynb",
    "playground.ipynb",
)
FOUND = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))

pytestmark = pytest.mark.notebooks


def test_expected_notebooks_exist():
    """The 8 notebooks named in the shared contract are all there."""
    missing = [name for name in EXPECTED if not (NOTEBOOKS / name).is_file()]
    assert not missing, f"missing notebooks in notebooks/: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", FOUND or ["<none found>"])
def test_notebook_runs_under_nbval(notebook, tmp_path):
    """The notebook executes top to bottom; lax nbval passes (failures on purpose are tagged)."""
    path = NOTEBOOKS / notebook
    assert path.is_file(), f"no notebooks found in {NOTEBOOKS}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env.setdefault("KERAS_HOME", str(tmp_path / "keras-home"))
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         "-o", "addopts=", "--timeout=600", str(path.relative_to(ROOT))],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    report = (completed.stdout + completed.stderr)[-6000:]
    assert completed.returncode == 0, f"{notebook} failed under nbval --nbval-lax:\n{report}"
    assert " passed" in completed.stdout, f"{notebook}: nbval ran no cells:\n{report}"
