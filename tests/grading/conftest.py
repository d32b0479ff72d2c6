"""Session fixture: every fixture submission graded once by the real nbgrader (see harness.py)."""

from __future__ import annotations

import pytest

from tests.grading import harness


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Autograde all fixture submissions of all assignments (2 workers, batched per assignment)."""
    return harness.grade_everything(tmp_path_factory.mktemp("nbgrader-courses"))
