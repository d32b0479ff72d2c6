"""The report: what ``diagnose`` found, as text, HTML, JSON, and a fix that can be applied.

Lesson 06 reads it; the IPython extension and ``convclinic diagnose`` show
it. It carries ONE trace, ``Report.trace``: the real per-layer walk as a
:class:`convclinic.shapes.Trace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from convclinic import shapes
from convclinic.diagnosis import causes
from convclinic.diagnosis.context import materialise
from convclinic.diagnosis.fixes import rebuild
from convclinic.diagnosis.parsing import first_line

__all__ = ["Report", "FixNotApplicable"]


class FixNotApplicable(Exception):
    """Raised by :meth:`Report.apply_fix` when the fix is advice, not an automatic change."""


@dataclass
class Report:
    """What :func:`convclinic.diagnose` found. ``str()`` gives plain text; Jupyter shows HTML.

    ``input_fix`` (a function of the input) and ``config_fix`` (``{layer name:
    {argument: new value}}``) are the fix in machine form; :meth:`apply_fix`
    applies them to a model or layer and an input.
    """

    ok: bool
    cause: str
    layer: str | None = None
    explanation: str = ""
    fix: str = ""
    error_type: str | None = None
    message: str | None = None
    phase: str | None = None  # 'construct' | 'build' | 'call' | None
    input_shape: tuple | None = None
    output_shape: tuple | None = None
    silent: bool = False
    legacy: bool = False
    trace: shapes.Trace | None = field(default=None, repr=False)
    input_fix: object = field(default=None, repr=False)
    config_fix: dict | None = None

    @property
    def steps(self):
        """The trace as ``(layer, input shape, output shape or "FAILS: ...")`` rows."""
        if self.trace is None:
            return []
        return [(s.name, s.input_shape, s.output_shape if s.error is None else f"FAILS: {s.error}")
                for s in self.trace.steps]

    @property
    def cause_name(self):
        """The cause's plain name (``"the channel axis is missing"``)."""
        return causes.cause(self.cause).name

    @property
    def lesson(self):
        """The lesson notebook that teaches this cause (``notebooks/...ipynb``), or None."""
        return causes.lesson_path(self.cause)

    # ---- the fix, applied -------------------------------------------------------------

    def fixed_input(self, x):
        """Apply the input part of the fix (``np.expand_dims``, a transpose, a cast...)."""
        if self.input_fix is None:
            raise FixNotApplicable(f"the fix for {self.cause!r} does not change the input")
        return self.input_fix(materialise(x))

    def fixed_model(self, target):
        """A NEW model or layer built from ``target``'s config with ``config_fix`` applied.

        Weights are fresh: a Dense rebuilt this way is made for the size it now receives.
        """
        if self.config_fix is None:
            raise FixNotApplicable(f"the fix for {self.cause!r} does not change the model")
        return rebuild(target, self.config_fix)

    def apply_fix(self, target, x):
        """Return ``(new_target, new_x)`` with every machine-applicable part of the fix."""
        if self.input_fix is None and self.config_fix is None:
            raise FixNotApplicable(f"no automatic fix for {self.cause!r}: read report.fix")
        new_target = self.fixed_model(target) if self.config_fix is not None else target
        new_x = self.fixed_input(x) if self.input_fix is not None else materialise(x)
        return new_target, new_x

    # ---- display ----------------------------------------------------------------------

    @property
    def title(self):
        if self.ok:
            shape = f": output shape {self.output_shape}" if self.output_shape else ""
            return f"OK{shape}"
        where = f" in layer '{self.layer}'" if self.layer else ""
        kind = "silent problem" if self.silent else "cause"
        return f"{kind}: {self.cause}{where}"

    def __str__(self):
        lines = [f"Diagnosis -- {self.title}", "", self.explanation]
        if self.fix:
            lines += ["", "Fix:", _indent(self.fix)]
        if self.error_type:
            where = f" (at {self.phase})" if self.phase else ""
            lines += ["", f"Keras said{where}: {self.error_type}: {first_line(self.message)}"]
        if self.trace is not None and self.trace.steps:
            lines += ["", "Layer by layer (real shapes):", _indent(str(self.trace))]
        return "\n".join(lines).rstrip()

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def _repr_html_(self):
        # Text carries the verdict (OK / cause); colour only repeats it.
        border = "#1b7837" if self.ok else "#b35806"
        parts = [
            f'<div class="convclinic-diagnosis" style="border-left:4px solid {border};'
            'padding:4px 10px">',
            f"<b>Diagnosis &mdash; {escape(self.title)}</b>",
            f"<p>{escape(self.explanation)}</p>",
        ]
        if self.fix:
            parts.append(f"<p><b>Fix:</b></p><pre>{escape(self.fix)}</pre>")
        if self.error_type:
            where = f" (at {self.phase})" if self.phase else ""
            parts.append(
                f"<p><b>Keras said{escape(where)}:</b> <code>{escape(self.error_type)}: "
                f"{escape(first_line(self.message))}</code></p>"
            )
        if self.trace is not None and self.trace.steps:
            parts.append(self.trace._repr_html_())
        parts.append("</div>")
        return "".join(parts)

    def to_dict(self):
        """The report as JSON-ready data (``convclinic diagnose --json``)."""
        trace = None
        if self.trace is not None:
            trace = [{"layer": s.name, "input_shape": _listed(s.input_shape),
                      "output_shape": _listed(s.output_shape), "error": s.error}
                     for s in self.trace.steps]
        return {
            "ok": self.ok, "cause": self.cause, "cause_name": self.cause_name,
            "layer": self.layer, "silent": self.silent, "explanation": self.explanation,
            "fix": self.fix, "lesson": self.lesson, "error_type": self.error_type,
            "message": self.message, "phase": self.phase,
            "input_shape": _listed(self.input_shape), "output_shape": _listed(self.output_shape),
            "legacy": self.legacy, "trace": trace,
        }


def _listed(shape):
    return None if shape is None else list(shape)


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in str(text).splitlines())
