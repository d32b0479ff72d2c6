"""PyTorch for the contract tests that pin what lessons 02 and 04 say about it.

torch is a test-only extra (requirements-test.txt, installed by `make test`), kept out of the
learners' install. A missing torch FAILS under CI=true and skips elsewhere, like
tests.conftest.require_command.
"""

from __future__ import annotations

import pytest

from tests.conftest import IN_CI


def import_torch():
    """Return the torch module, or fail (CI) / skip (elsewhere) when it is not installed."""
    try:
        import torch
    except ImportError:
        message = ("torch is missing (lessons 02 and 04 pin their PyTorch claims against it); "
                   "`make test` installs requirements-test.txt")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return torch
