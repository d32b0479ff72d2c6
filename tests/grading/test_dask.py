"""``convclinic grade --scheduler``: a class graded on a real Dask cluster (stock ``dask scheduler``
and ``dask worker`` processes on loopback) scores as local grading does, and survives a worker
SIGKILLed mid-batch with every row exactly once.

Run as root (as CI is) where mount namespaces are allowed, each worker runs in its own mount namespace where the grading side's
folders (the submissions, OUT, the masters, the cache of generated courses) are empty: nothing
reaches a worker but the bytes Dask carries."""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests.browser.harness import free_port
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = [pytest.mark.grading, pytest.mark.slow]

CLI = [sys.executable, "-m", "convclinic.cli"]
DASK = os.path.join(os.path.dirname(sys.executable), "dask")
ASSIGNMENT = matrix.ASSIGNMENT
#: twelve quick cases (no endless loop, no memory runaway): scores and statuses of every kind
CLASS = ("unchanged-release", "full-solution", "correct-but-different", "partly-wrong", "deleted-test-cells",
         "edited-locked-test-cells", "duplicated-cells", "wrongly-named-notebook", "old-nbformat-v3",
         "extra-files", "stderr-output", "kernel-death-os-exit")


def grade_command(submissions, out, *extra):
    return [*CLI, "grade", str(submissions), "--out", str(out), "--assignment", ASSIGNMENT,
            "--timeout", str(matrix.TIMEOUT), *map(str, extra)]


def rows_of(out):
    with (out / "grades.csv").open() as handle:
        return list(csv.DictReader(handle))


def scores(rows):
    return {row["student_id"]: (row["score"], row["max_score"], row["status"]) for row in rows}


def stop(process):
    """SIGKILL a process started in its own session, with everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@functools.cache
def mount_namespaces():
    """Whether this process may give a child its own mount namespace (root, not forbidden)."""
    return os.geteuid() == 0 and subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                                                 capture_output=True, check=False).returncode == 0


def hidden(command, folders):
    """``command`` in a new mount namespace with an empty tmpfs over each of ``folders`` (where
    :func:`mount_namespaces`; elsewhere ``command`` itself)."""
    if not (folders and mount_namespaces()):
        return command
    mounts = "".join(f"mount -t tmpfs -o size=1m none {shlex.quote(str(folder))} && "
                     for folder in folders if os.path.isdir(folder))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", mounts + 'exec "$@"', "sh", *command]


def client_folders(*folders):
    """What a worker must never need: the given folders, the masters and generated-course cache."""
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "convclinic"
    return [*folders, ROOT / "solutions", ROOT / "exercises", cache]


@contextlib.contextmanager
def dask_cluster(base, workers=2, hide=(), environment=None, preload=True):
    """``dask scheduler`` and ``workers`` × ``dask worker --nthreads 1`` as an administrator starts
    them, each worker in its own empty folder (its cwd and --local-directory) and, as root, with
    the folders ``hide`` empty in its mount namespace; all stopped after. With ``preload`` (as
    grader/README.md starts them) each worker warms its grading process when it starts."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    processes = []
    log = open(base / "dask.log", "w")
    try:
        processes.append(subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
             "--no-dashboard"], cwd=base, stdout=log, stderr=log, start_new_session=True))
        for number in range(workers):
            home = base / f"worker-{number}"
            home.mkdir()
            processes.append(subprocess.Popen(hidden(
                [DASK, "worker", address, "--nthreads", "1", "--nworkers", "1", "--local-directory",
                 str(home / "local"), "--no-dashboard", "--name", f"worker-{number}",
                 *(["--preload", "convclinic.grading.cluster"] if preload else [])], hide),
                cwd=home, env=environment, stdout=log, stderr=log, start_new_session=True))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
        yield address, processes[1:]
    finally:
        for process in reversed(processes):
            stop(process)
        log.close()


@pytest.fixture(scope="module")
def a_class(tmp_path_factory):
    """Twelve submissions and their grades from local grading (--workers 2), shared by the tests."""
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    base = tmp_path_factory.mktemp("dask-class")
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / ASSIGNMENT)
    submissions = matrix.build(base / "submissions", master, release, {}, CLASS)
    out = base / "local"
    done = subprocess.run(grade_command(submissions, out, "--workers", "2"), capture_output=True, text=True,
                          cwd=ROOT, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    local = scores(rows_of(out))
    assert sorted(local) == sorted(CLASS)
    assert local["full-solution"][0] == str(matrix.FULL) and local["partly-wrong"][0] == str(matrix.FULL - 2)
    return submissions, local


def journal_entries(out):
    return [json.loads(path.read_text()) for path in (out / ".convclinic" / "journal" / ASSIGNMENT).glob("*.json")]


def test_a_class_graded_on_two_dask_workers_scores_as_local_grading(a_class, tmp_path):
    from distributed import Client

    submissions, local = a_class
    (tmp_path / "client").mkdir()
    out = tmp_path / "client" / "out"
    with dask_cluster(tmp_path, hide=client_folders(submissions.parent, tmp_path / "client")) as (address, _):
        if mount_namespaces():  # the workers see none of the grading side's files
            with Client(address, timeout="60s") as client:
                seen = client.run(lambda: [os.path.exists(submissions), os.listdir(ROOT / "solutions")])
            assert list(seen.values()) == [[False, []], [False, []]], seen
        done = subprocess.run(grade_command(submissions, out, "--scheduler", address), capture_output=True,
                              text=True, cwd=tmp_path, timeout=900, check=False)
        # a batch asking for other kernel settings gets grading processes of its own
        cold_out = tmp_path / "client" / "cold"
        cold = subprocess.run(grade_command(submissions, cold_out, "--scheduler", address, "--no-warm",
                                            "--student", "full-solution"),
                              capture_output=True, text=True, cwd=tmp_path, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert "Dask scheduler" in done.stdout
    assert scores(rows_of(out)) == local
    for student in CLASS:  # feedback and autograded notebooks came back as bytes and were published
        if local[student][2].startswith("graded"):
            assert (out / "feedback" / student / ASSIGNMENT / matrix.NOTEBOOK).with_suffix(".html").is_file()
            assert (out / "course" / "autograded" / student / ASSIGNMENT / matrix.NOTEBOOK).is_file()
    entries = journal_entries(out)
    assert sorted(entry["student_id"] for entry in entries) == sorted(CLASS)
    # every submission was graded by a grading process a worker warmed when it started
    warmed = {int(pid) for found in re.findall(r"warm grading process\(es\): \[([\d, ]+)\]",
                                               (tmp_path / "dask.log").read_text())
              for pid in found.split(",")}
    assert len(warmed) == 2 and {entry["worker"] for entry in entries} <= warmed, warmed
    (cold_entry,) = journal_entries(cold_out)
    assert cold_entry["worker"] not in warmed and scores(rows_of(cold_out)) == {
        "full-solution": local["full-solution"]}
    # a re-run grades nobody again: the journal holds every submission
    again = subprocess.run(grade_command(submissions, out, "--scheduler", "tcp://127.0.0.1:9"),
                           capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert again.returncode == 0 and "12 already done (journal)" in again.stdout, again.stdout + again.stderr


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(a_class, tmp_path):
    submissions, local = a_class
    (tmp_path / "client").mkdir()
    out = tmp_path / "client" / "out"
    journal = out / ".convclinic" / "journal" / ASSIGNMENT
    # workers started without --preload: each batch starts its own grading processes
    with dask_cluster(tmp_path, hide=client_folders(submissions.parent, tmp_path / "client"),
                      preload=False) as (address, workers):
        batch = subprocess.Popen(grade_command(submissions, out, "--scheduler", address), cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not (journal.is_dir() and any(journal.glob("*.json"))):
            assert batch.poll() is None, batch.stdout.read()
            time.sleep(0.2)
        finished = len(list(journal.glob("*.json")))
        assert 1 <= finished <= len(CLASS) - 4, "the kill must come while most submissions are pending"
        stop(workers[0])  # the nanny, the worker, its grading processes and kernels: SIGKILL
        output, _ = batch.communicate(timeout=900)
    assert batch.returncode == 0, output
    rows = rows_of(out)
    assert sorted(row["student_id"] for row in rows) == sorted(CLASS), "every row exactly once"
    assert scores(rows) == local
    assert sorted(entry["student_id"] for entry in journal_entries(out)) == sorted(CLASS)
    assert sum(line.startswith("  ") and ASSIGNMENT in line for line in output.splitlines()) == len(CLASS), \
        "each submission published exactly once"


def test_a_worker_without_bubblewrap_refuses_to_grade(a_class, tmp_path):
    """A worker machine that cannot sandbox (no bwrap on its PATH) stops the batch with one line
    naming the cause; nobody is graded unsandboxed, nothing is journaled."""
    submissions, _ = a_class
    out = tmp_path / "out"
    bare = dict(os.environ, PATH=os.path.dirname(sys.executable))  # the venv, no /usr/bin/bwrap
    with dask_cluster(tmp_path, workers=1, environment=bare) as (address, _):
        done = subprocess.run(grade_command(submissions, out, "--scheduler", address, "--student", "full-solution"),
                              capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"convclinic grade: error: a Dask worker of {address} cannot grade: SandboxError: bubblewrap (bwrap) " \
           "is not installed" in done.stderr, done.stderr
    assert not list((out / ".convclinic" / "journal").rglob("*.json"))
