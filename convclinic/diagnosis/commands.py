"""``convclinic diagnose MODEL_FILE`` and ``convclinic run script.py``: the diagnosis at the shell.

``diagnose`` loads a saved Keras model (``.keras``; ``.h5`` through Keras 3,
or tf_keras when Keras 3 cannot read it) and prints :func:`convclinic.diagnose`'s
report for an input of the given shape: exit 0 when it runs cleanly, 1 with
the report when it fails (a silent problem included), 2 for a usage error
(missing or unreadable file, bad shape), always as ONE line on stderr.

``run`` runs a Python script as ``python script.py args`` would; when it dies
with a Conv2D error this package recognises, the diagnosis box is printed
after the traceback. The exit status is the script's own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import traceback
import warnings
import zipfile

__all__ = ["parse_shape_argument", "diagnose_file", "run_script", "UsageError"]


class UsageError(Exception):
    """A problem with what was asked (exit status 2, one line)."""


def parse_shape_argument(text):
    """``"1,28,28"`` or ``"(1, 28, 28)"`` -> ``(1, 28, 28)``; UsageError otherwise."""
    cleaned = text.strip().strip("()[]").replace(" ", "")
    parts = [part for part in cleaned.split(",") if part != ""] if cleaned else []
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if not shape or any(v < 1 for v in shape) or len(shape) > 8:
        raise UsageError(f"--input-shape {text!r} is not a shape: give positive whole numbers "
                         "separated by commas, batch first, e.g. --input-shape 1,28,28,1")
    return shape


def _first_line(error):
    from convclinic.runtime import clean_message

    lines = clean_message(error).splitlines()
    return lines[0] if lines else type(error).__name__


def load_model(path):
    """The Keras model saved at ``path`` (Keras 3 first; tf_keras for an old ``.h5``)."""
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise UsageError(f"{path}: not a file")
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".keras", ".h5", ".hdf5"):
        raise UsageError(f"{path}: not a saved Keras model (expected .keras or .h5)")
    _check_container(path, extension)
    from convclinic.runtime import import_keras

    keras = import_keras()
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            return keras.saving.load_model(path, compile=False)
        except Exception as error:  # noqa: BLE001 - the message becomes the usage line
            if extension == ".keras":
                raise UsageError(f"{path}: cannot be loaded: {_first_line(error)}") from None
            first = error
        try:
            return import_keras(legacy=True).models.load_model(path, compile=False)
        except Exception:  # noqa: BLE001
            raise UsageError(f"{path}: cannot be loaded: {_first_line(first)}") from None


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _check_container(path, extension):
    """A .keras file is a zip archive and an .h5 file an HDF5 file: say so before Keras does
    (its message for a damaged .keras file is "File not found")."""
    if extension == ".keras" and not zipfile.is_zipfile(path):
        raise UsageError(f"{path}: not a saved Keras model (a .keras file is a zip archive; "
                         "this one is damaged or something else)")
    if extension in (".h5", ".hdf5"):
        with open(path, "rb") as handle:
            if handle.read(8) != _HDF5_SIGNATURE:
                raise UsageError(f"{path}: not a saved Keras model (not an HDF5 file; it is "
                                 "damaged or something else)")


def diagnose_file(path, input_shape, dtype="float32", as_json=False, out=sys.stdout):
    """Load, diagnose on an input of ``input_shape`` and print; return the exit status."""
    shape = parse_shape_argument(input_shape)
    try:
        import numpy as np

        np.dtype(dtype)
    except TypeError:
        raise UsageError(f"--dtype {dtype!r} is not a NumPy dtype (e.g. float32, uint8)") from None
    model = load_model(path)
    from convclinic.diagnosis.api import diagnose
    from convclinic.probe import make_input

    report = diagnose(model, make_input(shape, dtype=dtype))
    if as_json:
        out.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        out.write(str(report) + "\n")
    return 0 if report.ok else 1


def _script_traceback(error, script):
    """The traceback from the script's first frame on (as ``python script.py`` shows it)."""
    tb = error.__traceback__
    real = os.path.realpath(script)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != real:
        tb = tb.tb_next
    return tb or error.__traceback__


def run_script(script, args, err=sys.stderr):
    """Run ``script`` with ``args`` as ``__main__``; return its exit status."""
    if not os.path.isfile(script):
        raise UsageError(f"{script}: no such file")
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as done:
        return _exit_status(done.code, err)
    except KeyboardInterrupt:
        traceback.print_exc(file=err)
        return 130
    except Exception as error:  # noqa: BLE001 - the script's own failure, reported as Python does
        err.flush()
        traceback.print_exception(type(error), error, _script_traceback(error, script), file=err)
        from convclinic.diagnosis.box import Box, explain_exception

        report = explain_exception(error)
        if report is not None:
            err.write("\n" + str(Box(report)) + "\n")
        return 1
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return 0


def _exit_status(code, err):
    """What Python does with ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err.write(f"{code}\n")
    return 1
