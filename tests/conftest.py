"""Shared test settings for Conv2D Clinic."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def require_command(name, why):
    """Return the path of a command; a missing command FAILS under CI=true, skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing ({why}); `make system-deps` installs it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def root():
    return ROOT
