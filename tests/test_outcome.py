"""convclinic.outcome: the one record of "ran it, here is what happened" (lessons 01-05)."""

from __future__ import annotations

import numpy as np

from convclinic.outcome import Outcome, attempt


def test_attempt_records_the_value_and_its_shape():
    outcome = attempt(np.zeros, (2, 3))
    assert outcome.ok and outcome.error_type is None and outcome.phase is None
    assert outcome.output_shape == (2, 3)
    assert outcome.value.shape == (2, 3)
    assert outcome.text == "works: output shape (2, 3)" == str(outcome)


def test_attempt_records_the_real_exception_cleaned():
    def keras_like_failure():
        raise ValueError("Exception encountered when calling Conv2D.call().\n\n"
                         "\x1b[1mbad input\x1b[0m\n\nArguments received by Conv2D.call():\n  x")

    outcome = attempt(keras_like_failure)
    assert not outcome.ok and outcome.value is None and outcome.output_shape is None
    assert (outcome.error_type, outcome.message) == ("ValueError", "bad input")
    assert outcome.text == "ValueError: bad input"
    assert outcome.headline == "bad input"


def test_attempt_shows_plain_values_and_hides_objects():
    assert attempt(lambda: (1, 98, 98, 32)).text == "works: (1, 98, 98, 32)"
    assert attempt(lambda: "built").text == "works: built"
    assert attempt(object).text == "works"
    assert attempt(lambda: None).text == "works"


def test_str_is_the_full_account_with_input_phase_and_environment():
    failed = Outcome(error_type="ValueError", message="first line\nsecond line", phase="build",
                     input_shape=(28, 28, 1))
    assert str(failed) == "input (28, 28, 1) -> ValueError at build: first line\nsecond line"
    assert failed.text == "ValueError: first line"
    ran = Outcome(value=42, env={"TF_ENABLE_ONEDNN_OPTS": "0"}, stderr="a\n\n  \nb\n")
    assert str(ran) == "[TF_ENABLE_ONEDNN_OPTS=0] works: 42"
    assert ran.stderr_lines == ["a", "b"]
    assert str(Outcome(env={})) == "[(no extra)] works"


def test_ipython_shows_the_readable_text_and_repr_names_the_type():
    class Printer:
        def __init__(self):
            self.parts = []

        def text(self, value):
            self.parts.append(value)

    printer = Printer()
    outcome = attempt(int, "forty-two")
    outcome._repr_pretty_(printer, cycle=False)
    assert printer.parts == [str(outcome)]
    assert str(outcome) == "ValueError: invalid literal for int() with base 10: 'forty-two'"
    assert repr(outcome) == f"<Outcome {outcome}>"


def test_of_value_reads_unknown_dimensions_as_none():
    class Symbolic:
        shape = (None, 28, 28, 8)

    assert Outcome.of_value(Symbolic()).output_shape == (None, 28, 28, 8)
