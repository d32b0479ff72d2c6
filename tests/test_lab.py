"""`make lab` starts a working JupyterLab with the course's extensions."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.browser.harness import free_port
from tests.conftest import ROOT

JUPYTER = str(ROOT / ".venv" / "bin" / "jupyter")


@pytest.mark.slow
def test_make_lab_serves_the_course(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), BROWSER="true")
    args = f"--no-browser --IdentityProvider.token={token}"
    log_path = tmp_path / "lab.log"
    log_file = log_path.open("w")
    server = subprocess.Popen(["make", "--no-print-directory", "lab", f"PORT={port}", f"LAB_ARGS={args}"],
                              cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    try:
        status = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                                 headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    status = json.load(response)
                break
            except OSError:
                time.sleep(0.5)
        if status is None:
            pytest.fail(f"JupyterLab did not answer on 127.0.0.1:{port}\n{log_path.read_text()[-2000:]}")
        assert "started" in status
        log = log_path.read_text()
        assert "nbgrader" in log and "No nbgrader_config.py" not in log, "make lab must find grader/"
        with urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/api/contents/notebooks",
                                   headers={"Authorization": f"token {token}"}), timeout=10) as response:
            names = [item["name"] for item in json.load(response)["content"]]
        assert "00-convolution-shapes.ipynb" in names
        with pytest.raises(OSError):  # bound to loopback only
            addresses = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
            addresses.discard("127.0.0.1")
            if not addresses:
                raise OSError("no non-loopback address on this machine")
            socket.create_connection((addresses.pop(), port), timeout=2)
    finally:
        stop(server)
        log_file.close()


def stop(process):
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def test_lab_extensions_enabled_and_ok():
    """nbgrader 0.9.6's extension needs JupyterLab >= 4.4 (docs/pitfalls.md); widgets need theirs."""
    done = subprocess.run([JUPYTER, "labextension", "list"], capture_output=True, text=True,
                          check=True, timeout=120)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    for extension in ("@jupyter/nbgrader", "@jupyter-widgets/jupyterlab-manager"):
        line = next((line for line in listing.splitlines() if extension in line), None)
        assert line is not None, f"{extension} not listed:\n{listing}"
        assert "enabled" in line and "OK" in line, line
