"""Start the course JupyterHub on one machine (what `make hub` runs; settings: hub/settings.py).

As root it first makes, when missing:
- a local account per student, instructor and TA (useradd, home 0700), each new one with a
  random password written to HUB_STATE/passwords.csv (mode 0600; PAM logs in with it);
- the course account grader-COURSE with the course folder ~/course (the masters of solutions/
  in source/, config from grader/nbgrader_config.py) where formgrader runs;
- nbgrader's exchange: HUB_EXCHANGE root-owned 1777 (sticky: nobody removes another's
  folder), HUB_EXCHANGE/COURSE owned by the course account;
- the config every person's server reads (HUB_STATE/jupyter): the course id, the exchange,
  formgrader hidden, and nbgrader's submit made private (see PRIVATE_SUBMIT);
then runs jupyterhub with hub/jupyterhub_config.py, its log also in HUB_STATE/jupyterhub.log.

    python hub/start.py                    set up, then run the hub until Ctrl-C
    python hub/start.py --setup-only       set up and stop
    python hub/start.py --delete-accounts  remove the accounts this command created (userdel -r)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from settings import BIN, HUB_DIR, ROOT, Settings  # noqa: E402

NOT_ROOT = """make hub needs root: it creates a local Unix account per student (useradd), runs each
student's server as that account, and makes nbgrader's shared exchange folder.
Run it as root (sudo make hub HUB_STUDENTS=students.txt), or use `make lab` for one person."""

# nbgrader's own submit leaves the submission world-readable in the exchange (0777 folder,
# 0644 files), hidden only by a random folder name inside inbound/ (which students cannot list).
# Here the submission's folder is then closed to its student and the course's group: inbound/
# is setgid to the course account's group, so the new folder belongs to that group; 0770 lets
# the course account collect through its group, and another student who guesses the name
# gets "Permission denied".
PRIVATE_SUBMIT = '''
import os as _os

from nbgrader.exchange.default.submit import ExchangeSubmit as _ExchangeSubmit


class PrivateSubmit(_ExchangeSubmit):
    """nbgrader's submit, then the submission's folder open to its student and the course only."""

    def copy_files(self):
        super().copy_files()
        dest = _os.path.join(self.inbound_path, self.assignment_filename)
        if _os.stat(dest).st_gid == _os.stat(self.inbound_path).st_gid:
            _os.chmod(dest, 0o770)


c.ExchangeFactory.submit = PrivateSubmit
'''


def run(*command):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def exists(account):
    try:
        pwd.getpwnam(account)
    except KeyError:
        return False
    return True


def reachable_by_all(paths, fix):
    """Every folder above each of ``paths`` must be traversable (o+x) for the students' servers
    to run .venv/bin/jupyterhub-singleuser and the interpreter the venv links to (a pyenv Python
    under /root, say); with ``fix`` add o+x (never read) where it is missing."""
    folders = dict.fromkeys(f for path in paths for f in [*reversed(path.parents), path])
    blocked = [folder for folder in folders if not os.stat(folder).st_mode & 0o001]
    for folder in blocked if fix else ():
        os.chmod(folder, os.stat(folder).st_mode | 0o001)
        print(f"hub: chmod o+x {folder} (the students' servers run from there)")
    if blocked and not fix:
        sys.exit(f"hub: {', '.join(map(str, blocked))} not traversable by the students' accounts, "
                 f"whose servers run {paths[0]}: `chmod o+x` them, or set HUB_OPEN_PATH=1")


def make_account(name, state, with_password=True):
    """useradd NAME (home 0700, own group) when missing; a new password goes to passwords.csv."""
    if exists(name):
        return False
    run("useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name)
    home = pathlib.Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)
    if with_password:
        password = secrets.token_urlsafe(12)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        passwords = state / "passwords.csv"
        with passwords.open("a", newline="") as handle:
            csv.writer(handle).writerow([name, password])
        passwords.chmod(0o600)
    created = state / "accounts.json"
    names = json.loads(created.read_text()) if created.is_file() else []
    created.write_text(json.dumps([*names, name]))
    print(f"hub: created account {name}")
    return True


def chown_tree(path, account):
    shutil.chown(path, account, account)
    for item in path.rglob("*"):
        shutil.chown(item, account, account)


def setup_course(hub):
    """The course account's folder: masters in source/, its config; formgrader reads it."""
    from convclinic.release import course_config

    home = pathlib.Path(pwd.getpwnam(hub.grader).pw_dir)
    course = home / "course"
    if not (course / "nbgrader_config.py").is_file():
        shutil.copytree(ROOT / "solutions", course / "source", dirs_exist_ok=True)
        course_config(course, source=course / "source",
                      extra=f"c.CourseDirectory.course_id = {hub.course!r}\n"
                            f"c.Exchange.root = {str(hub.exchange)!r}\n")
    (home / ".jupyter").mkdir(exist_ok=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nload_subconfig({str(course / 'nbgrader_config.py')!r})  # noqa: F821\n")
    chown_tree(course, hub.grader)
    chown_tree(home / ".jupyter", hub.grader)
    return course


def setup_exchange(hub):
    """Root-owned exchange, 1777 as nbgrader wants it (+ sticky); the course folder the course's."""
    hub.exchange.mkdir(parents=True, exist_ok=True)
    os.chown(hub.exchange, 0, 0)
    hub.exchange.chmod(0o1777)
    course = hub.exchange / hub.course
    course.mkdir(exist_ok=True)
    shutil.chown(course, hub.grader, hub.grader)
    course.chmod(0o755)


def write_server_config(hub):
    """HUB_STATE/jupyter: read by every person's server (JUPYTER_CONFIG_PATH)."""
    folder = hub.student_config
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {hub.course!r}\n"
        f"c.Exchange.root = {str(hub.exchange)!r}\n" + PRIVATE_SUBMIT)
    hidden = [f"@jupyter/nbgrader:{name}" for name in ("formgrader", "create-assignment", "course-list")]
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in hidden}}, indent=1))
    (folder / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False,
        "nbgrader.server_extensions.course_list": False}}}, indent=1))
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def setup(hub):
    if os.geteuid() != 0:
        sys.exit(NOT_ROOT)
    if hub.problems():
        sys.exit("hub: " + "; ".join(hub.problems()))
    missing = [name for name in ("useradd", "chpasswd", "userdel") if shutil.which(name) is None]
    if missing:
        sys.exit(f"hub: {', '.join(missing)} missing: install Debian's passwd package")
    if hub.auth == "shared" and (len(os.environ.get("HUB_PASSWORD", "")) < 8
                                 or len(os.environ.get("HUB_ADMIN_PASSWORD", "")) < 32):
        sys.exit("hub: HUB_AUTH=shared needs HUB_PASSWORD (8 characters or more, the room's) and "
                 "HUB_ADMIN_PASSWORD (32 or more, the instructors')")
    if not (HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        sys.exit("hub: configurable-http-proxy missing: run `npm ci --prefix hub` (make hub does)")
    interpreter = pathlib.Path(os.path.realpath(BIN / "python")).parent
    reachable_by_all([BIN, interpreter], fix=os.environ.get("HUB_OPEN_PATH") == "1")
    hub.state.mkdir(parents=True, exist_ok=True)
    hub.state.chmod(0o711)
    for name in hub.people:
        make_account(name, hub.state)
    make_account(hub.grader, hub.state, with_password=False)
    setup_exchange(hub)
    course = setup_course(hub)
    write_server_config(hub)
    print(f"hub: course folder {course} (account {hub.grader}); exchange {hub.exchange}")
    if (hub.state / "passwords.csv").is_file():
        print(f"hub: passwords of the accounts made here: {hub.state / 'passwords.csv'} (root only)")


def delete_accounts(hub):
    created = hub.state / "accounts.json"
    names = json.loads(created.read_text()) if created.is_file() else []
    for name in names:
        if exists(name):
            subprocess.run(["userdel", "--remove", name], check=False, stderr=subprocess.DEVNULL)
    created.unlink(missing_ok=True)
    (hub.state / "passwords.csv").unlink(missing_ok=True)
    print(f"hub: removed {len(names)} account(s)")


def serve(hub):
    """jupyterhub in the foreground; its output also goes to HUB_STATE/jupyterhub.log."""
    command = [str(BIN / "jupyterhub"), "-f", str(HUB_DIR / "jupyterhub_config.py")]
    env = dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    child = subprocess.Popen(command, cwd=hub.state, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    print(f"hub: http://{hub.ip}:{hub.port} (log: {hub.state / 'jupyterhub.log'})", flush=True)
    with (hub.state / "jupyterhub.log").open("a") as log:
        for line in child.stdout:
            sys.stdout.write(line)
            log.write(line)
            log.flush()
    return child.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup-only", action="store_true", help="make accounts and folders, start nothing")
    parser.add_argument("--delete-accounts", action="store_true",
                        help="userdel -r every account this command created")
    args = parser.parse_args(argv)
    hub = Settings.from_env()
    if args.delete_accounts:
        return delete_accounts(hub)
    setup(hub)
    return None if args.setup_only else serve(hub)


if __name__ == "__main__":
    sys.exit(main())
