"""Keras 2 and Keras 3 side by side, and the versions a bug report needs.

Taught in lesson 05 (``notebooks/05-framework-version-hardware.ipynb``):

- :func:`side_by_side` runs one Conv2D scenario under Keras 2 (the
  ``tf_keras`` package) and Keras 3 (``keras``) and records each
  :class:`convclinic.outcome.Outcome` (:mod:`convclinic.claims` does it for
  every claim of the older-tutorials table);
- :func:`keras_versions` names the two installed packages;
- :func:`count_input_shape_warnings` shows why the ``input_shape=`` warning
  appears once however many layers get it;
- :func:`environment_summary` lists the versions a framework bug report needs.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import platform
import warnings

from convclinic.outcome import attempt
from convclinic.runtime import import_keras, import_tensorflow_without_op

__all__ = [
    "KERAS_LABELS",
    "side_by_side",
    "keras_versions",
    "count_input_shape_warnings",
    "environment_summary",
]

#: The two Kerases, as the lessons name them, and whether each is the legacy package.
KERAS_LABELS = (("Keras 2", True), ("Keras 3", False))


def keras_versions():
    """``{"Keras 2": "tf_keras 2.x.y", "Keras 3": "keras 3.x.y"}`` for the installed packages."""
    return {
        "Keras 2": f"tf_keras {import_keras(legacy=True).__version__}",
        "Keras 3": f"keras {import_keras(legacy=False).__version__}",
    }


def side_by_side(scenario):
    """Run ``scenario(keras)`` under Keras 2 (``tf_keras``) and Keras 3 (``keras``).

    Lesson 05, "Keras 2 and Keras 3 side by side". ``scenario`` receives the
    Keras module and returns what to show (an output shape, say) or raises.
    Returns ``{"Keras 2": Outcome, "Keras 3": Outcome}``. ``input_shape=``
    warnings raised inside are not shown (lesson 05 treats them separately).
    """
    outcomes = {}
    for label, legacy in KERAS_LABELS:
        keras = import_keras(legacy=legacy)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Do not pass an `input_shape`")
            outcomes[label] = attempt(scenario, keras)
    return outcomes


def count_input_shape_warnings(layers_to_make=3):
    """How many ``input_shape=`` UserWarnings Python SHOWS for several Conv2D layers.

    Lesson 05, "The input_shape warning". Python's default filter shows a
    warning once per code location, and Keras issues this one from its own
    code, so only the first layer in a session prints it. Warnings are
    recorded under the default filter in a fresh registry, so the answer
    does not depend on what ran before.
    """
    keras = import_keras()
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for _ in range(layers_to_make):
            keras.layers.Conv2D(8, 3, input_shape=(28, 28, 1))
    return [warning for warning in caught if "input_shape" in str(warning.message)]


def environment_summary():
    """The versions a framework bug report needs, as ``{name: version}``. Lesson 05.

    Python, platform, NumPy, TensorFlow, Keras 3, Keras 2 (``tf_keras``, when
    installed), whether TensorFlow was built with CUDA, and the GPUs it sees.
    TensorFlow is imported without running an op, so GPU settings can still
    change afterwards (:func:`convclinic.gpu.enable_memory_growth`).
    """
    import numpy as np

    tf = import_tensorflow_without_op()
    summary = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": import_keras().__version__,
    }
    try:
        summary["tf_keras"] = import_keras(legacy=True).__version__
    except ImportError:
        summary["tf_keras"] = "not installed"
    summary["tf built with CUDA"] = str(bool(tf.test.is_built_with_cuda()))
    summary["gpus"] = ", ".join(d.name for d in tf.config.list_physical_devices("GPU")) or "none"
    return summary
