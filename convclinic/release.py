"""Regenerate the student release ``exercises/`` from the masters in ``solutions/``.

``release(assignment=None, dest=None)`` runs the REAL ``nbgrader generate_assignment``
(course config: ``grader/nbgrader_config.py``) in a temporary course folder, so
neither ``grader/gradebook.db`` nor anything else in ``grader/`` is touched, and
copies the generated notebooks to ``dest`` (default: ``exercises/``).
``make release`` / ``convclinic release`` / ``python -m convclinic.release`` call it.
Never edit ``exercises/`` by hand: edit the master and release again.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
CONFIG = ROOT / "grader" / "nbgrader_config.py"


def assignments(source=SOURCE):
    """Names of the assignments: the folders of ``solutions/`` holding ``<name>.ipynb``."""
    return sorted(
        path.name
        for path in pathlib.Path(source).iterdir()
        if path.is_dir() and (path / f"{path.name}.ipynb").is_file()
    )


def course_config(course, source=SOURCE, release_dir=None, extra=""):
    """Write ``nbgrader_config.py`` for a throw-away course folder ``course``.

    It loads the course's real config, then points root, gradebook and release at
    ``course`` (and the source at ``source``). Returns the config's path.
    """
    course = pathlib.Path(course)
    course.mkdir(parents=True, exist_ok=True)
    release_dir = pathlib.Path(release_dir) if release_dir else course / "release"
    text = (
        f"c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(CONFIG)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.source_directory = {str(pathlib.Path(source).resolve())!r}\n"
        f"c.CourseDirectory.release_directory = {str(release_dir)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\n"
        f"{extra}"
    )
    path = course / "nbgrader_config.py"
    path.write_text(text)
    return path


def nbgrader_env():
    """Environment for running nbgrader: the venv's bin first (nbgrader calls ``alembic``)."""
    env = dict(os.environ)
    bin_dir = str(pathlib.Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def nbgrader(args, course, check=True, timeout=None):
    """Run ``nbgrader <args>`` with ``course`` as working directory (its config applies)."""
    command = [sys.executable, "-m", "nbgrader", *args]
    completed = subprocess.run(
        command, cwd=course, env=nbgrader_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and completed.returncode != 0:
        raise RuntimeError(
            f"`nbgrader {' '.join(args)}` failed ({completed.returncode}):\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )
    return completed


def release(assignment=None, dest=None, source=SOURCE):
    """Generate the student version of ``assignment`` (all when None) into ``dest``.

    Returns the list of written notebook paths.
    """
    dest = pathlib.Path(dest) if dest else EXERCISES
    names = [assignment] if assignment else assignments(source)
    unknown = [name for name in names if not (pathlib.Path(source) / name / f"{name}.ipynb").is_file()]
    if unknown:
        raise ValueError(
            f"no master notebook for {unknown}: expected solutions/<name>/<name>.ipynb; "
            f"known assignments: {', '.join(assignments(source))}"
        )
    written = []
    with tempfile.TemporaryDirectory(prefix="convclinic-release-") as temp:
        course = pathlib.Path(temp) / "course"
        course_config(course, source=source)
        for name in names:
            nbgrader(["generate_assignment", name, "--force"], course)
            target = dest / name
            history = _checksum_history(target)
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(course / "release" / name, target)
            _record_checksums(target, name, history)
            written.extend(sorted(target.glob("*.ipynb")))
    return written


def _checksum_history(target):
    """The locked-cell checksums of every earlier release in ``target``: its checksum file, and
    the notebooks there now (a release written before checksums were kept counts too)."""
    import nbformat

    from convclinic.grading.regrade import CHECKSUMS, locked_checksums, read_checksums

    known = read_checksums(str(pathlib.Path(target) / CHECKSUMS))
    for path in sorted(pathlib.Path(target).glob("*.ipynb")):
        for grade_id, checksum in locked_checksums(nbformat.read(str(path), as_version=4)).items():
            if checksum not in known.setdefault(grade_id, []):
                known[grade_id].append(checksum)
    return known


def _record_checksums(target, name, history):
    """``target/.release-checksums.json``: the locked cells of this release and of every earlier
    one, so the grader accuses nobody who received an earlier wording (grader/README.md)."""
    import json

    import nbformat

    from convclinic.grading.regrade import CHECKSUMS, add_release

    path = pathlib.Path(target) / CHECKSUMS
    path.write_text(json.dumps({"assignment": name, "locked": history}))
    add_release(str(path), name, [nbformat.read(str(p), as_version=4) for p in sorted(target.glob("*.ipynb"))])


def shown(path):
    """``path`` as the release commands print it: relative to the working folder when inside it."""
    path = pathlib.Path(path).resolve()
    try:
        return str(path.relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m convclinic.release",
        description="Regenerate exercises/ (student versions) from the masters in solutions/ "
        "with nbgrader generate_assignment.",
    )
    parser.add_argument("assignment", nargs="?", help="one assignment (default: all)")
    parser.add_argument("--dest", help="output folder (default: exercises/)")
    options = parser.parse_args(argv)
    try:
        for path in release(options.assignment, options.dest):
            print(f"released {shown(path)}")
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
