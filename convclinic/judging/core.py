"""Judged parts: the learner's kernel collects answers as data, a clean process decides.

Why (grader/README.md, "How a part is judged"): a test cell that decides inside
the learner's kernel can be defeated by the learner's own code (redefining the
checking function, patching NumPy, reading the caller's frame). Here each graded
part (:class:`Part`, one per nbgrader grade cell) has two halves:

- ``collect`` runs in the learner's kernel: it calls the learner's functions on
  the cases and records what came back as plain data (never an expected value);
- ``judge`` runs where the learner's code never ran (the grading worker process,
  or, in self-study, the same kernel): it computes the truth with the real
  TensorFlow and returns one :class:`Finding` per requirement.

Records travel as JSON only (:func:`encode`/:func:`decode`: arrays as
``{"__array__": {"dtype", "shape", "data"}}`` with base64 data), with strict size
limits; malformed data becomes a failed finding ("your answer could not be
read"), never a crash of the grader.

The kernel-side entry point :data:`check` lives in :mod:`convclinic.judging.kernel`.
"""

from __future__ import annotations

import base64
import importlib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: MIME type of the display_data output carrying one part's collected answers.
MIME = "application/vnd.convclinic.answers+json"
#: Kernel environment variable set by ``convclinic grade``: collect only, never judge.
GRADING_ENV = "CONVCLINIC_GRADING"

MAX_RECORD_BYTES = 8 * 2**20    # one part's record, as JSON text
MAX_ARRAY_BYTES = 4 * 2**20     # one array's raw bytes
MAX_DEPTH = 32
MAX_ITEMS = 20_000              # items of one list / keys of one dict
MAX_STRING = 200_000            # characters of one string
MAX_INT_DIGITS = 40
ARRAY_KINDS = "biuf"            # bool, signed/unsigned ints, floats (no object, no strings)
RESERVED = ("__array__", "__tuple__", "__float__")
UNREADABLE = "your answer could not be read"


class RecordError(ValueError):
    """Data that is not a valid answers record (too big, wrong types, corrupt array)."""


@dataclass(frozen=True)
class Finding:
    """The verdict on one requirement of a part.

    ``message`` (visible cases): a teaching message, may show visible inputs and
    expected values. ``hint`` (hidden cases): the requirement that failed and a
    hint, never inputs, expected values or case source.
    """

    requirement: str
    ok: bool
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class Part:
    """One nbgrader grade cell, keyed by its ``grade_id`` (never rename a released id)."""

    grade_id: str
    label: str
    names: tuple
    visible: tuple
    collect: Callable
    judge: Callable
    requirements: tuple = ()


PARTS: dict = {}
_MODULE = re.compile(r"^(ex\d\d)-")


def register(part):
    """Add ``part`` to :data:`PARTS` (each ``convclinic.judging.exNN`` module registers its parts)."""
    if not isinstance(part, Part):
        raise TypeError(f"register() takes a Part, got {type(part).__name__}")
    PARTS[part.grade_id] = part
    return part


def get_part(grade_id):
    """The registered :class:`Part` of ``grade_id``; imports ``convclinic.judging.exNN`` lazily."""
    if grade_id not in PARTS:
        match = _MODULE.match(str(grade_id))
        if match:
            try:
                importlib.import_module(f"convclinic.judging.{match.group(1)}")
            except ModuleNotFoundError as error:
                if error.name != f"convclinic.judging.{match.group(1)}":
                    raise
    try:
        return PARTS[grade_id]
    except KeyError:
        raise KeyError(f"no judged part named {grade_id!r}") from None


# --- records: JSON only, strict limits -------------------------------------------------------


def encode(value, _depth=0):
    """``value`` as JSON-able data: None, bool, int, float, str, list, tuple, dict (str keys),
    NumPy arrays and scalars. Anything else raises :class:`RecordError`."""
    if _depth > MAX_DEPTH:
        raise RecordError("the answer is nested too deeply")
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and len(value) > MAX_STRING:
            raise RecordError("a string in the answer is too long")
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        if len(str(int(value))) > MAX_INT_DIGITS:
            raise RecordError("an integer in the answer is too large")
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise RecordError("a list in the answer is too long")
        items = [encode(item, _depth + 1) for item in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise RecordError("a dict in the answer is too big")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or key in RESERVED:
                raise RecordError(f"dict keys must be plain strings, got {key!r}"[:200])
            out[key] = encode(item, _depth + 1)
        return out
    raise RecordError(f"cannot record a {type(value).__name__}")


def _encode_array(array):
    if array.dtype.kind not in ARRAY_KINDS:
        raise RecordError(f"cannot record an array of dtype {array.dtype}")
    if array.nbytes > MAX_ARRAY_BYTES:
        raise RecordError("an array in the answer is too big")
    array = np.ascontiguousarray(array)
    return {"__array__": {"dtype": array.dtype.str, "shape": list(array.shape),
                          "data": base64.b64encode(array.tobytes()).decode("ascii")}}


def decode(data, _depth=0):
    """The Python value of :func:`encode`'s output; :class:`RecordError` on anything malformed."""
    if _depth > MAX_DEPTH:
        raise RecordError("nested too deeply")
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, int):
        if len(str(data)) > MAX_INT_DIGITS:
            raise RecordError("integer too large")
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, str):
        if len(data) > MAX_STRING:
            raise RecordError("string too long")
        return data
    if isinstance(data, list):
        if len(data) > MAX_ITEMS:
            raise RecordError("list too long")
        return [decode(item, _depth + 1) for item in data]
    if isinstance(data, dict):
        if len(data) > MAX_ITEMS:
            raise RecordError("dict too big")
        if len(data) == 1 and next(iter(data)) in RESERVED:
            return _decode_special(*next(iter(data.items())), _depth)
        if any(not isinstance(key, str) or key in RESERVED for key in data):
            raise RecordError("bad dict key")
        return {key: decode(item, _depth + 1) for key, item in data.items()}
    raise RecordError(f"unexpected {type(data).__name__} in a record")


def _decode_special(kind, payload, depth):
    if kind == "__tuple__":
        if not isinstance(payload, list):
            raise RecordError("bad tuple")
        return tuple(decode(payload, depth + 1))
    if kind == "__float__":
        if payload not in ("nan", "inf", "-inf"):
            raise RecordError("bad float")
        return float(payload)
    return _decode_array(payload)


def _decode_array(payload):
    if not isinstance(payload, dict) or set(payload) != {"dtype", "shape", "data"}:
        raise RecordError("bad array")
    dtype, shape, data = payload["dtype"], payload["shape"], payload["data"]
    if not isinstance(dtype, str) or not isinstance(data, str) or not isinstance(shape, list):
        raise RecordError("bad array")
    try:
        dtype = np.dtype(dtype)
    except TypeError as error:
        raise RecordError("bad array dtype") from error
    if dtype.kind not in ARRAY_KINDS or len(shape) > 32:
        raise RecordError("bad array dtype or rank")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in shape):
        raise RecordError("bad array shape")
    if len(data) > (MAX_ARRAY_BYTES * 4) // 3 + 8:
        raise RecordError("array too big")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise RecordError("bad array data") from error
    count = math.prod(shape)
    if count * dtype.itemsize != len(raw):
        raise RecordError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def make_record(grade_id, stage, data):
    """The payload of one answers output: ``{"grade_id", "stage", "data"}`` (JSON-able, size-checked).

    ``data`` is the envelope of :func:`collect_answers`, already encoded.
    """
    record = {"grade_id": grade_id, "stage": stage, "data": data}
    if len(json.dumps(record)) > MAX_RECORD_BYTES:
        record["data"] = {"unreadable": "the answer is too big to record"}
    return record


def read_record(payload):
    """(grade_id, stage, envelope) of an answers output; :class:`RecordError` when malformed."""
    if isinstance(payload, str):
        if len(payload) > MAX_RECORD_BYTES:
            raise RecordError("record too big")
        try:
            payload = json.loads(payload)
        except ValueError as error:
            raise RecordError("record is not JSON") from error
    if not isinstance(payload, dict) or set(payload) != {"grade_id", "stage", "data"}:
        raise RecordError("not an answers record")
    if len(json.dumps(payload)) > MAX_RECORD_BYTES:
        raise RecordError("record too big")
    grade_id, stage, data = payload["grade_id"], payload["stage"], payload["data"]
    if not isinstance(grade_id, str) or stage not in ("visible", "hidden") or not isinstance(data, dict):
        raise RecordError("not an answers record")
    return grade_id, stage, data


# --- collect (kernel side) -----------------------------------------------------------------


def collect_answers(part, namespace, cases):
    """Collect ``part``'s answers on ``cases`` from ``namespace``: an encoded envelope
    ``{"collected": data}``, ``{"missing": [names]}`` or ``{"unreadable": why}``."""
    missing = [name for name in part.names if name not in namespace]
    if missing:
        return {"missing": missing}
    answers = {name: namespace[name] for name in part.names}
    return collect_from(part, answers, cases)


def collect_from(part, answers, cases):
    """Run ``part.collect`` on ``answers`` and encode its data (see :func:`collect_answers`)."""
    try:
        data = part.collect(answers, cases)
    except NotImplementedError:
        return {"raised": "NotImplementedError"}
    except Exception as error:  # noqa: BLE001 - the learner's error is an answer too
        return {"raised": type(error).__name__}
    try:
        return {"collected": encode(data)}
    except RecordError as error:
        return {"unreadable": str(error)}
    except RecursionError:
        return {"unreadable": "the answer is nested too deeply"}


# --- judge (clean side) ----------------------------------------------------------------------


def _failed(requirement, text):
    return Finding(requirement, False, text, text)


def _envelope_findings(part, envelope):
    """Findings for an envelope that holds no collected data (None when it does)."""
    if envelope is None:
        return [_failed("your answer", "no answer was collected: the test cell did not run its check "
                                       "(an error in an earlier cell, or the check was replaced)")]
    if not isinstance(envelope, dict) or len(envelope) != 1:
        return [_failed("your answer", UNREADABLE)]
    (kind, value), = envelope.items()
    if kind == "missing" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = ", ".join(value)[:200]
        return [_failed("your answer", f"{names} is not defined: run your answer cell above first "
                                       "(without errors)")]
    if kind == "raised" and isinstance(value, str):
        if value == "NotImplementedError":
            return [_failed("your answer", "not answered yet (replace `raise NotImplementedError()`)")]
        return [_failed("your answer", f"your code raised {value[:80]}")]
    if kind == "unreadable" and isinstance(value, str):
        return [_failed("your answer", f"{UNREADABLE}: {value[:200]}")]
    if kind != "collected":
        return [_failed("your answer", UNREADABLE)]
    return None


def judge_stage(part, envelope, cases, hidden):
    """One stage's findings; hidden findings carry only hints (in ``message`` and ``hint``)."""
    findings = _envelope_findings(part, envelope)
    if findings is None:
        try:
            data = decode(envelope["collected"])
            findings = list(part.judge(data, cases, hidden))
            if not findings or not all(isinstance(f, Finding) for f in findings):
                raise RecordError("the judge returned no findings")
        except (RecordError, RecursionError):
            findings = [_failed("your answer", UNREADABLE)]
        except Exception as error:  # noqa: BLE001 - malformed data must never crash grading
            findings = [_failed("your answer", f"{UNREADABLE} ({type(error).__name__})")]
    if hidden:
        findings = [Finding(f.requirement, f.ok, *(2 * [_hint(f)])) for f in findings]
    return findings


def _hint(finding):
    if finding.ok:
        return ""
    return finding.hint or f"a hidden case failed: {finding.requirement}"


def judge_records(part, visible, hidden=None, hidden_cases=None):
    """Every finding of ``part``: on its visible cases (``visible`` envelope) and, when
    ``hidden_cases`` is given, on those (``hidden`` envelope: hints only)."""
    findings = judge_stage(part, visible, part.visible, hidden=False)
    if hidden_cases is not None:
        findings += judge_stage(part, hidden, hidden_cases, hidden=True)
    return findings


def verdict_lines(part, findings):
    """(passed, lines): ``PASS  <label>`` or one ``FAIL  <label>: <message>`` per failed finding."""
    failed = [f for f in findings if not f.ok]
    if not failed:
        return True, [f"PASS  {part.label}"]
    lines, seen = [], set()
    for finding in failed:
        text = " ".join((finding.message or finding.requirement).split())
        if text not in seen:
            seen.add(text)
            lines.append(f"FAIL  {part.label}: {text}")
    return False, lines
