"""Grading helpers imported by the test cells of the nbgrader assignments (solutions/).

The test cells of every assignment (``01-channel-axis`` ... ``06-shape-detective``)
use these helpers so that

- the truth is asked from the REAL TensorFlow/Keras at grading time
  (:func:`outcome`, :func:`check_predictions`, :func:`keras_output_shape`), never
  from a table that could drift with a new release;
- every failed check explains itself ("n_H is wrong: got 13, expected 9,
  because ..."), see :func:`expect_equal`;
- stderr noise can never cost a point: nbgrader gives ZERO points to a test cell
  with ANY stderr output (shared/PITFALLS.md, "stderr scores zero"), so each
  part runs inside :func:`part`, which silences warnings, ``sys.stderr`` and the
  C-level file descriptor 2 (TensorFlow's C++ log lines) while the checks run;
- a learner without an instructor gets one clear ``PASS``/``FAIL`` line per part.

The hidden test CASES live in the notebooks (``### BEGIN HIDDEN TESTS``), not
here: this module is readable by learners.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import warnings

import numpy as np

__all__ = [
    "expect",
    "expect_equal",
    "check_predictions",
    "keras_output_shape",
    "outcome",
    "part",
    "quiet",
    "same_padding_reproduces_tf",
    "torch_conv2d_reference",
    "train_one_step",
]


@contextlib.contextmanager
def quiet():
    """Silence Python warnings, ``sys.stderr`` and file descriptor 2 for a block.

    TensorFlow writes C++ log lines straight to fd 2 and Keras warns about
    ``input_shape=``; inside a graded cell either would score zero.
    """
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - an odd stderr must not stop grading
        pass
    saved_fd = None
    devnull = None
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


@contextlib.contextmanager
def part(label):
    """Run the checks of one graded part quietly and print ``PASS``/``FAIL`` for it.

    A failing check re-raises (so nbgrader gives no points) after printing a
    one-line summary on stdout (never stderr).
    """
    try:
        with quiet():
            yield
    except NotImplementedError:
        print(f"FAIL  {label}: not answered yet (replace `raise NotImplementedError()`)")
        raise
    except NameError as error:
        print(f"FAIL  {label}: {error}; run your answer cell above first (without errors)")
        raise
    except AssertionError as error:
        first = str(error).splitlines()[0] if str(error) else "a check failed"
        print(f"FAIL  {label}: {first}")
        raise
    except Exception as error:
        print(f"FAIL  {label}: your code raised {type(error).__name__}: {_headline(error)}")
        raise
    print(f"PASS  {label}")


def _headline(error):
    from convclinic.runtime import headline

    return headline(error)


def expect(condition, message):
    """``assert`` with a teaching message (kept as a function so -O cannot drop it)."""
    if not condition:
        raise AssertionError(message)


def expect_equal(got, expected, what, because=""):
    """Fail with "<what> is wrong: got X, expected Y, because ..." when they differ."""
    if _normalize(got) != _normalize(expected):
        reason = f", because {because}" if because else ""
        raise AssertionError(f"{what} is wrong: got {got!r}, expected {expected!r}{reason}")


def _normalize(value):
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype), value.tobytes())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, list | tuple):
        return tuple(_normalize(item) for item in value)
    return value


# --- the truth, from the real TensorFlow ------------------------------------------------


def _keras():
    from convclinic.runtime import import_keras

    return import_keras()


def outcome(call):
    """Run ``call()`` for real: the output shape as a tuple, or the error type's name."""
    with quiet():
        try:
            result = call()
        except Exception as error:  # noqa: BLE001 - the error IS the outcome
            return type(error).__name__
    return tuple(int(v) if v is not None else None for v in result.shape)


def _prediction(value):
    if isinstance(value, type) and issubclass(value, BaseException):
        return value.__name__
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple):
        try:
            return tuple(int(v) if v is not None else None for v in value)
        except (TypeError, ValueError):
            return tuple(value)
    return value


def check_predictions(predictions, cases):
    """Compare a learner's predictions with what real TensorFlow does, case by case.

    ``predictions`` maps a case key to an output shape (tuple) or an error type
    name (``"ValueError"``). ``cases`` maps the same keys to ``(description,
    call, why)``: ``call()`` runs the real Keras code NOW, ``why`` explains the
    real behaviour. Fails listing every wrong or missing prediction.
    """
    expect(
        isinstance(predictions, dict),
        f"PREDICTIONS must be a dict of case -> prediction, got {type(predictions).__name__}",
    )
    problems = []
    for key, (description, call, why) in cases.items():
        truth = outcome(call)
        if key not in predictions:
            problems.append(f"case {key!r} ({description}) has no prediction")
            continue
        predicted = _prediction(predictions[key])
        if predicted != truth:
            kind = "raises" if isinstance(truth, str) else "returns shape"
            problems.append(
                f"case {key!r} ({description}) is wrong: you predicted {predicted!r}, "
                f"real TensorFlow {kind} {truth!r}, because {why}"
            )
    expect(not problems, f"{len(problems)} prediction(s) wrong:\n  " + "\n  ".join(problems))


def keras_output_shape(layer_list, input_shape):
    """Output shape of real Keras layers stacked on ``input_shape`` (without batch).

    Returns the shape without the batch axis, or the error type name when Keras
    refuses the stack.
    """
    keras = _keras()

    def build():
        inputs = keras.Input(tuple(input_shape))
        outputs = inputs
        for layer in layer_list:
            outputs = layer(outputs)
        return outputs

    result = outcome(build)
    return result if isinstance(result, str) else tuple(result[1:])


def train_one_step(model, images, labels):
    """Train a learner's model for one step on the given data; return the loss.

    Fails with a teaching message when the model is not a compiled Keras model
    or the step raises.
    """
    keras = _keras()
    expect(
        isinstance(model, keras.Model),
        f"build_fixed_model() must return a keras Model, got {type(model).__name__}",
    )
    expect(
        getattr(model, "optimizer", None) is not None and model.compiled,
        "the model is not compiled: call model.compile(optimizer=..., loss=...) before returning it",
    )
    try:
        loss = model.train_on_batch(images, labels)
    except Exception as error:  # noqa: BLE001 - turned into a teaching message
        raise AssertionError(
            f"one training step on data of shape {tuple(images.shape)} and dtype "
            f"{images.dtype} failed: {type(error).__name__}: {_headline(error)}"
        ) from None
    if isinstance(loss, list | tuple):
        loss = loss[0]
    loss = float(loss)
    expect(math.isfinite(loss), f"the training loss is {loss}: not a finite number")
    return loss


def same_padding_reproduces_tf(split, size, kernel_size, stride=1, dilation=1):
    """Does padding explicitly with ``split=(before, after)`` reproduce TF's SAME?

    Pads a random row of ``size`` pixels with ``split`` zeros, runs a VALID
    convolution and compares with TF's ``padding="SAME"`` on the unpadded row
    (same random kernel). Returns ``(ok, detail)``.
    """
    from convclinic.runtime import import_tensorflow

    tf = import_tensorflow()
    before, after = (int(v) for v in split)
    if before < 0 or after < 0:
        return False, f"padding cannot be negative: {(before, after)}"
    rng = np.random.default_rng(size * 1000 + kernel_size * 100 + stride * 10 + dilation)
    row = rng.normal(size=(1, 1, size, 1)).astype("float32")
    kernel = rng.normal(size=(1, kernel_size, 1, 1)).astype("float32")
    with quiet():
        same = tf.nn.conv2d(row, kernel, strides=stride, padding="SAME", dilations=dilation)
        padded = np.pad(row, ((0, 0), (0, 0), (before, after), (0, 0)))
        try:
            valid = tf.nn.conv2d(
                padded, kernel, strides=stride, padding="VALID", dilations=dilation
            )
        except Exception as error:  # noqa: BLE001
            return False, f"the padded input cannot even be convolved: {_headline(error)}"
    same, valid = np.asarray(same), np.asarray(valid)
    if same.shape != valid.shape:
        return False, (
            f"with that padding the output has {valid.shape[2]} pixels, TF's SAME gives "
            f"{same.shape[2]}"
        )
    if not np.allclose(same, valid, atol=1e-5):
        return False, "the output size matches but the values differ: the zeros are on the wrong side"
    return True, "ok"


def torch_conv2d_reference(images_nchw, weight_oihw):
    """What PyTorch's ``F.conv2d(x, weight)`` (no padding, stride 1) computes, in NumPy.

    PyTorch convolution is a cross-correlation over an (out, in, kh, kw) kernel.
    Used by assignment 04 to check a converted kernel without needing PyTorch.
    """
    x = np.asarray(images_nchw, dtype="float64")
    w = np.asarray(weight_oihw, dtype="float64")
    _, _, kernel_h, kernel_w = w.shape
    out_h = x.shape[2] - kernel_h + 1
    out_w = x.shape[3] - kernel_w + 1
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_h, kernel_w), axis=(2, 3))
    windows = windows[:, :, :out_h, :out_w]
    return np.einsum("ncijkl,ockl->noij", windows, w)
