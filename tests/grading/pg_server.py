"""A throwaway PostgreSQL server for the tests (Debian's ``postgresql`` package, ``make system-deps``).

:func:`throwaway_server` makes a cluster with the stock ``initdb`` in a temporary folder, starts it
with ``pg_ctl`` on a free loopback port (its unix socket in that folder too, never /var/run), and
stops and removes it afterwards. PostgreSQL refuses to run as root: under root every server command
runs as the ``postgres`` user the Debian package creates (or ``nobody``) through ``runuser``, and
the folder is theirs. Authentication is ``trust`` for the cluster's own superuser, on loopback only.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import random
import shutil
import socket
import subprocess
import tempfile

import pytest

from tests.conftest import IN_CI

SUPERUSER = "convclinic"


def server_bin():
    """The folder of initdb/pg_ctl: Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def require_server_bin():
    """initdb's folder; a missing PostgreSQL FAILS under CI=true and skips elsewhere."""
    folder = server_bin()
    if folder is None:
        message = ("PostgreSQL is missing (no initdb in /usr/lib/postgresql/*/bin or on PATH); "
                   "`make system-deps` installs Debian's postgresql package")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return folder


def free_port():
    """A free loopback port below the kernel's ephemeral range: while the server is stopped in a
    test, no client socket (a Jupyter kernel's, say) can be handed its port."""
    for port in random.Random().sample(range(15000, 30000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free loopback port between 15000 and 30000")


class Server:
    """One cluster: ``start``/``stop`` (as often as a test likes), ``createdb`` and ``url``."""

    def __init__(self, folder, binaries, owner):
        self.folder, self.binaries, self.owner = folder, binaries, owner
        self.data, self.port = os.path.join(folder, "data"), free_port()

    def _run(self, program, *args, timeout=60):
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        done = subprocess.run([*prefix, os.path.join(self.binaries, program), *args], capture_output=True,
                              text=True, timeout=timeout, check=False, cwd=self.folder)
        if done.returncode != 0:
            log = os.path.join(self.folder, "server.log")
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            pytest.fail(f"{program} {' '.join(args)}: {(done.stdout + done.stderr)[-2000:]}\n{tail}")
        return done

    def init(self):
        self._run("initdb", "-D", self.data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync", timeout=120)

    def start(self):
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", os.path.join(self.folder, "server.log"),
                  "-w", "-t", "60", "start", timeout=90)

    def stop(self):
        """Stop now: open sessions are cut (``-m fast``), as when the server is shut down."""
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def running(self):
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        done = subprocess.run([*prefix, os.path.join(self.binaries, "pg_ctl"), "-D", self.data, "status"],
                              capture_output=True, text=True, check=False)
        return done.returncode == 0

    def createdb(self, name):
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def url(self, database):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"


def _unprivileged_user():
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.fail("running as root, but neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


@contextlib.contextmanager
def throwaway_server():
    """A started cluster in a temporary folder; stopped and removed afterwards, whatever happened."""
    binaries = require_server_bin()
    # under root, in /tmp itself: the unprivileged owner must reach it (a private TMPDIR would not do)
    folder = tempfile.mkdtemp(prefix="convclinic-pg-", dir="/tmp" if os.geteuid() == 0 else None)
    owner = None
    if os.geteuid() == 0:  # initdb and postgres refuse root
        user = _unprivileged_user()
        os.chown(folder, user.pw_uid, user.pw_gid)
        owner = user.pw_name
    server = Server(folder, binaries, owner)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if os.path.isdir(server.data) and server.running():
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
