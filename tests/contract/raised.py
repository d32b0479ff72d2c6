"""The error a call raises, for the contract tests that pin what a lesson says about it.

Lessons quote TensorFlow's messages; the tests compare the cleaned message
(:func:`convclinic.runtime.clean_message`, the wording a learner sees in the notebook).
"""

from __future__ import annotations

import pytest

from convclinic.runtime import clean_message


def error_of(call):
    """The exception ``call()`` raises; the test fails when it raises none."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the error itself is what is pinned
        return error
    pytest.fail("expected an error, the call succeeded")


def message_of(call, error_type=ValueError):
    """The cleaned message of the ``error_type`` that ``call()`` raises (any other fails)."""
    error = error_of(call)
    assert isinstance(error, error_type), f"{type(error).__name__}: {error}"
    return clean_message(error)
