"""Warm kernels: kernels forked from the sandboxed fork server (convclinic.grading.forkserver).

Kernel-level tests drive the real GradingKernelManager (warm) with a real kernel client: what
one kernel leaves (processes, files in every writable folder, environment, patched modules)
never reaches the next kernel of the same server, the server's memory cannot be read or
traced, and a dead server is replaced. The grading tests run the real ``convclinic grade``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from jupyter_client import BlockingKernelClient
from jupyter_core.utils import run_sync

from convclinic.grading import forkserver
from convclinic.grading.forkserver import GradingKernelManager
from convclinic.grading.sandbox import SANDBOX_HOME
from tests.conftest import ROOT, require_command
from tests.fixtures.submissions import matrix

pytestmark = [pytest.mark.grading, pytest.mark.slow]

#: What a kernel reports about the sandbox it finds (one JSON line on stdout).
PROBE = textwrap.dedent("""
    import json, os, sys, numpy
    from ipykernel.kernelapp import IPKernelApp
    _ipc = os.path.dirname(IPKernelApp.instance().connection_file)  # this kernel's own sockets
    def _listing(folder):  # files and empty folders, read-only binds (a venv under /tmp) skipped
        found = []
        for current, folders, files in os.walk(folder):
            if current != folder and not folders and not files and not os.path.ismount(current):
                found.append(current)
            folders[:] = [n for n in folders if not (os.path.ismount(os.path.join(current, n))
                                                     and os.statvfs(os.path.join(current, n)).f_flag & os.ST_RDONLY)]
            found += [os.path.join(current, n) for n in files]
        return sorted(found)
    print(json.dumps({
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "me": os.getpid(), "server": os.getppid(),
        "tmp": [p for p in _listing("/tmp") if not p.startswith(("/tmp/matplotlib", _ipc + "/"))],
        "ipc": sorted(os.listdir(_ipc)),
        "home": [p for p in _listing(os.path.expanduser("~"))
                 if not p.startswith((os.getcwd() + "/", os.path.expanduser("~/.ipython")))],
        "startup": sorted(os.listdir(os.path.expanduser("~/.ipython/profile_default/startup"))),
        "work": sorted(os.listdir(".")), "shm": _listing("/dev/shm"), "cwd": os.getcwd(),
        "leak": os.environ.get("LEAK"), "startup_ran": os.environ.get("STARTUP_RAN"), "zeros": numpy.zeros(2).tolist(),
        "tensorflow_loaded": "tensorflow" in sys.modules,
    }))
""")

#: A kernel that leaves everything it can behind, without killing the server (the reset's job).
LEAVE_BEHIND = textwrap.dedent("""
    import os, subprocess, sys, numpy
    os.environ["LEAK"] = "1"
    numpy.zeros = lambda *a, **k: "patched"
    for folder in ("/tmp", os.path.expanduser("~"), ".", "/dev/shm"):
        open(os.path.join(folder, "left-behind"), "w").write("x")
    os.makedirs("/tmp/deep/er", exist_ok=True)
    open("/tmp/deep/er/file", "w").write("x")
    os.chmod("/tmp/deep/er", 0o000)  # a folder its owner made unreadable
    os.symlink("/etc/passwd", os.path.expanduser("~/link"))
    startup = os.path.expanduser("~/.ipython/profile_default/startup")
    os.makedirs(startup, exist_ok=True)  # IPython runs these in every kernel it starts
    open(os.path.join(startup, "00-planted.py"), "w").write("import os; os.environ['STARTUP_RAN'] = '1'")
    loop = ("import os, time\\n"
            "while True:\\n"
            "    for folder in ('/tmp', os.path.expanduser('~'), '/home/student/work', '/dev/shm'):\\n"
            "        try: open(os.path.join(folder, 'written-later'), 'w').write('x')\\n"
            "        except OSError: pass\\n"
            "    time.sleep(0.01)\\n")
    subprocess.Popen([sys.executable, "-c", loop], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("left")
""")

#: Reading or tracing the server (the kernel's parent) from a kernel.
SPY = textwrap.dedent("""
    import ctypes, json, os
    server, outcome = os.getppid(), {}
    for name in ("mem", "environ", "maps"):
        try:
            with open(f"/proc/{server}/{name}", "rb") as handle:
                outcome[name] = len(handle.read(64))
        except OSError as error:
            outcome[name] = type(error).__name__
    libc = ctypes.CDLL(None, use_errno=True)
    outcome["ptrace"] = libc.ptrace(16, server, None, None)  # PTRACE_ATTACH
    outcome["errno"] = ctypes.get_errno()
    print(json.dumps(outcome))
""")


@pytest.fixture()
def warm(tmp_path):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    student = tmp_path / "student"
    student.mkdir()
    (student / "data.txt").write_text("the assignment's data file")
    forkserver.UNAVAILABLE = None
    yield {"root": str(tmp_path / "kernels"), "cwd": str(student)}
    forkserver.stop_all()
    forkserver.UNAVAILABLE = None


def run_kernel(warm, code, timeout=120):
    """Start a warm kernel as grading does, run ``code``, return (stdout, error name)."""
    manager = GradingKernelManager(kernel_name="python3", sandbox_root=warm["root"], warm=True)
    run_sync(manager.start_kernel)(cwd=warm["cwd"])
    client = BlockingKernelClient()
    client.load_connection_info(manager.get_connection_info())
    client.start_channels()
    out, error = [], []

    def hook(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            out.append(content["text"])
        elif message["msg_type"] == "error":
            error.append(content["ename"])

    try:
        client.wait_for_ready(timeout=timeout)
        client.execute_interactive(code, timeout=timeout, output_hook=hook)
    except TimeoutError:
        error.append("no reply")
    finally:
        client.stop_channels()
        run_sync(manager.shutdown_kernel)(now=True)
    return "".join(out), (error[0] if error else None)


def the_server():
    (server,) = forkserver._SERVERS.values()
    return server


def test_a_warm_kernel_is_a_sandboxed_kernel_with_tensorflow_loaded(warm):
    out, error = run_kernel(warm, PROBE + textwrap.dedent("""
        import keras, socket
        print(keras.layers.Conv2D(4, 3)(numpy.zeros((1, 8, 8, 1), "float32")).shape)
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=2)
            print("network")
        except OSError:
            print("no network")
    """))
    assert error is None, out
    report, shape, network = out.strip().splitlines()
    report = json.loads(report)
    assert report["cwd"] == SANDBOX_HOME + "/work" and report["work"] == ["data.txt"]
    assert report["tensorflow_loaded"] is True  # imported once, by the server
    assert report["pids"] == sorted([1, report["server"], report["me"]])  # nothing else runs
    assert shape == "(1, 6, 6, 4)" and network == "no network"


def test_nothing_a_kernel_leaves_reaches_the_next_kernel_of_the_same_server(warm):
    out, error = run_kernel(warm, LEAVE_BEHIND)
    assert (out.strip(), error) == ("left", None)
    starts = the_server().starts
    time.sleep(0.5)  # the background writer is busy
    out, error = run_kernel(warm, PROBE)
    assert error is None, out
    report = json.loads(out)
    assert the_server().starts == starts, "the reset restarted the server instead of cleaning it"
    assert report["pids"] == sorted([1, report["server"], report["me"]]), "a process was left running"
    assert (report["tmp"], report["home"], report["shm"]) == ([], [], [])
    assert report["work"] == ["data.txt"] and report["leak"] is None and report["zeros"] == [0.0, 0.0]
    assert report["startup"] == ["README"] and report["startup_ran"] is None
    assert report["ipc"] == ["connection.json", *(f"k-{n}" for n in range(1, 6))]


def test_a_kernel_cannot_read_or_trace_the_server(warm):
    out, error = run_kernel(warm, SPY)
    assert error is None, out
    outcome = json.loads(out)
    assert outcome["mem"] == outcome["environ"] == outcome["maps"] == "PermissionError", outcome
    assert outcome["ptrace"] == -1 and outcome["errno"] == 1, outcome  # EPERM


def test_a_kernel_that_kills_everything_costs_only_itself(warm):
    run_kernel(warm, "import os, signal\nos.kill(-1, signal.SIGKILL)", timeout=20)  # the server too
    out, error = run_kernel(warm, PROBE)
    assert error is None, out
    report = json.loads(out)
    assert report["pids"] == sorted([1, report["server"], report["me"]]) and report["tmp"] == []
    assert the_server().starts == 2  # a fresh server


def test_a_server_that_cannot_start_falls_back_to_cold_kernels(warm, monkeypatch):
    monkeypatch.setattr(forkserver, "STARTUP_SECONDS", 0.01)  # it cannot be ready that soon
    out, error = run_kernel(warm, PROBE)
    assert error is None and json.loads(out)["work"] == ["data.txt"]
    assert forkserver.UNAVAILABLE and "did not start" in forkserver.UNAVAILABLE
    assert json.loads(out)["server"] == 1, "a cold kernel is the sandbox's first process (its parent is init)"


# --- through `convclinic grade` ---------------------------------------------------------------

CLI = [sys.executable, "-m", "convclinic.cli"]
HONEST = ("full-solution", "partly-wrong", "correct-but-different", "unchanged-release")
EXPECTED = {"full-solution": matrix.FULL, "partly-wrong": matrix.FULL - 2, "correct-but-different": matrix.FULL,
            "unchanged-release": 0}


def _class(base, hostile_cell=None):
    master, release = matrix.read_master_and_release(ROOT, ROOT / "exercises" / matrix.ASSIGNMENT)
    submissions = matrix.build(base / "submissions", master, release, {}, HONEST)
    if hostile_cell:  # graded first (students are graded in name order): "aaa-hostile"
        source = submissions / "full-solution" / matrix.ASSIGNMENT / matrix.NOTEBOOK
        notebook = json.loads(source.read_text())
        notebook["cells"].insert(1, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                     "source": hostile_cell})
        target = submissions / "aaa-hostile" / matrix.ASSIGNMENT
        target.mkdir(parents=True)
        (target / matrix.NOTEBOOK).write_text(json.dumps(notebook))
    return submissions


def grade(submissions, out, *extra, timeout=900):
    done = subprocess.run([*CLI, "grade", str(submissions), "--out", str(out), "--assignment", matrix.ASSIGNMENT,
                           "--timeout", str(matrix.TIMEOUT), "--workers", "1", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    with (out / "grades.csv").open() as handle:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}


#: Left in the background by the first student: once its kernel is gone it writes into every
#: writable folder and stops or terminates every process it can see but the fork server (a
#: dead server would be replaced with its whole sandbox: this one aims at the next kernels).
ATTACKER = textwrap.dedent('''
    import os, subprocess, sys
    _attack = """
    import os, signal, sys, time
    kernel, server = os.getppid(), int(sys.argv[1])
    while os.path.exists(f"/proc/{kernel}"):
        time.sleep(0.005)
    while True:
        for folder in ("/tmp", os.path.expanduser("~"), "/home/student/work", "/dev/shm"):
            try:
                open(os.path.join(folder, "attack.py"), "w").write("raise SystemExit")
            except OSError:
                pass
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) not in (1, server, os.getpid()):
                for number in (signal.SIGSTOP, signal.SIGTERM):
                    try:
                        os.kill(int(pid), number)
                    except OSError:
                        pass
        time.sleep(0.005)
    """
    subprocess.Popen([sys.executable, "-c", _attack, str(os.getppid())], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
''')


def test_a_background_attacker_costs_the_next_students_nothing(tmp_path):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    scores = grade(_class(tmp_path, ATTACKER), tmp_path / "out")
    assert {name: scores[name] for name in HONEST} == EXPECTED
    assert "aaa-hostile" in scores


def _zygotes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"convclinic.grading.zygote" in command and not command[0].endswith(b"bwrap"):
            found.append(int(pid))
    return found


def test_a_server_killed_mid_batch_is_replaced_and_every_row_is_right(tmp_path):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    submissions = _class(tmp_path)
    killed = []

    def kill_the_first_server():
        deadline = time.monotonic() + 600
        while not killed and time.monotonic() < deadline:
            journal = tmp_path / "out" / ".convclinic" / "journal" / matrix.ASSIGNMENT
            if journal.is_dir() and any(journal.iterdir()):  # one graded: the server is warm, mid-batch
                for pid in _zygotes():
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_server, daemon=True)
    killer.start()
    scores = grade(submissions, tmp_path / "out")
    killer.join(timeout=5)
    assert killed, "the fork server was never seen running"
    assert scores == EXPECTED


def test_warm_and_cold_kernels_give_the_same_rows(tmp_path):
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    submissions = _class(tmp_path)
    assert grade(submissions, tmp_path / "warm") == grade(submissions, tmp_path / "cold", "--no-warm") == EXPECTED
