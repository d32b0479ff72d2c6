"""What the explorer feeds, and to what: the input array and a bare layer or a model.

Lessons 00, 01, 04 and 05. The input array is built in ``input_layout``
(``channels_last`` or ``channels_first``), which may differ from the layer's
``data_format``: lesson 04's silent mismatch (an NHWC image read as NCHW).
It is fed either to a bare ``keras.layers.Conv2D`` (:func:`convclinic.probe.probe`)
or to a model declared with ``keras.Input`` for the full height, width and
channels and then the Conv2D (:func:`feed_model`): lesson 01's models that add
a missing channel axis, and lesson 05's Keras 2 / Keras 3 differences. The
model is a ``Sequential``, like the learners' own: on Keras 3.15 a Sequential
does not check the declared height and width (a Functional ``keras.Model``
does), Keras 2 checks them.
Where an axis sits is :mod:`convclinic.shapes`' business (``join_shape``).
"""

from __future__ import annotations

from convclinic import shapes

__all__ = ["input_layout_of", "input_shape_for", "declared_shape", "feed_model", "run"]

#: The name of the model's ``keras.Input``: Keras quotes it in its messages, so it is fixed.
MODEL_INPUT_NAME = "input"
#: The model's name, fixed for the same reason (Keras 2 quotes it: "layer 'model'").
MODEL_NAME = "model"


def input_layout_of(data_format, input_layout=None):
    """The layout the input array is built in: ``input_layout``, or else the layer's data_format.

    A data_format Keras refuses (``"NCHW"``) leaves the array channels_last:
    the constructor's error is then the whole story.
    """
    if input_layout is not None:
        return shapes.normalize_data_format(input_layout)
    try:
        return shapes.normalize_data_format(data_format)
    except ValueError:
        return "channels_last"


def input_shape_for(height, width, channels, batch, data_format="channels_last", drop_axes=()):
    """The array's shape: NHWC or NCHW (the layout, see :func:`input_layout_of`) minus
    the axes in ``drop_axes`` (lesson 01: ``"batch"``, ``"channel"``)."""
    unknown = set(drop_axes) - {"batch", "channel"}
    if unknown:
        raise ValueError(f"drop_axes may contain 'batch' and 'channel', got {sorted(unknown)}")
    layout = input_layout_of(data_format)
    full = shapes.join_shape(batch, (height, width), channels, layout)
    names = shapes.join_shape("batch", ("height", "width"), "channel", layout)
    return tuple(size for name, size in zip(names, full, strict=True) if name not in drop_axes)


def declared_shape(height, width, channels, layout):
    """What the model declares with ``keras.Input``: the full image, no batch axis."""
    return shapes.join_shape(None, (height, width), channels, layout)[1:]


def feed_model(input_shape, declared, dtype="float32", legacy=False, **settings):
    """``Sequential([keras.Input(declared), Conv2D(**settings)])`` called on an array of ``input_shape``.

    Returns a :class:`convclinic.outcome.Outcome` like :func:`convclinic.probe.probe`:
    ``phase`` is ``construct`` (the Conv2D constructor refused an argument),
    ``build`` (the layer refused the declared input while the model was built)
    or ``call`` (the model refused the array, or the computation failed).
    ``legacy=True`` builds it with Keras 2 (``tf_keras``), lesson 05.
    """
    from convclinic.outcome import Outcome
    from convclinic.probe import conv2d_settings, make_input
    from convclinic.runtime import import_keras

    settings = conv2d_settings(**settings)
    settings.setdefault("name", "conv2d")
    keras = import_keras(legacy=legacy)
    context = dict(settings=settings, input_shape=tuple(input_shape))
    x = make_input(input_shape, dtype)
    try:
        layer = keras.layers.Conv2D(**settings)
    except Exception as error:  # noqa: BLE001 - the real error is what the learner sees
        return Outcome.of_error(error, phase="construct", **context)
    try:
        inputs = keras.Input(shape=tuple(declared), name=MODEL_INPUT_NAME)
        model = keras.Sequential([inputs, layer], name=MODEL_NAME)
    except Exception as error:  # noqa: BLE001
        return Outcome.of_error(error, phase="build", **context)
    try:
        output = model(x)
    except Exception as error:  # noqa: BLE001
        return Outcome.of_error(error, phase="call", **context)
    return Outcome(output_shape=tuple(int(v) for v in output.shape), **context)


def run(values, settings, legacy=False):
    """Feed the explorer's current ``values`` to a real layer or model.

    ``values["model_input"]``, when set, is the shape ``keras.Input`` declares
    instead of the array's full image (lesson 05: Keras 2 checks the declared
    height and width, Keras 3 does not).
    Returns ``(outcome, layer_input)``: the :class:`~convclinic.outcome.Outcome` and the
    shape the Conv2D is built on (the array's shape for a bare layer; ``(None, *declared)``
    for a model), which the rules and the drawing explain.
    """
    from convclinic import probe  # looked up at call time: tests replace probe.probe

    layout = input_layout_of(values["data_format"], values["input_layout"])
    shape = input_shape_for(values["height"], values["width"], values["channels"],
                            values["batch"], layout, values["drop_axes"])
    if values["feed_to"] == "model":
        declared = values.get("model_input") or declared_shape(
            values["height"], values["width"], values["channels"], layout)
        outcome = feed_model(shape, declared, dtype=values["dtype"], legacy=legacy, **settings)
        return outcome, (None, *declared)
    return probe.probe(shape, dtype=values["dtype"], legacy=legacy, **settings), shape
