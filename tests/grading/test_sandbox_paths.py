"""The grading sandbox works wherever the course is cloned (CI clones under /tmp)."""

import subprocess
import sys

from convclinic.grading import sandbox
from tests.conftest import require_command


def test_python_roots_are_bound_after_the_private_tmp_and_home(monkeypatch, tmp_path):
    """A venv under /tmp or /home must not be hidden by the sandbox's private /tmp and /home."""
    monkeypatch.setattr(sandbox, "python_roots", lambda: ["/tmp/course/.venv", "/home/me/course/.venv"])
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: "/usr/bin/bwrap")
    command = sandbox.bwrap_command(["python"], str(tmp_path))
    tmpfs_tmp = command.index("/tmp", command.index("--tmpfs"))
    tmpfs_home = max(i for i, arg in enumerate(command) if arg == "/home")
    for root in ("/tmp/course/.venv", "/home/me/course/.venv"):
        assert command.index(root) > max(tmpfs_tmp, tmpfs_home), command


def test_sandboxed_python_imports_convclinic(tmp_path):
    """The real bwrap starts this venv's Python and imports convclinic inside the sandbox."""
    require_command("bwrap", "the grading sandbox")
    workdir = tmp_path / "work"
    workdir.mkdir()
    command = sandbox.bwrap_command(
        [sys.executable, "-c", "import convclinic, os; print(os.getcwd())"], str(workdir)
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == sandbox.SANDBOX_HOME + "/work"


def test_the_kernel_environment_marks_grading_mode_and_nothing_else_leaks(tmp_path):
    """CONVCLINIC_GRADING reaches the sandboxed kernel (check() then only collects); the grader's
    other variables do not."""
    require_command("bwrap", "the grading sandbox")
    workdir = tmp_path / "work"
    workdir.mkdir()
    probe = "import os; print(os.environ.get('CONVCLINIC_GRADING'), os.environ.get('GRADER_ONLY'))"
    command = sandbox.bwrap_command([sys.executable, "-c", probe], str(workdir),
                                    env={"CONVCLINIC_GRADING": "1", "GRADER_ONLY": "secret"})
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "None"]
