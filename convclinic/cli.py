"""The ``convclinic`` command: release exercises and grade a class (grader/README.md),
and diagnose a saved model or a failing script (docs/causes.md).

    convclinic release [ASSIGNMENT] [--dest DIR]
    convclinic export [--course DIR] --out FILE [--roster FILE] [--format csv|canvas|moodle]
    convclinic grade SUBMISSIONS --out OUT [--assignment NAME] [--student ID]... [--workers N] [--timeout SECONDS]
    convclinic feedback (--course DIR | --out OUT) [--assignment NAME] [--student ID]... [--zip DIR]
    convclinic diagnose MODEL_FILE --input-shape 1,28,28,1 [--dtype uint8] [--json]
    convclinic run SCRIPT.py [ARGS...]

Exit status of ``grade``: 0 when the batch completed, whatever the students
did (their problems are rows and report lines); 1 when the grader itself could
not run (no sandbox, no masters, unreadable zip...), with a message on stderr;
2 for a usage error; 130 when interrupted (run the same command again to finish).
Exit status of ``diagnose``: 0 it runs cleanly, 1 it fails (the report says why), 2 usage
error (one line). ``run`` exits with the script's own status.
"""

from __future__ import annotations

import argparse
import os
import sys
import types


def _positive(text):
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from error
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser():
    from convclinic.grading.pipeline import DEFAULT_TIMEOUT, Options

    parser = argparse.ArgumentParser(
        prog="convclinic",
        description="Conv2D Clinic course tools: release the exercises, grade submissions.",
        epilog="Instructor workflow, step by step: grader/README.md")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    release = commands.add_parser(
        "release", help="regenerate the student exercises from the masters (nbgrader generate_assignment)",
        description="Regenerate exercises/<assignment>/ from solutions/<assignment>/ with the real "
                    "nbgrader generate_assignment (in a temporary course: grader/ is not touched).")
    release.add_argument("assignment", nargs="?", metavar="ASSIGNMENT",
                         help="one assignment, e.g. 01-channel-axis (default: all of them)")
    release.add_argument("--dest", metavar="DIR", help="write the release here instead of exercises/")

    grade = commands.add_parser(
        "grade", help="autograde submissions with nbgrader: grades.csv, feedback, report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Autograde a class with the real nbgrader, in parallel, every notebook in a sandbox.\n\n"
            "SUBMISSIONS is a folder laid out <student_id>/<assignment>/<notebook>.ipynb, or an LMS\n"
            "download (zip or folder) from Canvas, Moodle or Blackboard, or named as nbgrader's\n"
            "zip_collect docs show, <assignment>_<student_id>_attempt_<YYYY-MM-DD-HH-MM-SS>_<notebook>;\n"
            "the layout is detected; a student who submitted twice is graded on the latest attempt.\n\n"
            "Writes OUT/grades.csv (student_id, assignment, score, max_score, submitted_at,\n"
            "late_penalty, status; rows of earlier batches kept), OUT/report.md and\n"
            "OUT/feedback/<student_id>/<assignment>/<notebook>.html, and grades into the nbgrader\n"
            "course OUT/course (or --course DIR): formgrader and nbgrader export work on it.\n"
            "Submissions are never modified. Running again skips students already graded\n"
            "(same files, same masters); an interrupted batch resumes where it stopped."),
        epilog="Exit status: 0 the batch completed (whatever the students did); 1 the grader could "
               "not run; 2 usage error; 130 interrupted.")
    grade.add_argument("submissions", metavar="SUBMISSIONS", nargs="?",
                       help="folder or .zip of submissions (default with --course: its submitted/)")
    grade.add_argument("--out", required=True, metavar="OUT", help="output folder (created if missing)")
    grade.add_argument("--course", metavar="DIR",
                       help="grade into this nbgrader course folder (default: OUT/course)")
    grade.add_argument("--db-url", metavar="URL",
                       help="the course gradebook's database, e.g. postgresql://USER@HOST:5432/DB "
                            "(default: the course's c.CourseDirectory.db_url, else its gradebook.db)")
    grade.add_argument("--assignment", metavar="NAME",
                       help="grade only this assignment (default: every assignment found)")
    grade.add_argument("--workers", type=_positive, default=os.cpu_count() or 1, metavar="N",
                       help="parallel grading processes (default: CPU count, %(default)s here)")
    grade.add_argument("--timeout", type=_positive, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                       help="time limit per notebook cell, the TensorFlow import included "
                            "(default: %(default)s)")
    grade.add_argument("--memory", type=_positive, default=Options.memory_mb, metavar="MiB",
                       help="address-space limit of each student's kernel (default: %(default)s)")
    grade.add_argument("--regrade", action="store_true",
                       help="grade everyone again, even students already in the journal")
    grade.add_argument("--solutions", metavar="DIR", default=Options.solutions,
                       help="folder of the assignment masters (default: the course's solutions/)")
    grade.add_argument("--course-config", metavar="FILE", default=Options.course_config,
                       help="the course's nbgrader config (default: grader/nbgrader_config.py)")
    grade.add_argument("--student", action="append", default=[], metavar="ID", dest="students",
                       help="re-grade only this student (repeatable); everyone else is left untouched")
    grade.add_argument("--releases", metavar="DIR", default=Options.releases,
                       help="where `convclinic release` wrote the releases handed out (their "
                            ".release-checksums.json: a locked cell as ANY release had it is not "
                            "reported as edited; default: the course's exercises/)")
    grade.add_argument("--pattern", metavar="REGEX",
                       help="LMS file names no built-in layout reads: a regex with the named groups "
                            "student_id and file_id (assignment, timestamp optional)")
    grade.add_argument("--roster", metavar="FILE",
                       help="CSV student_id,name,email,lms_id mapping LMS ids to student ids")
    grade.add_argument("--scheduler", metavar="ADDRESS",
                       help="grade on the Dask cluster of this scheduler, e.g. tcp://HOST:8786 (workers "
                            "started with `dask worker`; this process still writes every output)")
    grade.add_argument("--no-warm", action="store_true",
                       help="start every kernel cold (imports TensorFlow each time) instead of forking "
                            "it from a warm, sandboxed fork server; same scores, slower")
    grade.add_argument("--quiet", action="store_true", help="print only errors")
    _add_feedback_command(commands)
    _add_export_command(commands)
    _add_diagnosis_commands(commands)
    return parser


def _add_feedback_command(commands):
    feedback = commands.add_parser(
        "feedback", help="feedback pages after manual grading (nbgrader GenerateFeedback, hidden tests removed)",
        description="Write each student's feedback page with the final manual scores and comments from "
                    "the gradebook, hidden tests removed, into the course's feedback/<student>/<assignment>/ "
                    "(then `nbgrader release_feedback` works), and with --zip one zip per assignment for "
                    "an LMS upload (<assignment>_<student_id>_feedback_<notebook>.html).",
        epilog="Exit status: 0 pages written; 1 nbgrader could not write a page; 2 usage error.")
    where = feedback.add_mutually_exclusive_group(required=True)
    where.add_argument("--course", metavar="DIR", help="the nbgrader course folder (holds gradebook.db)")
    where.add_argument("--out", metavar="OUT", help="the --out folder of `convclinic grade` (uses OUT/course)")
    feedback.add_argument("--assignment", metavar="NAME", help="only this assignment (default: every one)")
    feedback.add_argument("--student", action="append", default=[], metavar="ID", dest="students",
                          help="only this student (repeatable; default: every graded student)")
    feedback.add_argument("--zip", metavar="DIR", dest="zip_dir",
                          help="also write DIR/<assignment>-feedback.zip for an LMS bulk upload")
    feedback.error = types.MethodType(_one_line_error, feedback)


def _feedback_command(args):
    from convclinic.grading.course import course_root
    from convclinic.grading.feedback import FeedbackError, generate
    from convclinic.grading.pipeline import use_venv_bin

    use_venv_bin()
    course = args.course or course_root(os.path.abspath(args.out))
    try:
        written = generate(course, args.assignment, tuple(args.students), args.zip_dir)
    except FeedbackError as error:
        print(f"convclinic feedback: error: {error}", file=sys.stderr)
        return 2 if error.usage else 1
    print(f"{len(written)} feedback folder(s) in {os.path.join(os.path.abspath(course), 'feedback')}")
    return 0


def _add_export_command(commands):
    export = commands.add_parser(
        "export", help="one grades file per course: autograded + manual points, late penalties, roster",
        description="Export the course gradebook (after manual grading in formgrader): one row per student "
                    "and assignment handed in, autograded and manual points, submission time, late "
                    "penalty, roster columns, and needs_manual_grade on rows not fully graded. "
                    "--format canvas / moodle write files those gradebooks import.",
        epilog="Exit status: 0 written; 2 usage error (no course, bad roster). grader/README.md, step 7.")
    export.add_argument("--course", metavar="DIR", default=".",
                        help="the nbgrader course folder (default: the current folder; "
                             "`convclinic grade` writes OUT/course)")
    export.add_argument("--out", required=True, metavar="FILE", help="the CSV file to write")
    export.add_argument("--roster", metavar="FILE", help="CSV student_id,name,email,lms_id")
    export.add_argument("--format", choices=("csv", "canvas", "moodle"), default="csv", dest="form",
                        help="csv (default), canvas (gradebook import) or moodle (grade import)")
    export.error = types.MethodType(_one_line_error, export)


def _export_command(args):
    from convclinic.grading.export import ExportError, export

    try:
        rows, pending = export(args.course, args.out, args.roster, args.form)
    except ExportError as error:
        print(f"convclinic export: error: {error}", file=sys.stderr)
        return 2 if error.usage else 1
    print(f"{len(rows)} row(s) written to {args.out} ({args.form}); {len(pending)} await manual grading")
    if pending and args.form != "csv":
        print("left blank until graded in formgrader: "
              + ", ".join(f"{row['student_id']}/{row['assignment']}" for row in pending), file=sys.stderr)
    return 0


def _one_line_error(parser, message):
    """Usage errors of ``diagnose``/``run``: one line on stderr, exit 2."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


def _add_diagnosis_commands(commands):
    diagnose = commands.add_parser(
        "diagnose", help="load a saved Keras model and name what fails on an input shape",
        description="Load a saved Keras model (.keras, or .h5) and print convclinic.diagnose's "
                    "report for an input of the given shape (the causes: docs/causes.md).",
        epilog="Exit status: 0 it runs cleanly; 1 it fails or looks silently wrong (the report "
               "says why); 2 usage error (missing or unreadable file, bad shape).")
    diagnose.add_argument("model_file", metavar="MODEL_FILE", help="a .keras or .h5 file")
    diagnose.add_argument("--input-shape", required=True, metavar="SHAPE",
                          help="the input's full shape, batch first, e.g. 1,28,28,1")
    diagnose.add_argument("--dtype", default="float32", help="the input's dtype (default: float32)")
    diagnose.add_argument("--json", action="store_true", help="print the report as JSON")
    run = commands.add_parser(
        "run", help="run a Python script; a Conv2D error it dies with gets a diagnosis",
        description="Run SCRIPT as `python SCRIPT ARGS...` would. If it dies with a Conv2D "
                    "error convclinic recognises, the diagnosis is printed after the traceback.",
        epilog="Exit status: the script's own.")
    run.add_argument("script", metavar="SCRIPT", help="the Python script to run")
    run.add_argument("script_args", nargs=argparse.REMAINDER, metavar="ARGS",
                     help="arguments passed to the script")
    for parser in (diagnose, run):
        parser.error = types.MethodType(_one_line_error, parser)


def _diagnosis_command(args):
    from convclinic.diagnosis.commands import UsageError, diagnose_file, run_script

    try:
        if args.command == "diagnose":
            return diagnose_file(args.model_file, args.input_shape, args.dtype, args.json)
        return run_script(args.script, args.script_args)
    except UsageError as error:
        print(f"convclinic {args.command}: error: {error}", file=sys.stderr)
        return 2


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("diagnose", "run"):
        return _diagnosis_command(args)
    if args.command == "export":
        return _export_command(args)
    if args.command == "feedback":
        return _feedback_command(args)
    if args.command == "release":
        from convclinic.release import release, shown  # the exercises' own module: imported lazily

        try:
            written = release(assignment=args.assignment, dest=args.dest)
        except (ValueError, RuntimeError) as error:
            print(f"convclinic release: error: {error}", file=sys.stderr)
            return 1
        for path in written or []:
            print(f"released {shown(path)}")
        return 0
    from convclinic.grading.database import DatabaseError
    from convclinic.grading.pipeline import GraderError, Options, UsageError, grade

    options = Options(submissions=args.submissions, out=args.out, assignment=args.assignment,
                      workers=args.workers, timeout=args.timeout, memory_mb=args.memory,
                      solutions=os.path.abspath(args.solutions),
                      course_config=os.path.abspath(args.course_config), regrade=args.regrade,
                      quiet=args.quiet, students=tuple(args.students),
                      releases=os.path.abspath(args.releases), warm=not args.no_warm)
    try:
        from convclinic.grading.lms import LmsError, compile_pattern, read_roster

        compile_pattern(args.pattern)
        read_roster(args.roster)
    except LmsError as error:
        print(f"convclinic grade: error: {error}", file=sys.stderr)
        return 2
    options.pattern, options.roster = args.pattern, args.roster
    options.course, options.db_url = args.course, args.db_url
    options.scheduler = args.scheduler
    if not args.submissions and not args.course:
        print("convclinic grade: error: give SUBMISSIONS, or --course DIR to grade its submitted/",
              file=sys.stderr)
        return 2
    try:
        grade(options)
    except (GraderError, DatabaseError) as error:
        print(f"convclinic grade: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) or getattr(error, "usage", False) else 1
    except KeyboardInterrupt:
        print("convclinic grade: interrupted; run the same command again to finish "
              "(students already graded are kept)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
