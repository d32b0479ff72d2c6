"""The IPython extension in an in-process shell: what it registers, what it leaves alone, and
how it finds the learner's model and input (the real-kernel test is test_extension_notebook)."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from convclinic import ipython_extension
from convclinic.diagnosis import box as box_module
from convclinic.diagnosis.box import Box, explain_exception
from convclinic.diagnosis.calls import failing_call
from convclinic.diagnosis.examples import SETUP

pytestmark = pytest.mark.slow  # runs Keras


@pytest.fixture(scope="module")
def shell():
    shell = InteractiveShell.instance()
    shell.run_cell(SETUP)
    yield shell
    ipython_extension.unload_ipython_extension(shell)
    InteractiveShell.clear_instance()  # later tests in this process must not find a live shell


def _error_of(shell, source):
    result = shell.run_cell(source)
    assert result.error_in_exec is not None
    return result.error_in_exec


def test_load_and_unload_touch_only_the_post_run_cell_callbacks(shell):
    handlers = list(shell.events.callbacks["post_run_cell"])
    custom = (shell.CustomTB, shell.custom_exceptions)
    shell.run_line_magic("load_ext", "convclinic")
    ipython_extension.load_ipython_extension(shell)  # a second load registers nothing more
    assert len(shell.events.callbacks["post_run_cell"]) == len(handlers) + 1
    assert (shell.CustomTB, shell.custom_exceptions) == custom
    shell.run_line_magic("unload_ext", "convclinic")
    assert shell.events.callbacks["post_run_cell"] == handlers
    assert (shell.CustomTB, shell.custom_exceptions) == custom


def test_the_failing_call_is_found_from_the_learners_line(shell):
    """Keras filters its own frames out of the traceback; the cell's line still names the
    model and the array, and the full diagnose walk runs on them."""
    error = _error_of(shell, "rgb = keras.Sequential([keras.Input((28, 28, 3)), "
                             "layers.Conv2D(8, 3, name='conv')])\n"
                             "gray = np.zeros((2, 28, 28, 1), 'float32')\n"
                             "print(rgb.predict(gray, verbose=0).shape)")
    target, x = failing_call(error)
    assert target is shell.user_ns["rgb"] and x is shell.user_ns["gray"]
    report = explain_exception(error)
    assert (report.cause, report.layer) == ("channel_mismatch", "conv")
    assert report.trace is not None  # the walk ran: diagnose(), not only the message


def test_no_call_found_falls_back_to_the_message(shell):
    error = _error_of(shell, "layers.Conv2D(8, 3, name='conv')(np.zeros((2, 28, 28), 'float32'))")
    assert failing_call(error) is None
    report = explain_exception(error)
    assert report.cause == "missing_channel_axis" and report.trace is None


def test_unrelated_errors_give_no_report(shell):
    for source in ("{}['key']", "np.zeros((2, 3)) + np.zeros((4, 5))", "1 / 0"):
        assert explain_exception(_error_of(shell, source)) is None
    assert explain_exception(KeyboardInterrupt()) is None


def test_the_handler_never_raises(shell, monkeypatch, capsys):
    def broken(error):
        raise RuntimeError("a bug in the diagnosis")

    monkeypatch.setattr(box_module, "explain_exception", broken)
    shell.run_line_magic("load_ext", "convclinic")
    try:
        result = shell.run_cell("conv = layers.Conv2D(8, 3)\nconv(np.zeros((2, 28, 28), 'float32'))")
    finally:
        shell.run_line_magic("unload_ext", "convclinic")
    assert isinstance(result.error_in_exec, ValueError)  # the learner's error, untouched
    out = capsys.readouterr()
    assert "a bug in the diagnosis" not in out.out + out.err
    assert "convclinic:" not in out.out


def test_the_box_names_cause_layer_sentence_fix_and_lesson(shell):
    error = _error_of(shell, "conv = layers.Conv2D(8, 3, name='conv')\n"
                             "pixels = np.zeros((1, 28, 28, 1), 'uint8')\nconv(pixels)")
    text = str(Box(explain_exception(error)))
    lines = text.splitlines()
    assert lines[0] == "+-- convclinic: integer_dtype (integer input to a float layer) in layer 'conv'"
    assert lines[1].startswith("| The input is uint8") and lines[1].endswith(".")
    assert '|     x = x.astype("float32") / 255.0' in lines
    assert "| Learn it: lesson 01-missing-channel-axis (notebooks/01-missing-channel-axis.ipynb)" \
        in lines
