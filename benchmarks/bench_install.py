"""What the first `make lab` costs a learner: a fresh virtual environment with requirements.txt.

Creates a new venv in a temporary folder with the same Python, installs ``requirements.txt``
and the package as the Makefile does (pip's cache as this machine has it: say "warm" when it
already holds the wheels), then records the wall time, the size on disk and the TensorFlow
distributions that ended up installed (exactly one is expected). The venv is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _size_bytes(folder):
    total = 0
    for current, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(current, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


def run(quick=False):
    folder = tempfile.mkdtemp(prefix="convclinic-venv-")
    try:
        python = os.path.join(folder, "bin", "python")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        for arguments in (["-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                          ["-m", "pip", "install", "--quiet", "-r", "requirements.txt"],
                          ["-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "-e", "."]):
            subprocess.run([python, *arguments], cwd=ROOT, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        listed = subprocess.run([python, "-m", "pip", "list", "--format=json"], check=True,
                                capture_output=True, text=True).stdout
        names = [item["name"].lower() for item in json.loads(listed)]
        return {
            "install_s": round(seconds, 1),
            "venv_gib": round(_size_bytes(folder) / 2**30, 2),
            "tensorflow_distributions": sorted(name for name in names
                                               if name.replace("_", "-").startswith(("tensorflow", "tf-nightly"))),
            "packages": len(names),
            "pip_cache": "warm (wheels already downloaded on this machine)",
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
