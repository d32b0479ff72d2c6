"""``convclinic grade --scheduler tcp://HOST:PORT``: grading on a Dask distributed cluster.

The workers are started with the stock ``dask worker tcp://HOST:PORT`` command on any
machine that has the course's pinned environment and bubblewrap (grader/README.md,
"Grading on several machines (Dask)"). Nothing relies on a shared filesystem:

- once per batch, a worker plugin carries the master course (its ``source/`` and the
  gradebook ``generate_assignment`` wrote, as a tar archive) and the course config as
  bytes; every worker, including one that joins mid-batch, unpacks it into its own local
  directory and starts a pool of grading processes there, each with its private course
  copy, exactly as the local pool does (:func:`convclinic.grading.worker.init_worker`);
- each submission travels as the bytes of its staged files; the worker grades it in
  the same bubblewrap sandbox as on one machine (:func:`convclinic.grading.worker.grade_job`)
  and sends back the result, the autograded notebooks and the feedback as bytes;
- this process writes them into ``OUT/.convclinic/results`` and publishes and journals
  them as a local batch does: it stays the only writer of the gradebook, the journal,
  grades.csv and report.md.

A worker started with ``--preload convclinic.grading.cluster`` (:func:`dask_setup`) starts its
grading processes when it starts, warm (TensorFlow imported for judging, the fork server
started), and keeps them from batch to batch; a batch whose kernel settings they match is
graded by them, with its own course copy in each (:func:`convclinic.grading.worker.grade_in`).

A worker that dies mid-batch (even SIGKILL) loses nothing: the scheduler hands its tasks
to another worker. Each submission is one task with a key naming the student, the
assignment and the submission's fingerprint, and its result is published at most once,
whatever the scheduler retries.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import multiprocessing
import os
import shutil
import tarfile

from distributed import WorkerPlugin

from convclinic.grading.files import atomic_folder

PLUGIN_PREFIX = "convclinic-course-"


def read_tree(folder):
    """{relative path: bytes} of every file under ``folder``."""
    found = {}
    for here, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(here, name)
            found[os.path.relpath(path, folder)] = open(path, "rb").read()
    return found


def write_tree(folder, files):
    """Write ``files`` ({relative path: bytes}) under ``folder``; a path leaving it is refused."""
    root = os.path.realpath(folder)
    for relative, data in files.items():
        path = os.path.realpath(os.path.join(root, relative))
        if os.path.commonpath([root, path]) != root:
            raise ValueError(f"refusing to write {relative!r} outside {folder}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)


def course_archive(master_course):
    """The master course a worker needs (``source/`` and ``gradebook.db``) as tar bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in ("source", "gradebook.db"):
            archive.add(os.path.join(master_course, name), arcname=name)
    return buffer.getvalue()


class CoursePlugin(WorkerPlugin):
    """Unpacks the master course on a worker and keeps that worker's grading processes."""

    def __init__(self, name, archive, course_config, settings):
        self.name, self.archive, self.course_config, self.settings = name, archive, course_config, settings
        self.pool = None
        self.root = None

    def setup(self, worker):
        from convclinic.grading.sandbox import check_sandbox

        check_sandbox()  # a worker without bubblewrap refuses to grade rather than grade unsandboxed
        self.root = os.path.join(worker.local_directory, self.name)
        shutil.rmtree(self.root, ignore_errors=True)
        master = os.path.join(self.root, "master")
        os.makedirs(master)
        with tarfile.open(fileobj=io.BytesIO(self.archive)) as archive:
            archive.extractall(master, filter="data")
        slots = max(1, worker.state.nthreads)
        own = process_settings(worker, slots, self.settings)
        settings = dict(self.settings, **own, master_course=master, work_root=os.path.join(self.root, "work"))
        if self.course_config is not None:
            settings["course_config"] = os.path.join(self.root, "nbgrader_config.py")
            with open(settings["course_config"], "wb") as handle:
                handle.write(self.course_config)
        self.worker_settings, self.slots = settings, slots
        allow_children()
        warm = WARM.get(worker.address)
        # the worker's own grading processes, started warm when it started (dask_setup), serve
        # this batch when they grade as it asks; else the batch starts its own
        self.pool = warm["pool"] if warm and warm["settings"] == own else None
        if self.pool is None:
            self.pool = _new_pool(slots, settings)

    def teardown(self, worker):
        warm = WARM.get(worker.address)
        if self.pool is not None and not (warm and warm["pool"] is self.pool):
            self.pool.shutdown(wait=False, cancel_futures=True)
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def grade(self, job, files):
        """Grade one submission in this worker's pool; a crashed grading process is replaced and
        the submission tried once more before it counts as the grader's error."""
        from convclinic.grading.worker import grade_in

        folder = os.path.join(self.root, "jobs", f"{job['assignment']}-{job['student_id']}-{os.urandom(4).hex()}")
        write_tree(os.path.join(folder, "staged"), files)
        job = dict(job, staged=os.path.join(folder, "staged"), result_dir=os.path.join(folder, "result"))
        try:
            for _attempt in range(2):
                try:
                    result_dir = self.pool.submit(grade_in, self.worker_settings, job).result()
                    return read_tree(result_dir)
                except concurrent.futures.process.BrokenProcessPool:
                    self.pool.shutdown(wait=False, cancel_futures=True)
                    for warm in WARM.values():  # a broken warm pool is replaced by a cold one
                        if warm["pool"] is self.pool:
                            warm["pool"] = None
                    self.pool = _new_pool(self.slots, self.worker_settings)
            raise RuntimeError("the grading process itself crashed twice on this submission")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


#: Per Dask worker (address) started with ``--preload convclinic.grading.cluster``: its warm
#: grading processes ({"pool", "settings"}), kept from batch to batch.
WARM = {}


def process_settings(worker, slots, batch=None):
    """The settings a grading process of ``worker`` starts with: the grading environment (the
    kernels' threads: the worker's cores shared by its ``slots``), its kernels' folder kept
    across batches, and, from ``batch`` (default: warm kernels, the default memory limit), the
    kernels and memory limit."""
    from convclinic.grading.sandbox import DEFAULT_MEMORY_MB
    from convclinic.grading.worker import environment, kernel_threads

    threads = kernel_threads(slots)
    batch = batch or {}
    return {"environment": dict(environment(), OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads,
                                TF_NUM_INTEROP_THREADS=threads),
            "kernel_root": os.path.join(worker.local_directory, "convclinic-kernels"),
            "warm": batch.get("warm", True), "memory_mb": batch.get("memory_mb") or DEFAULT_MEMORY_MB}


def allow_children():
    """A worker started by the stock `dask worker` runs under a nanny as a daemonic
    multiprocessing child, which multiprocessing forbids to have children of its own; the
    grading processes die with this one anyway (worker.die_with_parent)."""
    multiprocessing.current_process()._config["daemon"] = False


def _new_pool(slots, settings, initializer=None):
    """``slots`` grading processes started with ``initializer(settings)`` (default: a batch's,
    :func:`convclinic.grading.worker.init_worker`)."""
    from convclinic.grading.worker import init_worker

    # spawned, not forked: the Dask worker is multi-threaded
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=slots, mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer or init_worker, initargs=(settings,))


async def dask_setup(worker):
    """``dask worker --preload convclinic.grading.cluster``: when the worker starts, start its
    grading processes and warm each one (:func:`convclinic.grading.worker.warm_up`: the judging's
    TensorFlow import, the fork server started), before the worker joins the scheduler; every
    batch whose settings match (the defaults) is then graded by them without those start costs.
    A worker that cannot warm up (no bubblewrap) says so in its log and grades as without it."""
    import asyncio
    import logging

    from convclinic.grading.sandbox import SandboxError, check_sandbox
    from convclinic.grading.worker import init_process, warm_up

    log = logging.getLogger("distributed.worker")  # the worker's own log (its handler and level)
    try:
        check_sandbox()
    except SandboxError as error:
        log.warning("convclinic: no warm grading processes on this worker: %s", error)
        return
    slots = max(1, worker.state.nthreads)
    settings = process_settings(worker, slots)
    allow_children()
    pool = _new_pool(slots, settings, init_process)
    # one warm-up per process: a spawning pool starts a new process for each task submitted
    # while none is idle
    futures = [pool.submit(warm_up, settings) for _ in range(slots)]
    pids = await asyncio.get_running_loop().run_in_executor(None, lambda: [f.result() for f in futures])
    WARM[worker.address] = {"pool": pool, "settings": settings}
    log.info("convclinic: %d warm grading process(es): %s", len(set(pids)), sorted(set(pids)))


async def dask_teardown(worker):
    warm = WARM.pop(worker.address, None)
    if warm and warm["pool"] is not None:
        warm["pool"].shutdown(wait=False, cancel_futures=True)


def grade_remote(plugin_name, job, files):
    """The Dask task: grade one submission on whichever worker runs it; returns the files of its
    result folder ({relative path: bytes}: result.json, feedback/, autograded/)."""
    from distributed import get_worker

    worker = get_worker()
    if plugin_name not in worker.plugins:  # its setup failed: the worker's log says why
        raise RuntimeError(f"the Dask worker {worker.address} could not set up the course (see its log)")
    return worker.plugins[plugin_name].grade(job, files)


def _plugin(settings):
    """The worker plugin of this batch, named by the digest of everything it carries."""
    archive = course_archive(settings["master_course"])
    config_path = settings.get("course_config")
    course_config = open(config_path, "rb").read() if config_path and os.path.exists(config_path) else None
    portable = {key: value for key, value in settings.items()
                if key not in ("master_course", "work_root", "environment", "course_config")}
    digest = hashlib.sha256(archive + (course_config or b"")
                            + json.dumps(portable, sort_keys=True).encode()).hexdigest()
    return CoursePlugin(PLUGIN_PREFIX + digest[:24], archive, course_config, portable)


def _task_key(job):
    return f"convclinic-grade-{job['assignment']}-{job['student_id']}-{job['fingerprint'][:16]}"


def _save_result(job, files):
    """Write a returned result into the job's result folder (a renamed temp folder)."""
    result = json.loads(files["result.json"])
    if (result.get("student_id"), result.get("assignment"), result.get("fingerprint")) != (
            job["student_id"], job["assignment"], job["fingerprint"]):
        raise RuntimeError("a worker returned the result of another submission")
    with atomic_folder(job["result_dir"]) as temporary:
        write_tree(temporary, files)
    return job["result_dir"]


class SchedulerError(Exception):
    """The Dask scheduler cannot be reached."""


def connect(address):
    """A Dask client of the scheduler at ``address``, or a SchedulerError saying why not."""
    from distributed import Client

    try:
        return Client(address, timeout="30s")
    except (OSError, TimeoutError) as error:
        raise SchedulerError(f"--scheduler {address}: cannot reach the Dask scheduler ({error}); start it "
                             "with `dask scheduler` (grader/README.md, Grading on several machines)") from error


def run_on_cluster(address, jobs, settings, say, publish, fail):
    """Grade ``jobs`` on the Dask cluster at ``address``: ``publish(job, result_dir)`` once per
    graded submission, ``fail(job, problem)`` for one the grader could not grade."""
    from distributed import as_completed

    client = connect(address)
    plugin = _plugin(settings)
    futures = {}
    try:
        try:
            client.register_plugin(plugin, name=plugin.name)
        except Exception as error:  # noqa: BLE001 - raised by a worker's setup, e.g. no bubblewrap
            raise SchedulerError(f"a Dask worker of {address} cannot grade: "
                                 f"{error.__class__.__name__}: {error}") from error
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        say(f"Dask scheduler {address}: {workers} worker(s) connected now; workers joining later get the "
            "course too.")
        for job in jobs:
            portable = {key: value for key, value in job.items() if key not in ("staged", "result_dir")}
            futures[client.submit(grade_remote, plugin.name, portable, read_tree(job["staged"]),
                                  key=_task_key(job))] = job
        published = set()
        for future in as_completed(list(futures)):
            job = futures[future]
            if (job["student_id"], job["assignment"]) in published:  # a retried task: published once
                continue
            published.add((job["student_id"], job["assignment"]))
            try:
                result_dir = _save_result(job, future.result())
            except Exception as error:  # noqa: BLE001 - one submission must not stop the batch
                fail(job, f"{error.__class__.__name__}: {error}")
                continue
            publish(job, result_dir)
    finally:
        client.cancel(list(futures))
        _forget_plugin(client, plugin.name)
        client.close()


def _forget_plugin(client, name):
    """Unregister the batch's plugin: its workers stop their grading processes and delete the copy."""
    try:
        client.unregister_worker_plugin(name)
    except Exception:  # noqa: BLE001 - a batch ending while workers are gone
        pass
