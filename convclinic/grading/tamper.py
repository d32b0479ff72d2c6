"""Static checks of a submission's own cells (grader/README.md, "What the grader reports").

Only the cells a student can write are read (answer cells and cells they added;
locked cells are restored from the master by nbgrader). Read with ``ast``, never run.

- **delegation**: an answer that imports or names ``convclinic`` (the course's own
  package: it computes the truth), or imports dynamically (``__import__``,
  ``importlib``, ``sys.modules``). The parts whose answer names such a cell
  defines score 0 (each release says so at its top);
- **tamper attempts**, reported by name (the grade is decided outside the kernel,
  so they cannot change it): rebinding the harness name ``check``, patching a
  module (``np.allclose = ...``), reading the caller's frame, IPython's input
  history (``In``, ``_ih``), reading files, registering IPython event hooks,
  ending the kernel (``os._exit``), catching ``BaseException``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

HARNESS_NAMES = {"check"}
HISTORY_NAMES = {"In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "_dh", "get_ipython", "__builtins__"}
FRAME_ATTRS = {"f_back", "f_locals", "f_globals", "f_code", "tb_frame", "gi_frame", "cr_frame"}
FRAME_CALLS = {"currentframe", "_getframe", "stack", "getouterframes", "get_referrers", "settrace",
               "setprofile", "getframeinfo"}
FILE_CALLS = {"open", "read_text", "read_bytes", "listdir", "scandir", "walk", "glob", "iglob", "Path"}
HOOK_ATTRS = {"register", "post_run_cell", "pre_run_cell", "post_execute", "pre_execute"}
EXIT_CALLS = {"_exit", "abort", "kill", "killpg"}
PATCHED_MODULES = {"np", "numpy", "keras", "tf", "tensorflow", "layers", "convclinic", "builtins",
                   "math", "sys", "os", "IPython", "check"}
DUNDERS = {"__code__", "__call__", "__defaults__", "__kwdefaults__", "__globals__", "__dict__", "__class__"}
_HISTORY_NAME = re.compile(r"^_i\d+$")
# Ways to reach a module the cell never imported (e.g. ``check.__globals__["sys"].modules``,
# ``eval("__imp" + "ort__")``, ``getattr(x, name)`` with a computed name): a static check cannot
# follow them, so an answer using them counts as using convclinic.
REACH_ATTRS = {"__globals__", "__subclasses__", "__bases__", "__base__", "__mro__", "__loader__",
               "__spec__", "__self__", "__module__", "__closure__"}
DYNAMIC_CALLS = {"eval", "exec", "compile"}


@dataclass
class CellScan:
    """What one student-written cell does that the grader must know about."""

    label: str                                  # "'<grade_id>'" or "an added cell"
    defines: set = field(default_factory=set)   # top-level names the cell binds
    delegation: list = field(default_factory=list)
    attempts: list = field(default_factory=list)


def _bound_names(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _root(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _delegation(tree, source):
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] == "convclinic" for m in modules):
                found.append("imports convclinic")
            if any(m.split(".")[0] == "importlib" for m in modules):
                found.append("imports importlib")
        elif isinstance(node, ast.Name) and node.id == "__import__":
            found.append("calls __import__")
        elif isinstance(node, ast.Attribute) and node.attr == "modules" and _root(node) == "sys":
            found.append("reads sys.modules")
        elif isinstance(node, ast.Attribute) and node.attr in REACH_ATTRS:
            found.append(f"reaches other modules through {node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            found += _dynamic_call(node)
    if "convclinic" in source and not any("convclinic" in f for f in found):
        found.append("names convclinic")
    return sorted(set(found))


def _dynamic_call(node):
    name = node.func.id
    if name in DYNAMIC_CALLS:
        return [f"runs code built at run time ({name})"]
    if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
        attribute = node.args[1]
        literal = isinstance(attribute, ast.Constant) and isinstance(attribute.value, str)
        if not literal or attribute.value.startswith("__"):
            return [f"looks up attributes by a computed or special name ({name})"]
    return []


def _attempts(tree):
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in HARNESS_NAMES and isinstance(node.ctx, ast.Store | ast.Del):
                found.append(f"rebinds the test harness name '{node.id}'")
            elif isinstance(node.ctx, ast.Load) and (node.id in HISTORY_NAMES or _HISTORY_NAME.match(node.id)):
                found.append("reads IPython's input history or shell (In/_ih/get_ipython)")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name in HARNESS_NAMES:
            found.append(f"rebinds the test harness name '{node.name}'")
        elif isinstance(node, ast.alias) and (node.asname or node.name) in HARNESS_NAMES:
            found.append(f"rebinds the test harness name '{node.asname or node.name}'")
        elif isinstance(node, ast.Attribute):
            _attribute(node, found)
        elif isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Name) \
                and node.type.id in ("BaseException", "SystemExit", "KeyboardInterrupt"):
            found.append(f"catches {node.type.id}")
        elif isinstance(node, ast.Call):
            _call(node, found)
    return sorted(set(found))


def _attribute(node, found):
    if node.attr in FRAME_ATTRS:
        found.append("reads the caller's frame (inspect/f_back/f_locals)")
    elif isinstance(node.ctx, ast.Store | ast.Del) and (_root(node) in PATCHED_MODULES or node.attr in DUNDERS):
        found.append(f"patches {ast.unparse(node)}")
    elif node.attr in HOOK_ATTRS and (node.attr != "register" or "events" in ast.unparse(node)
                                      or _root(node) == "atexit"):
        found.append("registers an IPython event hook (post_run_cell/atexit)")


def _call(node, found):
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    root = _root(node.func) if isinstance(node.func, ast.Attribute) else None
    if name in FRAME_CALLS and (root in ("inspect", "sys", "gc", "traceback") or name in ("currentframe", "_getframe")):
        found.append("reads the caller's frame (inspect/f_back/f_locals)")
    elif name in FILE_CALLS and (root in (None, "os", "glob", "pathlib", "io") or name in ("read_text", "read_bytes")):
        found.append("reads files")
    elif name in EXIT_CALLS and root in ("os", "signal"):
        found.append(f"ends the kernel ({ast.unparse(node.func)})")
    elif name in ("setattr", "delattr") and node.args and _root(node.args[0]) in PATCHED_MODULES:
        found.append(f"patches {ast.unparse(node.args[0])}")


def student_cells(notebook):
    """(index, cell) of every code cell a student writes: answer cells and added cells.

    After nbgrader's sanitizing (``OverwriteCells``), a cell with a ``grade_id`` that is
    locked or a test holds the master's source; every other code cell is the student's
    (a made-up ``locked`` flag without a known id does not hide a cell)."""
    for index, cell in enumerate(notebook.cells):
        grading = cell.get("metadata", {}).get("nbgrader", {})
        owned = grading.get("grade_id") and (grading.get("locked") or grading.get("grade")) \
            and not grading.get("solution")
        if cell.get("cell_type") == "code" and not owned:
            yield index, cell


def scan(notebook):
    """A :class:`CellScan` for every student-written code cell with something to report."""
    scans = []
    for _, cell in student_cells(notebook):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        label = f"answer cell '{grade_id}'" if grade_id else "an ungraded code cell"
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        result = CellScan(label, _bound_names(tree), _delegation(tree, cell.source), _attempts(tree))
        if result.delegation or result.attempts:
            scans.append(result)
    return scans


def delegated_names(scans):
    """{name: the note that blocks it} for every name defined in a cell using convclinic."""
    blocked = {}
    for result in scans:
        if result.delegation:
            for name in result.defines:
                blocked.setdefault(name, f"{result.label} {', '.join(result.delegation)}: answers must not "
                                         "import or call convclinic (the course's own package); this part "
                                         "scores 0")
    return blocked


def notes(scans):
    """One line per cell for report.md and the status column."""
    lines = []
    for result in scans:
        if result.delegation:
            lines.append(f"{result.label} {', '.join(result.delegation)} (answers must not use convclinic): "
                         "any part it answers scores 0")
        if result.attempts:
            lines.append(f"tamper attempt: {result.label} {'; '.join(result.attempts)} "
                         "(grades are decided outside the student's kernel)")
    return lines
