"""The fork server's own process, INSIDE the grading sandbox (grader/README.md, "Warm kernels").

Started by :class:`convclinic.grading.forkserver.ForkServer` as
``python -m convclinic.grading.zygote RUNTIME`` in the same bubblewrap sandbox a cold kernel
gets (:func:`convclinic.grading.sandbox.bwrap_command`: no network, read-only system and
venv, nothing of the host but a private working folder and the kernel's IPC folder). It:

1. makes itself non-dumpable (no ptrace, no ``/proc/<pid>/mem``, ``environ`` or ``fd`` for
   the kernels it forks: they run as the same user, without capabilities);
2. imports TensorFlow, Keras, NumPy, matplotlib and ipykernel and runs NO TensorFlow op
   (TensorFlow is not fork-safe once its runtime has started threads,
   tensorflow/tensorflow#2448);
3. answers one JSON request per line on stdin, one JSON reply per line on stdout:

   - ``{"op": "reset"}``: SIGKILL every other process of the sandbox (whatever a kernel left
     behind), then empty every writable folder (``/tmp``, ``$HOME`` with the working folder,
     ``/dev/shm``, the IPC folder); the reply says whether all of it went;
   - ``{"op": "fork", "argv": [...]}``: fork one kernel (``argv`` is the kernel spec's
     ``python -m ipykernel_launcher -f CONNECTION_FILE``), with the environment the server
     itself was started with; the reply has its pid;
   - ``{"op": "poll", "pid": N}``: ``null`` while it runs, else its exit status;
   - ``{"op": "signal", "pid": N, "signum": S}``: signal the kernel's process group.

A forked kernel starts from the server's memory as it was after the imports (copy-on-write):
nothing one kernel does to its own memory, environment or files reaches the next one, and
every process and file it leaves is gone before the next fork.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import stat
import sys
import time

PR_SET_DUMPABLE = 4
HOME = "/home/student"
WORK = HOME + "/work"
LAUNCHER = ("-m", "ipykernel_launcher")


def _prctl_dumpable(value):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


#: What the course's graded notebooks import (their setup cells), loaded once; importing
#: them runs no TensorFlow op (the server stays at the 2 threads the imports start).
#: Then what a starting ipykernel imports lazily, as a cold one does at each start: its kernel
#: and shell classes and the debugger they load (debugpy alone is about 0.5 s of CPU), IPython's
#: helpers, sqlite3 for the history, numpy.random (reseeded in every kernel) and tornado's
#: asyncio loop. Importing them starts no thread and creates no event loop.
WARM_MODULES = ("ipykernel.kernelapp", "numpy", "matplotlib.font_manager", "tensorflow", "keras",
                "tf_keras", "convclinic.runtime", "convclinic.judging", "convclinic.pipelines",
                *(f"convclinic.judging.ex{number:02d}" for number in range(1, 8)),
                "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger",
                "IPython.core.completerlib", "IPython.core.debugger", "IPython.core.oinspect",
                "IPython.extensions.storemagic", "sqlite3", "numpy.random", "tornado.platform.asyncio")


def warm_imports():
    """Import :data:`WARM_MODULES` (TensorFlow's log lines silenced), running no TensorFlow op."""
    import importlib

    from convclinic.runtime import quiet_environment, stderr_silenced

    quiet_environment()
    with stderr_silenced():
        for name in WARM_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # a course without that exercise: its notebooks import it cold
                pass


def _other_processes():
    """Live processes of this sandbox's PID namespace other than its init (1) and this one."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            found.append(int(name))
    return found


def _read_only_mount(path):
    """A read-only bind of the sandbox (the venv or the course when they live under /tmp or
    /home: bwrap makes their parent folders on the writable tmpfs)."""
    return os.path.ismount(path) and bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _contents(folder):
    """What a kernel left under ``folder``: every file and every empty folder that is not a
    mount point, read-only binds skipped."""
    found = []
    for current, folders, files in os.walk(folder):
        if current != folder and not folders and not files and not os.path.ismount(current):
            found.append(current)
        folders[:] = [name for name in folders if not _read_only_mount(os.path.join(current, name))]
        found += [os.path.join(current, name) for name in files]
    return found


class Zygote:
    """The request loop (module docstring)."""

    def __init__(self, runtime, env):
        self.runtime = runtime
        self.env = env  # every kernel's environment: the sandbox's, as the server got it
        self.exited = {}  # pid -> exit status of the kernels reaped so far

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.exited[pid] = os.waitstatus_to_exitcode(status)

    def kill_others(self):
        """SIGKILL everything else until nothing else runs (a fork bomb is outpaced: each
        round kills every process it sees, and killed processes fork no more)."""
        for _ in range(200):
            self.reap()
            others = _other_processes()
            if not others:
                return True
            for pid in others:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.01)
        return False

    def wipe(self, folder):
        """Empty ``folder``, keeping it (and any mount point inside it, emptied)."""
        try:
            os.chmod(folder, 0o700)
            names = os.listdir(folder)
        except FileNotFoundError:
            return
        for name in names:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode):
                if _read_only_mount(path):
                    continue
                self.wipe(path)
                if not os.path.ismount(path):
                    try:
                        os.rmdir(path)
                    except OSError as error:  # bwrap's folders around read-only binds stay
                        if error.errno != errno.ENOTEMPTY:
                            raise
            else:
                os.unlink(path)

    def reset(self):
        if not self.kill_others():
            return {"ok": False, "error": "processes left by the last kernel could not be killed"}
        try:
            for folder in ("/tmp", HOME, "/dev/shm", self.runtime):
                self.wipe(folder)
            left = [path for folder in ("/tmp", HOME, "/dev/shm") for path in _contents(folder)]
            os.makedirs(os.environ.get("MPLCONFIGDIR", "/tmp/matplotlib"), exist_ok=True)
        except OSError as error:
            return {"ok": False, "error": f"could not empty the sandbox's folders: {error}"}
        if left:
            return {"ok": False, "error": f"left after the wipe: {left[:5]}"}
        return {"ok": True}

    def fork(self, argv):
        if tuple(argv[1:3]) != LAUNCHER or "-f" not in argv:
            return {"error": f"not an ipykernel launch command: {argv}"}
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = become_kernel(argv[3:], self.env)
            finally:
                os._exit(code)
        return {"pid": pid}

    def poll(self, pid):
        self.reap()
        if pid in self.exited:
            return {"status": self.exited[pid]}
        return {"status": None}

    def send_signal(self, pid, signum):
        for target in (-pid, pid):  # its process group first: the kernel's own children too
            try:
                os.kill(target, signum)
                return {"ok": True}
            except ProcessLookupError:
                continue
            except OSError as error:
                return {"ok": False, "error": str(error)}
        return {"ok": False, "error": "no such process"}

    def handle(self, request):
        op = request.get("op")
        if op == "reset":
            return self.reset()
        if op == "fork":
            return self.fork(list(request["argv"]))
        if op == "poll":
            return self.poll(int(request["pid"]))
        if op == "signal":
            return self.send_signal(int(request["pid"]), int(request["signum"]))
        return {"error": f"unknown request {op!r}"}


def become_kernel(arguments, env):
    """In the forked child: become the ipykernel a cold ``python -m ipykernel_launcher`` is."""
    os.setpgid(0, 0)
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python sets both at startup
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if fd > 2:  # the request and reply pipes, the imports' files
            try:
                os.close(fd)
            except OSError:
                pass
    os.environ.clear()
    os.environ.update(env)
    os.chdir(WORK)
    _prctl_dumpable(1)  # the kernel itself is as inspectable as a cold one (by itself)
    import numpy

    numpy.random.seed()  # Python's random reseeds itself after a fork; NumPy's does not
    from ipykernel import kernelapp

    sys.argv = ["ipykernel_launcher", *arguments]
    kernelapp.launch_new_instance(argv=list(arguments))
    return 0


def main(argv=None):
    arguments = sys.argv[1:] if argv is None else argv
    runtime = arguments[0]
    env = dict(os.environ)  # as the sandbox set it, before any import changes it
    if sys.path and os.path.realpath(sys.path[0] or ".") == os.path.realpath(os.getcwd()):
        sys.path.pop(0)  # as ipykernel_launcher does: the working folder is not a module path
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)  # nothing imported may write into the reply pipe
    _prctl_dumpable(0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader stops the server, not Ctrl-C
    warm_imports()
    zygote = Zygote(runtime, env)
    replies.write(json.dumps({"ready": True, "env": sorted(env)}) + "\n")
    replies.flush()
    for line in requests:
        try:
            reply = zygote.handle(json.loads(line))
        except Exception as error:  # noqa: BLE001 - a bad request is answered, never fatal
            reply = {"error": f"{type(error).__name__}: {error}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    main()
