"""``convclinic feedback``: the students' pages AFTER manual grading (grader/README.md, step 9).

``convclinic grade`` writes feedback pages as soon as a notebook is autograded, before
any TA has looked at the explanations; nbgrader's own ``generate_feedback`` gives the
final totals but publishes the hidden tests (jupyter/nbgrader#917). This command runs
nbgrader's own ``GenerateFeedback`` converter on the course folder after formgrader:

- the scores and comments come from the course gradebook (nbgrader's ``GetGrades``:
  the TA's manual score and comment of each explanation, the autograded parts);
- hidden tests are removed by the grader's filter
  (:class:`convclinic.grading.nbgrader_setup.HideHiddenTests`), whose hidden lines are
  read from the gradebook's own copy of the locked cells (no path to the masters needed);
- pages are written where nbgrader expects them, ``<course>/feedback/<student>/<assignment>/``,
  with ``timestamp.txt`` and ``submission_secret.txt`` beside them, so that
  ``nbgrader release_feedback`` works afterwards;
- ``--zip DIR``: one zip per assignment for an LMS bulk upload,
  ``DIR/<assignment>-feedback.zip`` holding ``<assignment>_<student_id>_feedback_<notebook>.html``
  (the LMS intake naming with ``feedback`` in place of ``attempt_<time>``).
"""

from __future__ import annotations

import os
import shutil
import types
import zipfile

BOOKKEEPING = ("timestamp.txt", "submission_secret.txt")


class FeedbackError(Exception):
    """Feedback cannot be written (``usage`` True: bad input from the command line)."""

    def __init__(self, message, usage=False):
        super().__init__(message)
        self.usage = usage


def course_settings(course_dir):
    """(config, db_url, course_id) of an nbgrader course folder written by ``convclinic grade``
    (its gradebook: SQLite or a server, :mod:`convclinic.grading.database`)."""
    from convclinic.grading.database import settings

    course_dir = os.path.abspath(course_dir)
    if not os.path.isfile(os.path.join(course_dir, "nbgrader_config.py")):
        raise FeedbackError(f"no nbgrader course at {course_dir} (no nbgrader_config.py): "
                            "run `convclinic grade` first", usage=True)
    config, db_url, course_id = settings(course_dir)
    if db_url.startswith("sqlite:///") and not os.path.isfile(db_url[len("sqlite:///"):]):
        raise FeedbackError(f"no gradebook at {db_url[len('sqlite:///'):]}: run `convclinic grade` first",
                            usage=True)
    return config, db_url, course_id or "default_course"


def hidden_lines_from_gradebook(gradebook, assignment):
    """The hidden-test lines of ``assignment``, read from the gradebook's locked source cells
    (``nbgrader generate_assignment`` stored the masters' test cells there, hidden blocks included)."""
    from convclinic.grading.nbgrader_setup import hidden_test_lines

    cells = [types.SimpleNamespace(source=cell.source or "")
             for notebook in gradebook.find_assignment(assignment).notebooks
             for cell in notebook.source_cells]
    return hidden_test_lines(types.SimpleNamespace(cells=cells))


def plan(db_url, course_id, assignment=None, students=()):
    """{assignment: {"students": [...], "hidden": [...], "pending": {student: [grade ids]}}}."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gradebook:
        names = [a.name for a in gradebook.assignments]
        if assignment:
            if assignment not in names:
                raise FeedbackError(f"unknown assignment '{assignment}'; the gradebook has: "
                                    f"{', '.join(sorted(names)) or 'none'}", usage=True)
            names = [assignment]
        known = {s.id for s in gradebook.students}
        unknown = sorted(set(students) - known)
        if unknown:
            raise FeedbackError(f"unknown student(s) {', '.join(unknown)}: not in the gradebook", usage=True)
        result = {}
        for name in sorted(names):
            chosen, pending = [], {}
            for submission in gradebook.find_assignment(name).submissions:
                student = submission.student.id
                if students and student not in students:
                    continue
                chosen.append(student)
                waiting = [grade.name for notebook in submission.notebooks for grade in notebook.grades
                           if grade.needs_manual_grade]
                if waiting:
                    pending[student] = waiting
            if chosen:
                result[name] = {"students": sorted(chosen), "pending": pending,
                                "hidden": hidden_lines_from_gradebook(gradebook, name)}
        for student in students:
            if not any(student in item["students"] for item in result.values()):
                raise FeedbackError(f"student '{student}' has no graded submission"
                                    + (f" of {assignment}" if assignment else ""), usage=True)
    return result


def feedback_config(config, hidden):
    """The course config with nbgrader's feedback converter set to hide the hidden tests."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    from convclinic.grading.nbgrader_setup import FeedbackExporter, HideHiddenTests

    merged = Config()
    merged.merge(config)
    overrides = Config()
    overrides.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    overrides.GenerateFeedback.exporter_class = FeedbackExporter
    overrides.HideHiddenTests.hidden_lines = list(hidden)
    merged.merge(overrides)
    return merged


def _run_converter(config, assignment, student):
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    coursedir.student_id = student
    converter = GenerateFeedback(coursedir=coursedir, config=config)
    converter.force = True
    return capture_log(converter), coursedir


def _bookkeeping(coursedir, assignment, student, folder):
    """``timestamp.txt`` and ``submission_secret.txt`` beside the pages (``release_feedback``
    reads both): copied from the autograded or submitted folder when the converter did not.
    Returns the names still missing (a submission not collected by ``nbgrader collect``)."""
    for name in BOOKKEEPING:
        target = os.path.join(folder, name)
        if os.path.exists(target):
            continue
        for area in (coursedir.autograded_directory, coursedir.submitted_directory):
            source = coursedir.format_path(area, student, assignment)
            if os.path.isfile(os.path.join(source, name)):
                shutil.copyfile(os.path.join(source, name), target)
                break
    return [name for name in BOOKKEEPING if not os.path.exists(os.path.join(folder, name))]


def generate(course_dir, assignment=None, students=(), zip_dir=None, say=print):
    """Write every chosen student's feedback pages; return {(assignment, student): [html paths]}."""
    from convclinic.grading.database import DatabaseError, connect
    from convclinic.grading.nbgrader_setup import prepare_gradebook_api

    prepare_gradebook_api()
    config, db_url, course_id = course_settings(course_dir)
    try:
        connect(db_url)
    except DatabaseError as error:
        raise FeedbackError(str(error)) from error
    work = plan(db_url, course_id, assignment, tuple(students))
    if not work:
        raise FeedbackError("no graded submission in the gradebook"
                            + (f" for {assignment}" if assignment else ""), usage=True)
    written, failed = {}, []
    for name, item in work.items():
        settings = feedback_config(config, item["hidden"])
        for student in item["students"]:
            outcome, coursedir = _run_converter(settings, name, student)
            folder = coursedir.format_path(coursedir.feedback_directory, student, name)
            pages = sorted(f for f in os.listdir(folder) if f.endswith(".html")) if os.path.isdir(folder) else []
            if not outcome.get("success") or not pages:  # say so, and go on with the others
                failed.append(f"{student} / {name}: " + ((outcome.get("error") or outcome.get("log") or "")
                                                         .strip().splitlines() or ["no page written"])[-1])
                continue
            missing = _bookkeeping(coursedir, name, student, folder)
            written[(name, student)] = [os.path.join(folder, page) for page in pages]
            waiting = item["pending"].get(student)
            note = f" ({', '.join(waiting)} not manually graded yet)" if waiting else ""
            if missing:  # release_feedback needs both; a folder or LMS submission has no secret
                note += f" (no {' or '.join(missing)}: not releasable by nbgrader release_feedback; use --zip)"
            say(f"  {student:<24} {name:<22} {', '.join(pages)}{note}")
    if zip_dir:
        for path in write_zips(written, zip_dir):
            say(f"wrote {path}")
    if failed:
        raise FeedbackError(f"nbgrader could not write {len(failed)} page(s) (the others are written): "
                            + "; ".join(failed))
    return written


def zip_member(assignment, student, page):
    """Name of a page inside the LMS zip: ``<assignment>_<student_id>_feedback_<notebook>.html``."""
    return f"{assignment}_{student}_feedback_{page}"


def write_zips(written, zip_dir):
    """One ``<assignment>-feedback.zip`` per assignment in ``zip_dir`` (written atomically)."""
    os.makedirs(zip_dir, exist_ok=True)
    paths = []
    for assignment in sorted({a for a, _ in written}):
        path = os.path.join(os.path.abspath(zip_dir), f"{assignment}-feedback.zip")
        temporary = f"{path}.tmp-{os.getpid()}"
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for (name, student), pages in sorted(written.items()):
                if name == assignment:
                    for page in pages:
                        archive.write(page, zip_member(assignment, student, os.path.basename(page)))
        os.replace(temporary, path)
        paths.append(path)
    return paths
