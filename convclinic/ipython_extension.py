"""``%load_ext convclinic``: the diagnosis comes to the error (lesson 06's last section).

After ``%load_ext convclinic``, a cell that raises a Conv2D error this
package recognises shows its normal traceback, unchanged, and below it a
short box: the cause id from ``convclinic.CAUSES`` and its plain name, the
layer, one sentence, the fix as code and the lesson that teaches it. Any
other error is left exactly as it was. ``%unload_ext convclinic`` takes the
handler away again.

How: a ``post_run_cell`` callback reads ``result.error_in_exec`` after
IPython has shown the traceback itself. IPython's own exception handler
(``shell.CustomTB``/``set_custom_exc``) is never replaced, so the traceback
cannot be hidden or altered, another tool's handler keeps working, and
unloading leaves the shell exactly as it was. The callback returns at once
when the cell did not fail; loading imports neither TensorFlow nor the
diagnosis (both load on the first error).
"""

from __future__ import annotations

import time

__all__ = ["load_ipython_extension", "unload_ipython_extension", "last_timing"]

_HANDLERS = {}  # id(shell) -> the callback registered on that shell
_TIMING = {"seconds": None, "cause": None}


def last_timing():
    """``{"seconds", "cause"}`` of the last box shown: from the error reaching the handler
    to the box displayed (``benchmarks/bench_extension.py`` reads it)."""
    return dict(_TIMING)


def _make_handler(shell):
    def after_cell(result):
        error = getattr(result, "error_in_exec", None)
        if error is None:
            return
        try:
            _show_box(error)
        except Exception:  # noqa: BLE001 - the handler never raises into the learner's cell
            pass

    return after_cell


def _show_box(error):
    start = time.perf_counter()
    from convclinic.diagnosis.box import Box, explain_exception

    report = explain_exception(error)
    if report is None:
        return
    from IPython.display import display

    display(Box(report))
    _TIMING.update(seconds=time.perf_counter() - start, cause=report.cause)


def load_ipython_extension(shell):
    """Register the handler on ``shell`` (loading twice registers it once)."""
    if id(shell) in _HANDLERS:
        return
    handler = _make_handler(shell)
    shell.events.register("post_run_cell", handler)
    _HANDLERS[id(shell)] = handler


def unload_ipython_extension(shell):
    """Remove the handler: errors show their plain traceback again."""
    handler = _HANDLERS.pop(id(shell), None)
    if handler is not None:
        shell.events.unregister("post_run_cell", handler)
