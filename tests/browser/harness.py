"""Start JupyterLab / Voila on 127.0.0.1, drive Debian's Chromium, and work ipywidgets in the page.

Plain functions (no pytest) so that ``tests/browser/conftest.py`` and
``benchmarks/bench_browser.py`` share them. Nothing here downloads anything:
the browser is Debian's ``chromium`` package (``playwright install`` cannot
download browsers here, see docs/pitfalls.md, "Browsers").
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from convclinic.handouts import CHROMIUM_ARGS
from convclinic.handouts import chromium as chromium_path

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
ARTIFACTS = ROOT / "artifacts"
# Text ipywidgets' front ends show when a widget cannot be displayed.
WIDGET_ERROR_TEXTS = (
    "Error displaying widget",
    "Model not found",
    "Failed to load model class",
    "Error creating widget",
)
READOUT = ".convclinic-readout"
RULE = ".convclinic-rule"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A Jupyter server process (JupyterLab, Voila, formgrader) on 127.0.0.1 with its own runtime
    dir, started in ``cwd`` (the repository unless told)."""

    def __init__(self, kind, command, port, token, workdir, log_path, cwd=ROOT):
        self.kind = kind
        self.command = command
        self.port = port
        self.token = token
        self.workdir = workdir
        self.log_path = log_path
        self.cwd = cwd
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
            self.command, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
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
    settings = {
        # no news/update pop-up over the page
        ("apputils-extension", "notification"): {"fetchNews": "false", "checkForUpdates": False},
        # NEVER write executed outputs back into the course's notebooks
        ("docmanager-extension", "plugin"): {"autosave": False},
        # render every cell (the default windowing skips off-screen ones: no text to check)
        ("notebook-extension", "tracker"): {"windowingMode": "none"},
    }
    for (extension, plugin), values in settings.items():
        folder = workdir / "settings" / "@jupyterlab" / extension
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
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


def start_formgrader(course, timeout=120):
    """nbgrader's formgrader on the course folder ``course``, as `make formgrader` starts it (a
    jupyter server with nbgrader's extension, in the course folder, which holds its
    nbgrader_config.py), on a free 127.0.0.1 port with a random token; ready once
    ``formgrader/api/assignments`` answers."""
    workdir = _workdir("convclinic-formgrader-")
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(BIN / "jupyter"), "server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
        "--ServerApp.port_retries=0",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    server = Server("formgrader", command, port, token, workdir, workdir / "server.log",
                    cwd=course)
    return server.start("formgrader/api/assignments", timeout=timeout)


def launch_chromium(playwright, executable=None):
    """Debian's Chromium with the flags from docs/pitfalls.md ("Browsers")."""
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


# ---------------------------------------------------------------- handouts

_HANDOUTS = {}


def handouts_built(base_dir):
    """The handouts folder and its manifest, built ONCE per test session.

    Built the way ``make handouts`` does, in a subprocess (``python -m convclinic.handouts``),
    so a browser open in this process cannot interfere. ``CONVCLINIC_HANDOUTS=build/handouts``
    checks an existing build instead.
    """
    if "dir" not in _HANDOUTS:
        given = os.environ.get("CONVCLINIC_HANDOUTS")
        if given:
            out_dir = pathlib.Path(given)
        else:
            out_dir = pathlib.Path(base_dir) / "handouts"
            command = [sys.executable, "-m", "convclinic.handouts", str(out_dir)]
            if chromium_path() is None:
                command.append("--no-pdf")
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                                  timeout=1500, check=False)
            if done.returncode:
                raise RuntimeError(
                    f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}"
                )
        _HANDOUTS["dir"] = out_dir
    out_dir = _HANDOUTS["dir"]
    return out_dir, json.loads((out_dir / "manifest.json").read_text())


# ---------------------------------------------------------------- widgets in the page


def explorer_root(page, index=0):
    """The DOM box of the ``index``-th ConvExplorer (its VBox carries ``convclinic-explorer``)."""
    return page.locator(".convclinic-explorer").nth(index)


def control(root, description):
    """The ipywidgets control whose visible label is exactly ``description`` (e.g. 'kernel size')."""
    label = root.locator(".widget-label").filter(
        has_text=re.compile(rf"^\s*{re.escape(description)}\s*$")
    ).first
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


def select_many(root, description, values):
    """Choose exactly ``values`` (labels) in a multiple-choice list (``SelectMultiple``)."""
    control(root, description).locator("select").first.select_option(
        label=[str(value) for value in values])


def widget_errors(page):
    """The widget-manager error texts visible in the page, if any."""
    text = page.locator("body").inner_text()
    return [message for message in WIDGET_ERROR_TEXTS if message in text]


def normalize(text):
    return " ".join(str(text).split())


def wait_readout(root, matches, timeout=30.0):
    """Poll the readout until ``matches(text)`` is true; return the last text seen."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = readout_text(root)
        if matches(normalize(text)):
            return text
        time.sleep(0.05)
    return text


# ---------------------------------------------------------------- JupyterLab


def open_notebook(page, server, relative_path, timeout=60_000):
    """Open a notebook in JupyterLab and wait until its kernel is connected and idle."""
    page.goto(server.url(f"lab/tree/{relative_path}"))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached", timeout=timeout)
    page.wait_for_function(
        """path => {
            const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = widget && widget.context && widget.context.path === path
                && widget.sessionContext.session && widget.sessionContext.session.kernel;
            return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }""",
        arg=relative_path, timeout=timeout,
    )


def run_all_cells(page, timeout=240_000):
    """Run > Run All Cells through the menu bar, then wait until every code cell has run."""
    page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(
        """() => {
            const widget = window.jupyterapp.shell.currentWidget;
            const cells = widget.content.widgets.filter(cell => cell.model.type === 'code');
            const kernel = widget.sessionContext.session.kernel;
            return cells.length > 0 && kernel.status === 'idle'
                && cells.every(cell => cell.model.executionCount !== null
                                       && !cell.promptNode.textContent.includes('*'));
        }""",
        timeout=timeout, polling=250,
    )


def failed_cells(page):
    """Indexes of code cells whose outputs hold an error but are not tagged raises-exception."""
    return page.evaluate(
        """() => window.jupyterapp.shell.currentWidget.content.widgets
            .map((cell, index) => [cell, index])
            .filter(([cell]) => cell.model.type === 'code')
            .filter(([cell]) => !(cell.model.getMetadata('tags') || []).includes('raises-exception'))
            .filter(([cell]) => cell.model.outputs.toJSON().some(o => o.output_type === 'error'))
            .map(([, index]) => index)"""
    )


def close_notebook(page, server):
    """Shut the kernels down; nothing is saved (the page is closed with its context later,
    without running beforeunload, after its screenshot)."""
    server.shutdown_kernels()


def notebooks_with_outputs(since):
    """Notebooks under notebooks/ changed after ``since`` (epoch s) that now hold outputs.

    The browser tests run lessons in JupyterLab with autosave off and never save:
    a notebook with outputs here would mean the tests wrote into the course.
    """
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if path.stat().st_mtime <= since:
            continue
        with contextlib.suppress(ValueError, OSError):
            cells = json.loads(path.read_text()).get("cells", [])
            if any(cell.get("outputs") for cell in cells):
                found.append(path.name)
    return found


_PANEL = """(path) => window.jupyterapp.shell.widgets('main').find(
    widget => widget.context && widget.context.path === path)"""


def open_in_tabs(page, server, paths, timeout=90_000):
    """Open several notebooks as tabs of ONE JupyterLab page; wait until every kernel is idle."""
    page.goto(server.url("lab"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout)
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=timeout)
    # Fire the opens without awaiting each command's promise: awaited one by one they took
    # ~13 s per notebook here; concurrently all are ready in seconds.
    page.evaluate(
        "paths => { for (const path of paths) window.jupyterapp.commands.execute("
        "'docmanager:open', {path}); }",
        list(paths),
    )
    page.wait_for_function(
        f"""paths => paths.every(path => {{
            const widget = ({_PANEL})(path);
            const kernel = widget && widget.sessionContext && widget.sessionContext.session
                && widget.sessionContext.session.kernel;
            return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }})""",
        arg=list(paths), timeout=timeout, polling=250,
    )


def activate_tab(page, path):
    page.evaluate(f"path => window.jupyterapp.shell.activateById(({_PANEL})(path).id)", path)


def run_all_in_tab(page, path):
    """Activate ``path``'s tab and choose Run > Run All Cells (the kernel runs on in the background)."""
    activate_tab(page, path)
    page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel").filter(has_text=re.compile(r"^Run All Cells$")).click()


def wait_all_run(page, paths, timeout=300_000):
    """Wait until every code cell of every notebook in ``paths`` has an execution count."""
    page.wait_for_function(
        f"""paths => paths.every(path => {{
            const widget = ({_PANEL})(path);
            const cells = widget.content.widgets.filter(cell => cell.model.type === 'code');
            return cells.length > 0 && widget.sessionContext.session.kernel.status === 'idle'
                && cells.every(cell => cell.model.executionCount !== null
                                       && !cell.promptNode.textContent.includes('*'));
        }})""",
        arg=list(paths), timeout=timeout, polling=500,
    )


def tab_report(page, path):
    """What the notebook tab of ``path`` shows: failing untagged cells, widget errors, readouts."""
    return page.evaluate(
        f"""([path, errorTexts]) => {{
            const widget = ({_PANEL})(path);
            const cells = widget.content.widgets;
            const text = widget.node.textContent;
            return {{
                failed_cells: cells.map((cell, index) => [cell, index])
                    .filter(([cell]) => cell.model.type === 'code')
                    .filter(([cell]) => !(cell.model.getMetadata('tags') || [])
                                        .includes('raises-exception'))
                    .filter(([cell]) => cell.model.outputs.toJSON()
                                        .some(output => output.output_type === 'error'))
                    .map(([, index]) => index),
                widget_errors: errorTexts.filter(message => text.includes(message)),
                widget_outputs: widget.node.querySelectorAll(
                    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.widget-view+json"]'
                ).length,
                rendered_widgets: widget.node.querySelectorAll(
                    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.widget-view+json"]'
                    + ' .lm-Widget, .jp-OutputArea-output .widget-box'
                ).length,
                readouts: Array.from(widget.node.querySelectorAll('{READOUT}'))
                    .map(node => node.textContent.trim()),
            }};
        }}""",
        [path, list(WIDGET_ERROR_TEXTS)],
    )
