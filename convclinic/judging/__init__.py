"""Judged parts of the assignments: collect in the learner's kernel, decide in a clean process.

Public API (grader/README.md, "How a part is judged"):

- :data:`check`: ``check(grade_id)`` and ``check.hidden(grade_id, cases)`` in test cells;
- :class:`Part`, :class:`Finding`, :func:`register`, :data:`PARTS`, :func:`get_part`;
- :func:`judge_records`, :func:`verdict_lines` (used by the grader).

Parts live in ``convclinic.judging.ex01`` ... ``ex07`` and are imported lazily
by the ``exNN-`` prefix of their grade id.
"""

from convclinic.judging.core import (
    MIME,
    PARTS,
    Finding,
    Part,
    RecordError,
    decode,
    encode,
    get_part,
    judge_records,
    register,
    verdict_lines,
)
from convclinic.judging.kernel import check

__all__ = ["MIME", "PARTS", "Finding", "Part", "RecordError", "check", "decode", "encode", "get_part",
           "judge_records", "register", "verdict_lines"]
