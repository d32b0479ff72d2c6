"""The course gradebook's database: SQLite by default, or a PostgreSQL server (grader/README.md,
"The gradebook on PostgreSQL").

nbgrader opens its gradebook with SQLAlchemy from ``c.CourseDirectory.db_url`` in the course's
``nbgrader_config.py``; formgrader, ``nbgrader export``, ``convclinic export``, ``feedback`` and the
merge of ``convclinic grade`` all read that one line, so they all use the same database.
``convclinic grade --db-url URL`` writes it when it creates the course, and refuses a URL that
differs from the one the course already has (:func:`course_url`).

A server can go away while a batch runs (a restart, an upgrade, a network cut). The grades are
safe whatever happens: the workers never write to the course gradebook, the journal and
``grades.csv`` are written first, and the merge is idempotent. :func:`patiently` runs a step
that writes the gradebook; when the server cannot be reached it says so on stderr, waits and
runs the whole step again, at most ``CONVCLINIC_DB_WAIT`` seconds (default 300), then stops with
one line saying that running the same command again finishes the merge.
"""

from __future__ import annotations

import os
import sys
import time

SCHEMES = ("sqlite", "postgresql")
DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}
WAIT_VARIABLE = "CONVCLINIC_DB_WAIT"
DEFAULT_WAIT = 300
RETRY_EVERY = 5
CONNECT_TIMEOUT = 10


class DatabaseError(Exception):
    """The gradebook's database cannot be used; ``usage``: the URL itself is wrong."""

    def __init__(self, message, usage=False):
        super().__init__(message)
        self.usage = usage


def sqlite_url(root):
    """The default gradebook of the course at ``root``: ``<root>/gradebook.db``."""
    return "sqlite:///" + os.path.join(root, "gradebook.db")


def settings(root):
    """(config, db_url, course_id or None) of the course at ``root``, from its nbgrader_config.py
    (``db_url``: ``c.CourseDirectory.db_url``, else ``root/gradebook.db``)."""
    from convclinic.grading.nbgrader_setup import load_course_config

    config = load_course_config(os.path.join(root, "nbgrader_config.py"))
    config.CourseDirectory.root = root
    course = config.CourseDirectory
    db_url = course.get("db_url") or sqlite_url(root)
    course.db_url = db_url
    return config, db_url, course.get("course_id")


def check_url(url):
    """``url`` parsed (a SQLAlchemy URL); DatabaseError(usage) when convclinic cannot use it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise DatabaseError(f"{url!r} is not a database URL ({error}); expected "
                            "postgresql://USER@HOST:PORT/DATABASE or sqlite:////ABSOLUTE/PATH.db",
                            usage=True) from error
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in SCHEMES or (parsed.drivername != backend and driver not in DRIVERS[backend]):
        raise DatabaseError(f"{shown(url)}: the gradebook can be on PostgreSQL (postgresql://...) or "
                            f"SQLite (sqlite:///...), not {parsed.drivername}", usage=True)
    if backend == "sqlite" and not (parsed.database and os.path.isabs(parsed.database)):
        raise DatabaseError(f"{shown(url)}: a SQLite gradebook needs an absolute path "
                            "(sqlite:////ABSOLUTE/PATH.db), so that every tool finds the same file",
                            usage=True)
    if backend == "postgresql" and not parsed.database:
        raise DatabaseError(f"{shown(url)}: name the database (postgresql://USER@HOST:PORT/DATABASE)",
                            usage=True)
    return parsed


def shown(url):
    """``url`` with its password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return str(url)


def is_server(url):
    return not str(url).startswith("sqlite")


def reason(error):
    """The first line of the database's own message (psycopg's, SQLite's) for ``error``."""
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__


def connect(url):
    """Open and close one connection to ``url``; DatabaseError saying why it failed."""
    if not is_server(url):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, ImportError) as error:
        hint = " (create it with `createdb`)" if "does not exist" in reason(error) else ""
        raise DatabaseError(f"cannot reach the gradebook database {shown(url)}: {reason(error)}{hint}") from error
    finally:
        engine.dispose()


def course_url(root, db_url=None):
    """The gradebook URL of the course at ``root`` for ``convclinic grade [--db-url URL]``: its
    ``nbgrader_config.py``'s when it has one (``db_url`` must then be the same), else ``db_url``,
    else ``<root>/gradebook.db``; checked (DatabaseError(usage)) and, on a server, reached."""
    configured = settings(root)[1] if os.path.isfile(os.path.join(root, "nbgrader_config.py")) else None
    if db_url:
        check_url(db_url)
        if configured and not _same(configured, db_url):
            raise DatabaseError(
                f"--db-url {shown(db_url)} differs from the gradebook of the course {root} "
                f"({shown(configured)}, c.CourseDirectory.db_url in its nbgrader_config.py, which "
                "formgrader and nbgrader read too): edit that line to move the course, or leave out --db-url",
                usage=True)
    url = configured or db_url or sqlite_url(root)
    connect(url)
    return url


def _same(first, second):
    from sqlalchemy.engine import make_url

    try:
        return make_url(first) == make_url(second)
    except Exception:  # noqa: BLE001 - an unparsable URL is compared as text
        return first == second


def connection_error(error):
    """The failure of the connection itself (server down, restarted, network cut) behind ``error``
    (nbgrader re-raises some as InvalidEntry), or None."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OperationalError | InterfaceError) or getattr(error, "connection_invalidated", False):
            return error
        error = error.__cause__ or error.__context__
    return None


def wait_limit():
    try:
        return max(0.0, float(os.environ.get(WAIT_VARIABLE, DEFAULT_WAIT)))
    except ValueError:
        return float(DEFAULT_WAIT)


def patiently(url, step, what="merging into the course gradebook"):
    """Run ``step()``; while the server at ``url`` cannot be reached, wait and run it again (the
    steps given are idempotent), for at most ``CONVCLINIC_DB_WAIT`` seconds; then DatabaseError."""
    deadline, tries = time.monotonic() + wait_limit(), 0
    while True:
        try:
            return step()
        except Exception as error:  # noqa: BLE001 - only a lost connection is waited for
            lost = connection_error(error) if is_server(url) else None
            if lost is None:
                raise
            if time.monotonic() >= deadline:
                raise DatabaseError(
                    f"the gradebook database {shown(url)} stayed unreachable for {wait_limit():g} s "
                    f"({reason(lost)}) while {what}; every grade is in the journal and grades.csv: "
                    "run the same command again when the server is back") from error
            if tries % (60 // RETRY_EVERY) == 0:  # said once a minute, not at every try
                print(f"convclinic: the gradebook database {shown(url)} is unreachable ({reason(lost)}) while "
                      f"{what}; waiting for it: trying again every {RETRY_EVERY} s for at most "
                      f"{max(0, deadline - time.monotonic()):.0f} s more ({WAIT_VARIABLE})", file=sys.stderr, flush=True)
            tries += 1
            time.sleep(RETRY_EVERY)
