"""``OUT/course``: one nbgrader course folder for manual grading and export (grader/README.md).

The workers grade in private course copies (SQLite is not safe for concurrent
writers); this module, run by the main process only, merges their results into
one real nbgrader course an instructor opens in nbgrader's formgrader:

- ``OUT/course/gradebook.db``: every assignment's definition, copied from the
  master gradebook written by ``nbgrader generate_assignment``; every student of
  the batch; every graded submission, its grades saved by nbgrader's own
  ``SaveAutoGrades`` preprocessor run on the autograded notebook, and checked
  against the journal (the autograded scores are those of ``grades.csv``);
- ``OUT/course/autograded/<student>/<assignment>/<notebook>.ipynb``: the
  autograded notebooks (published by :func:`publish_autograded`, before the
  journal entry is written);
- ``OUT/course/nbgrader_config.py``: ``CourseDirectory.root`` and the gradebook.

Idempotent: a submission is imported again only when its journal entry or its
autograded notebooks changed (``OUT/course/.imported.json``), so a re-run keeps
the instructor's manual grades and comments untouched. A batch killed during the
merge is merged again by the next run (each step is one SQLite transaction).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import nbformat

from convclinic.grading.files import atomic_write

COURSE = "course"
RECORD = ".imported.json"
CONFIG_TEMPLATE = '''"""nbgrader course folder written by `convclinic grade` (grader/README.md, step 7).

Manual grading: run `jupyter lab` (or `nbgrader formgrader`) in this folder.
Export: `nbgrader export` in this folder (writes grades.csv here).
Re-running `convclinic grade` updates it and keeps the manual grades.
"""

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.db_url = {db_url!r}
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
'''


def course_root(out):
    return os.path.join(out, COURSE)


def autograded_folder(out, student, assignment):
    return os.path.join(course_root(out), "autograded", student, assignment)


def publish_autograded(out, source, entry):
    """Replace the autograded notebooks of one submission in ``OUT/course/autograded``
    with those of ``source`` (a worker's result folder): a temporary folder, renamed."""
    final = autograded_folder(out, entry["student_id"], entry["assignment"])
    temporary = f"{final}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    for name in entry.get("autograded", []):
        shutil.copyfile(os.path.join(source, name), os.path.join(temporary, name))
    shutil.rmtree(final, ignore_errors=True)
    os.rename(temporary, final)


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
    from nbgrader.api import Gradebook

    with Gradebook(master_db, course_id="") as master:  # "": read only, adds no course row
        for name in assignments:
            assignment = master.find_assignment(name)
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


def _import_submission(db_url, course_id, entry, folder):
    """Create/update one submission and save its grades with nbgrader's SaveAutoGrades."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.preprocessors import SaveAutoGrades

    student, assignment = entry["student_id"], entry["assignment"]
    timestamp_file = os.path.join(folder, "timestamp.txt")
    extra = {}
    if os.path.exists(timestamp_file):
        with open(timestamp_file) as handle:
            extra["timestamp"] = handle.read().strip()
    for attempt in range(2):
        with Gradebook(db_url, course_id) as gradebook:
            gradebook.update_or_create_submission(assignment, student, **extra)
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
                    SaveAutoGrades().preprocess(nbformat.read(path, as_version=4), resources)
            break
        except MissingEntry:
            if attempt:
                raise
            # the master gained a cell since this submission was imported (a renamed grade
            # id, which grader/README.md forbids): import the submission afresh
            with Gradebook(db_url, course_id) as gradebook:
                gradebook.remove_submission(assignment, student)
    # the journal is the truth of grades.csv: the merged autograded scores must be the same
    with Gradebook(db_url, course_id) as gradebook:
        for part in entry.get("parts", []):
            if part.get("manual"):
                continue
            grade = gradebook.find_grade(part["grade_id"], part["notebook"], assignment, student)
            if grade.auto_score != part["auto_score"]:
                grade.auto_score = part["auto_score"]
        gradebook.db.commit()


def sync_course(out, entries, master_course, assignments):
    """Build or update ``OUT/course`` from the journal ``entries`` of this batch."""
    from nbgrader.api import Gradebook, MissingEntry

    from convclinic.grading.nbgrader_setup import silence_gradebook_warnings

    silence_gradebook_warnings()

    root = course_root(out)
    os.makedirs(os.path.join(root, "autograded"), exist_ok=True)
    master_db = "sqlite:///" + os.path.join(master_course, "gradebook.db")
    database = os.path.join(root, "gradebook.db")
    db_url = "sqlite:///" + database
    course_id = _course_id(master_db, assignments)
    atomic_write(os.path.join(root, "nbgrader_config.py"),
                 CONFIG_TEMPLATE.format(root=root, course_id=course_id, db_url=db_url))
    record_path = os.path.join(root, RECORD)
    record = {}
    if os.path.exists(database) and os.path.exists(record_path):
        try:
            with open(record_path) as handle:
                record = json.load(handle)
        except ValueError:
            record = {}
    with Gradebook(db_url, course_id) as gradebook:
        _copy_definitions(master_db, gradebook, assignments)
        for entry in entries:
            gradebook.update_or_create_student(entry["student_id"])
    imported = 0
    for entry in sorted(entries, key=lambda e: (e["assignment"], e["student_id"])):
        student, assignment = entry["student_id"], entry["assignment"]
        key = f"{assignment}/{student}"
        folder = autograded_folder(out, student, assignment)
        digest = _digest(entry, folder)
        if record.get(key) == digest:
            continue
        gradable = entry.get("state") == "graded" and entry.get("autograded") and all(
            os.path.exists(os.path.join(folder, name)) for name in entry["autograded"])
        if gradable:
            _import_submission(db_url, course_id, entry, folder)
            imported += 1
        else:  # nothing gradable now: no submission in the gradebook (the row scores 0)
            with Gradebook(db_url, course_id) as gradebook:
                try:
                    gradebook.remove_submission(assignment, student)
                except MissingEntry:
                    pass
            shutil.rmtree(folder, ignore_errors=True)
        record[key] = digest
        atomic_write(record_path, json.dumps(record, indent=1, sort_keys=True))
    return imported
