"""``convclinic export``: one authoritative grades file per course (grader/README.md, "Export").

Read from the course's nbgrader gradebook (the one formgrader writes manual grades into), so
it agrees with ``nbgrader export`` on every total, and goes further:

- only assignments handed out to a student appear for that student: a submission in the
  gradebook, or a folder in the course's ``submitted/`` that had no gradable notebook (it scores
  0, and says so); never a 0.0 for an assignment the student never handed in;
- autograded and manual points apart, the submission time, the due date (extension included)
  and nbgrader's late penalty (:mod:`convclinic.grading.deadlines`);
- ``needs_manual_grade`` on every row whose manual parts are not graded yet;
- roster columns (``student_id,name,email,lms_id`` from ``--roster``, else the gradebook's).

Formats: ``csv`` (one row per student and assignment), ``canvas`` (Canvas' gradebook import:
``Student,ID,SIS User ID,SIS Login ID,Section,<assignment>...``, then a ``Points Possible`` row)
and ``moodle`` (Moodle's grade import CSV: ``ID number,Email address,<assignment>...``, mapped
by "ID number" or "Email address" on import). In the two LMS formats a grade whose manual parts
are not graded yet is left blank (an LMS would take it as final) and listed on stderr.
"""

from __future__ import annotations

import csv
import io
import os

from convclinic.grading.course import course_path, settings
from convclinic.grading.database import DatabaseError, connect
from convclinic.grading.files import atomic_write

FORMATS = ("csv", "canvas", "moodle")
ROSTER_HEADER = ["student_id", "name", "email", "lms_id"]
CSV_COLUMNS = ["student_id", "name", "email", "lms_id", "assignment", "submitted_at", "due",
               "autograded", "manual", "raw_score", "late_penalty", "score", "max_score",
               "needs_manual_grade", "status"]
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_FIXED = ["ID number", "Email address"]


class ExportError(Exception):
    """Bad input (no course, a malformed roster): one line, exit 2; ``usage`` False (the
    gradebook's server cannot be reached): exit 1."""

    def __init__(self, message, usage=True):
        super().__init__(message)
        self.usage = usage


def read_roster(path):
    """{student_id: {name, email, lms_id}} from a CSV with the header student_id,name,email,lms_id."""
    if not path:
        return {}
    if not os.path.isfile(path):
        raise ExportError(f"--roster {path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        if header[:4] != ROSTER_HEADER:
            raise ExportError(f"--roster {path}: the header must be {','.join(ROSTER_HEADER)}, "
                              f"found {','.join(header)}")
        return {row["student_id"].strip(): {key: (row.get(key) or "").strip() for key in ROSTER_HEADER[1:]}
                for row in reader if (row.get("student_id") or "").strip()}


def _points(number):
    return "" if number is None else f"{float(number):g}"


def _person(student, roster):
    known = roster.get(student.id, {})
    name = " ".join(part for part in (student.first_name, student.last_name) if part)
    return {"student_id": student.id, "name": known.get("name") or name,
            "email": known.get("email") or (student.email or ""),
            "lms_id": known.get("lms_id") or (student.lms_user_id or "")}


def _submission_row(submission, roster):
    auto = manual = 0.0
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            if grade.manual_score is not None:
                manual += float(grade.manual_score)
            elif grade.auto_score is not None:
                auto += float(grade.auto_score)
    raw, penalty = float(submission.score), float(submission.late_submission_penalty or 0.0)
    waiting = bool(submission.needs_manual_grade)
    stamp = submission.timestamp
    return dict(_person(submission.student, roster), assignment=submission.assignment.name,
                submitted_at="" if stamp is None else stamp.strftime("%Y-%m-%d %H:%M:%S UTC"),
                due="" if submission.duedate is None else submission.duedate.strftime("%Y-%m-%d %H:%M:%S UTC"),
                autograded=_points(auto), manual=_points(manual), raw_score=_points(raw),
                late_penalty=_points(penalty), score=_points(max(0.0, raw - penalty)),
                max_score=_points(submission.assignment.max_score),
                needs_manual_grade="yes" if waiting else "no",
                status="manual grading pending" if waiting else "final")


def open_course(course):
    """(db_url, course_id) of the nbgrader course folder ``course``; ExportError when it is none."""
    from convclinic.grading.nbgrader_setup import prepare_gradebook_api

    prepare_gradebook_api()
    root = os.path.abspath(course)
    if not os.path.isfile(os.path.join(root, "nbgrader_config.py")):
        raise ExportError(f"no nbgrader course at {root} (no nbgrader_config.py): pass --course DIR, "
                          "the course folder `convclinic grade` wrote (default OUT/course)")
    _, db_url, course_id = settings(root)
    try:
        connect(db_url)
    except DatabaseError as error:
        raise ExportError(str(error), usage=False) from error
    return db_url, course_id or "default_course"


def collect(course, roster):
    """The export rows: one per student and assignment handed in (see the module doc)."""
    from nbgrader.api import Gradebook, MissingEntry, SubmittedAssignment

    db_url, course_id = open_course(course)
    rows = {}
    submitted = course_path(os.path.abspath(course), "submitted", ".", ".")
    with Gradebook(db_url, course_id) as gradebook:
        for submission in gradebook.db.query(SubmittedAssignment).all():
            rows[(submission.student.id, submission.assignment.name)] = _submission_row(submission, roster)
        names = {assignment.name: assignment for assignment in gradebook.assignments}
        for student in sorted(os.listdir(submitted)) if os.path.isdir(submitted) else []:
            if not os.path.isdir(os.path.join(submitted, student)):
                continue
            for name in sorted(os.listdir(os.path.join(submitted, student))):
                if name not in names or (student, name) in rows:
                    continue
                try:
                    person = _person(gradebook.find_student(student), roster)
                except MissingEntry:
                    person = dict(_person(_Nobody(student), roster))
                rows[(student, name)] = dict(
                    person, assignment=name, submitted_at="", due="", autograded="0", manual="0",
                    raw_score="0", late_penalty="0", score="0", max_score=_points(names[name].max_score),
                    needs_manual_grade="no", status="no gradable notebook (see grades.csv)")
    return [rows[key] for key in sorted(rows)]


class _Nobody:
    def __init__(self, student_id):
        self.id, self.first_name, self.last_name, self.email, self.lms_user_id = student_id, "", "", "", ""


def render(rows, form):
    """(text, pending rows) in ``form``; pending: rows whose manual grading is not done."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    pending = [row for row in rows if row["needs_manual_grade"] == "yes"]
    if form == "csv":
        writer.writerow(CSV_COLUMNS)
        writer.writerows([row[column] for column in CSV_COLUMNS] for row in rows)
        return buffer.getvalue(), pending
    assignments = sorted({row["assignment"] for row in rows})
    maximum = {row["assignment"]: row["max_score"] for row in rows}
    people, grades = {}, {}
    for row in rows:
        people.setdefault(row["student_id"], row)
        grades[(row["student_id"], row["assignment"])] = "" if row["needs_manual_grade"] == "yes" else row["score"]
    if form == "canvas":
        writer.writerow(CANVAS_FIXED + assignments)
        writer.writerow(["    Points Possible", "", "", "", ""] + [maximum[a] for a in assignments])
        for student, person in sorted(people.items()):
            writer.writerow([person["name"] or student, person["lms_id"], student, person["email"], ""]
                            + [grades.get((student, a), "") for a in assignments])
    else:
        writer.writerow(MOODLE_FIXED + assignments)
        for student, person in sorted(people.items()):
            writer.writerow([student, person["email"]] + [grades.get((student, a), "") for a in assignments])
    return buffer.getvalue(), pending


def export(course, out, roster_path=None, form="csv"):
    """Write the export of ``course`` to ``out``; return (rows, pending)."""
    if form not in FORMATS:
        raise ExportError(f"--format {form}: expected one of {', '.join(FORMATS)}")
    rows = collect(course, read_roster(roster_path))
    text, pending = render(rows, form)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    atomic_write(os.path.abspath(out), text)
    return rows, pending
