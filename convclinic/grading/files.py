"""Atomic file writes for the grader: a reader (or a crash) sees the old file or the new one."""

from __future__ import annotations

import contextlib
import os
import shutil


def atomic_write(path, text):
    """Write ``text`` to ``path`` through a renamed temporary file, flushed to disk first."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def atomic_copy(source, destination):
    """Copy ``source`` to ``destination`` through a renamed temporary file."""
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    temporary = f"{destination}.tmp-{os.getpid()}"
    shutil.copyfile(source, temporary)
    os.replace(temporary, destination)


@contextlib.contextmanager
def atomic_folder(final):
    """A fresh temporary folder to fill; it replaces ``final`` (renamed) when the block ends
    without an error, so a reader sees the old folder or the whole new one."""
    temporary = f"{final}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    yield temporary
    shutil.rmtree(final, ignore_errors=True)
    os.rename(temporary, final)
