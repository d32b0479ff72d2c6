"""One grading worker process: a private nbgrader course copy with its own gradebook.

nbgrader cannot autograde in parallel (its SQLite gradebook is not safe for
concurrent writers, jupyter/nbgrader#174). Each worker process therefore
grades in its own copy of the course: the master ``source/`` and a copy of
the gradebook made by ``generate_assignment`` (it holds the hidden tests and
the checksums of the locked cells). The worker runs the real nbgrader
converters ``Autograde`` and ``GenerateFeedback`` for one student at a time,
reads the scores back from its gradebook, and writes everything the main
process needs into one result folder, atomically (a renamed temp folder).
The main process merges the results; it is the only writer of the outputs.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import sys
import time

import nbformat

from convclinic.grading.files import atomic_folder

_STATE = {}
re_error = re.compile(r"^[\w.]*(Error|Exception|TooLong)\b.*:")

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Ask the kernel to SIGKILL this process when its parent dies (a killed batch leaves no
    orphan workers behind; their kernels die with them through bwrap --die-with-parent)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def use_venv_bin():
    """Put the venv's bin first on PATH for this process and its subprocesses: nbgrader runs
    ``alembic`` as a subprocess found on PATH when it creates a gradebook (docs/pitfalls.md)."""
    binary = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[:1] != [binary]:
        os.environ["PATH"] = os.pathsep.join([binary] + [p for p in path.split(os.pathsep) if p != binary])


def environment():
    """Variables the grader needs: the venv's bin on PATH (nbgrader calls ``alembic``)."""
    use_venv_bin()
    # as convclinic.runtime.import_tensorflow sets them (the judging imports TensorFlow here): the
    # kernels' environment, and with it the warm fork server, is the same from the first kernel on
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    return {name: os.environ[name] for name in ("PATH", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}


def kernel_threads(workers):
    """Threads per student kernel: the cores shared among the workers (at least 1), so that
    parallel kernels do not fight over the CPU (TensorFlow sizes its pools to every core)."""
    return str(max(1, (os.cpu_count() or 1) // max(1, workers)))


def init_worker(settings):
    """Pool initializer: set this process up (:func:`init_process`), then make its private
    course copy (:func:`use_course`)."""
    init_process(settings)
    use_course(settings)


def init_process(settings):
    """What a grading process needs whatever it grades: nbgrader's gradebook API prepared, death
    with its parent, Ctrl-C left to the main process, the grading environment."""
    from convclinic.grading.nbgrader_setup import prepare_gradebook_api

    prepare_gradebook_api()
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    os.environ.update(settings.get("environment", {}))


def use_course(settings):
    """Make this process's private copy of the master course of ``settings`` (a batch's), unless
    it has it already (a long-lived process of a Dask worker grades batch after batch)."""
    if _STATE.get("master_course") == settings["master_course"] and os.path.isdir(_STATE.get("course", "")):
        _STATE["settings"] = settings
        return
    course = os.path.join(settings["work_root"], f"worker-{os.getpid()}")
    shutil.rmtree(course, ignore_errors=True)
    os.makedirs(course)
    shutil.copytree(os.path.join(settings["master_course"], "source"), os.path.join(course, "source"))
    shutil.copy(os.path.join(settings["master_course"], "gradebook.db"), os.path.join(course, "gradebook.db"))
    _STATE.clear()
    _STATE.update(settings=settings, course=course, master_course=settings["master_course"])


def warm_up(settings):
    """Do now what this process's first submission would otherwise wait for: the judging's
    TensorFlow import and, with warm kernels, the fork server started (its sandbox root and
    environment as a submission's kernel will have them, so that the kernel finds it)."""
    from convclinic import judging  # noqa: F401 - the judges' own modules
    from convclinic.judging import truth

    truth.keras()
    if settings.get("warm"):
        from convclinic.grading import forkserver

        forkserver.prestart(_sandbox_root(settings), settings.get("memory_mb"))
    return os.getpid()


def grade_in(settings, job):
    """:func:`grade_job` in a process that may not have this batch's course yet."""
    use_course(settings)
    return grade_job(job)


def _sandbox_root(settings, course=None):
    """Where this process's kernels get their private folders (its fork server's root): the
    course copy's ``kernels``, or ``kernel_root/<pid>`` (a Dask worker's, kept from batch to
    batch with its warm fork server)."""
    if settings.get("kernel_root"):
        return os.path.join(settings["kernel_root"], str(os.getpid()))
    return os.path.join(course or _STATE["course"], "kernels")


def _config():
    from convclinic.grading.nbgrader_setup import grading_config

    settings = _STATE["settings"]
    return grading_config(
        _STATE["course"], settings.get("course_config"), timeout=settings.get("timeout"),
        memory_mb=settings.get("memory_mb"), sandbox_root=_sandbox_root(settings),
        hidden_lines=settings.get("hidden_lines", {}).get(_STATE.get("assignment"), []),
        ignore=settings.get("ignore"), warm=settings.get("warm", False))


def _run(converter_class, config, assignment, student):
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log

    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    coursedir.student_id = student
    converter = converter_class(coursedir=coursedir, config=config)
    converter.force = True
    if hasattr(converter, "create_student"):
        converter.create_student = True
    return capture_log(converter)


def grade_job(job):
    """Grade one submission (``job`` from :mod:`convclinic.grading.submissions`); return the
    path of its result folder (``result.json`` plus ``feedback/<notebook>.html``)."""
    from nbgrader.converters import GenerateFeedback

    from convclinic.grading.execute import JUDGING_SECONDS, NOTES

    started = time.monotonic()
    JUDGING_SECONDS[0] = 0.0
    course = _STATE["course"]
    student, assignment = job["student_id"], job["assignment"]
    _STATE["assignment"] = assignment
    for area in ("submitted", "autograded", "feedback"):
        shutil.rmtree(os.path.join(course, area, student), ignore_errors=True)
    submitted = os.path.join(course, "submitted", student, assignment)
    shutil.copytree(job["staged"], submitted)
    config = _config()
    # safety net: a submission that keeps the grader busy past every cell's time limit
    # (a kernel that never starts, a hang inside nbgrader) fails alone instead of stalling the batch
    cells = sum(len(nbformat.read(os.path.join(submitted, name), 4).cells)
                for name in os.listdir(submitted) if name.endswith(".ipynb"))
    limit = int(_STATE["settings"].get("timeout") or 120) * max(4, cells) + 300
    autograde = _autograde(config, assignment, student, limit)
    autograde_seconds = time.monotonic() - started
    result = {
        "student_id": student, "assignment": assignment, "fingerprint": job["fingerprint"],
        "autograde_ok": bool(autograde.get("success")), "parts": [], "problems": [],
    }
    if not autograde.get("success"):
        result["nbgrader_error"] = (autograde.get("error") or "")[-4000:]
        result["nbgrader_log"] = (autograde.get("log") or "")[-4000:]
        causes = [line.strip() for line in (autograde.get("log") or "").splitlines()
                  if re_error.match(line.strip())]
        result["problems"].append("nbgrader could not grade it: "
                                  + (causes[-1] if causes else "see the log in report.md")[:300])
    result.update(_scores(config, assignment, student))
    autograded = os.path.join(course, "autograded", student, assignment)
    found = _problems(autograded, int(_STATE["settings"].get("timeout") or 120)) + NOTES
    result["problems"] = list(dict.fromkeys(result["problems"] + found))  # each once, in the order met
    feedback_files = []
    if autograde.get("success"):
        feedback = _run(GenerateFeedback, config, assignment, student)
        folder = os.path.join(course, "feedback", student, assignment)
        if feedback.get("success") and os.path.isdir(folder):
            feedback_files = sorted(f for f in os.listdir(folder) if f.endswith(".html"))
        else:
            result["problems"].append("feedback could not be generated: "
                                      + (feedback.get("error") or "").strip().splitlines()[-1:][0]
                                      if feedback.get("error") else "feedback could not be generated")
    result["seconds"] = round(time.monotonic() - started, 2)
    result["autograde_seconds"] = round(autograde_seconds, 2)
    result["judging_seconds"] = round(JUDGING_SECONDS[0], 2)
    result["worker"] = os.getpid()
    return _write_result(job, result, feedback_files)


def _autograde(config, assignment, student, limit):
    """nbgrader's ``Autograde`` within ``limit`` seconds; once more when this process's warm fork
    server died meanwhile (killed from outside, or by this student's code: a second loss stands)."""
    from nbgrader.converters import Autograde

    from convclinic.grading import forkserver
    from convclinic.grading.execute import NOTES

    signal.signal(signal.SIGALRM, _too_long)
    for _ in range(2):
        NOTES.clear()
        lost = forkserver.LOST
        signal.alarm(limit)
        try:
            autograde = _run(Autograde, config, assignment, student)
        finally:
            signal.alarm(0)
        if forkserver.LOST == lost:
            break
        shutil.rmtree(os.path.join(_STATE["course"], "autograded", student), ignore_errors=True)
    return autograde


class GradingTooLong(Exception):
    """The whole submission took longer than its cells' time limits allow."""


def _too_long(signum, frame):
    raise GradingTooLong("grading this submission took longer than all its cells' time limits")


def _write_result(job, result, feedback_files):
    with atomic_folder(job["result_dir"]) as temporary:
        _fill_result(temporary, job, result, feedback_files)
    return job["result_dir"]


def _fill_result(temporary, job, result, feedback_files):
    os.makedirs(os.path.join(temporary, "feedback"))
    folder = os.path.join(_STATE["course"], "feedback", job["student_id"], job["assignment"])
    for name in feedback_files:
        shutil.copy(os.path.join(folder, name), os.path.join(temporary, "feedback", name))
    result["feedback"] = feedback_files
    # the autograded notebooks, for the merged course the main process builds (OUT/course)
    autograded = os.path.join(_STATE["course"], "autograded", job["student_id"], job["assignment"])
    os.makedirs(os.path.join(temporary, "autograded"))
    kept = ("timestamp.txt", "submission_secret.txt")  # nbgrader's bookkeeping: release_feedback reads both
    names = sorted(name for name in os.listdir(autograded)
                   if name.endswith(".ipynb") or name in kept) if os.path.isdir(autograded) else []
    for name in names:
        shutil.copy(os.path.join(autograded, name), os.path.join(temporary, "autograded", name))
    result["autograded"] = names
    with open(os.path.join(temporary, "result.json"), "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)


def _scores(config, assignment, student):
    """Scores of one submission from this worker's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    db_url = config.CourseDirectory.db_url
    with Gradebook(db_url) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            assignment_row = gradebook.find_assignment(assignment)
            return {"score": 0.0, "max_score": float(assignment_row.max_score), "parts": [],
                    "needs_manual_grade": False}
        parts = []
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                parts.append({
                    "notebook": notebook.name, "grade_id": grade.name,
                    "score": grade.score, "auto_score": grade.auto_score,
                    "max_score": float(grade.max_score), "needs_manual_grade": bool(grade.needs_manual_grade),
                    "manual": grade.auto_score is None,
                })
        return {"score": float(submission.score), "max_score": float(submission.max_score),
                "parts": parts, "needs_manual_grade": bool(submission.needs_manual_grade),
                "late_penalty": float(submission.late_submission_penalty or 0.0)}


def _problems(autograded, timeout):
    """What went wrong inside the notebook, in words an instructor understands."""
    from nbgrader import utils

    from convclinic.grading.execute import describe_error

    problems = []
    if not os.path.isdir(autograded):
        return problems
    for name in sorted(os.listdir(autograded)):
        if not name.endswith(".ipynb"):
            continue
        try:
            notebook = nbformat.read(os.path.join(autograded, name), as_version=4)
        except Exception:  # noqa: BLE001 - reported by nbgrader already
            continue
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            label = f"'{grade_id}'" if grade_id else "a code cell"
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    problems.append(describe_error(label, output, timeout, utils.is_grade(cell)))
    return [problem for problem in problems if problem]
