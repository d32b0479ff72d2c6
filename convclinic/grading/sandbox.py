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
:class:`SandboxedExecute` is nbgrader's ``Execute`` preprocessor using it.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

from convclinic.grading import judged as judging
from convclinic.grading import tamper
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
    for name, value in sorted(environment.items()):
        command += ["--setenv", name, value]
    command += ["--chdir", SANDBOX_HOME + "/work", "--"]
    return command + list(argv)


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


def _copy_student_files(source, destination):
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

    _private = None
    _runtime = None

    async def _async_pre_start_kernel(self, **kw):
        root = self.sandbox_root or tempfile.gettempdir()
        os.makedirs(root, exist_ok=True)
        self._private = tempfile.mkdtemp(prefix="kernel-", dir=root)
        workdir = os.path.join(self._private, "work")
        os.makedirs(workdir)
        # Unix socket paths are limited to 107 bytes: the sockets and the connection file
        # go to a short private folder under the system temp folder.
        self._runtime = tempfile.mkdtemp(prefix="cc-")
        runtime = self._runtime
        if kw.get("cwd"):
            _copy_student_files(kw["cwd"], workdir)
        self.transport = "ipc"
        self.cache_ports = False
        self.ip = os.path.join(runtime, "k")
        self.connection_file = os.path.join(runtime, "connection.json")
        # SIGINT to the process jupyter_client started would hit bwrap, not the kernel:
        # interrupt through the control channel instead (a timed-out cell is interrupted).
        self.kernel_spec.interrupt_mode = "message"
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        with open(self.connection_file) as handle:
            if json.load(handle).get("transport") != "ipc":
                raise SandboxError("the kernel connection is not over IPC: refusing to start the kernel")
        environment = dict(kw.get("env") or os.environ)
        environment.update(NBGRADER_EXECUTION=os.environ.get("NBGRADER_EXECUTION", "autograde"))
        environment[GRADING_ENV] = "1"  # check() only collects: the grading worker judges
        kernel_cmd = bwrap_command(kernel_cmd, workdir, [runtime], environment)
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


#: What the last notebooks graded in this process did that report.md must name (tamper
#: attempts, answers using convclinic, forged answers records); the worker reads and clears it.
NOTES: list = []

def describe_error(label, output, timeout, graded):
    """An error output of a cell, in words an instructor understands ("" when ordinary)."""
    ename = output.get("ename", "")
    if ename in TIMEOUT_NAMES:
        return f"{label} ran past the per-cell time limit of {timeout} s (endless loop?) and was stopped"
    if ename == KERNEL_DIED:
        return f"the Python kernel crashed while running {label} (os._exit, a segfault or the memory limit)"
    if ename == "MemoryError":
        return f"{label} ran out of memory (the per-submission memory limit)"
    if ename == NOT_RUN:
        return f"later cells were not run ({output.get('evalue', '')}); their tests score 0"
    if ename == "KeyboardInterrupt" and not graded:
        return f"{label} was interrupted at the time limit"
    return ""


KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
TIMEOUT_NAMES = ("CellTimeoutError",)


def _error_output(name, value):
    return NotebookNode(output_type="error", ename=name, evalue=value, traceback=[f"{name}: {value}"])


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` preprocessor, with kernels started in the sandbox.

    Judged test cells (:mod:`convclinic.grading.judged`, grader/README.md "How a part
    is judged"): before the first cell the kernel gets a sealed collector (pristine
    references, under a random name); instead of each judged test cell it runs that
    collector on the visible cases (the hidden block never reaches the kernel; the
    stored notebook keeps the cell's source), and after the last cell one extra
    execution per part collects the hidden cases. Those grader executions stay out of
    the input history and their outputs are never stored (the notebook, its display
    ids and widget state are restored after each). This process then judges every part
    with the real TensorFlow and replaces the test cell's outputs by the verdict;
    whatever the kernel printed there is discarded. Old-style test cells run as in
    plain nbgrader.

    When student code breaks the kernel itself:

    - the kernel dies (``os._exit``, a segfault, the memory limit hit inside C code):
      nbgrader would abort the whole submission; here the cell that was running gets a
      ``KernelDied`` error and every later code cell a ``NotRun`` error, so the parts
      graded before the crash keep their points and nbgrader scores the rest as failed;
    - a cell times out and the kernel does not answer after the interrupt: the same,
      with the kernel stopped, instead of waiting the full timeout once per remaining cell.
    """

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = None
        self._judged = {i: j for i, j in ((i, judging.plan_cell(c, i)) for i, c in enumerate(nb.cells)) if j}
        self._sealed = "_convclinic_" + secrets.token_hex(8)  # never in the input history
        scans = tamper.scan(nb)
        NOTES.extend(tamper.notes(scans))
        self._blocked = tamper.delegated_names(scans) if self._judged else {}
        self._visible, self._hidden = {}, {}
        nb, resources = super().preprocess(nb, resources, km)
        self._decide(nb)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if index == 0 and self._judged:
            self._side_execution(judging.seal_source(sorted({j.grade_id for j in self._judged.values()}),
                                                     self._sealed), index)
        judged = self._judged.get(index)
        original = cell.source
        if judged:
            cell.source = judging.collect_source(judged.grade_id, self._sealed)
        try:
            cell, resources = self._run_cell(cell, resources, index, history=not judged)
        finally:
            cell.source = original
        if judged:
            self._visible[index] = judging.answers_records(cell.outputs, judged.grade_id, "visible")
        if index == len(self.nb.cells) - 1:
            self._collect_hidden(index)
        return cell, resources

    def _run_cell(self, cell, resources, index, history=True):
        if getattr(self, "_stopped", None):
            if cell.cell_type == "code":
                cell.outputs = [_error_output(NOT_RUN, self._stopped)]
            return cell, resources
        try:
            if history:
                cell, resources = super().preprocess_cell(cell, resources, index)
            else:  # a judged cell: the grader's line stays out of In/_ih
                self._check_assign_resources(resources)
                cell, resources = self.execute_cell(cell, index, store_history=False), self.resources
        except DeadKernelError:
            cell.outputs.append(_error_output(
                KERNEL_DIED, "the Python kernel died while running this cell "
                "(os._exit, a crash or the memory limit)"))
            self._stopped = "not run: the kernel died in an earlier cell"
            return cell, self.resources
        if cell.cell_type == "code" and self._timed_out(cell):
            for output in cell.outputs:
                if output.get("ename") in TIMEOUT_NAMES:
                    output.evalue = self._limit_text()
                    output.traceback = [f"{output.ename}: {output.evalue}"]
            if not self._kernel_answers():
                self._stopped = "not run: the kernel stopped responding after a timeout"
                try:
                    run_sync(self.km.shutdown_kernel)(now=True)
                except Exception:  # noqa: BLE001 - the kernel is gone either way
                    pass
        return cell, resources

    def _limit_text(self):
        return (f"this cell ran longer than the per-cell time limit of {self.timeout} seconds "
                "and was stopped (an endless loop, or far too much work)")

    @staticmethod
    def _timed_out(cell):
        return any(o.get("output_type") == "error" and o.get("ename") in TIMEOUT_NAMES for o in cell.outputs)

    def _side_execution(self, source, index):
        """Run grader code in the kernel, outside the notebook: its outputs (returned) are never
        stored; the cells, notebook metadata and widget state are restored after it. None when
        the kernel died or stopped answering."""
        saved = copy.deepcopy((self.nb.cells, self.nb.metadata, self.widget_state, self.widget_buffers))
        probe = NotebookNode(cell_type="code", metadata=NotebookNode(), outputs=[], execution_count=None,
                             source=source)
        try:
            self.execute_cell(probe, index, store_history=False)
        except DeadKernelError:
            return None
        finally:
            self.nb.cells, self.nb.metadata, self.widget_state, self.widget_buffers = saved
            self._display_id_map = {}
        if self._timed_out(probe) and not self._kernel_answers():
            return None
        return probe.outputs

    def _collect_hidden(self, index):
        """After the last cell: one side execution per part collects its hidden cases."""
        for judged in self._judged.values():
            if judged.hidden_cases is None or self._stopped:
                continue
            outputs = self._side_execution(
                judging.hidden_source(judged.grade_id, judged.hidden_cases, self._sealed), index)
            if outputs is None:
                return
            self._hidden[judged.grade_id] = judging.answers_records(outputs, judged.grade_id, "hidden")

    def _decide(self, nb):
        """Judge every judged cell here (never in the kernel) and set its outputs to the verdict."""
        from convclinic.judging.core import get_part
        from convclinic.judging.kernel import quiet

        for index, judged in self._judged.items():
            cell = nb.cells[index]
            visible, problem = self._visible.get(index, (None, ""))
            hidden, hidden_problem = self._hidden.get(judged.grade_id, (None, ""))
            blocked = problem or hidden_problem
            if blocked:
                NOTES.append(f"tamper attempt: {blocked}")
            if visible is None and not blocked:
                blocked = self._why_not_run(cell)
            NOTES.extend(self._trouble(judged.grade_id, cell.get("outputs", []), visible, hidden))
            try:
                names = get_part(judged.grade_id).names
            except KeyError:
                names = ()
            blocked = blocked or next((self._blocked[n] for n in names if n in self._blocked), "")
            with quiet():
                passed, lines = judging.judge(judged, visible, hidden, blocked)
            cell.outputs = judging.verdict_outputs(passed, lines)

    def _trouble(self, grade_id, outputs, *envelopes):
        """What report.md says about a judged cell whose kernel outputs the verdict replaces
        (the same words as :func:`convclinic.grading.worker._problems` for other cells)."""
        notes = [describe_error(f"'{grade_id}'", output, self.timeout, True) for output in outputs
                 if output.get("output_type") == "error"]
        if any("MemoryError" in json.dumps(envelope) for envelope in envelopes if envelope):
            notes.append(describe_error(f"'{grade_id}'", {"ename": "MemoryError"}, self.timeout, True))
        return [note for note in notes if note]

    def _why_not_run(self, cell):
        for output in cell.get("outputs", []):
            if output.get("ename") in TIMEOUT_NAMES:
                return self._limit_text()
            if output.get("ename") in (KERNEL_DIED, NOT_RUN):
                return output.get("evalue", "")
        return ""

    def _kernel_answers(self):
        try:
            reply = self.wait_for_reply(self.kc.kernel_info())
        except Exception:  # noqa: BLE001 - dead or unreachable
            return False
        return bool(reply) and reply.get("content", {}).get("status") == "ok"
