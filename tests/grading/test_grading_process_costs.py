"""What every grading process and every submission would pay again for nothing.

- jsonschema (imported by nbformat) imports the optional ``rfc3987_syntax`` only to check the
  "iri" formats, and that import builds a parser (about 1.5 s of CPU per process):
  ``convclinic.grading`` keeps it out of grading processes, and notebooks still validate.
- nbgrader makes a new feedback exporter for every submission: :class:`FeedbackExporter`
  keeps the compiled Jinja templates for the process, and its page is the HTMLExporter's.
- a kernel forked from the warm fork server imports nothing more while it starts: the
  server's warm imports cover what a starting ipykernel imports (debugpy, IPython's helpers).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
import textwrap

import jinja2
import nbformat
import pytest

from tests.conftest import ROOT

PROBE = textwrap.dedent("""
    import json, sys
    import convclinic.grading.pipeline, nbformat
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.validate(good)
    bad = nbformat.v4.new_notebook()
    bad.cells.append({"cell_type": "code", "source": 1})
    try:
        nbformat.validate(bad)
        rejected = False
    except nbformat.ValidationError:
        rejected = True
    print(json.dumps({"rfc3987_syntax": sys.modules.get("rfc3987_syntax") is not None,
                      "jsonschema": "jsonschema" in sys.modules, "rejected": rejected}))
""")


def test_grading_processes_skip_rfc3987_syntax_and_notebooks_still_validate():
    assert importlib.util.find_spec("rfc3987_syntax") is not None, "installed: jsonschema would import it"
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=120)
    assert json.loads(done.stdout) == {"rfc3987_syntax": False, "jsonschema": True, "rejected": True}


def feedback_config():
    """The exporter settings nbgrader's GenerateFeedback gives its HTMLExporter."""
    import os

    import nbgrader.converters
    from traitlets.config import Config

    formgrader = os.path.join(os.path.dirname(nbgrader.converters.__file__), "..", "server_extensions", "formgrader")
    config = Config()
    config.HTMLExporter.template_name = "feedback"
    config.HTMLExporter.extra_template_basedirs = [os.path.join(formgrader, "templates")]
    config.HTMLExporter.extra_template_paths = [
        os.path.join(formgrader, "static", "node_modules", "bootstrap", "dist", "css")]
    return config


def notebook():
    cells = [nbformat.v4.new_markdown_cell("# Feedback"),
             nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")])]
    return nbformat.v4.new_notebook(cells=cells)


def test_feedback_exporter_compiles_its_templates_once_and_renders_the_htmlexporters_page(monkeypatch):
    from nbconvert.exporters import HTMLExporter

    from convclinic.grading import nbgrader_setup
    from convclinic.grading.nbgrader_setup import FeedbackExporter

    compiled = []
    original = jinja2.Environment.compile

    def counting(self, source, name=None, filename=None, *args, **kwargs):
        compiled.append(name)
        return original(self, source, name, filename, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    monkeypatch.setattr(nbgrader_setup, "TEMPLATE_CODE", nbgrader_setup._TemplateCode())
    resources = {"metadata": {"name": "feedback"},
                 "nbgrader": {"notebook": "feedback", "score": 1.0, "max_score": 2.0, "late_penalty": 0.0}}
    page_of = notebook()  # one notebook (new cells get random ids), a deep copy per export
    plain, _ = HTMLExporter(config=feedback_config()).from_notebook_node(copy.deepcopy(page_of),
                                                                        resources=copy.deepcopy(resources))
    assert compiled, "HTMLExporter compiles its templates"
    compiled.clear()
    pages = []
    for _ in range(3):  # as nbgrader does: a new exporter for every submission
        page, _ = FeedbackExporter(config=feedback_config()).from_notebook_node(copy.deepcopy(page_of),
                                                                              resources=copy.deepcopy(resources))
        pages.append(page)
        if len(pages) == 1:
            first = len(compiled)
            assert first > 0
    assert len(compiled) == first, "the second and third exporter compiled templates again"
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # uuid4 in pages
    assert {ids.sub("ID", page) for page in pages} == {ids.sub("ID", plain)}


def test_an_edited_template_is_compiled_again(tmp_path):
    from convclinic.grading.nbgrader_setup import _TemplateCode

    cache = _TemplateCode()
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.j2").write_text("one {{ x }}")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), bytecode_cache=cache)
    assert environment.get_template("page.j2").render(x=1) == "one 1"
    assert len(cache.code) == 1
    (folder / "page.j2").write_text("two {{ x }}")
    fresh = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), bytecode_cache=cache)
    assert fresh.get_template("page.j2").render(x=2) == "two 2"


#: Fork a kernel as the fork server does (after its warm imports) and list what the kernel's
#: start imports on top (IPKernelApp.initialize: kernel, shell, debugger, history).
FORKED_START = textwrap.dedent("""
    import json, os, sys, tempfile
    from convclinic.grading import zygote
    zygote.warm_imports()
    from jupyter_client.connect import write_connection_file
    os.environ["HOME"] = tempfile.mkdtemp()
    folder = tempfile.mkdtemp()
    connection, _ = write_connection_file(fname=os.path.join(folder, "kernel.json"), transport="ipc",
                                          ip=os.path.join(folder, "k"))
    before, report = set(sys.modules), os.path.join(folder, "report.json")
    pid = os.fork()
    if pid == 0:
        try:
            from ipykernel.kernelapp import IPKernelApp
            IPKernelApp.instance().initialize(["-f", connection])
            with open(report, "w") as handle:
                json.dump(sorted(set(sys.modules) - before), handle)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    print(open(report).read())
""")


@pytest.mark.slow
def test_a_forked_kernel_imports_nothing_while_it_starts():
    done = subprocess.run([sys.executable, "-c", FORKED_START], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=300)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
