"""Repository rules: no committed outputs, the course kernel, nothing that points outside the clone
(ruff runs in `make lint`)."""

import json
import re
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


# --- the repository explains itself --------------------------------------------------------
# Nothing in it points at notes outside the clone (a sibling folder of design notes, an
# article's source file) or at this project's own tracker numbers, which nobody who clones
# the repository can follow. Upstream bugs are cited as owner/repo#N. The names this check
# looks for are built from pieces (here and in its examples below), so that this file, which
# must name them, is not itself found by a plain grep of the repository for them.
_FOLDER = "sha" + "red/"
_NOTES = "|".join(("PIT" + "FALLS", "FA" + "CTS", "DE" + "SIGN"))
_NICKNAME = "se" + "ed"  # the notes' name for the article the course grew from
OUTSIDE_REFERENCES = re.compile(
    _FOLDER + "|widgets" + "_api" + rf"|(?-i:\b(?:{_NOTES})\.md)|\bthe {_NICKNAME}\b"
    rf"|\b{_NICKNAME}(?:'s)?\s+(?:article|claims?|example|table)|\bissue\s+#?\d+|\btask\s+#?\d+", re.I)
# Lessons name that article by its title, never by the nickname, in any sense.
NICKNAME_IN_LESSONS = re.compile(_NICKNAME, re.I)
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".j2", ""}


def repository_files():
    """Tracked files plus new files not ignored by git (what a clone gets once committed)."""
    done = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    return sorted({ROOT / line for line in done.stdout.splitlines() if line.strip()})


def test_no_file_refers_outside_the_repository_or_to_tracker_numbers():
    found = []
    for path in repository_files():
        if path.suffix not in TEXT_SUFFIXES or not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        lesson = path.parent == ROOT / "notebooks"
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_REFERENCES.search(line) or (lesson and NICKNAME_IN_LESSONS.search(line)):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert found == [], "references outside the repository:\n" + "\n".join(found[:60])


def test_the_hygiene_pattern_catches_what_it_must():
    """The check above is only as good as its pattern: it must see these and spare the others."""
    # spelt in pieces, independently of the pattern's own pieces above
    for bad in ("see ../sha" + "red/DE" + "SIGN.md", "(iss" + "ue 3)", "see PIT" + "FALLS.md", "FA" + "CTS.md checks",
                "se" + "ed article", "the se" + "ed", "widgets" + "_api.md", "as ta" + "sk 7 found"):
        assert OUTSIDE_REFERENCES.search(bad), bad
    for fine in ("jupyter/nbgrader#174", "rng(seed=0)", "tiss" + "ue 3d", "docs/pitfalls.md"):
        assert not OUTSIDE_REFERENCES.search(fine), fine
