"""The course JupyterHub (`make hub`, hub/) with real local accounts, driven in Chromium.

The hub is started as ``make hub`` starts it (``python hub/start.py``, as root) on free loopback
ports, with two students and one instructor created as real Unix accounts (PAM passwords from
HUB_STATE/passwords.csv), a temporary exchange and a course id of its own. Then:
- the course account releases 01-channel-axis with nbgrader (as that Unix user);
- in Chromium the first student logs in, opens the Assignments tab (nbgrader's Assignment List),
  fetches the assignment, writes the answer of part 1 into the notebook and saves it, and
  submits, all in the page;
- the second student's account can neither list the exchange's inbound folder nor read the
  first student's submission even by its exact path (runuser -u ... ls / cat);
- the course account collects (``nbgrader collect``), grades (``convclinic grade --course``),
  writes feedback (``convclinic feedback``) and releases it; the student clicks Fetch Feedback
  in the Assignments tab and the page their server serves shows their score;
- formgrader (the course's hub service) answers the instructor and refuses a student.
Teardown stops the hub (which stops every server) and deletes the accounts it made.
"""

from __future__ import annotations

import contextlib
import csv
import os
import pathlib
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import nbformat
import pytest

from tests.browser import harness
from tests.conftest import IN_CI, ROOT, require_command
from tests.fixtures.submissions import matrix
from tests.grading import harness as grading

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COURSE = "clinic-hubtest"
GRADER = f"grader-{COURSE}"
STUDENT, OTHER, INSTRUCTOR = "hubt-ann", "hubt-bob", "hubt-inst"
ASSIGNMENT = matrix.ASSIGNMENT
NOTEBOOK = matrix.NOTEBOOK
ANSWER_ID = "ex01-add-channel-axis-answer"
BIN = pathlib.Path(sys.executable).parent
ENV = {"PATH": f"{BIN}:/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "LANG": "C.UTF-8"}


def require_root():
    if os.geteuid() != 0:
        message = "the hub test creates Unix accounts: run it as root (CI does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def as_user(account, command, cwd=None, check=True, timeout=600, **env):
    """``command`` as the Unix user ``account`` (runuser), with the course's environment."""
    home = pwd.getpwnam(account).pw_dir
    variables = [f"{k}={v}" for k, v in {**ENV, "HOME": home, "USER": account, **env}.items()]
    done = subprocess.run(["runuser", "-u", account, "--", "env", "-i", *variables, *command],
                          cwd=cwd or home, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode:
        raise AssertionError(f"{' '.join(command)} as {account} failed ({done.returncode}):\n"
                             f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done


def processes_of(uids):
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if entry.name.isdigit() and entry.stat().st_uid in uids:
                found.append(int(entry.name))
    return found


def remove_accounts(names):
    """Kill what the accounts still run (by their uids), then userdel -r them."""
    uids = set()
    for name in names:
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(name).pw_uid)
    for pid in processes_of(uids):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for name in names:
        if name in {p.pw_name for p in pwd.getpwall()}:
            subprocess.run(["userdel", "--remove", name], capture_output=True, check=False)


def wait_for(url, process, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the hub exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise AssertionError(f"{url} not up after {timeout} s:\n{log.read_text()[-4000:]}")


def stop(process):
    """SIGTERM to start.py (it passes it to jupyterhub, which stops every server and the proxy)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)  # jupyterhub stops each server first: slow on a loaded 2-core machine
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running_hub(students, instructor, course, **env):
    """``python hub/start.py`` as `make hub` runs it, on free loopback ports, in a temporary
    exchange and state; the accounts it makes are deleted afterwards."""
    require_root()
    require_command("node", "configurable-http-proxy runs on Node.js; `make hub` installs it")
    assert (ROOT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy").exists(), \
        "run `make hub` or `npm ci --prefix hub` (the proxy is installed locally)"
    accounts = [*students, instructor, f"grader-{course}"]
    remove_accounts(accounts)  # left over by an interrupted run
    base = pathlib.Path(tempfile.mkdtemp(prefix="convclinic-hub-"))
    base.chmod(0o755)
    (base / "students.txt").write_text("# the class\n" + "".join(f"{name}\n" for name in students))
    ports = {name: harness.free_port() for name in ("PORT", "API_PORT", "PROXY_API_PORT", "GRADER_PORT")}
    env = dict(os.environ, HUB_STUDENTS=str(base / "students.txt"), HUB_INSTRUCTORS=instructor,
               HUB_COURSE=course, HUB_EXCHANGE=str(base / "exchange"), HUB_STATE=str(base / "state"),
               HUB_OPEN_PATH="1", HUB_SERVER_ARGS="--LabApp.expose_app_in_browser=True",
               **{f"HUB_{name}": str(port) for name, port in ports.items()}, **env)
    log = base / "start.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, str(ROOT / "hub" / "start.py")], env=env, cwd=ROOT,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{ports['PORT']}"
    try:
        wait_for(f"{url}/hub/api/", process, log)
        passwords = dict(csv.reader((base / "state" / "passwords.csv").open()))
        yield {"url": url, "base": base, "exchange": base / "exchange" / course, "passwords": passwords,
               "log": log, "process": process, "config": str(base / "state" / "jupyter")}
    finally:
        stop(process)
        remove_accounts(accounts)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def hub():
    require_command("bwrap", "the grader runs every student kernel in a bubblewrap sandbox")
    with running_hub([STUDENT, OTHER], INSTRUCTOR, COURSE) as running:
        running["course"] = pathlib.Path(pwd.getpwnam(GRADER).pw_dir) / "course"
        yield running


@pytest.fixture(scope="module")
def released(hub):
    """The course account generates and releases 01-channel-axis into the exchange."""
    for step in ("generate_assignment", "release_assignment"):
        as_user(GRADER, [str(BIN / "nbgrader"), step, ASSIGNMENT], cwd=hub["course"])
    assert (hub["exchange"] / "outbound" / ASSIGNMENT / NOTEBOOK).is_file()
    return hub


def log_in(page, hub, account):
    page.goto(f"{hub['url']}/hub/login")
    page.fill("#username_input", account)
    page.fill("#password_input", hub["passwords"][account])
    page.click("#login_submit")


def open_lab(page, hub, account):
    log_in(page, hub, account)
    page.wait_for_url(re.compile(rf"/user/{account}/lab"), timeout=120_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=120_000)
    page.wait_for_selector(".lm-MenuBar-itemLabel", timeout=60_000)
    # JupyterLab restores the account's saved workspace (the notebook a student left open) after
    # the shell is up; a tab opened before that ends can be put behind the restored one, its rows
    # in the DOM but hidden, so no button can be clicked (seen in CI): wait for the restore
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")


def answer_text():
    """Part 1's answer as a student writes it: the master's, without nbgrader's solution markers."""
    master = grading.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK)
    lines = grading.answers_of(master)[ANSWER_ID].splitlines()
    return "\n".join(line for line in lines if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def write_answer(page, path, text):
    """Open the fetched notebook, put the cursor in part 1's answer cell, replace its text as
    typed (insert_text: no auto-indent), and save (Ctrl+S)."""
    page.evaluate("path => window.jupyterapp.commands.execute('docmanager:open', {path})", path)
    page.wait_for_function(
        """path => { const w = window.jupyterapp.shell.currentWidget;
                     return w && w.context && w.context.path === path && w.content.widgets.length > 0; }""",
        arg=path, timeout=60_000)
    index = page.evaluate(
        """id => { const cells = window.jupyterapp.shell.currentWidget.content.widgets;
                   const i = cells.findIndex(c => ((c.model.getMetadata('nbgrader') || {}).grade_id) === id);
                   window.jupyterapp.shell.currentWidget.content.activeCellIndex = i;
                   cells[i].node.scrollIntoView(); return i; }""", ANSWER_ID)
    assert index >= 0
    editor = page.locator(".jp-NotebookPanel:visible .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
    page.keyboard.press("Control+S")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty",
                           timeout=30_000)


def assignments_tab(page):
    """nbgrader's Assignments tab, opened (or brought forward) and the tab in front."""
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    page.wait_for_function(
        "() => (window.jupyterapp.shell.currentWidget || {}).id === 'nbgrader-assignment-list'", timeout=60_000)


def assignment_row(page, listing):
    """The assignment's row in one list of the Assignments tab (its submissions nested in it)."""
    return page.locator(f"#{listing} .list_item").filter(has_text=ASSIGNMENT).first


def row_button(page, listing, name):
    row = assignment_row(page, listing)
    row.wait_for(timeout=60_000)
    return row.get_by_role("button", name=name, exact=True)


def test_student_fetches_edits_and_submits_in_the_browser(released, new_page):
    hub = released
    page = new_page()
    open_lab(page, hub, STUDENT)
    # a student's JupyterLab has the Assignments tab, not formgrader nor Create Assignment
    commands = page.evaluate("() => window.jupyterapp.commands.listCommands()")
    assert "nbgrader:open-assignment-list" in commands
    assert "nbgrader:open-formgrader" not in commands and "nbgrader:open-create-assignment" not in commands
    assignments_tab(page)
    row_button(page, "released_assignments_list", "Fetch").click()
    fetched = pathlib.Path(pwd.getpwnam(STUDENT).pw_dir) / ASSIGNMENT / NOTEBOOK
    row_button(page, "fetched_assignments_list", "Submit").wait_for(timeout=60_000)
    assert fetched.is_file() and fetched.stat().st_uid == pwd.getpwnam(STUDENT).pw_uid

    write_answer(page, f"{ASSIGNMENT}/{NOTEBOOK}", answer_text())
    saved = nbformat.read(str(fetched), as_version=4)
    cell = next(c for c in saved.cells if c.metadata.get("nbgrader", {}).get("grade_id") == ANSWER_ID)
    assert cell.source.strip() == answer_text().strip()

    assignments_tab(page)
    row_button(page, "fetched_assignments_list", "Submit").click()
    assignment_row(page, "submitted_assignments_list").wait_for(timeout=60_000)
    submissions = [p for p in (hub["exchange"] / "inbound").iterdir() if p.name.startswith(f"{STUDENT}+")]
    assert len(submissions) == 1, submissions
    copy = nbformat.read(str(submissions[0] / NOTEBOOK), as_version=4)
    assert answer_text().strip() in {c.source.strip() for c in copy.cells}
    hub["submission"] = submissions[0]


def test_another_student_cannot_read_the_submission(released):
    hub = released
    submission = hub.get("submission")
    assert submission is not None, "the browser test did not submit"
    inbound = hub["exchange"] / "inbound"
    listing = as_user(OTHER, ["ls", str(inbound)], check=False)
    assert listing.returncode != 0 and "Permission denied" in listing.stderr
    # even with the exact (random) name, which only root knows here
    for command in (["cat", str(submission / NOTEBOOK)], ["ls", str(submission)]):
        done = as_user(OTHER, command, check=False)
        assert done.returncode != 0 and "Permission denied" in done.stderr, command
    # their own home is closed too (the fetched and edited notebook)
    done = as_user(OTHER, ["cat", str(pathlib.Path(pwd.getpwnam(STUDENT).pw_dir) / ASSIGNMENT / NOTEBOOK)],
                   check=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr
    # inbound is writable, not listable (nbgrader's 2733); each submission's folder 0770 with the
    # course account's group (hub/start.py's PrivateSubmit), which collects through it
    assert os.stat(inbound).st_mode & 0o7777 == 0o2733
    assert os.stat(submission).st_mode & 0o7777 == 0o770
    assert os.stat(submission).st_gid == pwd.getpwnam(GRADER).pw_gid


def test_instructor_collects_grades_and_releases_feedback(released):
    hub = released
    assert hub.get("submission") is not None, "the browser test did not submit"
    course = hub["course"]
    as_user(GRADER, [str(BIN / "nbgrader"), "collect", ASSIGNMENT], cwd=course)
    assert (course / "submitted" / STUDENT / ASSIGNMENT / NOTEBOOK).is_file()
    out = pathlib.Path(pwd.getpwnam(GRADER).pw_dir) / "graded"
    graded = as_user(GRADER, [str(BIN / "convclinic"), "grade", "--course", str(course), "--out", str(out),
                              "--assignment", ASSIGNMENT, "--workers", "1", "--timeout", "60"], cwd=course)
    assert STUDENT in graded.stdout
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [row["student_id"] for row in rows] == [STUDENT]
    score = float(rows[0]["score"])
    assert 0 < score < matrix.FULL, rows  # part 1 right, the parts left as stubs wrong
    as_user(GRADER, [str(BIN / "convclinic"), "feedback", "--course", str(course)], cwd=course)
    released_feedback = as_user(GRADER, [str(BIN / "nbgrader"), "release_feedback", ASSIGNMENT], cwd=course)
    assert f"Releasing feedback for student '{STUDENT}'" in released_feedback.stderr
    hub["score"] = score


def test_student_fetches_feedback_in_the_assignments_tab(released, new_page):
    hub = released
    score = hub.get("score")
    assert score is not None, "the instructor's test did not release feedback"
    page = new_page()
    open_lab(page, hub, STUDENT)
    assignments_tab(page)
    row = assignment_row(page, "submitted_assignments_list")
    # the submission's own line (nested in the assignment's row) says so, in the tab in front
    row.get_by_text("feedback available to fetch").wait_for(timeout=60_000)
    row.get_by_role("button", name="Fetch Feedback", exact=True).click(timeout=30_000)
    row.get_by_text("(view feedback)").wait_for(timeout=60_000)
    home = pathlib.Path(pwd.getpwnam(STUDENT).pw_dir)
    pages = sorted((home / ASSIGNMENT / "feedback").rglob("*.html"))
    assert len(pages) == 1, pages
    # the page as the student's server serves it to the student
    page.goto(f"{hub['url']}/user/{STUDENT}/files/{pages[0].relative_to(home).as_posix()}")
    shown = harness.normalize(page.locator("body").inner_text())
    # the notebook's total: the autograded score out of every point (the explanation's included)
    assert f"(Score: {score} / {float(matrix.FULL + 1)})" in shown, shown[:500]
    # the other student fetches nothing of it
    other = pathlib.Path(pwd.getpwnam(OTHER).pw_dir)
    as_user(OTHER, [str(BIN / "nbgrader"), "fetch_feedback", ASSIGNMENT], cwd=other, check=False,
            JUPYTER_CONFIG_PATH=hub["config"])
    assert not list(other.rglob("*.html"))


def test_make_hub_says_why_it_needs_root(hub):
    """Not root: a clear message, nothing created (``make hub`` runs this same script)."""
    done = subprocess.run([shutil.which("runuser"), "-u", "nobody", "--", sys.executable, str(ROOT / "hub" / "start.py"),
                           "--setup-only"], env={**ENV, "HUB_STUDENTS": "someone"}, capture_output=True,
                          text=True, cwd="/", timeout=60)
    assert done.returncode == 1 and "make hub needs root" in done.stderr, done.stderr


def test_formgrader_is_the_instructors_not_the_students(released, new_page):
    hub = released
    page = new_page()
    log_in(page, hub, INSTRUCTOR)
    page.wait_for_url(re.compile(rf"/user/{INSTRUCTOR}/"), timeout=120_000)
    page.goto(f"{hub['url']}/services/{COURSE}/formgrader")
    # formgrader's Manage Assignments table, drawn by its script from the course's gradebook
    page.locator("#main-table").get_by_text(ASSIGNMENT, exact=True).first.wait_for(timeout=60_000)

    student = new_page()
    log_in(student, hub, OTHER)
    student.wait_for_url(re.compile(rf"/user/{OTHER}/"), timeout=120_000)
    response = student.goto(f"{hub['url']}/services/{COURSE}/formgrader")
    assert response.status == 403, (response.status, student.url)
    assert ASSIGNMENT not in student.content()


def test_stopping_the_hub_stops_every_server(released):
    """Last of the class's tests: SIGTERM to the hub (Ctrl-C on `make hub`) leaves no process of
    any account behind (jupyterhub stops the servers it started, the proxy, the service)."""
    hub = released
    uids = {pwd.getpwnam(name).pw_uid for name in (STUDENT, OTHER, INSTRUCTOR, GRADER)}
    assert processes_of(uids), "no server was running"
    stop(hub["process"])
    deadline = time.monotonic() + 60
    while processes_of(uids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_of(uids) == []
    with pytest.raises(urllib.error.URLError):  # the proxy is gone too
        urllib.request.urlopen(f"{hub['url']}/hub/api/", timeout=5)


def test_workshop_password_logs_in_a_student(new_page):
    """HUB_AUTH=shared: one room password for the students (JupyterHub's shared-password
    authenticator), still one Unix account each; a wrong password is refused."""
    room, admin = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    with running_hub(["hubt-wks"], "hubt-wksi", "clinic-hubwks", HUB_AUTH="shared", HUB_PASSWORD=room,
                     HUB_ADMIN_PASSWORD=admin) as hub:
        page = new_page()
        hub["passwords"]["hubt-wks"] = "not-the-room-password"
        log_in(page, hub, "hubt-wks")
        page.locator("text=Invalid username or password").wait_for(timeout=30_000)
        hub["passwords"]["hubt-wks"] = room
        open_lab(page, hub, "hubt-wks")
        assert page.evaluate("() => window.jupyterapp.commands.hasCommand('nbgrader:open-assignment-list')")
        assert processes_of({pwd.getpwnam("hubt-wks").pw_uid}), "no server runs as the student's account"
