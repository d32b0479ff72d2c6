"""Assignment 05 (framework, version, hardware): the judged parts. Lesson 05 teaches both.

- ``ex05-memory-growth``: ``enable_memory_growth(tf)`` on the recording fake
  ``tf`` of :func:`convclinic.judging.kernel.fake_tensorflow` (every real API
  spelling works there: positional or ``device_type=``, the ``experimental``
  aliases, ``enable=`` by keyword). The kernel records the calls and the names
  returned; the judge decides by the rules of lesson 05.
- ``ex05-keras3-input``: ``build_model(input_shape)`` declared with
  ``keras.Input``. The kernel records the warnings building it raised and the
  model as data (:mod:`convclinic.judging.models`); the judge rebuilds it
  (:func:`convclinic.judging.truth.rebuild_model`: ``safe_mode``, default
  ``keras.config``) and reads its layers and shapes.

The predictions of Part 3 (Keras 3 against Keras 2) carry no points:
:func:`reveal_predictions`.
"""

from __future__ import annotations

from convclinic.judging.casework import call, error_text, hint_of, judge_each
from convclinic.judging.core import Part, register
from convclinic.judging.models import layers_of, record_model
from convclinic.judging.predictions import revealer

MAX_GPUS = 16


# --- Part 1: memory growth -------------------------------------------------------------------


def gpu_names(count):
    return [f"/physical_device:GPU:{index}" for index in range(count)]


def as_names(value):
    """The learner's result as a list of strings (device objects are refused: return ``.name``)."""
    items = list(value)
    if not all(isinstance(item, str) for item in items):
        kinds = sorted({type(item).__name__ for item in items if not isinstance(item, str)})
        raise TypeError(f"the list holds {', '.join(kinds)} objects, not names: return gpu.name")
    return items


def collect_growth(answers, cases):
    """Run ``enable_memory_growth`` on a fake ``tf`` with ``count`` GPUs; record calls and result."""
    from convclinic.judging.kernel import fake_tensorflow

    enable_memory_growth = answers["enable_memory_growth"]
    data = []
    for count in cases:
        fake, calls = fake_tensorflow(int(count))
        result = call(enable_memory_growth, fake, convert=as_names)
        data.append({"result": result, "calls": [list(item) for item in calls]})
    return data


GROWTH_REQUIREMENTS = (
    "set_memory_growth(gpu, True) is called for EVERY GPU",
    "no other device (the CPU) gets memory growth, and no GPU gets it switched off",
    "it returns the names of all the GPUs (an empty list on a machine without GPU)",
)


def _read_calls(calls):
    if not isinstance(calls, list) or len(calls) > 1000:
        return None
    pairs = []
    for item in calls:
        if (not isinstance(item, list) or len(item) != 3 or item[0] != "set_memory_growth"
                or not isinstance(item[1], str) or not isinstance(item[2], bool)):
            return None
        pairs.append((item[1], item[2]))
    return pairs


def _check_growth(verdicts, count, row):
    count = int(count)
    expected = gpu_names(count)
    pairs = _read_calls(row.get("calls"))
    result = row.get("result")
    error = error_text(result, "enable_memory_growth")
    if pairs is None or error:
        text = error or "the calls could not be read"
        for index in range(3):
            verdicts.fail(index, text, hint_of(text))
        return
    grown = {name for name, enable in pairs if enable}
    missing = [name for name in expected if name not in grown]
    if missing:
        only_first = count > 1 and grown == {expected[0]}
        why = ("only the first GPU gets memory growth: loop over every GPU" if only_first
               else "call tf.config.experimental.set_memory_growth(gpu, True) for each GPU")
        verdicts.fail(0, f"with {count} GPUs, {len(missing)} got no memory growth: {why}", why)
    wrong = sorted({name for name, enable in pairs if name not in expected or not enable})
    if wrong:
        why = ("list the GPUs only: tf.config.list_physical_devices('GPU'), then set_memory_growth(gpu, True)")
        verdicts.fail(1, f"with {count} GPUs, memory growth was set on {wrong} (or set to False): {why}", why)
    names = result.get("value") if isinstance(result, dict) else None
    if not isinstance(names, list | tuple) or sorted(names) != expected:
        why = "return [gpu.name for gpu in the GPUs]: every GPU's name, nothing else"
        if count == 0:
            why = "without a GPU it must return an empty list (and not fail)"
        verdicts.fail(2, f"with {count} GPUs it returned {names!r}, expected {expected!r}: {why}", why)


def judge_growth(data, cases, hidden):
    """Part 1 verdicts from the recorded calls and result."""
    return judge_each(GROWTH_REQUIREMENTS, data, cases, hidden, _check_growth)


# --- Part 2: Keras 3 input ---------------------------------------------------------------------


def collect_model(answers, cases):
    """Build the learner's model for each input shape (``None``: the default argument);
    record the warnings it raised and the model (:func:`record_model`)."""
    import warnings

    build_model = answers["build_model"]
    data = []
    for shape in cases:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            built = call(build_model, *([] if shape is None else [tuple(shape)]), convert=record_model)
        texts = [str(w.message).splitlines()[0][:160] for w in caught if issubclass(w.category, UserWarning)]
        data.append({"model": built, "warnings": texts})
    return data


KERAS3_REQUIREMENTS = (
    "building the model emits no warning: the input is a keras.Input, not input_shape= on a layer",
    "the model's input is (None, *input_shape) for any input_shape, (28, 28, 1) by default",
    "the layers are Conv2D(32, 3, relu) with valid padding, Flatten, Dense(10)",
)


def _check_layers(verdicts, model, shape):
    from convclinic.runtime import import_keras

    keras = import_keras()
    stack = [layer for layer in layers_of(model) if not isinstance(layer, keras.layers.InputLayer)]
    kinds = [type(layer).__name__ for layer in stack]
    why = "keep the layers: Conv2D(32, 3, activation='relu'), Flatten(), Dense(10)"
    if kinds != ["Conv2D", "Flatten", "Dense"]:
        verdicts.fail(2, f"the layers are {kinds}: {why}", why)
        return
    conv, _, dense = (layer.get_config() for layer in stack)
    settings = (conv["filters"], tuple(conv["kernel_size"]), tuple(conv["strides"]), conv["padding"],
                tuple(conv["dilation_rate"]), conv["activation"], dense["units"])
    if settings != (32, (3, 3), (1, 1), "valid", (1, 1), "relu", 10):
        verdicts.fail(2, f"the Conv2D or Dense settings differ from the Keras 2 model: {why}", why)
        return
    height, width = shape[0] - 2, shape[1] - 2
    if tuple(stack[0].output.shape) != (None, height, width, 32) or tuple(model.output_shape) != (None, 10):
        verdicts.fail(2, f"for input {shape} the Conv2D gives {tuple(stack[0].output.shape)}, expected "
                         f"{(None, height, width, 32)}: {why}", why)


def _check_keras3(verdicts, shape, row):
    shape = (28, 28, 1) if shape is None else tuple(shape)
    built = row.get("model")
    error = error_text(built, "build_model")
    if error:
        for index in range(3):
            verdicts.fail(index, error, hint_of(error))
        return
    recorded = built.get("value") if isinstance(built, dict) else None
    warned = row.get("warnings")
    shape_arg = isinstance(recorded, dict) and recorded.get("input_shape_arg")
    if warned or shape_arg:
        why = "declare the input with keras.Input(input_shape) as the first item, not input_shape= on a layer"
        shown = f"building the model warned: {warned[0]!r}" if warned else "a layer still got input_shape="
        verdicts.fail(0, f"{shown}; {why}", why)
    from convclinic.judging.truth import ModelError, rebuild_model

    try:
        model = rebuild_model(recorded, compile=False)
    except ModelError as error:
        verdicts.fail(1, str(error), str(error))
        verdicts.fail(2, str(error), str(error))
        return
    if tuple(model.input_shape) != (None, *shape):
        why = "use the input_shape argument: keras.Input(input_shape), never a fixed shape"
        verdicts.fail(1, f"build_model({shape}) has input {tuple(model.input_shape)}, expected "
                         f"{(None, *shape)}: {why}", why)
        return
    _check_layers(verdicts, model, shape)


def judge_keras3(data, cases, hidden):
    """Part 2 verdicts: warnings recorded in the kernel, layers read from the rebuilt model."""
    return judge_each(KERAS3_REQUIREMENTS, data, cases, hidden, _check_keras3)


# --- Part 3: predictions (no points) -------------------------------------------------------


def declared_model(library):
    """Conv2D(32, 3) on a declared (28, 28, 1) input, in Keras 3 (keras) or Keras 2 (tf_keras)."""
    return library.Sequential([
        library.Input((28, 28, 1)),
        library.layers.Conv2D(32, 3, activation="relu", data_format="channels_last"),
    ])


def prediction_cases():
    """The calls of Part 3: ``{key: (description, call, why)}``."""
    import numpy as np
    import tf_keras

    from convclinic.runtime import import_keras

    keras = import_keras()

    def model_on(library, shape):
        return lambda: declared_model(library)(np.zeros(shape, dtype="float32"))

    def padding_on(library):
        return lambda: library.layers.Conv2D(8, 3, padding="invalid")(np.zeros((1, 28, 28, 1), "float32"))

    return {
        "a": ("Keras 3, (1, 100, 100)", model_on(keras, (1, 100, 100)),
              "Keras 3 models add the missing trailing axis when the declared one is 1, and do not "
              "enforce height and width: 100 - 3 + 1 = 98"),
        "b": ("Keras 2, (1, 100, 100)", model_on(tf_keras, (1, 100, 100)),
              "Keras 2 checks the declared shape: expected shape=(None, 28, 28, 1)"),
        "c": ("Keras 3, 3 channels", model_on(keras, (2, 28, 28, 3)),
              "the channel axis IS enforced: expected axis -1 to have value 1"),
        "d": ("Keras 3, padding='invalid'", padding_on(keras),
              "Keras 3 validates the padding name in the constructor"),
        "e": ("Keras 2, padding='invalid'", padding_on(tf_keras),
              "Keras 2 validates the padding name too (older tutorials claim it 'will usually build')"),
    }


reveal_predictions = revealer(prediction_cases)


PARTS = tuple(register(part) for part in (
    Part(grade_id="ex05-memory-growth", label="Part 1 enable_memory_growth",
         names=("enable_memory_growth",),
         visible=(2, 0),
         collect=collect_growth, judge=judge_growth, requirements=GROWTH_REQUIREMENTS),
    Part(grade_id="ex05-keras3-input", label="Part 2 build_model", names=("build_model",),
         visible=(None, [30, 24, 3]),
         collect=collect_model, judge=judge_keras3, requirements=KERAS3_REQUIREMENTS),
))
