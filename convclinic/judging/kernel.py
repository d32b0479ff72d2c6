"""The kernel side of judging: ``check(grade_id)`` in a test cell, and fakes shared by parts.

Two modes (grader/README.md, "How a part is judged"):

- self-study, plain ``nbgrader autograde`` or ``nbgrader validate``: ``check(id)``
  collects the part's visible cases, judges them here, prints ``PASS  Part N ...``
  or ``FAIL  Part N ...: <message>`` on stdout and raises ``AssertionError`` on a
  failure; ``check.hidden(id, cases)`` does the same for hidden cases (hints only).
  Not tamper-proof: the learner's code runs in the same process.
- ``convclinic grade`` (the kernel's environment has ``CONVCLINIC_GRADING=1``):
  ``check(id)`` only emits the collected data as one ``display_data`` output of
  MIME type :data:`~convclinic.judging.core.MIME` and stashes the answer objects;
  ``check.hidden`` is never sent (the grader strips the hidden block) and does
  nothing. After the last cell the grader calls :func:`collect_hidden`; the
  grading worker judges.

Everything runs quietly: nbgrader gives 0 points to a test cell with ANY stderr
output, and TensorFlow writes C++ log lines to file descriptor 2 lazily, so
:func:`quiet` silences Python warnings, ``sys.stderr`` and fd 2 around the work.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import types
import warnings

from convclinic.judging import core

#: grade_id -> the answer objects ``check`` collected (used again for the hidden cases).
STASH: dict = {}


@contextlib.contextmanager
def quiet():
    """Silence Python warnings, ``sys.stderr`` and file descriptor 2 for a block."""
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - an odd stderr must not stop the check
        pass
    saved_fd = devnull = None
    try:
        saved_fd = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    except OSError:
        saved_fd = None
    saved_stderr = sys.stderr
    sys.stderr = io.StringIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stderr = saved_stderr
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        if devnull is not None:
            os.close(devnull)


def grading_mode():
    return os.environ.get(core.GRADING_ENV) == "1"


def _namespace(depth=2):
    """The notebook's namespace: IPython's user namespace, else the caller's globals."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    return sys._getframe(depth).f_globals


def _emit(grade_id, stage, envelope):
    record = core.make_record(grade_id, stage, envelope)
    try:
        from IPython.display import publish_display_data

        publish_display_data({core.MIME: record, "text/plain": f"[answers collected for {grade_id}]"})
    except ImportError:
        print(f"[answers collected for {grade_id}]")


class Check:
    """``check(grade_id)`` and ``check.hidden(grade_id, cases)`` (see the module doc)."""

    def __call__(self, grade_id):
        part = core.get_part(grade_id)
        namespace = _namespace()
        if grading_mode():
            with quiet():
                STASH[grade_id] = {name: namespace[name] for name in part.names if name in namespace}
                envelope = core.collect_answers(part, namespace, part.visible)
            _emit(grade_id, "visible", envelope)
            return None
        with quiet():
            envelope = core.collect_answers(part, namespace, part.visible)
            findings = core.judge_stage(part, envelope, part.visible, hidden=False)
        return _report(part, findings)

    def hidden(self, grade_id, cases):
        if grading_mode():
            return None  # the grader collects hidden cases itself, after the last cell
        part = core.get_part(grade_id)
        namespace = _namespace()
        with quiet():
            envelope = core.collect_answers(part, namespace, cases)
            findings = core.judge_stage(part, envelope, cases, hidden=True)
        return _report(part, findings)


def _report(part, findings):
    passed, lines = core.verdict_lines(part, findings)
    print("\n".join(lines))
    if not passed:
        raise AssertionError(lines[0][len("FAIL  "):]) from None


check = Check()


def collect_hidden(grade_id, cases):
    """Grading mode, after the last cell: collect ``grade_id``'s hidden ``cases`` from the
    stashed answers (or the notebook's names when ``check`` never stashed them) and emit them."""
    with quiet():
        part = core.get_part(grade_id)
        answers = STASH.get(grade_id)
        if answers is not None and all(name in answers for name in part.names):
            envelope = core.collect_from(part, answers, cases)
        else:
            envelope = core.collect_answers(part, _namespace(), cases)
    _emit(grade_id, "hidden", envelope)


def seal(grade_ids):
    """Grading mode, run by the grader BEFORE the first cell: a collector holding pristine
    references (the parts, the collect and record functions, the display function, the
    answers stash), so that a notebook rebinding or patching names later (``check``,
    ``convclinic.judging.*`` attributes, ``Check.__call__``) changes nothing it collects.

    ``collector(grade_id)`` collects the visible cases (a test cell); ``collector(grade_id,
    cases)`` the hidden ones (after the last cell). The grader stores it under a random
    builtins name, sent outside the input history.
    """
    from IPython import get_ipython
    from IPython.display import publish_display_data

    parts = {}
    for grade_id in grade_ids:
        try:
            parts[grade_id] = core.get_part(grade_id)
        except Exception:  # noqa: BLE001 - an unknown part is judged (and failed) by the grader
            pass
    shell = get_ipython()
    namespace = shell.user_ns if shell is not None else {}
    collect_answers, collect_from, make_record, silence = (
        core.collect_answers, core.collect_from, core.make_record, quiet)
    mime, stash = core.MIME, {}

    def collector(grade_id, cases=None):
        part = parts.get(grade_id)
        if part is None:
            return
        with silence():
            if cases is None:
                stash[grade_id] = {name: namespace[name] for name in part.names if name in namespace}
                envelope = collect_answers(part, namespace, part.visible)
            else:
                answers = stash.get(grade_id)
                if answers is not None and all(name in answers for name in part.names):
                    envelope = collect_from(part, answers, cases)
                else:
                    envelope = collect_answers(part, namespace, cases)
        publish_display_data({mime: make_record(grade_id, "visible" if cases is None else "hidden", envelope),
                              "text/plain": f"[answers collected for {grade_id}]"})

    return collector


# --- fakes shared by parts -------------------------------------------------------------------


class FakeDevice:
    """A physical device as ``tf.config.list_physical_devices`` returns it."""

    def __init__(self, name, device_type):
        self.name = name
        self.device_type = device_type

    def __repr__(self):
        return f"PhysicalDevice(name={self.name!r}, device_type={self.device_type!r})"


def fake_tensorflow(gpu_count):
    """A recording fake ``tf`` with ``gpu_count`` GPUs and one CPU: ``(fake_tf, calls)``.

    Accepts every real spelling: ``tf.config.list_physical_devices("GPU")``,
    ``(device_type="GPU")`` or no argument; ``tf.config.experimental.list_physical_devices``;
    ``tf.config.get_visible_devices``; ``tf.config.experimental.set_memory_growth(device, True)``
    (and ``tf.config.set_memory_growth`` is absent, as in real TensorFlow). ``calls`` is a list
    of plain data: ``["set_memory_growth", device_name, enable]`` per call.
    """
    devices = [FakeDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(int(gpu_count))]
    devices.append(FakeDevice("/physical_device:CPU:0", "CPU"))
    calls = []

    def list_devices(device_type=None):
        if device_type is None:
            return list(devices)
        return [d for d in devices if d.device_type == str(device_type).upper()]

    def set_memory_growth(device, enable):
        name = getattr(device, "name", device)
        calls.append(["set_memory_growth", str(name), bool(enable)])

    def get_memory_growth(device):
        name = getattr(device, "name", device)
        return any(c[1] == name and c[2] for c in calls)

    experimental = types.SimpleNamespace(
        list_physical_devices=list_devices, set_memory_growth=set_memory_growth,
        get_memory_growth=get_memory_growth, get_visible_devices=list_devices)
    config = types.SimpleNamespace(
        list_physical_devices=list_devices, get_visible_devices=list_devices,
        list_logical_devices=list_devices, experimental=experimental)
    return types.SimpleNamespace(config=config, __version__="2.21.0"), calls


def model_record(model):
    """A Keras model as plain data: ``{"config", "weights", "compile"}`` (rebuilt by
    :func:`convclinic.judging.truth.rebuild_model` in the clean process)."""
    import json

    config = json.loads(model.to_json())
    weights = [w for w in model.get_weights()]
    compile_config = None
    if getattr(model, "compiled", False):
        compile_config = model.get_compile_config()
    return {"config": config, "weights": weights, "compile": compile_config}
