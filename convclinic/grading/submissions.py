"""Reading a class's submissions (grader/README.md, "What the grader accepts").

Two inputs are accepted, and neither is ever modified:

- a folder laid out as nbgrader's ``submitted/``: ``<student_id>/<assignment>/<notebook>.ipynb``
  (plus any extra files, and optionally nbgrader's ``timestamp.txt``);
- an LMS download (zip or extracted folder): nbgrader's zip_collect naming, Canvas, Moodle,
  Blackboard or a ``--pattern`` (:mod:`convclinic.grading.lms` reads the names). It is
  collected here, not by ``nbgrader zip_collect`` (whose ``parse_utc`` misreads the
  documented time stamps, docs/pitfalls.md), into nbgrader's ``submitted/`` layout with
  nbgrader's ``timestamp.txt``; the latest attempt of each student is kept.

Every (student, assignment) is copied into a staging folder and normalized:
a notebook with another name is graded under the expected name when it is the
only notebook; an nbformat 3 notebook is upgraded; an empty, corrupt or
non-notebook file is not graded (its parts score 0) and says why.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from dataclasses import dataclass, field

import nbformat

from convclinic.grading import lms

MAX_EXTRA_FILE_BYTES = 20 * 2**20
IGNORED_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store", "__MACOSX"}
#: nbgrader's own bookkeeping beside a submitted notebook (``nbgrader submit``/``collect``): kept, never extras
BOOKKEEPING_FILES = ("timestamp.txt", "submission_secret.txt")


@dataclass
class Submission:
    """One student's work for one assignment, normalized into ``staged``."""

    student_id: str
    assignment: str
    staged: str
    notebooks: list = field(default_factory=list)   # notebook names nbgrader will grade
    notes: list = field(default_factory=list)       # what the instructor should know
    unusable: list = field(default_factory=list)    # expected notebooks that cannot be graded
    timestamp: str = ""


class SubmissionsError(Exception):
    """The submissions cannot be read at all (the grader cannot run)."""


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_digest(folder):
    """A digest of every file (relative name and content) under ``folder``."""
    digest = hashlib.sha256()
    for current, directories, files in os.walk(folder):
        directories.sort()
        for name in sorted(files):
            path = os.path.join(current, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def is_zip(path):
    return os.path.isfile(path) and path.lower().endswith(".zip")


def _read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def _download_entries(source):
    """[(name, modified time UTC, read bytes)] of every file of a zip or folder download."""
    import datetime as dt
    import zipfile

    entries = []
    if is_zip(source):
        try:
            archive = zipfile.ZipFile(source)
            infos = [i for i in archive.infolist() if not i.is_dir()]
        except (zipfile.BadZipFile, OSError) as error:
            raise SubmissionsError(f"{source} is not a readable zip file: {error}") from error
        for info in infos:
            when = dt.datetime(*info.date_time, tzinfo=dt.UTC)
            entries.append((info.filename, when, "zip entry date",
                            lambda info=info: archive.read(info)))
        return entries
    for current, directories, files in os.walk(source):
        directories.sort()
        for name in sorted(files):
            path = os.path.join(current, name)
            if os.path.islink(path):
                continue
            when = dt.datetime.fromtimestamp(os.path.getmtime(path), dt.UTC).replace(microsecond=0)
            entries.append((os.path.relpath(path, source).replace(os.sep, "/"), when, "file time",
                            lambda path=path: _read_bytes(path)))
    return entries


def is_lms_folder(folder, known=(), pattern=None):
    """True when a folder is an extracted LMS download (a top-level file or Moodle folder that
    an LMS layout names), not nbgrader's ``<student>/<assignment>/`` layout; always, with a
    ``--pattern``."""
    if not os.path.isdir(folder):
        return False
    if pattern is not None:
        return True
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        probe = name if os.path.isfile(path) else name + "/x.ipynb"
        try:
            if not lms.ignored(name) and lms.classify(probe, known, pattern) is not None:
                return True
        except ValueError:
            return True
    return False


def collect_lms(source, root, known, selected, forced=None, pattern=None, roster=None):
    """Collect an LMS download (zip or folder, any layout of :mod:`convclinic.grading.lms`) into
    nbgrader's layout ``root/submitted/<student>/<assignment>/`` with nbgrader's
    ``timestamp.txt``; return (submitted folder, {(student, assignment): notes}, intake rows,
    layout notes, summary line)."""
    from collections import Counter

    files, rows, read = [], [], {}
    for name, when, source_kind, reader in _download_entries(source):
        if lms.ignored(name):
            continue
        try:
            item = lms.classify(name, known, pattern)
        except ValueError as error:
            rows.append(lms.intake_row("", "", f"{name}: {error}"))
            continue
        if item is None:
            rows.append(lms.intake_row("", "", f"file name matches no LMS layout: '{name}'"))
            continue
        parts = item.file_id.split("/")
        if ".." in parts or item.file_id.startswith("/"):
            rows.append(lms.intake_row("", "", f"unsafe file name in the download: '{name}'"))
            continue
        if item.stamp is None:
            item.stamp, item.stamp_source = when, source_kind
        files.append(item)
        read[name] = reader
    chosen, plan_rows, layout_notes = lms.plan(files, set(known), set(selected), forced, roster)
    submitted = os.path.join(root, "submitted")
    shutil.rmtree(submitted, ignore_errors=True)
    os.makedirs(submitted)
    notes = {}
    for student, assignment, items, stamp, attempt_notes in chosen:
        folder = os.path.join(submitted, student, assignment)
        for item in items:
            target = os.path.join(folder, *item.file_id.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(read[item.path]())
        if stamp is not None:
            with open(os.path.join(folder, "timestamp.txt"), "w") as handle:
                handle.write(lms.timestamp_txt(stamp))
        notes[(student, assignment)] = attempt_notes
    counts = Counter(lms.LAYOUT_NAMES[f.layout] if f.file_id or f.layout != "attempt" else "Blackboard receipt"
                     for f in files)
    found = ", ".join(f"{name} ({count} file(s))" for name, count in counts.most_common()) or "no LMS layout"
    summary = (f"LMS download {os.path.basename(source)}: {found}; {len(chosen)} submission(s) collected, "
               f"{len(rows) + len(plan_rows)} row(s) not graded at intake")
    return submitted, notes, rows + plan_rows, [summary] + layout_notes, summary


def _read_notebook(path):
    """(notebook or None, note): the notebook upgraded to v4, or why it cannot be graded."""
    name = os.path.basename(path)
    if os.path.getsize(path) == 0:
        return None, f"{name} is an empty file"
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, f"{name} is not valid JSON (corrupt file: {error.__class__.__name__})"
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        return None, f"{name} is JSON but not a Jupyter notebook"
    version = raw.get("nbformat")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing cell ids: normalized on write
            notebook = nbformat.reads(json.dumps(raw), as_version=4)
            nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - any reader failure means "cannot grade"
        return None, f"{name} is not a valid notebook ({error.__class__.__name__})"
    note = ""
    if isinstance(version, int) and version < 4:
        note = f"{name} was saved in the old notebook format {version}; upgraded to format 4 and graded"
    return notebook, note


def compare_with_release(notebook, release, master=None, known_locked=None):
    """Notes on what a student changed that nbgrader will undo: edited locked cells (restored
    from the master), locked cells converted to another cell type, deleted test cells (put
    back), duplicated graded cells (only the first copy is graded). ``release`` is the student
    version nbgrader generated from the master; a locked cell identical to it, to the master, or
    to the same cell in ANY earlier release (``known_locked``: {grade_id: checksums}, see
    :mod:`convclinic.grading.regrade`) is never reported: the student may hold an older release."""
    from convclinic.grading.regrade import cell_checksum

    known_locked = known_locked or {}
    notes = []

    def meta(cell):
        return cell.get("metadata", {}).get("nbgrader", {})

    released = {meta(c)["grade_id"]: c for c in release.cells if meta(c).get("grade_id")}
    mastered = {meta(c)["grade_id"]: c.source.strip() for c in (master.cells if master else [])
                if meta(c).get("grade_id")}
    seen = {}
    for cell in notebook.cells:
        grade_id = meta(cell).get("grade_id")
        if grade_id:
            seen[grade_id] = seen.get(grade_id, 0) + 1
    for grade_id, original in released.items():
        if grade_id not in seen:
            if meta(original).get("grade") and original.cell_type == "code":
                notes.append(f"test cell '{grade_id}' was deleted: restored from the master and run")
            elif meta(original).get("solution"):
                notes.append(f"answer cell '{grade_id}' was deleted")
    edited = set()
    for cell in notebook.cells:
        grade_id = meta(cell).get("grade_id")
        original = released.get(grade_id)
        if original is None or not meta(original).get("locked"):
            continue
        if cell_checksum(cell) in known_locked.get(grade_id, ()):
            continue  # exactly as some release handed it out
        if cell.cell_type != original.cell_type:
            kind = "test cell" if meta(original).get("grade") else "locked cell"
            notes.append(f"{kind} '{grade_id}' was converted to {cell.cell_type}: restored from the master")
            continue
        if cell.source.strip() not in (original.source.strip(), mastered.get(grade_id)):
            edited.add(grade_id)
    for grade_id in sorted(edited):
        notes.append(f"locked cell '{grade_id}' was edited: restored from the master")
    duplicated = sorted(g for g, n in seen.items() if n > 1)
    if duplicated:
        notes.append("duplicated cells (" + ", ".join(duplicated) + "): the last copy of each is the graded one")
    return notes


def stage(student_id, assignment, source_folder, staged, expected_notebooks, release_folder=None,
          master_folder=None, known_locked=None):
    """Copy one student's assignment folder into ``staged``, normalized (see module doc)."""
    submission = Submission(student_id, assignment, staged)
    shutil.rmtree(staged, ignore_errors=True)
    os.makedirs(staged)
    present, extra = [], []
    for current, directories, files in os.walk(source_folder):
        directories[:] = sorted(d for d in directories if d not in IGNORED_NAMES)
        for name in sorted(files):
            if name in IGNORED_NAMES:
                continue
            relative = os.path.relpath(os.path.join(current, name), source_folder)
            if name.endswith(".ipynb") and os.sep not in relative:
                present.append(name)
            elif relative in BOOKKEEPING_FILES:
                shutil.copy(os.path.join(source_folder, relative), os.path.join(staged, relative))
                if relative == "timestamp.txt":
                    with open(os.path.join(staged, relative)) as handle:
                        submission.timestamp = handle.read().strip()
            else:
                extra.append(relative)
    unmatched = [name for name in present if name not in expected_notebooks]
    for expected in expected_notebooks:
        source_name = expected if expected in present else None
        if source_name is None and len(unmatched) == 1 and len(expected_notebooks) == 1:
            source_name = unmatched.pop()
            submission.notes.append(f"notebook named '{source_name}' instead of '{expected}': "
                                    f"graded as '{expected}'")
        if source_name is None:
            submission.unusable.append(expected)
            found = ", ".join(f"'{n}'" for n in present) or "no notebook"
            submission.notes.append(f"missing notebook '{expected}' (found {found}): its parts score 0")
            continue
        notebook, note = _read_notebook(os.path.join(source_folder, source_name))
        if note:
            submission.notes.append(note)
        if notebook is None:
            submission.unusable.append(expected)
            continue
        release_path = os.path.join(release_folder or "", expected)
        if release_folder and os.path.exists(release_path):
            master_path = os.path.join(master_folder or "", expected)
            master = nbformat.read(master_path, as_version=4) if master_folder and os.path.exists(master_path) else None
            submission.notes += compare_with_release(notebook, nbformat.read(release_path, as_version=4), master,
                                                     known_locked)
        nbformat.write(notebook, os.path.join(staged, expected))
        submission.notebooks.append(expected)
    for name in unmatched:
        if not any(name in note for note in submission.notes):
            submission.notes.append(f"extra notebook '{name}' ignored (not part of the assignment)")
    kept, skipped = [], []
    for relative in extra:
        source = os.path.join(source_folder, relative)
        if os.path.islink(source) or os.path.getsize(source) > MAX_EXTRA_FILE_BYTES:
            skipped.append(relative)
            continue
        os.makedirs(os.path.dirname(os.path.join(staged, relative)) or staged, exist_ok=True)
        shutil.copy(source, os.path.join(staged, relative))
        kept.append(relative)
    if kept:
        submission.notes.append("extra files kept beside the notebook: " + ", ".join(sorted(kept)))
    if skipped:
        submission.notes.append("extra files skipped (links or over 20 MiB): " + ", ".join(skipped))
    return submission


def find_submissions(folder, assignments):
    """Yield (student_id, assignment, path) for every ``<student>/<assignment>/`` folder, plus
    notes on what does not fit the layout: {(student, assignment) or None: [notes]}."""
    found, notes = [], {}
    if not os.path.isdir(folder):
        raise SubmissionsError(f"{folder} is neither a folder nor a .zip file")
    for student in sorted(os.listdir(folder)):
        student_path = os.path.join(folder, student)
        if student in IGNORED_NAMES or student.startswith("."):
            continue
        if not os.path.isdir(student_path):
            notes.setdefault(None, []).append(f"'{student}' at the top level is not a student folder: ignored")
            continue
        entries = sorted(os.listdir(student_path))
        matched = False
        for entry in entries:
            path = os.path.join(student_path, entry)
            if os.path.isdir(path) and entry in assignments:
                found.append((student, entry, path))
                matched = True
            elif os.path.isdir(path) and entry not in IGNORED_NAMES:
                notes.setdefault(None, []).append(
                    f"{student}/{entry}: no assignment of that name to grade: ignored")
        if not matched:
            loose = [e for e in entries if e.endswith(".ipynb")]
            if loose and len(assignments) == 1:
                only = next(iter(assignments))
                notes.setdefault(None, []).append(
                    f"{student}: notebooks directly in the student folder ({', '.join(loose)}), "
                    f"expected {student}/{only}/: graded as {only}")
                found.append((student, only, student_path))
    return found, notes
