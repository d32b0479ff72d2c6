"""``convclinic grade``: from a class's submissions to grades.csv, feedback and a report.

Steps (grader/README.md explains them for instructors):

1. check the sandbox (bubblewrap) works: student code never runs without it;
2. build the master course once per run: the masters of ``solutions/`` through
   the real ``nbgrader generate_assignment`` (hidden tests and locked-cell
   checksums go into a gradebook); cached in ``OUT/.convclinic/course`` while
   the masters and the course config are unchanged;
3. read the submissions (folder or LMS zip, :mod:`convclinic.grading.submissions`)
   into a staging copy; the submissions themselves are never written to;
4. grade every submission not already in the journal with the same fingerprint
   (submission files + master + settings): ``--workers`` processes, each in
   its own course copy with its own gradebook (:mod:`convclinic.grading.worker`);
5. merge: as each submission finishes, its feedback is published and its
   journal entry written (atomically, in that order), then ``grades.csv`` and
   ``report.md`` are rewritten (atomically) from the journal.

A batch killed at any moment (even SIGKILL) and started again grades only the
submissions without a journal entry; a re-run of a finished batch grades
nothing and writes the same files.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass

import nbformat

from convclinic.grading import submissions as intake
from convclinic.grading.files import atomic_copy, atomic_write  # noqa: F401 - re-exported
from convclinic.grading.rows import _fmt, status_of, write_outputs  # noqa: F401 - re-exported
from convclinic.grading.worker import environment as _environment
from convclinic.grading.worker import kernel_threads as _kernel_threads
from convclinic.grading.worker import use_venv_bin  # noqa: F401 - re-exported

STATE = ".convclinic"
GRADER_VERSION = "1"
DEFAULT_TIMEOUT = 120
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class GraderError(Exception):
    """The grader itself cannot run (not a student's problem): exit non-zero with this message."""


class UsageError(GraderError):
    """Bad input on the command line (an unknown student): exit 2."""


@dataclass
class Options:
    submissions: str
    out: str
    assignment: str | None = None
    workers: int = 0
    timeout: int = DEFAULT_TIMEOUT
    memory_mb: int = 4096
    solutions: str = os.path.join(ROOT, "solutions")
    course_config: str = os.path.join(ROOT, "grader", "nbgrader_config.py")
    regrade: bool = False
    quiet: bool = False
    course: str | None = None  # --course DIR: grade into this nbgrader course (default: OUT/course)
    pattern: str | None = None  # --pattern: an LMS file-name regex (convclinic.grading.lms)
    roster: str | None = None  # --roster: CSV mapping LMS ids to student ids
    students: tuple = ()  # --student: re-grade only these, leave everyone else untouched
    releases: str = os.path.join(ROOT, "exercises")  # releases handed out (.release-checksums.json)
    db_url: str | None = None  # --db-url: the course gradebook's database (convclinic.grading.database)
    scheduler: str | None = None  # --scheduler: a Dask scheduler's address (convclinic.grading.cluster)
    warm: bool = True  # kernels forked from a warm fork server; --no-warm: cold (convclinic.grading.forkserver)


def _say(options, message):
    if not options.quiet:
        print(message, flush=True)


def available_assignments(solutions):
    if not os.path.isdir(solutions):
        raise GraderError(f"no masters folder {solutions}: run from the course repository "
                          "or pass --solutions")
    return sorted(name for name in os.listdir(solutions)
                  if os.path.isfile(os.path.join(solutions, name, f"{name}.ipynb")))


def build_master_course(options, assignments, state):
    """Generate every assignment from its master with the real nbgrader into ``state/course``.

    Returns {assignment: {"digest", "notebooks", "max_score", "hidden_lines"}}.
    """
    from nbgrader.api import Gradebook
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    from convclinic.grading.nbgrader_setup import grading_config, hidden_test_lines

    course = os.path.join(state, "course")
    digest = hashlib.sha256(GRADER_VERSION.encode())
    for assignment in assignments:
        digest.update(assignment.encode() + intake.tree_digest(os.path.join(options.solutions, assignment)).encode())
    if os.path.exists(options.course_config):
        digest.update(intake.sha256_file(options.course_config).encode())
    stamp = os.path.join(course, "master.json")
    if os.path.exists(stamp):
        with open(stamp) as handle:
            cached = json.load(handle)
        if cached.get("digest") == digest.hexdigest():
            return cached["assignments"], course
    # the same masters generated by an earlier run (another OUT folder) are reused
    shared = os.path.join(_cache_root(), "course-" + digest.hexdigest()[:32])
    if os.path.exists(os.path.join(shared, "master.json")):
        shutil.rmtree(course, ignore_errors=True)
        shutil.copytree(shared, course)
        with open(stamp) as handle:
            return json.load(handle)["assignments"], course
    shutil.rmtree(course, ignore_errors=True)
    os.makedirs(course)
    info = {}
    for assignment in assignments:
        shutil.copytree(os.path.join(options.solutions, assignment), os.path.join(course, "source", assignment),
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        config = grading_config(course, options.course_config)
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = assignment
        generator = GenerateAssignment(coursedir=coursedir, config=config)
        generator.force = True
        outcome = capture_log(generator)
        if not outcome.get("success"):
            raise GraderError(f"nbgrader generate_assignment failed for the master of '{assignment}':\n"
                              + (outcome.get("error") or outcome.get("log") or "")[-3000:])
        notebooks = sorted(name for name in os.listdir(os.path.join(course, "source", assignment))
                           if name.endswith(".ipynb"))
        hidden = []
        for name in notebooks:
            hidden += hidden_test_lines(nbformat.read(os.path.join(course, "source", assignment, name), 4))
        with Gradebook(config.CourseDirectory.db_url) as gradebook:
            max_score = float(gradebook.find_assignment(assignment).max_score)
        info[assignment] = {
            "digest": intake.tree_digest(os.path.join(course, "source", assignment)),
            "notebooks": notebooks, "max_score": max_score, "hidden_lines": hidden,
        }
    atomic_write(stamp, json.dumps({"digest": digest.hexdigest(), "assignments": info}, indent=1))
    try:
        temporary = f"{shared}.tmp-{os.getpid()}"
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.copytree(course, temporary)
        os.replace(temporary, shared) if not os.path.exists(shared) else shutil.rmtree(temporary)
    except OSError:
        pass  # the cache is an optimisation only
    return info, course


def _cache_root():
    """Where generated master courses are kept between runs (``$XDG_CACHE_HOME/convclinic``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(base, "convclinic")
    os.makedirs(root, exist_ok=True)
    return root


class Journal:
    """One JSON file per (assignment, student) under ``OUT/.convclinic/journal``: the truth."""

    def __init__(self, state):
        self.root = os.path.join(state, "journal")

    def path(self, assignment, student):
        return os.path.join(self.root, assignment, student + ".json")

    def get(self, assignment, student):
        try:
            with open(self.path(assignment, student)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def everything(self):
        """{(student, assignment): entry} of every submission ever journaled in this OUT."""
        found = {}
        for assignment in sorted(os.listdir(self.root)) if os.path.isdir(self.root) else []:
            for name in sorted(os.listdir(os.path.join(self.root, assignment))):
                entry = self.get(assignment, name.removesuffix(".json")) if name.endswith(".json") else None
                if entry:
                    found[(entry["student_id"], entry["assignment"])] = entry
        return found

    def put(self, entry):
        atomic_write(self.path(entry["assignment"], entry["student_id"]), json.dumps(entry, indent=1, sort_keys=True))


def _fingerprint(staged, master_digest, options):
    digest = hashlib.sha256()
    for part in (GRADER_VERSION, intake.tree_digest(staged), master_digest, str(options.timeout),
                 str(options.memory_mb)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _publish(out, result_dir, entry, course=None):
    """Copy a finished submission's feedback into OUT/feedback and its autograded notebooks into
    OUT/course/autograded, then journal it (in that order)."""
    from convclinic.grading.course import publish_autograded

    for name in entry.get("feedback", []):
        atomic_copy(os.path.join(result_dir, "feedback", name),
                    os.path.join(out, "feedback", entry["student_id"], entry["assignment"], name))
    if entry.get("autograded"):
        publish_autograded(out, os.path.join(result_dir, "autograded"), entry, course)


def grade(options):
    """Run a grading batch; return the list of journal entries (one per grades.csv row)."""
    from convclinic.grading import course as course_model
    from convclinic.grading import database
    from convclinic.grading.course import sync_course
    from convclinic.grading.regrade import known_releases, restore_reviews, save_reviews
    from convclinic.grading.sandbox import SandboxError, check_sandbox

    started = time.monotonic()
    environment = _environment()
    out = os.path.abspath(options.out)
    the_course = course_model.course_root(out, options.course)
    # no SUBMISSIONS: grade what is in the course's submitted/ (nbgrader's own layout)
    submissions_path = os.path.abspath(options.submissions
                                       or course_model.course_path(the_course, "submitted", ".", "."))
    if not os.path.exists(submissions_path):
        raise GraderError(f"submissions not found: {submissions_path}")
    if os.path.commonpath([out, submissions_path]) == submissions_path and os.path.isdir(submissions_path):
        raise GraderError("--out must not be inside the submissions folder (submissions are never written to)")
    options.db_url = database.course_url(the_course, options.db_url)  # DatabaseError: a clear line
    try:
        check_sandbox()
    except SandboxError as error:
        raise GraderError(str(error)) from error
    assignments = available_assignments(options.solutions)
    if options.assignment:
        if options.assignment not in assignments:
            raise GraderError(f"unknown assignment '{options.assignment}'; the masters in "
                              f"{options.solutions} are: {', '.join(assignments) or 'none'}")
        assignments = [options.assignment]
    if not assignments:
        raise GraderError(f"no assignment masters (<name>/<name>.ipynb) in {options.solutions}")
    state = os.path.join(out, STATE)
    os.makedirs(state, exist_ok=True)
    _say(options, f"Preparing the master course for {', '.join(assignments)} (nbgrader generate_assignment)...")
    masters, master_course = build_master_course(options, assignments, state)

    # 3. read the submissions
    layout_notes, extra_notes = [], {}
    folder = submissions_path
    lms_notes, intake_rows, known = [], [], available_assignments(options.solutions)
    if intake.is_zip(submissions_path) or intake.is_lms_folder(submissions_path, known, options.pattern):
        try:  # any LMS layout, collected into nbgrader's submitted/ (grader/README.md, section 4)
            pattern, roster = intake.lms.compile_pattern(options.pattern), intake.lms.read_roster(options.roster)
            folder, extra_notes, intake_rows, lms_notes, summary = intake.collect_lms(
                submissions_path, os.path.join(state, "lms-collect"), known, assignments,
                options.assignment, pattern, roster)
        except (intake.SubmissionsError, intake.lms.LmsError) as error:
            raise GraderError(str(error)) from error
        _say(options, summary)
    elif not os.path.isdir(submissions_path):
        raise GraderError(f"{submissions_path} is neither a folder nor a .zip file")
    try:
        found, notes = intake.find_submissions(folder, set(assignments))
    except intake.SubmissionsError as error:
        raise GraderError(str(error)) from error
    layout_notes = lms_notes + notes.get(None, [])
    missing = sorted(set(options.students) - {student for student, _, _ in found})
    if missing:
        raise UsageError(f"--student {', '.join(missing)}: no submission of that student in {submissions_path}"
                         + (f" for {options.assignment}" if options.assignment else ""))
    known_locked = known_releases(options.releases, masters, master_course, state)
    journal = Journal(state)
    staging = os.path.join(state, "staged")
    results = os.path.join(state, "results")
    entries, jobs, reused, unusable = {}, [], 0, 0
    entries.update(journal.everything())  # grades.csv accumulates: earlier batches keep their rows
    course_model.receive_submissions(the_course, found)  # the course's submitted/ holds every submission
    entries.update({("intake", str(i), ""): row for i, row in enumerate(intake_rows)})  # rows, not journaled
    for student, assignment, path in found:
        key = (student, assignment)
        if options.students and student not in options.students:  # untouched: as the journal has it
            if journal.get(assignment, student):
                entries[key] = journal.get(assignment, student)
            continue
        master = masters[assignment]
        submission = intake.stage(student, assignment, path, os.path.join(staging, assignment, student),
                                  master["notebooks"], os.path.join(master_course, "release", assignment),
                                  os.path.join(master_course, "source", assignment),
                                  known_locked=known_locked.get(assignment))
        submission.notes = extra_notes.get((student, assignment), []) + submission.notes
        # from the files as submitted: staging is deterministic in content, not in bytes
        # (an upgraded nbformat-3 notebook gets new random cell ids each time)
        fingerprint = _fingerprint(path, master["digest"], options)
        done = journal.get(assignment, student)
        if done and done.get("fingerprint") == fingerprint and not (options.regrade or options.students):
            entries[key] = done
            reused += 1
            continue
        if not submission.notebooks:
            entry = {"student_id": student, "assignment": assignment, "fingerprint": fingerprint,
                     "state": "not graded", "score": 0.0, "max_score": master["max_score"],
                     "notes": submission.notes, "problems": [], "parts": [], "feedback": []}
            journal.put(entry)
            entries[key] = entry
            unusable += 1
            continue
        jobs.append({"student_id": student, "assignment": assignment, "staged": submission.staged,
                     "fingerprint": fingerprint, "notes": submission.notes,
                     "max_score": master["max_score"], "course": options.course,
                     "result_dir": os.path.join(results, assignment, student)})
    # a student graded before whose submission is gone stays out of this batch's rows
    write_outputs(out, list(entries.values()), layout_notes)
    workers = max(1, min(options.workers or os.cpu_count() or 1, len(jobs) or 1))
    _say(options, f"{len(found)} submission(s): {reused} already done (journal), {unusable} without a "
                  f"gradable notebook, {len(jobs)} to grade "
                  f"with {workers} worker(s).")
    if jobs:
        threads = _kernel_threads(workers)
        environment = dict(environment, OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads,
                           TF_NUM_INTEROP_THREADS=threads)
        settings = {
            "work_root": os.path.join(state, "work"), "master_course": master_course,
            "course_config": options.course_config, "timeout": options.timeout,
            "memory_mb": options.memory_mb, "environment": environment, "warm": options.warm,
            "hidden_lines": {a: masters[a]["hidden_lines"] for a in assignments},
        }
        shutil.rmtree(settings["work_root"], ignore_errors=True)
        os.makedirs(os.path.join(results), exist_ok=True)
        database.patiently(options.db_url, lambda: save_reviews(the_course, state, [(job["assignment"], job["student_id"]) for job in jobs]), "saving the manual grades")
        _run_jobs(options, jobs, workers, settings, journal, entries, out, layout_notes)
        shutil.rmtree(settings["work_root"], ignore_errors=True)
    write_outputs(out, list(entries.values()), layout_notes)
    _say(options, f"Merging into the nbgrader course {the_course} (gradebook for manual grading)...")
    try:
        deadlines, (restored, dropped) = database.patiently(options.db_url, lambda: (sync_course(
            out, [e for e in entries.values() if not e.get("intake")], master_course, assignments, options.course,
            options.db_url), restore_reviews(the_course, state)))
    except Exception as error:  # noqa: BLE001 - the grades are written; say what failed
        raise GraderError(f"grades.csv, report.md and feedback are written, but merging into the nbgrader "
                          f"course {the_course} failed ({error.__class__.__name__}: {error}); run the same "
                          "command again to retry") from error
    if restored or dropped:
        _say(options, f"Manual grades kept: {restored} (answer unchanged); {dropped} to review again "
                      "(answer changed).")
    for key, info in deadlines.items():  # submission time and late penalty (deadlines.py)
        if key in entries:
            entries[key].update(info)
    write_outputs(out, list(entries.values()), layout_notes)
    _say(options, f"Done in {time.monotonic() - started:.1f} s: {out}/grades.csv, {out}/report.md, "
                  f"{out}/feedback/")
    return sorted(entries.values(), key=lambda e: (e["student_id"], e["assignment"]))


def _finish(job, result_dir, journal, entries, out, layout_notes):
    with open(os.path.join(result_dir, "result.json")) as handle:
        result = json.load(handle)
    entry = dict(result)
    entry["notes"] = job["notes"]
    entry["state"] = "graded" if result.get("autograde_ok") else "grader error"
    _publish(out, result_dir, entry, job.get("course"))
    journal.put(entry)
    entries[(job["student_id"], job["assignment"])] = entry
    write_outputs(out, list(entries.values()), layout_notes)
    return entry


def _failed(job, problem, journal, entries):
    """Journal a submission the grader itself could not grade (a 'grader error' row)."""
    entry = {"student_id": job["student_id"], "assignment": job["assignment"], "fingerprint": job["fingerprint"],
             "state": "grader error", "score": 0.0, "max_score": job["max_score"], "notes": job["notes"],
             "problems": [problem], "parts": [], "feedback": []}
    journal.put(entry)
    entries[(job["student_id"], job["assignment"])] = entry


def _show(options, entry):
    _say(options, f"  {entry['student_id']:<24} {entry['assignment']:<22} {_fmt(entry.get('score')):>5} / "
                  f"{_fmt(entry.get('max_score')):<5} {status_of(entry)[:90]}")


def _run_jobs(options, jobs, workers, settings, journal, entries, out, layout_notes):
    """Grade ``jobs`` in a process pool (a Dask cluster with --scheduler); a crashed job is retried alone."""
    from convclinic.grading.worker import grade_job, init_worker

    if options.scheduler:  # a Dask cluster instead of the local pool (convclinic.grading.cluster)
        from convclinic.grading.cluster import SchedulerError, run_on_cluster

        try:
            return run_on_cluster(options.scheduler, jobs, settings, lambda text: _say(options, text),
                                  lambda job, folder: _show(options, _finish(job, folder, journal, entries,
                                                                             out, layout_notes)),
                                  lambda job, problem: _failed(job, problem, journal, entries))
        except SchedulerError as error:
            raise GraderError(str(error)) from error
    pending = list(jobs)
    for attempt in range(2):
        if not pending:
            break
        context = multiprocessing.get_context("fork")
        crashed = []
        with concurrent.futures.ProcessPoolExecutor(
                max_workers=workers if attempt == 0 else 1, mp_context=context,
                initializer=init_worker, initargs=(settings,)) as pool:
            futures = {pool.submit(grade_job, job): job for job in pending}
            for future in concurrent.futures.as_completed(futures):
                job = futures[future]
                try:
                    result_dir = future.result()
                except concurrent.futures.process.BrokenProcessPool:
                    crashed.append(job)
                    continue
                except Exception as error:  # noqa: BLE001 - one submission must not stop the batch
                    _failed(job, f"{error.__class__.__name__}: {error}", journal, entries)
                    continue
                _show(options, _finish(job, result_dir, journal, entries, out, layout_notes))
        pending = crashed
    for job in pending:  # crashed twice: the grader could not handle it, say so
        _failed(job, "the grading process itself crashed twice on this submission", journal, entries)


def now():
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
