"""Case-by-case helpers shared by the judged parts of the assignments (``convclinic.judging.exNN``).

Two sides, never mixed:

- kernel side (``collect``): :func:`call` runs one learner function and records
  what came back (or the exception) as plain data; :func:`as_array` turns a
  NumPy array, a ``tf.Tensor`` or a nested list into a NumPy array. Nothing
  here computes or holds an expected value.
- clean side (``judge``): :class:`Verdicts` gathers, requirement by
  requirement, the first failure of a part over all its cases and turns it
  into one :class:`~convclinic.judging.core.Finding` per requirement: the
  teaching message for a visible case, the hint (no inputs, no expected values)
  for a hidden one. :func:`judge_rows` is every judge's frame (malformed rows
  fail every requirement), :func:`judge_each` the one-check-per-case judge.
"""

from __future__ import annotations

import numpy as np

MAX_DETAIL = 160


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:MAX_DETAIL] if text else ""


def call(function, *args, convert=None):
    """Run ``function(*args)`` for real; ``{"value": ...}`` or ``{"error": name, "detail": line}``.

    ``convert`` turns the returned object into plain data (it runs inside the
    ``try``: an object that cannot be converted is recorded as an error of the
    learner's answer, never a crash of the check).
    """
    try:
        value = function(*args)
        return {"value": convert(value) if convert else value}
    except Exception as error:  # noqa: BLE001 - the learner's error IS the record
        return {"error": type(error).__name__, "detail": _first_line(error)}


def as_array(value):
    """A NumPy array from an array, a ``tf.Tensor`` (``.numpy()``) or nested lists."""
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"not an array of numbers: got {type(value).__name__}")
    return array


def read_array(record):
    """The array of a collected ``{"value": array}`` record, or None when it is not one."""
    if not isinstance(record, dict):
        return None
    value = record.get("value")
    if isinstance(value, np.ndarray) and value.dtype != object:
        return value
    return None


def error_text(record, what):
    """A learner-facing sentence for a record that holds an error (None if it does not)."""
    if not isinstance(record, dict) or "error" not in record:
        return None
    name = str(record.get("error"))[:60]
    if name == "NotImplementedError":
        return f"{what} is not answered yet (replace `raise NotImplementedError()`)"
    if name == "NameError":
        return f"{what} raised NameError: {str(record.get('detail', ''))[:MAX_DETAIL]}; run your answer cell first"
    text = f"{what} raised {name}: {str(record.get('detail', ''))[:MAX_DETAIL]}"
    if name == "KeyError":
        text += " (a lookup table of known cases? compute the answer from the arguments)"
    return text


def hint_of(error):
    """The hidden-case hint of an :func:`error_text` sentence: what raised, without the details."""
    hint = error.split(":")[0]
    if "(a lookup table" in error:
        hint += " (a lookup table of known cases? compute the answer from the arguments)"
    return hint


class Verdicts:
    """The first failure of each requirement of a part, over all its cases."""

    def __init__(self, requirements, hidden):
        self.requirements = tuple(requirements)
        self.hidden = bool(hidden)
        self.failures = {}

    def fail(self, index, message, hint):
        """Record a failure of requirement ``index`` (the first one per requirement is kept)."""
        self.failures.setdefault(index, (str(message), str(hint)))

    def unreadable(self, why="your answer could not be read"):
        """Every requirement fails: the collected data was malformed."""
        for index in range(len(self.requirements)):
            self.fail(index, why, why)

    def findings(self):
        from convclinic.judging.core import Finding

        result = []
        for index, requirement in enumerate(self.requirements):
            message, hint = self.failures.get(index, ("", ""))
            ok = index not in self.failures
            if ok:
                result.append(Finding(requirement, True, "", ""))
            elif self.hidden:
                result.append(Finding(requirement, False, "", f"a hidden case failed: {hint}"))
            else:
                result.append(Finding(requirement, False, message, hint))
        return result


def records(data, count):
    """``data`` as a list of ``count`` dicts, or None when it is malformed."""
    if not isinstance(data, list) or len(data) != count:
        return None
    if not all(isinstance(item, dict) for item in data):
        return None
    return data


def case_items(case, count, valid=None, name="case"):
    """``case`` (a test cell's list, or one drawn and read back from the kernel) as a tuple of
    ``count`` items when ``valid(items)`` holds; ``ValueError("bad <name> ...")`` otherwise."""
    if not isinstance(case, list | tuple) or len(case) != count or (valid and not valid(case)):
        raise ValueError(f"bad {name} {case!r}")
    return tuple(case)


def requirement_table(*rows):
    """``(requirements, hints)`` of a part from its ``(requirement, hint)`` rows: the requirements
    in order (a requirement's index is its number in :class:`Verdicts`), the hints by index."""
    return tuple(requirement for requirement, _ in rows), {index: hint for index, (_, hint) in enumerate(rows)}


def judge_rows(requirements, data, cases, hidden, check_rows):
    """A part's findings: every requirement fails when ``data`` is not one dict per case
    (:func:`records`); otherwise ``check_rows(verdicts, rows)`` records the failures."""
    verdicts = Verdicts(requirements, hidden)
    rows = records(data, len(cases))
    if rows is None:
        verdicts.unreadable()
    else:
        check_rows(verdicts, rows)
    return verdicts.findings()


def judge_each(requirements, data, cases, hidden, check):
    """:func:`judge_rows` calling ``check(verdicts, case, row)`` on each case and its row, in order."""
    def check_rows(verdicts, rows):
        for case, row in zip(cases, rows, strict=True):
            check(verdicts, case, row)
    return judge_rows(requirements, data, cases, hidden, check_rows)
