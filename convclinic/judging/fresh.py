"""A visible case nobody listed: so a table of the visible cases fails the self-check.

A learner who copies the visible cases and their expected values into a lookup
table passes every listed case and only learns at grading time that the
function computes nothing. So the visible check of a function part (assignments
01-03) also runs ONE case drawn when the check runs, marked :data:`FRESH` in
the part's visible cases.

The draw is reproducible: its seed is a fingerprint of the learner's function
(its bytecode, constants and names), so the same answer always meets the same
case and is graded the same way twice, while a table edited to hold the case
it was shown meets another one. The kernel records the drawn case with the
answer (:func:`fresh_record`); the judge reads it back strictly
(:func:`read_fresh`) and computes the truth itself. :func:`collect_cases` is the
kernel side of such a part, :func:`judge_cases` and :func:`judge_fresh_last` its
two judges.
"""

from __future__ import annotations

import random
import types
import zlib

from convclinic.judging.casework import judge_rows

FRESH = "fresh"
#: the words before the call a drawn case's message shows
DRAWN = "a new case drawn at random: "


def _fingerprint(code, depth=0):
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for const in code.co_consts:
        if isinstance(const, types.CodeType) and depth < 8:
            parts.append(_fingerprint(const, depth + 1))
        else:
            parts.append(repr(const).encode())
    return b"\0".join(parts)


def draw(function):
    """A ``random.Random`` seeded by what ``function`` is, not by when it runs."""
    code = getattr(function, "__code__", None)
    seed = zlib.crc32(_fingerprint(code)) if isinstance(code, types.CodeType) else 0
    return random.Random(seed)


def fresh_record(case, record):
    """What the kernel stores for a fresh case: the drawn inputs and the learner's result."""
    return {"case": list(case), "result": record}


def read_fresh(row, read_case):
    """``(case, record)`` of a fresh row; ``read_case`` validates the inputs (ValueError)."""
    if not isinstance(row, dict) or not isinstance(row.get("result"), dict):
        raise ValueError("malformed fresh case")
    return read_case(row.get("case")), row["result"]


def collect_cases(cases, call_case, draw_case):
    """The kernel side of a function part: ``call_case(case)`` for each listed case, and for
    :data:`FRESH` a case drawn by ``draw_case()``, recorded with its inputs."""
    data = []
    for case in cases:
        if case == FRESH:
            drawn = draw_case()
            data.append(fresh_record(drawn, call_case(drawn)))
        else:
            data.append(call_case(case))
    return data


def case_rows(cases, rows, read_case):
    """The judge side: ``(case, row, fresh)`` per case; a FRESH row gives back its drawn case,
    validated by ``read_case``, and the learner's record."""
    for case, row in zip(cases, rows, strict=True):
        if case == FRESH:
            drawn, record = read_fresh(row, read_case)
            yield drawn, record, True
        else:
            yield case, row, False


def lookup_text(result):
    """What a drawn case's failure adds when every listed case passed: a table cannot pass."""
    return ("your function is right on the check's fixed cases but not on this new one: compute the "
            f"{result} from the arguments, a table of known cases cannot pass")


def fail_diagnosed(verdicts, diagnosis, shown, hints, fresh, lookup):
    """Fail a wrong answer; ``diagnosis`` is ``(requirement, why)``. On a drawn case judged
    ``fresh`` (every listed case passed) it is requirement 0, "any arguments", with ``lookup``
    (:func:`lookup_text`). Returns False: the case failed."""
    requirement, why = diagnosis
    if fresh:
        requirement, why = 0, f"{why}; {lookup}"
    verdicts.fail(requirement, f"{shown}: {why}", hints[requirement])
    return False


def judge_cases(requirements, data, cases, hidden, read_case, check):
    """The judge of a function part: ``check(verdicts, case, record, fresh)`` on each case in
    order (:func:`case_rows`: a drawn case is validated by ``read_case``), in :func:`judge_rows`."""
    def check_rows(verdicts, rows):
        for case, record, fresh in case_rows(cases, rows, read_case):
            check(verdicts, case, record, fresh)
    return judge_rows(requirements, data, cases, hidden, check_rows)


def judge_fresh_last(requirements, data, cases, hidden, read_case, check):
    """Like :func:`judge_cases`, but the drawn case is judged last: ``check(verdicts, case,
    record, fresh)`` returns whether its case passed, and a drawn case gets ``fresh=True`` only
    when every listed case passed (then its failure names a lookup table)."""
    def check_rows(verdicts, rows):
        listed_ok, fresh_rows = True, []
        for case, row in zip(cases, rows, strict=True):
            if case == FRESH:
                fresh_rows.append(row)
            else:
                listed_ok &= check(verdicts, read_case(case), row)
        for row in fresh_rows:
            drawn, record = read_fresh(row, read_case)
            check(verdicts, drawn, record, listed_ok)
    return judge_rows(requirements, data, cases, hidden, check_rows)
