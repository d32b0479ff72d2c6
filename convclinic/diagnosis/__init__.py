"""Name the cause of a failing (or silently wrong) Conv2D model, and the fix.

Taught in lesson 06 ("shape detective") and used in its exercise. The method
the lesson teaches is the one this package automates:

1. run the model on the real input and keep the real exception;
2. walk the layers one by one to find the FIRST layer that fails
   (:mod:`~convclinic.diagnosis.walk`, beside the arithmetic trace of
   :func:`convclinic.shapes.trace`);
3. compare what that layer received with the rules (lessons 00-05) and name
   the cause (:mod:`~convclinic.diagnosis.classify`: an ordered table of rules;
   :mod:`~convclinic.diagnosis.silent` when nothing was raised);
4. propose a fix that can be applied and checked (``Report.apply_fix``).

Entry points::

    import convclinic
    report = convclinic.diagnose(model_or_layer_or_builder, x)   # never raises
    report = convclinic.diagnose_error(exception)               # an error already caught
    report.ok, report.cause, report.layer, report.explanation, report.fix
    new_target, new_x = report.apply_fix(model, x)               # the fix, applied

``target`` is a Keras model (Sequential or Functional), a layer, or a
zero-argument function that builds the model (so that errors raised while
the model is constructed are diagnosed too). ``x`` is an array, a tf tensor,
or a shape (a tuple of ints; a deterministic input of that shape is made).
Keras 3 (``keras``) and Keras 2 (``tf_keras``) objects both work; their
messages differ and both are recognised.

The cause vocabulary (``Report.cause``) is :data:`CAUSES`, defined once in
:mod:`~convclinic.diagnosis.causes` and listed with the rules' precedence in
``docs/causes.md``. Modules, one idea each: ``causes`` (the vocabulary),
``report``, ``context`` (what a diagnosis knows), ``frames`` (traceback
reading), ``walk`` (the real per-layer walk), ``parsing`` (messages; no
TensorFlow), ``classify`` (the ordered rule table), ``findings`` (explanations
and fixes shared by rules), ``silent``, ``fixes`` (machine form), ``api``
(the entry points), ``reference`` (the generated doc), and for the error
side: ``calls`` (the failing model and input, found in a traceback), ``box``
(what ``%load_ext convclinic`` shows, :mod:`convclinic.ipython_extension`),
``commands`` (``convclinic diagnose``/``run``), ``examples`` (one broken cell
per cause). Importing this package does not import TensorFlow.
"""

from __future__ import annotations

from convclinic.diagnosis.api import diagnose, diagnose_error
from convclinic.diagnosis.causes import CAUSES
from convclinic.diagnosis.report import FixNotApplicable, Report

__all__ = ["CAUSES", "Report", "FixNotApplicable", "diagnose", "diagnose_error"]
