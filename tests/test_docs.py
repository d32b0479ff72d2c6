"""The repository explains itself, and its docs do not drift from the code or the numbers.

- docs/architecture.md lists every module of the convclinic package (and no module that is
  gone), so the module map cannot go stale silently;
- every number quoted from a benchmark in README.md, grader/README.md or docs/*.md carries a
  marker ``<!-- bench FILE.KEY.PATH -->`` right after it, and equals the value recorded in
  ``benchmarks/results/FILE.json`` (as shown, i.e. rounded to the digits the text gives);
- the docs a contributor needs exist and the README points at them;
- grader/README.md's "Commands" section quotes each subcommand's one-line help and usage as
  `convclinic --help` / `convclinic SUB --help` print them, and each make target's line as
  `make help` prints it; its links lead to its sections.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.conftest import ROOT, require_command

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


# ---------------------------------------------------------------- grader/README.md, "Commands"

GUIDE = ROOT / "grader" / "README.md"
INSTRUCTOR_COMMANDS = ("release", "grade", "feedback", "export")
INSTRUCTOR_TARGETS = ("system-deps", "lab", "release", "grade", "formgrader", "feedback", "nbgrader")
COMMAND_ROW = re.compile(r"^\| `convclinic (\w+)` \| (.+?) \|", re.M)


def guide_section(title):
    """The text of the guide's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", GUIDE.read_text(), re.M | re.S)
    assert match, f"grader/README.md has no '## {title}' section"
    return match.group(1)


def text_blocks(section):
    return re.findall(r"^```text\n(.*?)^```$", section, re.M | re.S)


def printed_help(argv, capsys):
    """What ``convclinic ARGV`` prints (``--help``: exit 0), run through the CLI's own main."""
    from convclinic.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 0
    return capsys.readouterr().out


def listed_commands(capsys):
    """{subcommand: its one-line help} as ``convclinic --help`` lists them."""
    listing = printed_help(["--help"], capsys)
    return dict(re.findall(r"^    (\w+)\s{2,}(\S.*)$", listing, re.M))


def usages_in(section):
    """{subcommand: usage text, whitespace collapsed} of the guide's usage block."""
    block = next(b for b in text_blocks(section) if b.startswith("usage: convclinic "))
    entries = re.split(r"^(?=usage: )", block, flags=re.M)
    return {entry.split()[2]: " ".join(entry.split()) for entry in entries if entry.strip()}


def test_guide_lists_each_subcommand_with_its_one_line_help(capsys, monkeypatch):
    """The "Commands" table says for each subcommand what `convclinic --help` says, word for word."""
    monkeypatch.setenv("COLUMNS", "1000")  # argparse wraps at the terminal width
    printed = listed_commands(capsys)
    documented = dict(COMMAND_ROW.findall(guide_section("Commands")))
    assert set(INSTRUCTOR_COMMANDS) <= set(documented), sorted(documented)
    for command, text in documented.items():
        assert command in printed, f"grader/README.md lists `convclinic {command}`, which does not exist"
        assert text == printed[command], (
            f"grader/README.md says `convclinic {command}`: {text!r}\n"
            f"`convclinic --help` prints:            {printed[command]!r}")


def test_guide_shows_each_subcommands_usage_as_printed(capsys, monkeypatch):
    """The usage block holds the usage `convclinic SUB --help` prints first, for every subcommand
    of the table (line breaks aside: argparse wraps at the terminal's width)."""
    monkeypatch.setenv("COLUMNS", "100")
    section = guide_section("Commands")
    documented = usages_in(section)
    assert sorted(documented) == sorted(dict(COMMAND_ROW.findall(section)))
    for command, usage in documented.items():
        printed = printed_help([command, "--help"], capsys).split("\n\n", 1)[0]
        assert usage == " ".join(printed.split()), (
            f"grader/README.md shows\n  {usage}\n`convclinic {command} --help` prints\n  {printed}")


def make_help_lines():
    make = require_command("make", "the guide quotes `make help`")
    done = subprocess.run([make, "--no-print-directory", "help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_guide_quotes_make_help_lines_exactly():
    """Every `make` line of the "Commands" section is a line `make help` prints, character for
    character, and the instructor's targets are all there."""
    printed = make_help_lines()
    quoted = [line for block in text_blocks(guide_section("Commands"))
              for line in block.splitlines() if line.lstrip().startswith("make ")]
    targets = [line.split()[1] for line in quoted]
    assert set(INSTRUCTOR_TARGETS) <= set(targets), sorted(targets)
    assert len(targets) == len(set(targets)), targets
    for line in quoted:
        target = line.split()[1]
        current = [p for p in printed if p.split()[:2] == ["make", target]]
        assert current == [line], (
            f"grader/README.md quotes\n  {line!r}\n`make help` prints\n  {current or 'no such target'}")


def heading_anchors(text):
    """GitHub's anchors of the Markdown headings (outside fenced blocks)."""
    text = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        anchors.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return anchors


def test_guide_links_lead_to_its_sections():
    """"A term at a glance" and "Commands" link to sections: every #anchor exists."""
    text = GUIDE.read_text()
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert len(re.findall(r"\]\(#", guide_section("A term at a glance"))) >= 9
    missing = sorted(set(links) - heading_anchors(text))
    assert missing == [], f"grader/README.md links to sections that do not exist: {missing}"
