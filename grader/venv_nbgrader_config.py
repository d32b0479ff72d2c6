"""nbgrader configuration for every nbgrader command of this venv (installed by `make` as
.venv/etc/jupyter/nbgrader_config.py; nbgrader reads the venv's etc/jupyter before the
course's own nbgrader_config.py).

nbgrader runs `alembic` as a subprocess found on PATH when it creates or upgrades a gradebook
(nbgrader.api.get_alembic_version): `.venv/bin/nbgrader collect` run with a PATH that lacks the
venv's bin fails with "No such file or directory: 'alembic'" (docs/pitfalls.md). This puts the
venv's bin first on PATH for nbgrader and its subprocesses, whatever the caller's PATH.
"""

import os
import sys

_bin = os.path.dirname(sys.executable)
if os.environ.get("PATH", "").split(os.pathsep)[:1] != [_bin]:
    os.environ["PATH"] = os.pathsep.join([_bin, os.environ.get("PATH", "")])
