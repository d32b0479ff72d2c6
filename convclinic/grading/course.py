"""The nbgrader course that ``convclinic grade`` grades into (grader/README.md, step 7).

By default the course is ``OUT/course``; ``--course DIR`` names an existing instructor course
instead (:func:`course_root` is the one place that says where the course is). Either way it
keeps nbgrader's layout and gradebook, so formgrader, ``nbgrader export``, ``release_feedback``
and every other nbgrader command work on it unchanged:

- ``nbgrader_config.py``: written once when missing, never rewritten (the instructor's
  settings, database URL and course id are read from it);
- ``source/<assignment>/``: the masters (formgrader lists assignments from here), copied when
  missing; ``release/<assignment>/``: the student version;
- ``submitted/<student>/<assignment>/``: each submission as handed in, ``timestamp.txt`` included
  (the SUBMISSIONS given to ``convclinic grade`` are copied here first);
- ``autograded/<student>/<assignment>/``: the autograded notebooks (:func:`publish_autograded`);
- the gradebook (``gradebook.db`` or the config's ``CourseDirectory.db_url``): every assignment's
  definition, copied from the master gradebook of ``nbgrader generate_assignment`` without
  touching a due date set with ``nbgrader db assignment add --duedate``; every graded
  submission, saved by nbgrader's own ``SaveAutoGrades`` and checked against the journal;
  timestamps, extensions and late penalties (:mod:`convclinic.grading.deadlines`).

The workers grade in private course copies (SQLite is not safe for concurrent writers); this
module, run by the main process only, is the one writer. Idempotent: a submission is imported
again only when its journal entry or its autograded notebooks changed (``.imported.json``), so
a re-run keeps the instructor's manual grades and comments untouched.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil

import nbformat

from convclinic.grading.database import settings, sqlite_url
from convclinic.grading.files import atomic_write
from convclinic.grading.submissions import tree_digest

COURSE = "course"
RECORD = ".imported.json"
CONFIG_TEMPLATE = '''"""nbgrader course folder written by `convclinic grade` (grader/README.md, step 7).

Manual grading: run `jupyter lab` (or `nbgrader formgrader`) in this folder.
Export: `convclinic export --course .` (or `nbgrader export`) in this folder.
Due dates: `nbgrader db assignment add NAME --duedate "2026-03-02 17:00:00 UTC"` here;
extensions: extensions.csv here (student_id,assignment,new_due).
`convclinic grade` writes this file only when it is missing: edit it freely.
"""

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_url = {db_url!r}
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Late policy (grader/README.md, "Deadlines"): 1 point off per started day late, at most the score.
c.AssignLatePenalties.plugin_class = "convclinic.grading.deadlines.SubtractPenalty"
c.SubtractPenalty.points_per_unit = 1.0
c.SubtractPenalty.unit_hours = 24
'''


def course_root(out, course=None):
    """The course folder: ``course`` (``--course DIR``) when given, else ``OUT/course``."""
    return os.path.abspath(course) if course else os.path.join(os.path.abspath(out), COURSE)


def course_path(root, step, student, assignment):
    """``<step>/<student>/<assignment>`` of the course at ``root`` (step: source, release,
    submitted, autograded, feedback), as nbgrader's CourseDirectory formats it."""
    from nbgrader.coursedir import CourseDirectory

    config, _, _ = settings(root)
    coursedir = CourseDirectory(config=config)
    return os.path.abspath(coursedir.format_path(getattr(coursedir, f"{step}_directory"), student, assignment))


def autograded_folder(out, student, assignment, course=None):
    return course_path(course_root(out, course), "autograded", student, assignment)


def _replace_tree(source, final, names=None):
    """Replace the folder ``final`` by a copy of ``source`` (only ``names`` when given):
    a temporary folder, renamed."""
    for stale in glob.glob(glob.escape(final) + ".tmp-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    temporary = f"{final}.tmp-{os.getpid()}"
    if names is None:
        shutil.copytree(source, temporary, symlinks=False)
    else:
        os.makedirs(temporary)
        for name in names:
            shutil.copyfile(os.path.join(source, name), os.path.join(temporary, name))
    shutil.rmtree(final, ignore_errors=True)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.rename(temporary, final)


def prepare_course(root, master_course, assignments, course_id, db_url=None):
    """Make ``root`` an nbgrader course: its config when missing (gradebook at ``db_url``, default
    ``root/gradebook.db``), the masters in ``source/`` and the releases in ``release/`` when
    missing. Never rewrites the instructor's files."""
    os.makedirs(root, exist_ok=True)
    config_path = os.path.join(root, "nbgrader_config.py")
    if not os.path.exists(config_path):
        atomic_write(config_path, CONFIG_TEMPLATE.format(
            root=root, course_id=course_id, db_url=db_url or sqlite_url(root)))
    for step in ("source", "release"):
        for assignment in assignments:
            target = course_path(root, step, ".", assignment)
            if not os.path.isdir(target):
                _replace_tree(os.path.join(master_course, step, assignment), target)


def receive_submissions(root, found):
    """Copy each submission ``(student, assignment, path)`` into the course's ``submitted/``
    (timestamp.txt included), unless it is already that folder. Returns the count copied."""
    copied = 0
    for student, assignment, path in found:
        target = course_path(root, "submitted", student, assignment)
        if os.path.realpath(path) == os.path.realpath(target):
            continue
        if os.path.isdir(target) and tree_digest(path) == tree_digest(target):
            continue
        _replace_tree(path, target)
        copied += 1
    return copied


def publish_autograded(out, source, entry, course=None):
    """Replace the autograded notebooks of one submission in the course's ``autograded/``
    with those of ``source`` (a worker's result folder): a temporary folder, renamed."""
    final = autograded_folder(out, entry["student_id"], entry["assignment"], course)
    _replace_tree(source, final, entry.get("autograded", []))


def _digest(entry, folder):
    digest = hashlib.sha256()
    summary = {key: entry.get(key) for key in ("fingerprint", "state", "score", "parts", "autograded")}
    digest.update(json.dumps(summary, sort_keys=True).encode())
    for name in sorted(entry.get("autograded", [])):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path, "rb") as handle:
                digest.update(name.encode() + hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def _copy_definitions(master_db, gradebook, assignments):
    """Every assignment's master definition (notebooks, cells, points) into the merged gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(master_db, course_id="") as master:  # "": read only, adds no course row
        for name in assignments:
            assignment = master.find_assignment(name)
            try:  # an existing assignment keeps the instructor's due date
                gradebook.find_assignment(name)
            except MissingEntry:
                gradebook.update_or_create_assignment(name, duedate=assignment.duedate)
            for notebook in assignment.notebooks:
                gradebook.update_or_create_notebook(notebook.name, name, kernelspec=notebook.kernelspec)
                for cell in notebook.grade_cells:
                    gradebook.update_or_create_grade_cell(cell.name, notebook.name, name,
                                                          max_score=cell.max_score, cell_type=cell.cell_type)
                for cell in notebook.solution_cells:
                    gradebook.update_or_create_solution_cell(cell.name, notebook.name, name)
                for cell in notebook.task_cells:
                    gradebook.update_or_create_task_cell(cell.name, notebook.name, name,
                                                         max_score=cell.max_score, cell_type=cell.cell_type)
                for cell in notebook.source_cells:
                    gradebook.update_or_create_source_cell(cell.name, notebook.name, name,
                                                           cell_type=cell.cell_type, locked=cell.locked,
                                                           source=cell.source, checksum=cell.checksum)


def _course_id(master_db, assignments):
    from nbgrader.api import Gradebook

    with Gradebook(master_db, course_id="") as master:  # "": read only, adds no course row
        for name in assignments:
            return master.find_assignment(name).course_id
    return "default_course"


def _save_auto_grades(gradebook, notebook, resources):
    """nbgrader's ``SaveAutoGrades`` on ``gradebook``, already open (its own ``preprocess`` opens
    and closes a gradebook for every notebook: most of a merge's time)."""
    from nbgrader.preprocessors import SaveAutoGrades

    class SaveInto(SaveAutoGrades):
        def preprocess(self, nb, resources):
            self.notebook_id = resources["nbgrader"]["notebook"]
            self.assignment_id = resources["nbgrader"]["assignment"]
            self.student_id = resources["nbgrader"]["student"]
            self.db_url = resources["nbgrader"]["db_url"]
            self.gradebook = gradebook
            return super(SaveAutoGrades, self).preprocess(nb, resources)  # the cells, as nbgrader

    SaveInto().preprocess(notebook, resources)


def _import_submission(gradebook, db_url, entry, folder):
    """Create/update one submission and save its grades with nbgrader's SaveAutoGrades."""
    from nbgrader.api import MissingEntry

    student, assignment = entry["student_id"], entry["assignment"]
    for attempt in range(2):
        gradebook.update_or_create_submission(assignment, student)
        notebooks = [notebook.name for notebook in gradebook.find_assignment(assignment).notebooks]
        for name in notebooks:  # a notebook nbgrader did not grade scores 0, as in Autograde
            if not os.path.exists(os.path.join(folder, name + ".ipynb")):
                for grade in gradebook.find_submission_notebook(name, assignment, student).grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
                gradebook.db.commit()
        try:
            for name in notebooks:
                path = os.path.join(folder, name + ".ipynb")
                if os.path.exists(path):
                    resources = {"nbgrader": {"notebook": name, "assignment": assignment,
                                              "student": student, "db_url": db_url}}
                    _save_auto_grades(gradebook, nbformat.read(path, as_version=4), resources)
            break
        except MissingEntry:
            gradebook.db.rollback()
            if attempt:
                raise
            # the master gained a cell since this submission was imported (a renamed grade
            # id, which grader/README.md forbids): import the submission afresh
            gradebook.remove_submission(assignment, student)
    # the journal is the truth of grades.csv: the merged autograded scores must be the same
    for part in entry.get("parts", []):
        if part.get("manual"):
            continue
        grade = gradebook.find_grade(part["grade_id"], part["notebook"], assignment, student)
        if grade.auto_score != part["auto_score"]:
            grade.auto_score = part["auto_score"]
    gradebook.db.commit()


def sync_course(out, entries, master_course, assignments, course=None, db_url=None):
    """Build or update the course (``OUT/course`` or ``course``) from the journal ``entries``
    (``db_url``: the gradebook of a course created now). Idempotent: run again after a failure
    (:func:`convclinic.grading.database.patiently`), it finishes the work.

    Returns {(student, assignment): deadline info} (:func:`convclinic.grading.deadlines.apply_deadlines`).
    """
    from nbgrader.api import Gradebook, SubmittedAssignment

    from convclinic.grading.deadlines import apply_deadlines
    from convclinic.grading.nbgrader_setup import prepare_gradebook_api

    prepare_gradebook_api()
    root = course_root(out, course)
    master_db = "sqlite:///" + os.path.join(master_course, "gradebook.db")
    prepare_course(root, master_course, assignments, _course_id(master_db, assignments), db_url)
    config, db_url, course_id = settings(root)
    course_id = course_id or "default_course"
    record_path = os.path.join(root, RECORD)
    try:
        with open(record_path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        record = {}
    with Gradebook(db_url, course_id) as gradebook:  # one connection for the whole merge
        _copy_definitions(master_db, gradebook, assignments)
        for entry in entries:
            gradebook.update_or_create_student(entry["student_id"])
        present = {f"{row.assignment.name}/{row.student.id}" for row in gradebook.db.query(SubmittedAssignment)}
        # a submission the gradebook lacks is imported again (a new or restored database, an
        # import cut short by a lost connection): the journal, not the record, is the truth
        record = {key: digest for key, digest in record.items() if key in present}
        for entry in sorted(entries, key=lambda e: (e["assignment"], e["student_id"])):
            key = f"{entry['assignment']}/{entry['student_id']}"
            folder = autograded_folder(out, entry["student_id"], entry["assignment"], course)
            digest = _digest(entry, folder)
            if record.get(key) != digest:
                _sync_entry(gradebook, db_url, entry, folder)
                record[key] = digest
                atomic_write(record_path, json.dumps(record, indent=1, sort_keys=True))
        return apply_deadlines(gradebook, db_url, config, root,
                               lambda student, assignment: course_path(root, "submitted", student, assignment))


def _sync_entry(gradebook, db_url, entry, folder):
    """Import one graded submission; one with nothing gradable has no submission (it scores 0)."""
    from nbgrader.api import MissingEntry

    gradable = entry.get("state") == "graded" and entry.get("autograded") and all(
        os.path.exists(os.path.join(folder, name)) for name in entry["autograded"])
    if gradable:
        _import_submission(gradebook, db_url, entry, folder)
        return
    try:
        gradebook.remove_submission(entry["assignment"], entry["student_id"])
    except MissingEntry:
        gradebook.db.rollback()
    shutil.rmtree(folder, ignore_errors=True)
