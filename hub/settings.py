"""The course hub's settings, read from environment variables (shared by start.py and
jupyterhub_config.py, so that the accounts made and the hub's configuration always agree).

    HUB_PORT         public port of the hub on HUB_IP (8000)
    HUB_IP           address the proxy listens on (127.0.0.1)
    HUB_API_PORT     the hub's internal API port (8081)
    HUB_PROXY_API_PORT  the proxy's REST API port (8001)
    HUB_GRADER_PORT  port of the course's formgrader service (9999)
    HUB_COURSE       the course id (conv2d-clinic): the nbgrader course, the service and the groups
    HUB_STUDENTS     a file with one student account name a line (# comments allowed), or a
                     comma-separated list
    HUB_INSTRUCTORS  instructor accounts, comma-separated (instructor): hub admins + formgrader
    HUB_TAS          teaching-assistant accounts, comma-separated (none): formgrader only
    HUB_EXCHANGE     nbgrader's exchange folder (/srv/nbgrader/exchange)
    HUB_STATE        runtime state: database, cookie secret, proxy pid, logs, passwords (hub/state)
    HUB_AUTH         pam (local accounts, passwords set by start.py) or shared (one workshop
                     password HUB_PASSWORD for everyone, instructors use HUB_ADMIN_PASSWORD)
    HUB_SERVER_ARGS  extra options of every person's server (space-separated)
    HUB_OPEN_PATH    1: add o+x to the folders above .venv and its Python where missing
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import sys

HUB_DIR = pathlib.Path(__file__).resolve().parent
ROOT = HUB_DIR.parent
BIN = ROOT / ".venv" / "bin"
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")


def _names(value):
    return [name.strip() for name in value.split(",") if name.strip()]


def read_students(value):
    """Account names from HUB_STUDENTS: a file (one a line) or a comma-separated list."""
    if not value:
        return []
    path = pathlib.Path(value)
    if path.is_file():
        lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
        return [line for line in lines if line]
    return _names(value)


@dataclasses.dataclass
class Settings:
    port: int
    ip: str
    api_port: int
    proxy_api_port: int
    grader_port: int
    course: str
    students: list
    instructors: list
    tas: list
    exchange: pathlib.Path
    state: pathlib.Path
    auth: str

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        return cls(
            port=int(env.get("HUB_PORT") or 8000),
            ip=env.get("HUB_IP") or "127.0.0.1",
            api_port=int(env.get("HUB_API_PORT") or 8081),
            proxy_api_port=int(env.get("HUB_PROXY_API_PORT") or 8001),
            grader_port=int(env.get("HUB_GRADER_PORT") or 9999),
            course=env.get("HUB_COURSE") or "conv2d-clinic",
            students=read_students(env.get("HUB_STUDENTS", "")),
            instructors=_names(env.get("HUB_INSTRUCTORS") or "instructor"),
            tas=_names(env.get("HUB_TAS") or ""),
            exchange=pathlib.Path(env.get("HUB_EXCHANGE") or "/srv/nbgrader/exchange").absolute(),
            state=pathlib.Path(env.get("HUB_STATE") or HUB_DIR / "state").absolute(),
            auth=env.get("HUB_AUTH") or "pam",
        )

    @property
    def grader(self):
        """The course's own Unix account: it owns the course folder and runs formgrader."""
        return f"grader-{self.course}"

    @property
    def people(self):
        """Every human account, each once (instructors first)."""
        return list(dict.fromkeys([*self.instructors, *self.tas, *self.students]))

    @property
    def student_config(self):
        """The Jupyter config folder every user's server reads (JUPYTER_CONFIG_PATH)."""
        return self.state / "jupyter"

    def problems(self):
        found = [f"{name!r} is not a valid account name" for name in [*self.people, self.grader]
                 if not NAME.match(name)]
        if not self.students:
            found.append("no students: set HUB_STUDENTS to a file (one name a line) or to 'ann,bob'")
        if self.auth not in ("pam", "shared"):
            found.append(f"HUB_AUTH={self.auth!r}: use pam or shared")
        return found


def server_environment(settings):
    """Environment of every single-user server and of the formgrader service: the course's
    pinned environment first on PATH (its kernel, its nbgrader, its alembic)."""
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_CONFIG_PATH": str(settings.student_config),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "PYTHONHASHSEED": "0",
        "JUPYTERHUB_DEFAULT_URL": "/lab",
    }


if __name__ == "__main__":  # pragma: no cover - a quick look at what the environment gives
    print(Settings.from_env(), file=sys.stderr)
