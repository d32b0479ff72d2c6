"""Re-grading without losing the TAs' work, and the locked cells of every release (grader/README.md).

Two things a re-grade must not do:

- **forget a review.** Re-importing a submission runs nbgrader's ``SaveAutoGrades``,
  which flags every answered explanation for manual grading again. Before grading,
  :func:`save_reviews` records each manually graded cell of the submissions about to be
  graded again (manual score, extra credit, the reviewed state, the TA's comment) with
  the answer text it was given for, in ``OUT/.convclinic/reviews.json`` (so a batch killed
  before the merge loses nothing); after the merge, :func:`restore_reviews` puts them back
  for every cell whose answer text did not change. A changed answer is reviewed again.
- **accuse a student of editing a locked cell they never touched.** ``convclinic release``
  keeps the checksums of the locked cells of every release it wrote
  (``<release>/<assignment>/.release-checksums.json``, history included); the grader adds
  those of each release it generates (``OUT/.convclinic/releases/<assignment>.json``). A locked
  cell equal to ANY release of it is not reported, so fixing a visible test's wording in a
  later release accuses nobody who received the earlier one.
"""

from __future__ import annotations

import hashlib
import json
import os

import nbformat

from convclinic.grading.files import atomic_write

REVIEWS = "reviews.json"
CHECKSUMS = ".release-checksums.json"


def cell_checksum(cell):
    """A locked cell's identity for the release comparison: its type and stripped source."""
    text = f"{cell.get('cell_type')}\0{(cell.get('source') or '').strip()}"
    return hashlib.sha256(text.encode()).hexdigest()


def locked_checksums(notebook):
    """{grade_id: checksum} of the locked cells of a (released) notebook."""
    found = {}
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") and meta.get("locked"):
            found[meta["grade_id"]] = cell_checksum(cell)
    return found


def read_checksums(path):
    """{grade_id: [checksums]} from a checksum file; {} when missing or unreadable."""
    try:
        with open(path) as handle:
            return {key: list(value) for key, value in json.load(handle).get("locked", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def add_release(path, assignment, notebooks):
    """Add the locked-cell checksums of ``notebooks`` (released) to the history in ``path``."""
    known = read_checksums(path)
    for notebook in notebooks:
        for grade_id, checksum in locked_checksums(notebook).items():
            if checksum not in known.setdefault(grade_id, []):
                known[grade_id].append(checksum)
    atomic_write(path, json.dumps({"assignment": assignment, "locked": known}, indent=1, sort_keys=True) + "\n")
    return known


def release_history(assignment, release_folder, paths):
    """Record the release the grader generated in its own history and return every known
    checksum: {grade_id: set(checksums)} from the history files ``paths`` and this release."""
    notebooks = [nbformat.read(os.path.join(release_folder, name), as_version=4)
                 for name in sorted(os.listdir(release_folder)) if name.endswith(".ipynb")]
    known = {}
    for index, path in enumerate(paths):
        found = add_release(path, assignment, notebooks) if index == 0 else read_checksums(path)
        for grade_id, sums in found.items():
            known.setdefault(grade_id, set()).update(sums)
    return known


def known_releases(releases, assignments, master_course, state):
    """{assignment: {grade_id: set(checksums)}}: the locked cells of every release of each
    assignment: the one the grader generated now (added to ``state/releases/``), and those
    ``convclinic release`` recorded in ``releases/<assignment>/`` and earlier runs kept."""
    known = {}
    for assignment in assignments:
        paths = [os.path.join(state, "releases", f"{assignment}.json"),
                 os.path.join(releases, assignment, CHECKSUMS)]
        known[assignment] = release_history(assignment, os.path.join(master_course, "release", assignment), paths)
    return known


def _gradebook(course_dir):
    from convclinic.grading.feedback import FeedbackError, course_settings

    try:
        _, db_url, course_id = course_settings(course_dir)
    except FeedbackError:
        return None
    from nbgrader.api import Gradebook

    return Gradebook(db_url, course_id)


def _answer_texts(course_dir, student, assignment, notebook):
    path = os.path.join(course_dir, "autograded", student, assignment, notebook + ".ipynb")
    try:
        cells = nbformat.read(path, as_version=4).cells
    except (OSError, ValueError):
        return {}
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source.strip() for cell in cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def save_reviews(course_dir, state, submissions):
    """Record the manual work on ``submissions`` [(assignment, student)] before they are graded again."""
    path = os.path.join(state, REVIEWS)
    saved = _read(path)
    book = _gradebook(course_dir) if submissions else None
    if book is None:
        return saved
    from nbgrader.api import MissingEntry

    with book as gradebook:
        for assignment, student in submissions:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            for notebook in submission.notebooks:
                texts = _answer_texts(course_dir, student, assignment, notebook.name)
                for grade in notebook.grades:
                    if grade.name in texts and (grade.manual_score is not None or grade.extra_credit):
                        saved[_key(assignment, student, notebook.name, grade.name, "grade")] = {
                            "manual_score": grade.manual_score, "extra_credit": grade.extra_credit,
                            "needs_manual_grade": bool(grade.needs_manual_grade), "text": texts[grade.name]}
                for comment in notebook.comments:
                    if comment.name in texts and comment.manual_comment:
                        saved[_key(assignment, student, notebook.name, comment.name, "comment")] = {
                            "manual_comment": comment.manual_comment, "text": texts[comment.name]}
    atomic_write(path, json.dumps(saved, indent=1, sort_keys=True))
    return saved


def restore_reviews(course_dir, state):
    """Put the recorded reviews back on every cell whose answer text is unchanged; returns
    (restored, dropped): dropped answers changed, and need a new review."""
    path = os.path.join(state, REVIEWS)
    saved = _read(path)
    if not saved:
        return 0, 0
    from nbgrader.api import MissingEntry

    restored = dropped = 0
    with _gradebook(course_dir) as gradebook:
        for key, value in saved.items():
            assignment, student, notebook, cell, kind = key.split("\0")
            if _answer_texts(course_dir, student, assignment, notebook).get(cell) != value["text"]:
                dropped += 1
                continue
            try:
                if kind == "grade":
                    row = gradebook.find_grade(cell, notebook, assignment, student)
                    row.manual_score, row.extra_credit = value["manual_score"], value["extra_credit"]
                    row.needs_manual_grade = value["needs_manual_grade"]
                else:
                    row = gradebook.find_comment(cell, notebook, assignment, student)
                    row.manual_comment = value["manual_comment"]
            except MissingEntry:
                dropped += 1
                continue
            restored += 1
        gradebook.db.commit()
    os.remove(path)
    return restored, dropped


def _key(*parts):
    return "\0".join(parts)


def _read(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}
