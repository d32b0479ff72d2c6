"""One record of "ran it, here is what happened": :class:`Outcome`.

Every part of the course that runs real code and shows the result returns an
:class:`Outcome`, whatever ran:

- :func:`convclinic.probe.probe`: a real Conv2D for given settings (every
  lesson's widget; ``phase``, ``settings`` and ``input_shape`` are set);
- :func:`attempt`: any Keras call, kept with its real exception so a lesson
  can show what really happens without stopping the notebook (lessons 01-04);
- :func:`convclinic.versions.side_by_side`: one scenario under Keras 2 and
  Keras 3 (lesson 05);
- :func:`convclinic.snippets.run_snippet`: code in a fresh Python process
  (lessons 04 and 05; ``env``, ``stdout``, ``stderr`` and ``returncode`` are set).

Error messages are cleaned as the lessons show them
(:func:`convclinic.runtime.clean_message`). Importing this module does not
import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convclinic.runtime import clean_message

__all__ = ["Outcome", "attempt"]

_PLAIN_VALUES = (str, int, float, bool, tuple, list, dict)


@dataclass(repr=False)
class Outcome:
    """What running something did: a value (and its shape), or the real exception.

    ``ok`` is true when nothing was raised. ``error_type`` is the exception's
    class name and ``message`` its cleaned message. ``phase`` says where a
    Conv2D failed (``construct``, ``build`` or ``call``, see
    :data:`convclinic.probe.PHASES`). ``settings`` and ``input_shape`` say what
    was run (probe), ``env``, ``stdout``, ``stderr``, ``traceback`` and
    ``returncode`` what a subprocess did (snippets). Fields that do not apply
    stay ``None`` (or empty).

    ``str(outcome)`` is the full account, ``outcome.text`` one line;
    notebooks display ``str``.
    """

    value: object = None
    output_shape: tuple | None = None
    error_type: str | None = None
    message: str | None = None
    phase: str | None = None
    settings: dict | None = None
    input_shape: tuple | None = None
    env: dict | None = None
    stdout: str = ""
    stderr: str = ""
    traceback: str | None = field(default=None, repr=False)
    returncode: int | None = None
    seconds: float | None = None

    @classmethod
    def of_error(cls, error, **fields):
        """The outcome of a raised ``error`` (its class name and cleaned message)."""
        return cls(error_type=type(error).__name__, message=clean_message(error), **fields)

    @classmethod
    def of_value(cls, value, **fields):
        """The outcome of a returned ``value``; ``output_shape`` is read from ``value.shape``."""
        shape = getattr(value, "shape", None)
        if shape is not None and fields.get("output_shape") is None:
            fields["output_shape"] = tuple(None if v is None else int(v) for v in shape)
        return cls(value=value, **fields)

    @property
    def ok(self):
        return self.error_type is None

    @property
    def headline(self):
        """The first line of the error message; the one-line :attr:`text` when it worked."""
        if self.ok:
            return self.text
        lines = (self.message or "").strip().splitlines()
        return lines[0] if lines else ""

    @property
    def text(self):
        """One line: ``works``, ``works: output shape (...)`` or ``ValueError: <first line>``."""
        if not self.ok:
            return f"{self.error_type}: {self.headline}"
        if self.output_shape is not None:
            return f"works: output shape {self.output_shape}"
        if isinstance(self.value, _PLAIN_VALUES):
            return f"works: {self.value}"
        return "works"

    @property
    def stderr_lines(self):
        """The non-empty lines a subprocess wrote to stderr (TensorFlow's C++ log lands here)."""
        return [line for line in self.stderr.splitlines() if line.strip()]

    def _lead(self):
        lead = ""
        if self.env is not None:
            settings = " ".join(f"{name}={value}" for name, value in self.env.items())
            lead = f"[{settings or '(no extra)'}] "
        if self.input_shape is not None:
            lead += f"input {self.input_shape} -> "
        return lead

    def __str__(self):
        if self.ok:
            return self._lead() + self.text
        where = f" at {self.phase}" if self.phase else ""
        return f"{self._lead()}{self.error_type}{where}: {self.message}"

    def __repr__(self):
        return f"<Outcome {self}>"

    def _repr_pretty_(self, printer, cycle):
        """IPython shows ``str(outcome)``: a lesson cell ending in ``attempt(...)`` reads well."""
        printer.text(str(self))


def attempt(function, *args, **kwargs):
    """Call ``function(*args, **kwargs)`` and return an :class:`Outcome`; never raises.

    Lessons 01-04 use it to show the error Keras really raises next to the code
    that caused it, while the notebook keeps running. ``Exception`` subclasses
    are recorded; ``KeyboardInterrupt`` and ``SystemExit`` still stop the cell.

    >>> attempt(int, "forty-two").text
    "ValueError: invalid literal for int() with base 10: 'forty-two'"
    """
    try:
        value = function(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - recording the real error is the point
        return Outcome.of_error(error)
    return Outcome.of_value(value)
