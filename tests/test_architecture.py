"""The shape of the package itself: one owner of the Conv2D rules, no import cycles, small modules.

- :mod:`convclinic.shapes` is the ONLY place that computes a Conv2D output
  size, a SAME padding split, an effective kernel or a data-format
  permutation. The test reads every other module's syntax tree (not its text:
  the formulas may be QUOTED in a docstring or message, as the lessons quote
  them) and fails on the arithmetic itself, naming file and line.
- plots, widgets and diagnosis take those numbers from shapes: they import it.
- No import cycle inside convclinic. Every import counts, module-level AND
  lazy ones inside functions: a lazy import only hides a cycle until the
  function runs. ``if TYPE_CHECKING:`` imports are the one exception (never
  executed). Importing a submodule is an edge to that submodule only, not to
  its package's ``__init__`` (that one is already being imported).
- Modules of the packages listed in SIZE_CHECKED stay under MAX_LINES lines.

No TensorFlow: this runs in the fast loop.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "convclinic"
RULE_OWNER = "convclinic.shapes"
#: packages that must get their Conv2D numbers from convclinic.shapes
RULE_USERS = ("convclinic.plots", "convclinic.widgets", "convclinic.diagnosis")
#: packages whose every module stays under MAX_LINES lines
SIZE_CHECKED = ("convclinic.shapes", "convclinic.plots", "convclinic.widgets")
MAX_LINES = 450
#: channels_last <-> channels_first: shapes.layout_permutation is the only spelling
LAYOUT_PERMUTATIONS = {(0, 3, 1, 2), (0, 2, 3, 1)}


def module_name(path):
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def modules():
    """{dotted name: path} of every module of convclinic."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def in_package(name, package):
    return name == package or name.startswith(package + ".")


def parse(path):
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# --- 1. the rules are computed in convclinic.shapes only ---------------------------------


def _is_const(node, value):
    return isinstance(node, ast.Constant) and node.value == value and not isinstance(
        node.value, bool)


def _is_minus_one(node):
    """``x - 1``."""
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and _is_const(
        node.right, 1)


def _rule_kind(node):
    """Which Conv2D rule a syntax node computes, or None.

    - ``a * (b - 1)`` (either order): the effective kernel ``d * (k - 1) + 1`` or
      SAME padding's ``(out - 1) * s``;
    - ``a // b + 1``: the valid output size ``(n - k_eff) // s + 1``;
    - ``-(-a // b)``, ``ceil(a / b)``, ``(a + b - 1) // b``: the same output size ``ceil(n / s)``;
    - ``t - t // 2``: the after-part of a SAME split.
    """
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Mult) and (_is_minus_one(node.left)
                                              or _is_minus_one(node.right)):
            return "a * (b - 1): effective kernel or SAME padding total"
        if isinstance(node.op, ast.Add) and _is_const(node.right, 1) and isinstance(
                node.left, ast.BinOp) and isinstance(node.left.op, ast.FloorDiv):
            return "a // b + 1: valid output size"
        if isinstance(node.op, ast.FloorDiv) and _is_minus_one(node.left) and isinstance(
                node.left.left, ast.BinOp) and isinstance(node.left.left.op, ast.Add):
            return "(a + b - 1) // b: ceil division, same output size"
        if isinstance(node.op, ast.Sub) and isinstance(node.right, ast.BinOp) and isinstance(
                node.right.op, ast.FloorDiv) and _is_const(node.right.right, 2) \
                and ast.dump(node.left) == ast.dump(node.right.left):
            return "t - t // 2: SAME padding split"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(
            node.operand, ast.BinOp) and isinstance(node.operand.op, ast.FloorDiv) \
            and isinstance(node.operand.left, ast.UnaryOp) \
            and isinstance(node.operand.left.op, ast.USub):
        return "-(-a // b): ceil division, same output size"
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.BinOp) \
            and isinstance(node.args[0].op, ast.Div):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "ceil":
            return "ceil(a / b): same output size"
    if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
        if tuple(e.value for e in node.elts) in LAYOUT_PERMUTATIONS:
            return "a channels_last <-> channels_first permutation literal"
    return None


def rule_computations(path):
    """[(line, kind)] of every Conv2D rule computed in a module."""
    return [(node.lineno, kind) for node in ast.walk(parse(path))
            if (kind := _rule_kind(node)) is not None]


def local_definitions(path):
    """Names a module defines that duplicate shapes' normalisers and constants."""
    found = []
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in (
                "pair", "_pair", "_positive_pair", "effective_kernel", "_effective_kernel",
                "same_padding", "conv_output_size"):
            found.append((node.lineno, f"def {node.name}"))
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "DATA_FORMATS":
                    found.append((node.lineno, "DATA_FORMATS = ..."))
    return found


def test_the_detector_finds_each_formula_and_ignores_quoted_ones(tmp_path):
    """The detector itself: every spelling of a rule is found; a formula inside a string is not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""k_eff = d * (k - 1) + 1 and out = ceil(n / s), quoted: fine."""\n'
        "import math\n"
        "k_eff = d * (k - 1) + 1\n"
        "out = (n - k_eff) // s + 1\n"
        "same = -(-n // s)\n"
        "same2 = math.ceil(n / s)\n"
        "same3 = (n + s - 1) // s\n"
        "after = total - total // 2\n"
        "perm = (0, 3, 1, 2)\n"
        "DATA_FORMATS = ('channels_last', 'channels_first')\n"
        "def _pair(v):\n    return v\n"
        "message = f'out = floor((n - k_eff) / s) + 1 = {out}'\n"
    )
    lines = [line for line, _ in rule_computations(sample)]
    assert sorted(set(lines)) == [3, 4, 5, 6, 7, 8, 9]
    assert [line for line, _ in local_definitions(sample)] == [10, 11]


def test_conv2d_rules_are_computed_only_in_shapes():
    """No module outside convclinic.shapes computes an output size, a SAME split,
    an effective kernel or a layout permutation by itself."""
    offenders = []
    for name, path in modules().items():
        if in_package(name, RULE_OWNER):
            continue
        for line, kind in rule_computations(path) + local_definitions(path):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {kind}")
    assert not offenders, (
        "Conv2D rules computed outside convclinic.shapes (call shapes.conv_output_size, "
        "same_padding, effective_kernel, conv_geometry, layout_permutation, pair, "
        "DATA_FORMATS instead):\n" + "\n".join(offenders)
    )


def test_shapes_itself_computes_the_rules():
    """The detector is not blind: shapes.rules holds every kind of formula it looks for."""
    kinds = {kind.split(":")[0] for line, kind in rule_computations(PACKAGE / "shapes" / "rules.py")}
    assert {"a * (b - 1)", "a // b + 1", "-(-a // b)", "t - t // 2"} <= kinds, kinds


# --- 2. who imports what ------------------------------------------------------------


def _type_checking_block(node):
    test = node.test
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk_executed(tree):
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_block(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _resolve(name, known):
    """The convclinic module ``name`` means: itself, or its closest known parent."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name, path, known):
    """The convclinic modules a module imports (lazy imports included)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _walk_executed(parse(path)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] != "convclinic":
                continue
            resolved = _resolve(target, known)
            if resolved and resolved != name:
                found.add(resolved)
    return found


def import_graph():
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph):
    """One import cycle as a list of modules, or None (depth-first search)."""
    state = {}
    trail = []

    def visit(node):
        state[node] = "open"
        trail.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        trail.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycle_inside_convclinic():
    """Import cycles (lazy imports included) make import order matter; there are none."""
    graph = import_graph()
    assert "convclinic.shapes" in graph["convclinic.plots.figure"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_rule_users_import_shapes():
    """plots, widgets and diagnosis take the Conv2D numbers from convclinic.shapes."""
    graph = import_graph()
    for package in RULE_USERS:
        members = [name for name in graph if in_package(name, package)]
        assert members, f"{package} not found"
        users = [name for name in members
                 if any(in_package(target, RULE_OWNER) for target in graph[name])]
        assert users, f"no module of {package} imports {RULE_OWNER}"


def test_shapes_imports_nothing_else_of_convclinic():
    """shapes is the bottom layer: pure arithmetic, imported by others, importing none of them."""
    graph = import_graph()
    for name, targets in graph.items():
        if in_package(name, RULE_OWNER):
            outside = [t for t in targets if not in_package(t, RULE_OWNER)]
            assert not outside, f"{name} imports {outside}"


# --- 3. small modules --------------------------------------------------------------


@pytest.mark.parametrize("package", SIZE_CHECKED)
def test_modules_stay_small(package):
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines())
             for name, path in modules().items() if in_package(name, package)}
    assert sizes, package
    large = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not large, f"modules over {MAX_LINES} lines: {large}"
