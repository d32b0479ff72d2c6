"""The sandbox every graded notebook runs in (instructor grading, grader/README.md).

nbgrader runs student code with the grader's own permissions: by default a
submission can read the course's masters (hidden tests), other students'
files, write the gradebook and open network connections (grader/README.md, "How it works").
Here each kernel is started through bubblewrap (Debian package ``bubblewrap``):

- new user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``):
  no network at all, no view of the grader's processes;
- a read-only view of the system (``/usr``, ``/etc``...), of the Python
  installation and of the ``convclinic`` package, and NOTHING else of the
  host: not the repository (``solutions/``), not the submissions folder, not
  the output folder, not the grader's gradebook;
- a private writable working directory holding a copy of the student's own
  non-notebook files (and the assignment's released data files), a private
  ``/tmp`` and ``$HOME``;
- the kernel talks to the grader over ZeroMQ IPC sockets (unix sockets) in a
  private per-kernel directory, since a network namespace cuts TCP;
- resource limits: address space (``RLIMIT_AS``: runaway memory raises
  ``MemoryError`` in the student's cell instead of hurting other students),
  file size and core dumps.

:class:`SandboxKernelManager` is a ``jupyter_client`` kernel manager;
:class:`convclinic.grading.execute.SandboxedExecute` is nbgrader's ``Execute``
preprocessor using it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode

from convclinic.judging.core import GRADING_ENV

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")
#: Environment variables handed to the kernel (the rest of the grader's environment is dropped).
PASSED_ENV = ("NBGRADER_EXECUTION", "CONVCLINIC_GRADING", "TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "PYTHONHASHSEED",
              "LANG", "LC_ALL", "OMP_NUM_THREADS", "TF_NUM_INTEROP_THREADS", "TF_NUM_INTRAOP_THREADS")
SANDBOX_HOME = "/home/student"
DEFAULT_MEMORY_MB = 4096


class SandboxError(RuntimeError):
    """The sandbox cannot run on this machine (missing bwrap, no namespaces)."""


def bwrap_path():
    return shutil.which("bwrap")


def python_roots():
    """Directories the kernel's Python needs, read-only: the venv, the base install, convclinic."""
    import convclinic

    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix),
             os.path.realpath(os.path.dirname(os.path.dirname(sys.executable))),
             os.path.dirname(os.path.realpath(convclinic.__file__))}
    # the venv's python is usually a symlink into the base install: bind both
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(roots)


def bwrap_command(argv, workdir, private_dirs=(), env=None):
    """The bubblewrap command line running ``argv`` in the sandbox.

    ``workdir`` is mounted read-write at ``/home/student/work`` (the kernel's
    working directory); each of ``private_dirs`` read-write at its own path
    (the kernel's IPC sockets and connection file). Everything else the
    kernel sees is read-only system and Python files.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxError("bubblewrap (bwrap) is not installed: `sudo apt-get install bubblewrap` "
                           "or `make system-deps`; student code is never run without the sandbox")
    command = [bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL", "--clearenv"]
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            command += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            command += ["--ro-bind", directory, directory]
    # Private /tmp and /home first: the Python roots are bound on top of them, since the
    # course (and its .venv) may itself live under /tmp or /home (a CI clone does).
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/home"]
    for root in python_roots():
        command += ["--ro-bind", root, root]
    command += ["--dir", SANDBOX_HOME, "--bind", workdir, SANDBOX_HOME + "/work"]
    for directory in private_dirs:
        command += ["--bind", directory, directory]
    environment = sandbox_environment(env)
    for name, value in sorted(environment.items()):
        command += ["--setenv", name, value]
    command += ["--chdir", SANDBOX_HOME + "/work", "--"]
    return command + list(argv)


def sandbox_environment(env=None):
    """The whole environment of a sandboxed kernel: fixed values plus :data:`PASSED_ENV` taken
    from ``env`` (default: this process's)."""
    environment = {
        "HOME": SANDBOX_HOME,
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "KERAS_HOME": SANDBOX_HOME + "/.keras",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JPY_PARENT_PID": "1",  # no parent poller: bwrap --die-with-parent ends the kernel
    }
    source = os.environ if env is None else env
    for name in PASSED_ENV:
        if name in source:
            environment[name] = source[name]
    return environment


def limit_resources(memory_mb):
    """A ``preexec_fn`` applying the per-submission resource limits."""
    def apply():
        limit = int(memory_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**30, 2**30))
    return apply


def check_sandbox():
    """Raise :class:`SandboxError` with a clear message when bwrap cannot run here."""
    with tempfile.TemporaryDirectory(prefix="convclinic-check-") as workdir:
        command = bwrap_command([sys.executable, "-c", "import os; print(os.getcwd())"], workdir)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        except OSError as error:
            raise SandboxError(f"bubblewrap could not start: {error}") from error
        if done.returncode != 0 or done.stdout.strip() != SANDBOX_HOME + "/work":
            raise SandboxError(
                "bubblewrap is installed but cannot create namespaces here "
                f"(exit {done.returncode}): {done.stderr.strip()[:500]}. On Debian/Ubuntu enable "
                "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) "
                "or run the grader as root.")


def copy_student_files(source, destination):
    """Copy the non-notebook files of the notebook's folder (the student's extra files, the
    assignment's data files) into the sandbox's working directory. Notebooks stay out: the
    file nbgrader executes already holds the restored hidden tests."""
    for current, directories, files in os.walk(source):
        directories[:] = [d for d in directories if d != ".ipynb_checkpoints"]
        relative = os.path.relpath(current, source)
        target = os.path.normpath(os.path.join(destination, relative))
        os.makedirs(target, exist_ok=True)
        for name in files:
            if name.endswith(".ipynb") or name == "timestamp.txt":
                continue
            path = os.path.join(current, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            shutil.copy(path, os.path.join(target, name))


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager that starts every kernel inside bubblewrap, over IPC sockets."""

    sandbox_root = Unicode("", help="Folder for the per-kernel private folders").tag(config=True)
    memory_mb = Integer(DEFAULT_MEMORY_MB, help="Address-space limit of a kernel, MiB").tag(config=True)
    warm = Bool(False, help="Fork kernels from this process's warm fork server (only "
                            "convclinic.grading.forkserver.GradingKernelManager does)").tag(config=True)

    _private = None
    _runtime = None

    def _kernel_environment(self, kw):
        environment = dict(kw.get("env") or os.environ)
        environment.update(NBGRADER_EXECUTION=os.environ.get("NBGRADER_EXECUTION", "autograde"))
        environment[GRADING_ENV] = "1"  # check() only collects: the grading worker judges
        return environment

    def _use_ipc(self, runtime):
        self.transport = "ipc"
        self.cache_ports = False
        self.ip = os.path.join(runtime, "k")
        self.connection_file = os.path.join(runtime, "connection.json")
        # SIGINT to the process jupyter_client started would hit bwrap, not the kernel:
        # interrupt through the control channel instead (a timed-out cell is interrupted).
        self.kernel_spec.interrupt_mode = "message"

    def _check_ipc(self):
        with open(self.connection_file) as handle:
            if json.load(handle).get("transport") != "ipc":
                raise SandboxError("the kernel connection is not over IPC: refusing to start the kernel")

    async def _async_pre_start_kernel(self, **kw):
        root = self.sandbox_root or tempfile.gettempdir()
        os.makedirs(root, exist_ok=True)
        for folder in (self._private, self._runtime):  # a restart: the old kernel's folders go
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        self._private = tempfile.mkdtemp(prefix="kernel-", dir=root)
        workdir = os.path.join(self._private, "work")
        os.makedirs(workdir)
        # Unix socket paths are limited to 107 bytes: the sockets and the connection file
        # go to a short private folder under the system temp folder.
        self._runtime = tempfile.mkdtemp(prefix="cc-")
        runtime = self._runtime
        if kw.get("cwd"):
            copy_student_files(kw["cwd"], workdir)
        self._use_ipc(runtime)
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        self._check_ipc()
        kernel_cmd = bwrap_command(kernel_cmd, workdir, [runtime], self._kernel_environment(kw))
        kw["cwd"] = workdir
        # the kernel's own stdout/stderr (not the cells' outputs) reach nobody
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        kw["preexec_fn"] = limit_resources(self.memory_mb)
        return kernel_cmd, kw

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            for folder in (self._private, self._runtime):
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
            self._private = self._runtime = None
