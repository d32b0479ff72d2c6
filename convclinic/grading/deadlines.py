"""Due dates, extensions and the late policy of a course (grader/README.md, "Deadlines").

- **Due dates** live in nbgrader's own assignment table, set by the instructor with
  ``nbgrader db assignment add NAME --duedate "2026-03-02 17:00:00 UTC"``; ``convclinic
  grade`` never overwrites them.
- **Extensions**: ``extensions.csv`` in the course folder, header ``student_id,assignment,new_due``
  (``new_due`` as ``YYYY-MM-DD HH:MM[:SS]`` with an optional time zone, UTC when none).
  Stored as nbgrader's own ``SubmittedAssignment.extension`` (new_due minus the due date), so
  ``total_seconds_late`` and formgrader agree.
- **Submission time**: the submission's nbgrader ``timestamp.txt`` (``submitted/<student>/
  <assignment>/timestamp.txt``). Without one the time is unknown and no penalty is applied.
- **Late policy**: nbgrader's ``AssignLatePenalties`` preprocessor with the plugin the course
  config names (``c.AssignLatePenalties.plugin_class``); by default :class:`SubtractPenalty`:
  ``points_per_unit`` points (1) per started ``unit_hours`` (24 h) late, never more than the
  score. nbgrader stores the result as ``late_submission_penalty`` on each submitted notebook,
  which ``nbgrader export`` and ``convclinic export`` subtract.
"""

from __future__ import annotations

import csv
import datetime as dt
import os

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float, Integer

EXTENSIONS = "extensions.csv"
EXTENSION_HEADER = ["student_id", "assignment", "new_due"]
DEFAULT_PLUGIN = "convclinic.grading.deadlines.SubtractPenalty"


class DeadlineError(Exception):
    """A malformed extensions file or date: one line for the instructor."""


class SubtractPenalty(LateSubmissionPlugin):
    """Subtract ``points_per_unit`` points per started ``unit_hours`` late (nbgrader caps it at the score)."""

    points_per_unit = Float(1.0, help="points taken off per started unit of lateness").tag(config=True)
    unit_hours = Integer(24, help="hours in one unit of lateness").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        if total_seconds_late <= 0:
            return None
        whole, rest = divmod(total_seconds_late, self.unit_hours * 3600.0)  # started units count
        return (whole + (1 if rest else 0)) * self.points_per_unit


def parse_time(text, what):
    """A date-time in UTC (naive, as nbgrader stores it); raises DeadlineError with ``what``."""
    from nbgrader.utils import parse_utc

    try:
        stamp = parse_utc(text.strip())
    except (ValueError, OverflowError, TypeError) as error:
        raise DeadlineError(f"{what}: cannot read the date {text.strip()!r} ({error})") from error
    return stamp.replace(tzinfo=None) if stamp.tzinfo is None else stamp.astimezone(dt.UTC).replace(tzinfo=None)


def read_extensions(course_root):
    """{(student_id, assignment): new due date (naive UTC)} from ``extensions.csv`` (empty without one)."""
    path = os.path.join(course_root, EXTENSIONS)
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if [name.strip() for name in reader.fieldnames or []] != EXTENSION_HEADER:
            raise DeadlineError(f"{path}: the header must be {','.join(EXTENSION_HEADER)}, "
                                f"found {','.join(reader.fieldnames or [])}")
        extensions = {}
        for number, row in enumerate(reader, start=2):
            if not row["student_id"] or not row["assignment"] or not row["new_due"]:
                raise DeadlineError(f"{path}, line {number}: student_id, assignment and new_due are required")
            key = (row["student_id"].strip(), row["assignment"].strip())
            extensions[key] = parse_time(row["new_due"], f"{path}, line {number}")
    return extensions


def submission_time(folder):
    """The time in ``folder/timestamp.txt`` (naive UTC), or None when there is none."""
    path = os.path.join(folder, "timestamp.txt")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return parse_time(handle.read(), path)


def late_policy_config(config):
    """``config`` with the default late plugin when the course config names none."""
    from traitlets.config import Config

    if "plugin_class" not in config.get("AssignLatePenalties", {}):
        defaults = Config()
        defaults.AssignLatePenalties.plugin_class = DEFAULT_PLUGIN
        defaults.merge(config)
        return defaults
    return config


def apply_deadlines(gradebook, db_url, config, course_root, submitted_folder):
    """Set every submission's timestamp, extension and nbgrader late penalty.

    ``submitted_folder(student, assignment)`` gives the folder holding its timestamp.txt.
    Returns {(student, assignment): {"submitted_at", "due", "late_penalty", "timestamped"}}.
    """
    import nbformat
    from nbgrader.api import SubmittedAssignment
    from nbgrader.preprocessors import AssignLatePenalties

    extensions = read_extensions(course_root)
    found = {}
    for submission in gradebook.db.query(SubmittedAssignment).all():
        student, assignment = submission.student.id, submission.assignment.name
        stamp = submission_time(submitted_folder(student, assignment))
        if stamp is not None:
            submission.timestamp = stamp
        new_due, due = extensions.get((student, assignment)), submission.assignment.duedate
        submission.extension = (new_due - due) if (new_due is not None and due is not None) else None
        found[(student, assignment)] = (submission, [notebook.name for notebook in submission.notebooks])
    gradebook.db.commit()
    late = AssignLatePenalties(config=late_policy_config(config))
    info = {}
    for (student, assignment), (submission, notebooks) in found.items():
        for name in notebooks:
            resources = {"nbgrader": {"notebook": name, "assignment": assignment,
                                      "student": student, "db_url": db_url}}
            late.preprocess(nbformat.v4.new_notebook(), resources)
        gradebook.db.expire_all()
        info[(student, assignment)] = {
            "submitted_at": _iso(submission.timestamp), "due": _iso(submission.duedate),
            "late_penalty": float(submission.late_submission_penalty or 0.0),
            "timestamped": submission.timestamp is not None}
    return info


def _iso(stamp):
    return "" if stamp is None else stamp.strftime("%Y-%m-%d %H:%M:%S UTC")
