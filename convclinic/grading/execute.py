"""nbgrader's ``Execute`` preprocessor for ``convclinic grade``: sandboxed kernels, judged cells.

- every kernel starts in bubblewrap (:class:`convclinic.grading.sandbox.SandboxKernelManager`),
  forked from a warm fork server by default (:mod:`convclinic.grading.forkserver`);
- judged test cells are collected in the kernel and decided here (grader/README.md, "How a
  part is judged"; :mod:`convclinic.grading.judged`);
- a kernel that dies or hangs costs only the parts not yet run.
"""

from __future__ import annotations

import copy
import json
import secrets
import time

from jupyter_core.utils import run_sync
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute

from convclinic.grading import judged as judging
from convclinic.grading import tamper
from convclinic.grading.forkserver import GradingKernelManager

#: What the last notebooks graded in this process did that report.md must name (tamper
#: attempts, answers using convclinic, forged answers records); the worker reads and clears it.
NOTES: list = []
#: Seconds this process spent judging (outside the kernel) since the worker last cleared it.
JUDGING_SECONDS = [0.0]

def describe_error(label, output, timeout, graded):
    """An error output of a cell, in words an instructor understands ("" when ordinary)."""
    ename = output.get("ename", "")
    if ename in TIMEOUT_NAMES:
        return f"{label} ran past the per-cell time limit of {timeout} s (endless loop?) and was stopped"
    if ename == KERNEL_DIED:
        return f"the Python kernel crashed while running {label} (os._exit, a segfault or the memory limit)"
    if ename == "MemoryError":
        return f"{label} ran out of memory (the per-submission memory limit)"
    if ename == NOT_RUN:
        return f"later cells were not run ({output.get('evalue', '')}); their tests score 0"
    if ename == "KeyboardInterrupt" and not graded:
        return f"{label} was interrupted at the time limit"
    return ""


KERNEL_DIED = "KernelDied"
NOT_RUN = "NotRun"
TIMEOUT_NAMES = ("CellTimeoutError",)


def _error_output(name, value):
    return NotebookNode(output_type="error", ename=name, evalue=value, traceback=[f"{name}: {value}"])


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` preprocessor, with kernels started in the sandbox.

    Judged test cells (:mod:`convclinic.grading.judged`, grader/README.md "How a part
    is judged"): before the first cell the kernel gets a sealed collector (pristine
    references, under a random name); instead of each judged test cell it runs that
    collector on the visible cases (the hidden block never reaches the kernel; the
    stored notebook keeps the cell's source), and after the last cell one extra
    execution per part collects the hidden cases. Those grader executions stay out of
    the input history and their outputs are never stored (the notebook, its display
    ids and widget state are restored after each). This process then judges every part
    with the real TensorFlow and replaces the test cell's outputs by the verdict;
    whatever the kernel printed there is discarded. Old-style test cells run as in
    plain nbgrader.

    When student code breaks the kernel itself:

    - the kernel dies (``os._exit``, a segfault, the memory limit hit inside C code):
      nbgrader would abort the whole submission; here the cell that was running gets a
      ``KernelDied`` error and every later code cell a ``NotRun`` error, so the parts
      graded before the crash keep their points and nbgrader scores the rest as failed;
    - a cell times out and the kernel does not answer after the interrupt: the same,
      with the kernel stopped, instead of waiting the full timeout once per remaining cell.
    """

    def __init__(self, *args, **kwargs):
        kwargs["kernel_manager_class"] = GradingKernelManager
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        self._stopped = self._died_at = None
        self._judged = {i: j for i, j in ((i, judging.plan_cell(c, i)) for i, c in enumerate(nb.cells)) if j}
        self._sealed = "_convclinic_" + secrets.token_hex(8)  # never in the input history
        scans = tamper.scan(nb)
        NOTES.extend(tamper.notes(scans))
        self._blocked = tamper.delegated_names(scans) if self._judged else {}
        self._visible, self._hidden = {}, {}
        nb, resources = super().preprocess(nb, resources, km)
        started = time.perf_counter()
        self._decide(nb)
        JUDGING_SECONDS[0] += time.perf_counter() - started
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if index == 0 and self._judged:
            self._side_execution(judging.seal_source(sorted({j.grade_id for j in self._judged.values()}),
                                                     self._sealed), index)
        judged = self._judged.get(index)
        original = cell.source
        if judged:
            cell.source = judging.collect_source(judged.grade_id, self._sealed)
        try:
            cell, resources = self._run_cell(cell, resources, index, history=not judged)
        finally:
            cell.source = original
        if judged:
            self._visible[index] = judging.answers_records(cell.outputs, judged.grade_id, "visible")
        if index == len(self.nb.cells) - 1:
            self._collect_hidden(index)
        return cell, resources

    def _run_cell(self, cell, resources, index, history=True):
        if getattr(self, "_stopped", None):
            if cell.cell_type == "code":
                cell.outputs = [_error_output(NOT_RUN, self._stopped)]
            return cell, resources
        try:
            if history:
                cell, resources = super().preprocess_cell(cell, resources, index)
            else:  # a judged cell: the grader's line stays out of In/_ih
                self._check_assign_resources(resources)
                cell, resources = self.execute_cell(cell, index, store_history=False), self.resources
        except DeadKernelError:
            cell.outputs.append(_error_output(
                KERNEL_DIED, "the Python kernel died while running this cell "
                "(os._exit, a crash or the memory limit)"))
            self._stopped = "not run: the kernel died in an earlier cell"
            self._died_at = index
            return cell, self.resources
        if cell.cell_type == "code" and self._timed_out(cell):
            for output in cell.outputs:
                if output.get("ename") in TIMEOUT_NAMES:
                    output.evalue = self._limit_text()
                    output.traceback = [f"{output.ename}: {output.evalue}"]
            if not self._kernel_answers():
                self._stopped = "not run: the kernel stopped responding after a timeout"
                self._died_at = index
                try:
                    run_sync(self.km.shutdown_kernel)(now=True)
                except Exception:  # noqa: BLE001 - the kernel is gone either way
                    pass
        return cell, resources

    def _limit_text(self):
        return (f"this cell ran longer than the per-cell time limit of {self.timeout} seconds "
                "and was stopped (an endless loop, or far too much work)")

    @staticmethod
    def _timed_out(cell):
        return any(o.get("output_type") == "error" and o.get("ename") in TIMEOUT_NAMES for o in cell.outputs)

    def _side_execution(self, source, index):
        """Run grader code in the kernel, outside the notebook: its outputs (returned) are never
        stored; every cell, the notebook metadata and the widget state are restored in place after
        it. None when the kernel died or stopped answering."""
        cells = list(self.nb.cells)
        saved = copy.deepcopy((cells, self.nb.metadata, self.widget_state, self.widget_buffers))
        probe = NotebookNode(cell_type="code", metadata=NotebookNode(), outputs=[], execution_count=None,
                             source=source)
        try:
            self.execute_cell(probe, index, store_history=False)
        except DeadKernelError:
            return None
        finally:
            self.nb.cells[:] = cells
            for cell, snapshot in zip(cells, saved[0], strict=True):
                cell.clear()
                cell.update(snapshot)
            self.nb.metadata.clear()
            self.nb.metadata.update(saved[1])
            self.widget_state, self.widget_buffers = saved[2], saved[3]
            self._display_id_map = {}
        if self._timed_out(probe) and not self._kernel_answers():
            return None
        return probe.outputs

    def _collect_hidden(self, index):
        """After the last cell: one side execution per part collects its hidden cases. When the
        kernel died (or hung) at cell k, a fresh kernel replays the cells before k, outside the
        notebook, and the parts checked before the crash get their hidden cases collected there."""
        todo = [j for j in self._judged.values()
                if j.hidden_cases is not None and self._visible.get(j.index, (None,))[0] is not None]
        if self._stopped:
            todo = [j for j in todo if self._died_at is not None and j.index < self._died_at]
            if not todo or not self._replay(self._died_at):
                return
        for judged in todo:
            outputs = self._side_execution(
                judging.hidden_source(judged.grade_id, judged.hidden_cases, self._sealed), index)
            if outputs is None:
                return
            self._hidden[judged.grade_id] = judging.answers_records(outputs, judged.grade_id, "hidden")

    def _replay(self, stop):
        """A fresh sandboxed kernel that has run cells ``0 .. stop - 1`` again (side executions)."""
        try:
            run_sync(self.km.restart_kernel)(now=True)
            self.kc.stop_channels()
            self.kc = self.km.client()
            self.kc.start_channels()
            run_sync(self.kc.wait_for_ready)(timeout=self.startup_timeout)
        except Exception:  # noqa: BLE001 - no second kernel: those parts fail as before
            return False
        grade_ids = sorted({j.grade_id for j in self._judged.values()})
        if self._side_execution(judging.seal_source(grade_ids, self._sealed), 0) is None:
            return False
        for index, cell in enumerate(self.nb.cells[:stop]):
            if cell.cell_type != "code":
                continue
            judged = self._judged.get(index)
            source = judging.collect_source(judged.grade_id, self._sealed) if judged else cell.source
            if self._side_execution(source, index) is None:
                return False
        return True

    def _decide(self, nb):
        """Judge every judged cell here (never in the kernel) and set its outputs to the verdict."""
        from convclinic.judging.core import get_part
        from convclinic.judging.kernel import quiet

        for index, judged in self._judged.items():
            cell = nb.cells[index]
            visible, problem = self._visible.get(index, (None, ""))
            hidden, hidden_problem = self._hidden.get(judged.grade_id, (None, ""))
            blocked = problem or hidden_problem
            if blocked:
                NOTES.append(f"tamper attempt: {blocked}")
            if visible is None and not blocked:
                blocked = self._why_not_run(cell)
            NOTES.extend(self._trouble(judged.grade_id, cell.get("outputs", []), visible, hidden))
            try:
                names = get_part(judged.grade_id).names
            except KeyError:
                names = ()
            blocked = blocked or next((self._blocked[n] for n in names if n in self._blocked), "")
            with quiet():
                passed, lines = judging.judge(judged, visible, hidden, blocked)
            cell.outputs = judging.verdict_outputs(passed, lines)

    def _trouble(self, grade_id, outputs, *envelopes):
        """What report.md says about a judged cell whose kernel outputs the verdict replaces
        (the same words as :func:`convclinic.grading.worker._problems` for other cells)."""
        notes = [describe_error(f"'{grade_id}'", output, self.timeout, True) for output in outputs
                 if output.get("output_type") == "error"]
        if any("MemoryError" in json.dumps(envelope) for envelope in envelopes if envelope):
            notes.append(describe_error(f"'{grade_id}'", {"ename": "MemoryError"}, self.timeout, True))
        return [note for note in notes if note]

    def _why_not_run(self, cell):
        for output in cell.get("outputs", []):
            if output.get("ename") in TIMEOUT_NAMES:
                return self._limit_text()
            if output.get("ename") in (KERNEL_DIED, NOT_RUN):
                return output.get("evalue", "")
        return ""

    def _kernel_answers(self):
        try:
            reply = self.wait_for_reply(self.kc.kernel_info())
        except Exception:  # noqa: BLE001 - dead or unreachable
            return False
        return bool(reply) and reply.get("content", {}).get("status") == "ok"
