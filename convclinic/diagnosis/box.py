"""The short box shown under a recognised Conv2D error (``%load_ext convclinic``, ``convclinic run``).

:func:`explain_exception` turns an exception into a report, or None when it
is not a Conv2D failure this package knows (then nothing is shown at all).
When the failing call can be found in the traceback
(:func:`~convclinic.diagnosis.calls.failing_call`) the full
:func:`convclinic.diagnose` walk runs on the learner's own model and input;
otherwise the exception alone is read (:func:`convclinic.diagnose_error`).
:class:`Box` shows the cause id and plain name, the layer, one sentence, the
fix as code and the lesson that teaches it (lesson 06 ends with it).
"""

from __future__ import annotations

import sys
from html import escape

from convclinic.diagnosis import causes
from convclinic.diagnosis.parsing import first_sentence

__all__ = ["explain_exception", "Box"]

_KERAS_MODULES = ("tensorflow", "keras", "tf_keras")
# The full walk re-runs the model layer by layer: worth it for the models of a course, too slow
# for a big one. Larger than this, the exception alone is read.
MAX_WALK_ELEMENTS = 2**22
MAX_WALK_LAYERS = 60


def explain_exception(error):
    """A :class:`convclinic.diagnosis.Report` for a recognised failure, else None. Never raises."""
    try:
        return _explain(error)
    except Exception:  # noqa: BLE001 - a diagnosis must never add an error of its own
        return None


def _explain(error):
    if not isinstance(error, Exception):
        return None
    from convclinic.diagnosis.api import diagnose, diagnose_error

    report = None
    if any(name in sys.modules for name in _KERAS_MODULES):
        from convclinic.diagnosis.calls import failing_call

        found = failing_call(error)
        if found is not None and _worth_walking(*found):
            report = diagnose(*found)
    if report is None or not causes.recognised(report.cause) or report.silent:
        report = diagnose_error(error)
    return report if causes.recognised(report.cause) else None


def _worth_walking(target, x):
    size = 1
    for value in getattr(x, "shape", ()):
        size *= int(value or 1)
    return size <= MAX_WALK_ELEMENTS and len(getattr(target, "layers", ())) <= MAX_WALK_LAYERS


class Box:
    """The box for one report: plain text in a terminal, HTML in Jupyter."""

    def __init__(self, report):
        self.report = report

    def parts(self):
        """``(heading, sentence, fix, lesson)`` as plain strings."""
        report = self.report
        where = f" in layer '{report.layer}'" if report.layer else ""
        heading = f"convclinic: {report.cause} ({report.cause_name}){where}"
        lesson = causes.cause(report.cause).lesson
        lesson_text = f"lesson {lesson} ({report.lesson})" if lesson else ""
        return heading, first_sentence(report.explanation), report.fix.strip(), lesson_text

    def __str__(self):
        heading, sentence, fix, lesson = self.parts()
        lines = [f"+-- {heading}", f"| {sentence}", "| Fix:"]
        lines += [f"|     {line}" for line in fix.splitlines()]
        if lesson:
            lines.append(f"| Learn it: {lesson}")
        lines.append("+-- convclinic.diagnose(model, x) gives the full report")
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def _repr_html_(self):
        heading, sentence, fix, lesson = self.parts()
        lesson_html = f"<div>Learn it: {escape(lesson)}</div>" if lesson else ""
        return (
            '<div class="convclinic-box" style="border:2px solid #b35806;border-radius:4px;'
            'padding:4px 10px;margin-top:4px">'
            f"<div><b>{escape(heading)}</b></div>"
            f"<div>{escape(sentence)}</div>"
            f"<div>Fix:</div><pre style=\"margin:2px 0\">{escape(fix)}</pre>"
            f"{lesson_html}</div>"
        )
