"""Find the failing call in a traceback: which model or layer was applied to which array.

The IPython extension and ``convclinic run`` use it to run the full
:func:`convclinic.diagnose` walk on the learner's own model and input. Two
ways, tried in order:

1. a Keras ``__call__``/``predict``/``fit`` frame still in the traceback
   (when Keras's traceback filtering is off) gives ``self`` and its input;
2. otherwise the learner's own line (``model(x)``, ``model.predict(images)``)
   is parsed with :mod:`ast` and its names looked up in that frame. Only
   names and attributes are looked up; nothing is called or evaluated.

Importing this module does not import TensorFlow; finding nothing is normal.
"""

from __future__ import annotations

import ast
import builtins
import linecache

from convclinic.diagnosis.context import is_layer, is_model

__all__ = ["failing_call"]

_MODEL_METHODS = ("predict", "fit", "evaluate", "predict_on_batch", "train_on_batch",
                  "test_on_batch", "__call__", "call")
_MISSING = object()


def failing_call(error):
    """``(model or layer, input array)`` that raised ``error``, or None."""
    try:
        return _from_keras_frames(error) or _from_source_lines(error)
    except Exception:  # noqa: BLE001 - finding the call is a help, never a failure
        return None


def _is_array(x):
    return hasattr(x, "shape") and hasattr(x, "dtype") and not is_layer(x)


def _tracebacks(error):
    tb, found = getattr(error, "__traceback__", None), []
    while tb is not None:
        found.append(tb)
        tb = tb.tb_next
    return found


def _from_keras_frames(error):
    """The outermost Keras call frame whose ``self`` is a layer and whose input is an array."""
    for tb in _tracebacks(error):
        frame = tb.tb_frame
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name not in _MODEL_METHODS or not is_layer(owner):
            continue
        args = frame.f_locals.get("args") or ()
        candidates = [frame.f_locals.get("x"), frame.f_locals.get("inputs"), *args[:1]]
        x = next((c for c in candidates if _is_array(c)), None)
        if x is not None:
            return owner, x
    return None


def _user_frames(error):
    """The traceback's frames outside installed packages, innermost first."""
    frames = []
    for tb in _tracebacks(error):
        filename = tb.tb_frame.f_code.co_filename
        if "site-packages" in filename or "/lib/python" in filename:
            continue
        frames.append((tb.tb_frame, tb.tb_lineno))
    return frames[::-1]


def _from_source_lines(error):
    for frame, lineno in _user_frames(error):
        found = _call_on_line(frame, lineno)
        if found is not None:
            return found
    return None


def _statement_at(frame, lineno):
    lines = linecache.getlines(frame.f_code.co_filename, frame.f_globals)
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, ast.FunctionDef | ast.ClassDef) \
                and node.lineno <= lineno <= (node.end_lineno or node.lineno):
            if best is None or node.lineno >= best.lineno:
                best = node
    return best


def _lookup(node, frame):
    """The value of a name or a chain of attributes in ``frame``; ``_MISSING`` otherwise."""
    if isinstance(node, ast.Name):
        for scope in (frame.f_locals, frame.f_globals, vars(builtins)):
            if node.id in scope:
                return scope[node.id]
        return _MISSING
    if isinstance(node, ast.Attribute):
        owner = _lookup(node.value, frame)
        if owner is _MISSING:
            return _MISSING
        return getattr(owner, node.attr, _MISSING)
    return _MISSING


def _input_of(call, frame):
    nodes = list(call.args[:1]) + [k.value for k in call.keywords if k.arg in ("x", "inputs")]
    for node in nodes:
        value = _lookup(node, frame)
        if value is not _MISSING and _is_array(value):
            return value
    return None


def _target_of(call, frame):
    func = _lookup(call.func, frame)
    if func is _MISSING:
        return None
    if is_layer(func):
        return func
    owner = getattr(func, "__self__", None)
    if is_model(owner) or (is_layer(owner) and getattr(call.func, "attr", None) in _MODEL_METHODS):
        return owner
    return None


def _call_on_line(frame, lineno):
    statement = _statement_at(frame, lineno)
    if statement is None:
        return None
    for node in ast.walk(statement):
        if isinstance(node, ast.Call):
            target = _target_of(node, frame)
            x = _input_of(node, frame) if target is not None else None
            if x is not None:
                return target, x
    return None
