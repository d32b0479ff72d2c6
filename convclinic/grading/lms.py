"""LMS downloads: which layout a file name follows, who submitted it, when, and which attempt
is graded (grader/README.md, "4. Collect the submissions").

Pure name parsing (no nbgrader, no TensorFlow). Times are parsed here, never by dateutil
or nbgrader's ``parse_utc``: that one reads the trailing ``-HH-MM`` of
``YYYY-MM-DD-HH-MM-SS`` as a time-zone offset (docs/pitfalls.md).

Layouts, tried in this order for every file (a ``--pattern`` first when given):

- ``attempt``: nbgrader's documented zip_collect naming and Blackboard's download,
  ``<assignment>_<student>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>``; Blackboard adds a receipt
  ``<assignment>_<student>_attempt_<YYYY-MM-DD-HH-MM-SS>.txt`` per attempt;
- ``moodle``: ``Full Name_<participantid>_assignsubmission_file_/<file>`` (a folder per
  student) or the same name with ``_<file>`` in place of ``/<file>`` (flat);
- ``canvas``: flat ``lastfirst_[late_]<userid>_<submissionid>_<file>``, a resubmitted file
  renamed ``<file>-1.ipynb``, ``-2``...
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from dataclasses import dataclass

#: nbgrader's ``timestamp.txt`` format (what ``nbgrader submit`` writes), always in UTC.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
ROSTER_HEADER = ["student_id", "name", "email", "lms_id"]
PATTERN_GROUPS = {"student_id", "file_id"}
LAYOUT_NAMES = {"attempt": "nbgrader zip_collect", "blackboard": "Blackboard", "moodle": "Moodle",
                "canvas": "Canvas", "pattern": "--pattern"}
IGNORED_PARTS = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", "__pycache__", "Thumbs.db"}

_STAMP = r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d"
_ATTEMPT = re.compile(rf"^(?P<head>.+)_attempt_(?P<timestamp>{_STAMP})(?:_(?P<file_id>.+)|\.txt)$")
_MOODLE_FOLDER = re.compile(r"^(?P<name>[^/]+)_(?P<student_id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_$")
_MOODLE_FLAT = re.compile(r"^(?P<name>[^/_]+)_(?P<student_id>\d+)_assignsubmission_(?P<plugin>file)_(?P<file_id>.+)$")
_CANVAS = re.compile(r"^(?P<name>[A-Za-z0-9]+)_(?:(?P<late>late)_)?(?P<student_id>\d+)_(?P<submission>\d+)_"
                     r"(?P<file_id>.+)$", re.IGNORECASE)
_RESUBMISSION = re.compile(r"^(?P<stem>.+)-(?P<number>\d+)(?P<ext>\.[^.]+)?$")


class LmsError(ValueError):
    """A usage error in the LMS options (a bad --pattern or --roster): exit 2, one line."""


@dataclass
class LmsFile:
    """One file of a download, as its name describes it."""

    path: str                       # the name in the zip / path in the folder
    layout: str                     # a key of LAYOUT_NAMES
    lms_id: str                     # the id the LMS gives the student
    file_id: str                    # the file as the student named it ('' for a receipt)
    assignment: str = ""            # the assignment the name carries ('' when none)
    stamp: dt.datetime | None = None  # the submission time, UTC
    stamp_source: str = "name"      # 'name' or 'zip entry date' / 'file time'
    attempt: str = ""               # files of one attempt share this
    resubmission: int = 0           # Canvas: the -N of a resubmitted file
    late: bool = False              # Canvas: the file name says late
    display: str = ""               # the student's name as the LMS wrote it


def parse_stamp(text):
    """A UTC datetime from an LMS time stamp: 14 digits (year, month, day, hour, minute,
    second) with any of ``- _:T.`` between them, e.g. ``2026-03-02-17-45-59``. No time-zone
    guessing: the digits are the time. Raises ValueError naming the stamp."""
    text = str(text).strip()
    if not re.fullmatch(r"\d[\d\-_: T.]*\d", text or "x"):
        raise ValueError(f"time stamp '{text}' is not YYYY-MM-DD-HH-MM-SS")
    digits = re.sub(r"\D", "", text)
    if len(digits) != 14:
        raise ValueError(f"time stamp '{text}' is not YYYY-MM-DD-HH-MM-SS")
    numbers = [int(digits[0:4])] + [int(digits[i:i + 2]) for i in range(4, 14, 2)]
    try:
        return dt.datetime(*numbers, tzinfo=dt.UTC)
    except ValueError as error:
        raise ValueError(f"time stamp '{text}' is not a valid time ({error})") from None


def show_stamp(stamp):
    return stamp.strftime("%Y-%m-%d %H:%M:%S") if stamp else "no time"


def timestamp_txt(stamp):
    """The content of nbgrader's ``timestamp.txt`` for ``stamp`` (UTC)."""
    return stamp.astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)


def compile_pattern(pattern):
    """A compiled ``--pattern``: named groups student_id and file_id required, assignment and
    timestamp optional. Raises LmsError (a usage error)."""
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise LmsError(f"--pattern is not a valid regular expression: {error}") from None
    missing = PATTERN_GROUPS - set(compiled.groupindex)
    extra = set(compiled.groupindex) - PATTERN_GROUPS - {"assignment", "timestamp"}
    if missing or extra:
        raise LmsError("--pattern needs the named groups student_id and file_id (assignment and "
                       f"timestamp optional); missing {sorted(missing) or 'none'}, unknown {sorted(extra) or 'none'}")
    return compiled


def read_roster(path):
    """{LMS id: course student id} from a CSV with the header student_id,name,email,lms_id.
    Raises LmsError (a usage error) on a bad header, empty ids or duplicate ids."""
    if path is None:
        return {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as error:
        raise LmsError(f"cannot read --roster {path}: {error}") from None
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header != ROSTER_HEADER:
        raise LmsError(f"--roster {path}: the header must be {','.join(ROSTER_HEADER)} "
                       f"(found {','.join(header) or 'an empty file'})")
    mapping, students = {}, set()
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row] + [""] * 4
        student, lms_id = cells[0], cells[3]
        if not student or not lms_id:
            raise LmsError(f"--roster {path}, line {number}: student_id and lms_id must not be empty")
        if student in students or lms_id in mapping:
            which = f"student_id '{student}'" if student in students else f"lms_id '{lms_id}'"
            raise LmsError(f"--roster {path}, line {number}: duplicate {which}")
        students.add(student)
        mapping[lms_id] = student
    return mapping


def _split_head(head, known):
    """(assignment, student) of ``<assignment>_<student>``: a known assignment name wins,
    else the student is the part after the last underscore."""
    for assignment in sorted(known, key=len, reverse=True):
        if head.startswith(assignment + "_") and len(head) > len(assignment) + 1:
            return assignment, head[len(assignment) + 1:]
    assignment, _, student = head.rpartition("_")
    return (assignment, student) if assignment and student else (None, None)


def _attempt_file(path, base, known):
    match = _ATTEMPT.match(base)
    if not match:
        return None
    assignment, student = _split_head(match["head"], known)
    if student is None:
        return None
    stamp = parse_stamp(match["timestamp"])
    file_id = match["file_id"] or ""
    return LmsFile(path, "attempt", student, file_id, assignment, stamp, attempt=match["timestamp"])


def _moodle_file(path, parts):
    for index, part in enumerate(parts[:-1]):
        folder = _MOODLE_FOLDER.match(part)
        if folder:
            return LmsFile(path, "moodle", folder["student_id"], "/".join(parts[index + 1:]),
                           display=folder["name"])
    flat = _MOODLE_FLAT.match(parts[-1])
    if flat:
        return LmsFile(path, "moodle", flat["student_id"], flat["file_id"], display=flat["name"])
    return None


def _canvas_file(path, base, known):
    match = _CANVAS.match(base)
    if not match:
        return None
    file_id, resubmission = match["file_id"], 0
    stem = os.path.splitext(file_id)[0]
    again = _RESUBMISSION.match(file_id)
    if again and stem not in known:
        file_id, resubmission = again["stem"] + (again["ext"] or ""), int(again["number"])
    return LmsFile(path, "canvas", match["student_id"], file_id, display=match["name"],
                   attempt=str(resubmission), resubmission=resubmission, late=bool(match["late"]))


def _pattern_file(path, base, pattern):
    match = pattern.fullmatch(path) or pattern.fullmatch(base)
    if not match:
        return None
    groups = match.groupdict()
    stamp = parse_stamp(groups["timestamp"]) if groups.get("timestamp") else None
    return LmsFile(path, "pattern", groups["student_id"], groups["file_id"], groups.get("assignment") or "",
                   stamp, attempt=groups.get("timestamp") or "")


def classify(path, known=(), pattern=None):
    """The LmsFile a download's file name describes, or None when it matches no layout.
    Raises ValueError when it matches a layout but its time stamp is not a time."""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    if not parts:
        return None
    base = parts[-1]
    if pattern is not None:
        found = _pattern_file("/".join(parts), base, pattern)
        if found:
            return found
    return _attempt_file(path, base, known) or _moodle_file(path, parts) or _canvas_file(path, base, known)


def ignored(path):
    return any(part in IGNORED_PARTS or part.startswith("._") for part in path.replace("\\", "/").split("/"))


def intake_row(student, assignment, *notes):
    """A grades.csv row for something intake could not grade (no journal entry, no score)."""
    return {"student_id": student, "assignment": assignment, "state": "not graded", "score": None,
            "max_score": None, "notes": list(notes), "problems": [], "parts": [], "feedback": [],
            "intake": True}


def safe_id(text):
    """A student id usable as a folder name."""
    return re.sub(r"[^\w.@+-]", "_", text).lstrip(".") or "_"


def _stem(file_id):
    return os.path.splitext(os.path.basename(file_id))[0]


def _assignment_of(group, known, forced):
    """(assignment, None) or (None, the unknown name): the name's assignment when the course has
    it, else a notebook named after an assignment, else ``--assignment``."""
    named = group[0].assignment
    if named in known:
        return named, None
    stems = [_stem(f.file_id) for f in group if f.file_id.endswith(".ipynb")]
    for stem in stems:
        if stem in known:
            return stem, None
    if forced:
        return forced, None
    return None, named or (stems[0] if stems else _stem(group[0].file_id) or group[0].path)


def _label(group):
    stamps = [f.stamp for f in group if f.stamp]
    label = show_stamp(max(stamps)) if stamps else "no time"
    sources = {f.stamp_source for f in group if f.stamp}
    if sources - {"name"}:
        label += f" ({', '.join(sorted(sources - {'name'}))})"
    if group[0].resubmission:
        label += f", resubmission -{group[0].resubmission}"
    return label


def _order(group):
    stamps = [f.stamp for f in group if f.stamp]
    return group[0].resubmission, max(stamps) if stamps else dt.datetime.min.replace(tzinfo=dt.UTC)


def plan(files, known, selected, forced=None, roster=None):
    """Which attempt of each (student, assignment) is graded.

    Returns (chosen, rows, layout_notes): ``chosen`` is [(student, assignment, files, stamp,
    notes)] with the latest attempt's files (receipts left out); ``rows`` are intake rows for
    older attempts, unknown assignments and receipts without a file."""
    roster = roster or {}
    rows, layout_notes, attempts, skipped = [], [], {}, {}
    for item in files:
        student = safe_id(roster.get(item.lms_id, item.lms_id))
        attempts.setdefault((student, item.assignment, item.layout, item.attempt), []).append(item)
    by_submission = {}
    for (student, _, _, _), group in sorted(attempts.items()):
        assignment, unknown = _assignment_of(group, known, forced)
        names = ", ".join(sorted(f.path for f in group))
        if assignment is None:
            rows.append(intake_row(student, unknown, f"unknown assignment '{unknown}' (files: {names})"))
        elif assignment not in selected:
            skipped[assignment] = skipped.get(assignment, 0) + len(group)
        elif not any(f.file_id for f in group):
            rows.append(intake_row(student, assignment, f"Blackboard receipt without a submitted file ({names})"))
        else:
            by_submission.setdefault((student, assignment), []).append(group)
    for assignment, count in sorted(skipped.items()):
        layout_notes.append(f"{count} file(s) of assignment {assignment}, not selected by --assignment: not graded")
    chosen = []
    for (student, assignment), groups in sorted(by_submission.items()):
        groups.sort(key=_order)
        latest = groups[-1]
        notes = [f"attempt of {_label(latest)}"
                 + (f" (the latest of {len(groups)} attempts)" if len(groups) > 1 else "")]
        if any(f.late for f in latest):
            notes.append("marked late by Canvas")
        lms_ids = sorted({f.lms_id for f in latest})
        if roster and not any(i in roster for i in lms_ids):
            notes.append(f"LMS id {', '.join(lms_ids)} is not in the roster: graded under that id")
        for older in groups[:-1]:
            rows.append(intake_row(student, assignment,
                                   f"older attempt ({_label(older)}), graded {_label(latest)}"))
        stamps = [f.stamp for f in latest if f.stamp]
        chosen.append((student, assignment, [f for f in latest if f.file_id],
                       max(stamps) if stamps else None, notes))
    return chosen, rows, layout_notes
