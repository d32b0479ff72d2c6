"""JupyterHub configuration of the course hub (`make hub`; settings: hub/settings.py).

Follows nbgrader's "one class, multiple graders" setup: every person is a local account whose
server runs from the course's pinned environment (.venv) with the Assignments tab; the course's
own account (grader-COURSE) runs formgrader as a hub service named after the course, reachable
by the group formgrade-COURSE (instructors and TAs) only. start.py makes the accounts, the
course folder and the exchange before starting the hub with this file.
"""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from settings import BIN, HUB_DIR, Settings, server_environment  # noqa: E402

c = get_config()  # noqa: F821 - provided by traitlets
hub = Settings.from_env()
hub.state.mkdir(parents=True, exist_ok=True)

# -- where it listens, where its state lives (all under HUB_STATE, gitignored)
c.JupyterHub.bind_url = f"http://{hub.ip}:{hub.port}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = hub.api_port
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.proxy_api_port}"
c.ConfigurableHTTPProxy.command = [str(HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(hub.state / "proxy.pid")
c.ConfigurableHTTPProxy.debug = False
c.JupyterHub.db_url = f"sqlite:///{hub.state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(hub.state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(hub.state / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server
c.JupyterHub.cleanup_proxy = True

# -- who may log in
c.Authenticator.allowed_users = set(hub.people)
c.Authenticator.admin_users = set(hub.instructors)
if hub.auth == "shared":
    # Workshops only: everyone shares one password (instructors another). Still real local
    # accounts, each student in their own Unix user.
    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = os.environ.get("HUB_PASSWORD", "")
    c.SharedPasswordAuthenticator.admin_password = os.environ.get("HUB_ADMIN_PASSWORD", "")
else:
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False  # no login sessions to open in containers

# -- each person's server: their own Unix account, the course's environment, JupyterLab
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = server_environment(hub)
c.Spawner.args = os.environ.get("HUB_SERVER_ARGS", "").split()  # e.g. --LabApp.expose_app_in_browser=True
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 90

# -- groups and roles (nbgrader: formgrade-COURSE sees formgrader, nbgrader-COURSE the course)
formgrade = f"formgrade-{hub.course}"
c.JupyterHub.load_groups = {
    formgrade: {"users": [*hub.instructors, *hub.tas]},
    f"nbgrader-{hub.course}": {"users": hub.students},
}
c.JupyterHub.load_roles = [
    {"name": formgrade, "groups": [formgrade],
     "scopes": [f"access:services!service={hub.course}", "list:services",
                f"read:services!service={hub.course}"]},
    {"name": "server", "scopes": ["inherit"]},  # nbgrader's course list asks the hub
]

# -- formgrader: the course account's server, as a hub service named after the course
service_env = {key: value for key, value in server_environment(hub).items()
               if key != "JUPYTER_CONFIG_PATH"}
c.JupyterHub.services = [{
    "name": hub.course,
    "url": f"http://127.0.0.1:{hub.grader_port}",
    "command": [str(BIN / "jupyterhub-singleuser")],
    "user": hub.grader,
    "cwd": str(pathlib.Path("~" + hub.grader).expanduser()),
    "environment": service_env,
    "oauth_no_confirm": True,
}]
