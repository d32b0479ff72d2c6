"""nbgrader configuration and helpers of the grading CLI (grader/README.md).

The course's own ``grader/nbgrader_config.py`` (stub text, timeouts, the
stderr ``IgnorePattern``) is loaded first; the grading CLI then layers its
settings on top for each private course copy it grades in:

- paths: a private course folder with its own gradebook (SQLite is not safe
  for concurrent writers, so each worker process has one);
- ``SandboxedExecute`` (:mod:`convclinic.grading.execute`): kernels run in bubblewrap (:mod:`convclinic.grading.sandbox`),
  a crashed kernel costs only the parts not yet run, a timed-out cell is interrupted;
- the per-cell timeout, ``shutdown_kernel = "immediate"`` (a graded kernel has
  nothing left to save: no need to wait seconds for it to exit);
- stderr output in a test cell is shown as ordinary output instead of costing
  the part its points (nbgrader's ``determine_grade`` scores any stderr as a failure);
- feedback: hidden tests are removed from the feedback, and any line of them
  a submission printed is redacted; the feedback page's Jinja templates are compiled once
  per process (:class:`FeedbackExporter`), not once per submission.
"""

from __future__ import annotations

import os
import re

import jinja2
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader import utils
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from traitlets import List, Unicode
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from convclinic.grading.execute import SandboxedExecute

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
HIDDEN_NOTICE = "# (hidden tests: not shown in feedback)"
REDACTED = "[hidden test line removed]"


def silence_gradebook_warnings():
    """Hide the SQLAlchemy chatter nbgrader's gradebook API prints ("... not in session, add
    operation ... will not proceed"): nbgrader's own pattern, harmless, and it buried the
    grader's output. Used by the workers and by the merge into ``OUT/course``."""
    import warnings

    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", message=".*not in session.*")


def alembic_head():
    """The gradebook schema's alembic revision, read in this process from nbgrader's own
    migration scripts."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    return ScriptDirectory(ALEMBIC_DIR).get_current_head()


def prepare_gradebook_api():
    """Set nbgrader's gradebook API up for the grader: its warnings silenced, and a new gradebook
    stamped with :func:`alembic_head` instead of nbgrader's ``get_alembic_version``, which runs
    ``alembic heads`` in a subprocess (a Python start and alembic's import: 3-4 s per new
    gradebook, e.g. each merged ``OUT/course``). Same revision (tests/grading/test_course_model.py)."""
    import nbgrader.api

    silence_gradebook_warnings()
    nbgrader.api.get_alembic_version = alembic_head


def hidden_test_lines(master_notebook):
    """The lines between BEGIN/END HIDDEN TESTS in a master notebook (stripped, non-trivial)."""
    lines = []
    for cell in master_notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) >= 6:
                lines.append(line.strip())
    return sorted(set(lines), key=len, reverse=True)


class StderrAsOutput(NbGraderPreprocessor):
    """Show stderr stream outputs of graded code cells as ordinary (stdout) output.

    nbgrader gives zero points to a test cell with ANY stderr output, even when
    every assertion passed (``nbgrader.utils.determine_grade``): a student's
    debug print to stderr or a library warning must not cost a part.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class DropEmptyNbgraderMetadata(NbGraderPreprocessor):
    """Remove the empty ``nbgrader`` metadata ``DeduplicateIds`` leaves on a duplicated cell.

    nbgrader 0.9.6 bug: with ``OverwriteCells.add_missing_cells`` on, such a cell makes
    ``add_missing_task_cells`` fail with ``KeyError: 'grade_id'`` and the whole
    submission is not graded. Without its nbgrader metadata the copy is ordinary code.
    """

    def preprocess_cell(self, cell, resources, index):
        if "nbgrader" in cell.metadata and not cell.metadata.nbgrader.get("grade_id"):
            del cell.metadata["nbgrader"]
        return cell, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback only: drop hidden-test regions from cell sources and redact their lines from outputs.

    A submission can print what its code sees while a hidden test runs
    (``inspect``, IPython history); redacting every hidden line from every
    output keeps the hidden tests out of everyone's feedback.
    """

    hidden_lines = List(Unicode(), help="hidden test lines to redact").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if "HIDDEN TESTS" in cell.source:
            kept, inside = [], False
            for line in cell.source.split("\n"):
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                    kept.append(line[: len(line) - len(line.lstrip())] + HIDDEN_NOTICE)
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif not inside:
                    kept.append(line)
            cell.source = "\n".join(kept)
        if cell.cell_type == "code" and self.hidden_lines:
            for output in cell.get("outputs", []):
                self._redact(output)
        return cell, resources

    def _redact(self, output):
        if "text" in output:
            output.text = self._clean(output.text)
        if "traceback" in output:
            output.traceback = [self._clean(line) for line in output.traceback]
        if "evalue" in output:
            output.evalue = self._clean(output.evalue)
        for key, value in list(output.get("data", {}).items()):
            if isinstance(value, str):
                output.data[key] = self._clean(value)
            elif isinstance(value, list):
                output.data[key] = [self._clean(v) if isinstance(v, str) else v for v in value]

    def _clean(self, text):
        plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
        changed = plain != text
        for line in self.hidden_lines:
            if line in plain:
                plain = plain.replace(line, REDACTED)
                changed = True
        return plain if changed else text


class _TemplateCode(jinja2.BytecodeCache):
    """Jinja's compiled template code, kept in this process's memory. Jinja checks each entry
    against its template's source (a checksum), so an edited template is compiled again."""

    def __init__(self):
        self.code = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _TemplateCode()


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter (HTMLExporter, configured by ``HTMLExporter`` settings as
    nbgrader sets them) whose Jinja environment shares :data:`TEMPLATE_CODE`: nbgrader makes a
    new exporter, and so a new environment, for every submission, and compiling the feedback
    templates again each time was about a tenth of a warm submission's CPU."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = TEMPLATE_CODE
        return environment


def load_course_config(course_config_path):
    """The course's nbgrader config (``grader/nbgrader_config.py``) as a traitlets Config."""
    config = Config()
    if course_config_path and os.path.exists(course_config_path):
        loader = PyFileConfigLoader(os.path.basename(course_config_path),
                                    path=os.path.dirname(os.path.abspath(course_config_path)))
        config.merge(loader.load_config())
    return config


def grading_config(course_root, course_config_path=None, timeout=None, memory_mb=None,
                   sandbox_root=None, hidden_lines=(), ignore=None, warm=False):
    """The full config for grading inside ``course_root`` (a private nbgrader course folder)."""
    config = load_course_config(course_config_path)
    overrides = Config()
    course = overrides.CourseDirectory
    course.root = course_root
    course.source_directory = "source"
    course.release_directory = "release"
    course.submitted_directory = "submitted"
    course.autograded_directory = "autograded"
    course.feedback_directory = "feedback"
    course.db_url = "sqlite:///" + os.path.join(course_root, "gradebook.db")
    if ignore is not None:
        course.ignore = list(ignore)
    if timeout is not None:
        overrides.Execute.timeout = int(timeout)
        overrides.ExecutePreprocessor.timeout = int(timeout)
    overrides.Execute.interrupt_on_timeout = True
    overrides.Execute.shutdown_kernel = "immediate"
    overrides.Execute.startup_timeout = 120
    overrides.OverwriteCells.add_missing_cells = True
    if sandbox_root:
        overrides.SandboxKernelManager.sandbox_root = sandbox_root
    if memory_mb:
        overrides.SandboxKernelManager.memory_mb = int(memory_mb)
    overrides.SandboxKernelManager.warm = bool(warm)
    overrides.Autograde.sanitize_preprocessors = [
        ClearOutput, DeduplicateIds, DropEmptyNbgraderMetadata, OverwriteKernelspec, OverwriteCells,
        CheckCellMetadata,
    ]
    overrides.Autograde.autograde_preprocessors = [
        SandboxedExecute, IgnorePattern, StderrAsOutput, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    overrides.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    overrides.GenerateFeedback.exporter_class = FeedbackExporter
    overrides.HideHiddenTests.hidden_lines = list(hidden_lines)
    config.merge(overrides)
    return config
