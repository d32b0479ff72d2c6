"""Warm kernels: a fork server per grading process (grader/README.md, "Warm kernels").

A cold kernel pays the TensorFlow import (about 4 s of CPU) once per submission. Here each
grading process (a local pool worker or a process of a Dask worker) starts ONE server,
:mod:`convclinic.grading.zygote`, inside the very sandbox a cold kernel gets; the server
imports TensorFlow, Keras and ipykernel once and forks one kernel per submission.

- :class:`ForkServer` starts, talks to and restarts the server; before every fork it asks
  the server to kill whatever the last kernel left running and to empty every writable
  folder (a reset that fails restarts the server: a fresh sandbox).
- :class:`ForkProvisioner` is the jupyter_client kernel provisioner (the standard hook
  jupyter_client launches kernels through) that asks the server for a kernel instead of
  starting a process; :class:`GradingKernelManager` (the sandbox's kernel manager, which the
  grader's execute preprocessor uses) selects it when warm kernels are on. nbgrader and
  nbclient are unchanged.
- :data:`LOST` counts servers found dead in this process: the grading worker compares it
  before and after a submission and grades the submission once more when the server died
  meanwhile (a kernel killed with its server is not the student's fault).
- A server that cannot start at all (no fork, an import that fails in the sandbox) sets
  :data:`UNAVAILABLE`: this process's kernels then start cold, with the same scores.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from convclinic.grading.sandbox import (
    SANDBOX_HOME,
    SandboxError,
    SandboxKernelManager,
    bwrap_command,
    copy_student_files,
    limit_resources,
    sandbox_environment,
)

STARTUP_SECONDS = 180
#: A request is a few milliseconds of work (a reset: killing and deleting, about a second);
#: a server that does not answer in this time (stopped by a kernel's SIGSTOP) is replaced.
REQUEST_SECONDS = 20
#: How long a fork waits for the kernel's sockets before handing over to jupyter_client's wait.
SOCKET_SECONDS = 10
_SERVERS = {}
#: How many times a running fork server was found dead in this process (module docstring).
LOST = 0
#: Why warm kernels cannot run in this process (None: they can); kernels then start cold.
UNAVAILABLE = None


class ServerDied(RuntimeError):
    """The fork server is gone (killed, crashed, or it stopped answering)."""


class ForkServer:
    """One warm sandbox: its folders on the host, the bwrap process, the request pipe."""

    def __init__(self, root, environment, memory_mb):
        self.root = root
        self.environment = dict(environment)
        self.memory_mb = int(memory_mb)
        self.process = None
        self._ready = False
        self.starts = 0
        self.work = self.runtime = self._folder = None

    # -- lifetime ---------------------------------------------------------------------------
    def start(self):
        """Start the server and wait until it is ready."""
        self.stop()
        os.makedirs(self.root, exist_ok=True)
        self._folder = tempfile.mkdtemp(prefix="forkserver-", dir=self.root)
        self.work = os.path.join(self._folder, "work")
        os.makedirs(self.work)
        # unix socket paths are limited to 107 bytes: the IPC folder is short, under /tmp
        self.runtime = tempfile.mkdtemp(prefix="cf-")
        command = bwrap_command([sys.executable, "-m", "convclinic.grading.zygote", self.runtime],
                                self.work, [self.runtime], self.environment)
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=limit_resources(self.memory_mb), start_new_session=True)
        self.starts += 1
        self._ready = False
        try:
            ready = self._read(STARTUP_SECONDS)
        except ServerDied as error:
            global UNAVAILABLE
            UNAVAILABLE = f"the fork server did not start ({error})"
            raise
        if not ready.get("ready"):
            self.stop()
            UNAVAILABLE = f"the fork server did not start: {ready}"
            raise ServerDied(UNAVAILABLE)
        self._ready = True

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                stream.close()
            self.process = None
        for folder in (self._folder, self.runtime):
            if folder:
                shutil.rmtree(folder, ignore_errors=True)
        self._folder = self.runtime = self.work = None

    # -- requests ---------------------------------------------------------------------------
    def _read(self, timeout):
        stream = self.process.stdout
        ready, _, _ = select.select([stream], [], [], timeout)
        line = stream.readline() if ready else b""
        if not line:
            self._lost()
            raise ServerDied("the fork server stopped answering" if not ready else "the fork server died")
        return json.loads(line)

    def _lost(self):
        global LOST
        if self.process is not None and self._ready:  # a running server, not one that failed to start
            LOST += 1
        self.stop()

    def request(self, message, timeout=REQUEST_SECONDS):
        if not self.alive():
            self._lost()
            raise ServerDied("the fork server is not running")
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            self._lost()
            raise ServerDied(f"the fork server died: {error}") from error
        return self._read(timeout)

    def prepare(self):
        """A clean sandbox for the next kernel: nothing of the last one runs or is left in a
        writable folder. Starts (or restarts) the server when needed."""
        if self.process is not None:
            try:
                if self.request({"op": "reset"}).get("ok"):
                    return
            except ServerDied:
                pass
        self.start()

    def fork(self, argv):
        reply = self.request({"op": "fork", "argv": list(argv)})
        if "pid" not in reply:
            raise ServerDied(f"the fork server could not fork a kernel: {reply.get('error')}")
        return int(reply["pid"])

    def poll(self, pid):
        return self.request({"op": "poll", "pid": pid}).get("status")

    def signal(self, pid, signum):
        return self.request({"op": "signal", "pid": pid, "signum": int(signum)})



def server_for(root, environment, memory_mb):
    """This process's server for these settings (started on first use)."""
    key = (root, tuple(sorted(environment.items())), int(memory_mb))
    server = _SERVERS.get(key)
    if server is None:
        for other in _SERVERS.values():  # one warm sandbox per process: settings changed
            other.stop()
        _SERVERS.clear()
        server = _SERVERS[key] = ForkServer(root, environment, memory_mb)
    return server


def prestart(root, memory_mb=None):
    """Start this process's server now, for kernels that :class:`GradingKernelManager` will start
    with ``sandbox_root=root`` and ``memory_mb`` in this process's environment (the key its
    ``_pre_start_warm`` computes, so the first kernel finds it ready); a server that cannot start
    leaves kernels cold, as ever."""
    manager = GradingKernelManager(kernel_name="python3", sandbox_root=root, warm=True,
                                   **({"memory_mb": int(memory_mb)} if memory_mb else {}))
    server = server_for(root, sandbox_environment(manager._kernel_environment({})), manager.memory_mb)
    try:
        server.prepare()
    except ServerDied:
        pass
    return server


@atexit.register
def stop_all():
    for server in _SERVERS.values():
        server.stop()
    _SERVERS.clear()


class ForkProvisioner(LocalProvisioner):
    """A kernel provisioner whose kernels are forked by a :class:`ForkServer`.

    ``pre_launch`` (the connection file, over IPC) is jupyter_client's own; ``launch_kernel``
    asks the server for a fork; poll, signals and kill go through the server too.
    """

    server = None
    kernel_pid = None

    @property
    def has_process(self):
        return self.kernel_pid is not None

    async def launch_kernel(self, cmd, **kwargs):
        if self.server is None:
            raise SandboxError("no fork server was given to the provisioner")
        self.kernel_pid = self.server.fork(cmd)
        self.pid = self.kernel_pid
        self.cwd = SANDBOX_HOME + "/work"
        await self._sockets_bound()
        return self.connection_info

    async def _sockets_bound(self, seconds=SOCKET_SECONDS):
        """Return once the forked kernel has bound its IPC sockets (their files exist), it
        exited, or ``seconds`` passed. A client that connects before a socket exists retries
        only every 100 ms (ZeroMQ's reconnect interval), and jupyter_client's ``wait_for_ready``
        that misses the kernel's first status on IOPub asks again 200 ms later: together most
        of a forked kernel's start, which is itself about 0.1 s of CPU."""
        info = self.connection_info
        if info.get("transport") != "ipc":
            return
        paths = [f"{info['ip']}-{info[channel + '_port']}"
                 for channel in ("shell", "iopub", "stdin", "control", "hb")]
        deadline = time.monotonic() + seconds
        for attempt in itertools.count():
            if all(os.path.exists(path) for path in paths) or time.monotonic() > deadline:
                return
            if attempt % 20 == 19 and await self.poll() is not None:  # it died starting
                return
            await asyncio.sleep(0.005)

    async def poll(self):
        if self.kernel_pid is None:
            return 0
        try:
            return self.server.poll(self.kernel_pid)
        except ServerDied:
            return -signal.SIGKILL

    async def wait(self):
        status = 0
        while self.kernel_pid is not None:
            status = await self.poll()
            if status is not None:
                self.kernel_pid = None
                break
            await asyncio.sleep(0.01)  # a killed kernel is gone within milliseconds
        return status

    async def send_signal(self, signum):
        if self.kernel_pid is not None:
            try:
                self.server.signal(self.kernel_pid, signum)
            except ServerDied:
                pass

    async def kill(self, restart=False):
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart=False):
        await self.send_signal(signal.SIGTERM)


class GradingKernelManager(SandboxKernelManager):
    """The kernel manager grading uses: with ``warm`` (``SandboxKernelManager.warm`` in the
    config), kernels forked by this process's :class:`ForkServer`; otherwise, or when no server
    can start here (:data:`UNAVAILABLE`), cold sandboxed kernels."""

    async def _async_pre_start_kernel(self, **kw):
        if self.warm and UNAVAILABLE is None:
            try:
                return await self._pre_start_warm(**kw)
            except ServerDied:
                if UNAVAILABLE is None:
                    raise
        self.provisioner = None  # cold (UNAVAILABLE says why when warm was asked for)
        return await super()._async_pre_start_kernel(**kw)

    async def _pre_start_warm(self, **kw):
        """A kernel forked by this process's fork server, in a sandbox just emptied of
        everything the previous kernel left (:mod:`convclinic.grading.forkserver`)."""
        root = self.sandbox_root or tempfile.gettempdir()
        environment = sandbox_environment(self._kernel_environment(kw))
        server = server_for(root, environment, self.memory_mb)
        server.prepare()
        if kw.get("cwd"):
            copy_student_files(kw["cwd"], server.work)
        self._use_ipc(server.runtime)
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
        self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        self.provisioner.server = server
        # jupyter_client's own preparation (the connection file), not the cold sandbox's command
        kernel_cmd, kw = await AsyncKernelManager._async_pre_start_kernel(self, **kw)
        self._check_ipc()
        kw["cwd"] = server.work
        return kernel_cmd, kw
