"""Start JupyterLab / Voila on 127.0.0.1, drive Debian's Chromium, and work ipywidgets in the page.

Plain functions (no pytest) so that ``tests/browser/conftest.py`` and
``benchmarks/bench_browser.py`` share them. Nothing here downloads anything:
the browser is Debian's ``chromium`` package (``playwright install`` cannot
download browsers here, see PITFALLS.md "Browser tests").
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Text ipywidgets' front ends show when a widget cannot be displayed.
WIDGET_ERROR_TEXTS = (
    "Error displaying widget",
    "Model not found",
    "Failed to load model class",
    "Error creating widget",
)
READOUT = ".convclinic-readout"
RULE = ".convclinic-rule"


def chromium_path():
    """The Chromium executable (Debian's package), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Jupyter server process (JupyterLab or Voila) on 127.0.0.1 with its own runtime dir."""

    def __init__(self, kind, command, port, token, workdir, log_path):
        self.kind = kind
        self.command = command
        self.port = port
        self.token = token
        self.workdir = workdir
        self.log_path = log_path
        self.process = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path=""):
        joiner = "&" if "?" in path else "?"
        suffix = f"{joiner}token={self.token}" if self.token else ""
        return f"{self.base_url}/{path.lstrip('/')}{suffix}"

    def log(self):
        try:
            return pathlib.Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""

    def start(self, ready_path, timeout=90, any_answer=False):
        """Start the process; ready once ``ready_path`` answers 200 (or anything, with ``any_answer``)."""
        env = dict(os.environ)
        env.update(
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            TF_CPP_MIN_LOG_LEVEL=env.get("TF_CPP_MIN_LOG_LEVEL", "3"),
            PYTHONUNBUFFERED="1",
        )
        # Servers see the venv's commands first (kernels are started by name).
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self._log_handle = log
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.process.returncode}:\n{self.log()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(self.url(ready_path), timeout=5) as response:
                    if response.status == 200:
                        return self
            except urllib.error.HTTPError:
                if any_answer:
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready after {timeout} s:\n{self.log()[-3000:]}")

    def api(self, method, path, timeout=10):
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self):
        """Shut down every kernel of this server (JupyterLab only)."""
        with contextlib.suppress(Exception):
            for kernel in self.api("GET", "api/kernels"):
                with contextlib.suppress(Exception):
                    self.api("DELETE", f"api/kernels/{kernel['id']}")

    def stop(self):
        """Stop the server and its kernels: SIGTERM to its own process group, then SIGKILL."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Kernels run in the same session/process group; make sure none is left.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log_handle.close()
        self.process = None


def _workdir(prefix):
    workdir = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    for name in ("runtime", "data", "settings", "workspaces"):
        (workdir / name).mkdir()
    return workdir


def start_lab(timeout=90):
    """JupyterLab on a free 127.0.0.1 port, root_dir = the repository, a random token.

    User settings and workspaces live in a temp dir (no restored layout, no news
    pop-up) and the app is exposed as ``window.jupyterapp`` so tests can run
    commands (``notebook:run-all-cells``) the way the menu does.
    """
    workdir = _workdir("convclinic-lab-")
    notification = workdir / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
        "--ServerApp.open_browser=False", "--ServerApp.port_retries=0",
        f"--LabApp.user_settings_dir={workdir / 'settings'}",
        f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        command.append("--allow-root")
    server = Server("jupyterlab", command, port, token, workdir, workdir / "server.log")
    return server.start("api/status", timeout=timeout)


def start_voila(notebook="notebooks/playground.ipynb", timeout=90):
    """Voila serving ``notebook`` on a free 127.0.0.1 port (no token: localhost only, like `make playground`)."""
    workdir = _workdir("convclinic-voila-")
    port = free_port()
    command = [
        str(BIN / "voila"), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
        "--Voila.port_retries=0", notebook,
    ]
    server = Server("voila", command, port, "", workdir, workdir / "server.log")
    # GET / would execute the notebook; any answer from a static path means "listening".
    return server.start("voila/static/ready-probe", timeout=timeout, any_answer=True)


def launch_chromium(playwright, executable=None):
    """Debian's Chromium with the flags from PITFALLS.md."""
    return playwright.chromium.launch(
        executable_path=executable or chromium_path(), args=CHROMIUM_ARGS, headless=True
    )


def screenshot(page, name):
    """Save a full-page screenshot into artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path), full_page=True, timeout=15_000)
    return path


# ---------------------------------------------------------------- widgets in the page


def explorer_root(page, index=0):
    """The DOM box of the ``index``-th ConvExplorer: the nearest widget box around its readout.

    The explorer's outer container is the closest ancestor of the readout that
    also holds the rule and controls.
    """
    readout = page.locator(READOUT).nth(index)
    return readout.locator(
        "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' widget-box ')"
        f" and .//*[contains(@class, '{RULE[1:]}')]][1]"
    )


def control(root, description):
    """The ipywidgets control whose visible label is ``description`` (e.g. 'kernel_size')."""
    label = root.locator(".widget-label", has_text=description).first
    return label.locator(
        "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' widget-inline-hbox ')][1]"
    )


def readout_text(root):
    return root.locator(READOUT).first.inner_text().strip()


def set_slider(root, description, value):
    """Type ``value`` into a slider's readout and press Enter (the way a user edits it)."""
    box = control(root, description)
    readout = box.locator(".widget-readout").first
    readout.click()
    readout.press("Control+A")
    readout.fill(str(value))
    readout.press("Enter")


def slider_value(root, description):
    return control(root, description).locator(".widget-readout").first.inner_text().strip()


def select(root, description, value):
    """Choose ``value`` in a dropdown (``.widget-dropdown select``)."""
    control(root, description).locator("select").first.select_option(label=str(value))


def widget_errors(page):
    """The widget-manager error texts visible in the page, if any."""
    text = page.locator("body").inner_text()
    return [message for message in WIDGET_ERROR_TEXTS if message in text]
