"""The repository explains itself, and its docs do not drift from the code or the numbers.

- docs/architecture.md lists every module of the convclinic package (and no module that is
  gone), so the module map cannot go stale silently;
- every number quoted from a benchmark in README.md, grader/README.md or docs/*.md carries a
  marker ``<!-- bench FILE.KEY.PATH -->`` right after it, and equals the value recorded in
  ``benchmarks/results/FILE.json`` (as shown, i.e. rounded to the digits the text gives);
- the docs a contributor needs exist and the README points at them.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "convclinic"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
DOCS = [ROOT / "README.md", ROOT / "grader" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BENCH_NUMBER = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)[^\d<\n]{0,12}<!-- bench ([\w.-]+) -->")


def package_modules():
    """Dotted names of every module of convclinic (packages by their own name)."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return sorted(names)


def test_module_map_lists_every_module():
    text = ARCHITECTURE.read_text()
    listed = set(re.findall(r"`(convclinic(?:\.\w+)*)`", text))
    modules = set(package_modules())
    assert modules - listed == set(), f"modules missing from docs/architecture.md: {sorted(modules - listed)}"
    gone = {name for name in listed - modules if not _is_attribute(name, modules)}
    assert gone == set(), f"docs/architecture.md names modules that do not exist: {sorted(gone)}"


def _is_attribute(name, modules):
    """``convclinic.shapes.ConvGeometry`` names a thing inside an existing module."""
    return name.rsplit(".", 1)[0] in modules


def _lookup(key):
    file_name, *path = key.split(".")
    value = json.loads((ROOT / "benchmarks" / "results" / f"{file_name}.json").read_text())
    for part in path:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def quoted_numbers():
    found = []
    for doc in DOCS:
        if doc.is_file():
            for match in BENCH_NUMBER.finditer(doc.read_text()):
                found.append((doc.relative_to(ROOT).as_posix(), match.group(1), match.group(2)))
    return found


def test_docs_quote_benchmark_numbers_with_markers():
    assert len(quoted_numbers()) >= 3, "README.md should quote the measured numbers, with markers"


@pytest.mark.parametrize("doc,shown,key", quoted_numbers())
def test_quoted_number_matches_the_benchmark_result(doc, shown, key):
    recorded = _lookup(key)
    digits = len(shown.split(".")[1]) if "." in shown else 0
    assert isinstance(recorded, int | float), f"{key} is not a number: {recorded!r}"
    assert float(shown.replace(",", "")) == round(float(recorded), digits), (
        f"{doc} says {shown} for {key}, benchmarks/results says {recorded}")


def test_the_marker_pattern_reads_what_it_should():
    sample = "in **64.8 s** <!-- bench grading.results.convclinic_grade_s --> and 2.18x <!-- bench g.s -->"
    assert [m.groups() for m in BENCH_NUMBER.finditer(sample)] == [
        ("64.8", "grading.results.convclinic_grade_s"), ("2.18", "g.s")]


def test_contributor_docs_exist_and_are_linked():
    for name in ("architecture.md", "pitfalls.md", "contributing.md"):
        assert (ROOT / "docs" / name).is_file(), name
    readme = (ROOT / "README.md").read_text()
    for name in ("docs/architecture.md", "docs/pitfalls.md", "docs/contributing.md"):
        assert name in readme, f"README.md does not point at {name}"
