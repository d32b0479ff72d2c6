"""Every contract test names the lesson (and section) it protects, and that section exists.

When a TensorFlow upgrade breaks a contract test, its docstring must lead to the
exact text to change: "Lesson 02, section 'Valid and same, with numbers': ...".
Docstrings are read with ``ast`` (no module is imported here).
"""

import ast
import json
import re

import pytest

from tests.conftest import ROOT

CONTRACTS = sorted((ROOT / "tests" / "contract").glob("test_lesson*.py"))
SECTION = re.compile(r"^Lesson (\d\d), (?:section )?'([^']+)'")


def lesson_notebook(number):
    (path,) = (ROOT / "notebooks").glob(f"{number}-*.ipynb")
    return path


def headings(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return {
        line.lstrip("#").strip()
        for cell in cells if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines() if line.startswith("#")
    }


def contract_tests(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            yield node.name, " ".join((ast.get_docstring(node) or "").split())


def test_every_lesson_has_contract_tests():
    numbers = {re.match(r"test_lesson(\d\d)", p.name).group(1) for p in CONTRACTS}
    lessons = {path.name[:2] for path in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")}
    assert len(lessons) >= 7, lessons
    assert numbers == lessons, numbers ^ lessons


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.name)
def test_contract_docstrings_name_lesson_and_an_existing_section(path):
    number = re.match(r"test_lesson(\d\d)", path.name).group(1)
    known = headings(lesson_notebook(number))
    problems, sections = [], 0
    for name, doc in contract_tests(path):
        if not doc.startswith(f"Lesson {number}"):
            problems.append(f"{name}: docstring must start with 'Lesson {number}'")
            continue
        match = SECTION.match(doc)
        if match:
            sections += 1
            section = match.group(2)
            if not any(heading.startswith(section) for heading in known):
                problems.append(f"{name}: section {section!r} does not begin any heading of the lesson")
    assert not problems, "\n".join(problems)
    assert sections >= 5, f"{path.name}: only {sections} tests name a section"
