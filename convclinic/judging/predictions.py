"""Predict, then let TensorFlow show: the ungraded prediction cells of assignments 01-05.

Predicting a case the learner could simply run earns nothing, so predictions carry
no points (the judging spec, "Predictions"). The locked cell under a prediction
calls :func:`reveal` (an assignment's ``reveal_predictions``, made by
:func:`revealer`): until every case holds a prediction it only says so; then
it runs each call with the installed TensorFlow (:func:`convclinic.judging.truth.outcome`),
in the learner's own kernel (teaching only, no verdict), and prints the
prediction beside what really happened and why. Lessons 01-05 teach the
behaviours the cases show.

A prediction may be an output shape written any way (tuple, list, NumPy array,
``TensorShape``, NumPy ints) or an error: its name (``"ValueError"``) or the
class itself (``ValueError``).
"""

from __future__ import annotations

from convclinic.judging.truth import outcome

UNANSWERED = "predict it: replace the ... with a shape tuple or an error name"


def normalize(value):
    """A prediction as a tuple of ints/None, an error name, or None when it is not readable."""
    if value is Ellipsis or value is None:
        return None
    if isinstance(value, type) and issubclass(value, BaseException):
        return value.__name__
    if isinstance(value, str):
        return value.strip() or None
    if hasattr(value, "as_list"):  # tf.TensorShape
        value = value.as_list()
    try:
        items = list(value)
    except TypeError:
        return None
    try:
        return tuple(None if item is None else int(item) for item in items)
    except (TypeError, ValueError):
        return None


def _shown(value):
    return repr(value) if isinstance(value, str) else str(value)


def reveal(predictions, cases):
    """Print each prediction beside what TensorFlow does; nothing until all are predicted.

    ``cases`` maps a key to ``(description, call, why)``. Returns the number of
    right predictions (None while some case is unanswered). Never raises for a
    learner's malformed ``predictions``.
    """
    if not isinstance(predictions, dict):
        print("PREDICTIONS must be a dict like {\"a\": (1, 26, 26, 8), \"b\": \"ValueError\", ...}")
        return None
    missing = [key for key in cases if normalize(predictions.get(key)) is None]
    if missing:
        print(f"Not revealed yet: case(s) {', '.join(map(repr, missing))}: {UNANSWERED}.")
        return None
    right = 0
    for key, (description, call, why) in cases.items():
        truth = outcome(call)
        predicted = normalize(predictions[key])
        mark = "right" if predicted == truth else "WRONG"
        right += predicted == truth
        verb = "raises" if isinstance(truth, str) else "returns shape"
        print(f"{key!r} {description}: you predicted {_shown(predicted)}; TensorFlow {verb} "
              f"{_shown(truth)} [{mark}]\n      why: {why}")
    print(f"{right} of {len(cases)} right (predictions carry no points).")
    return right


def revealer(prediction_cases):
    """An assignment's ``reveal_predictions``, the function of the locked cell under its
    predictions: :func:`reveal` on ``prediction_cases()`` (built when the cell runs)."""
    def reveal_predictions(predictions):
        """Reveal TensorFlow's answers once every case is predicted (see :func:`reveal`)."""
        return reveal(predictions, prediction_cases())
    return reveal_predictions
