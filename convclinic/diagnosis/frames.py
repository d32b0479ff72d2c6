"""Read an exception's traceback frames: which Keras, which layer, which constructor.

Lesson 06 tells learners to turn Keras's traceback filtering off
(``keras.config.disable_traceback_filtering()``) to see the layer that
raised; :func:`full_tracebacks` does that around the calls ``diagnose`` makes.
"""

from __future__ import annotations

import contextlib

from convclinic.diagnosis.context import is_layer, is_model, keras_for, model_layers

__all__ = ["full_tracebacks", "locate_from_traceback", "deepest_layer", "constructor_frame",
           "owner_of_weight", "error_from_tf_keras", "frames_of"]

_CONSTRUCTOR_ARGUMENTS = ("filters", "kernel_size", "strides", "padding", "data_format",
                          "dilation_rate", "groups", "pool_size")


def frames_of(error):
    """The frames of ``error``'s traceback, outermost first."""
    frames, tb = [], getattr(error, "__traceback__", None)
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def error_from_tf_keras(error):
    return any("tf_keras" in frame.f_code.co_filename for frame in frames_of(error))


@contextlib.contextmanager
def full_tracebacks():
    """Keep every frame in tracebacks (Keras and TF filter them) so the layer can be found."""
    from convclinic.runtime import import_tensorflow

    tf = import_tensorflow()
    keras = keras_for(False)
    keras_state = keras.config.is_traceback_filtering_enabled()
    tf_state = tf.debugging.is_traceback_filtering_enabled()
    keras.config.disable_traceback_filtering()
    tf.debugging.disable_traceback_filtering()
    try:
        yield
    finally:
        if keras_state:
            keras.config.enable_traceback_filtering()
        if tf_state:
            tf.debugging.enable_traceback_filtering()


def locate_from_traceback(ctx, error):
    """Fill ``ctx`` from the frames of ``error``: Keras version, layer, constructor args."""
    if not isinstance(error, BaseException):
        return
    ctx.legacy = ctx.legacy or error_from_tf_keras(error)
    ctx.init_args, constructing = constructor_frame(error)
    ctx.failing = constructing or deepest_layer(error)


def deepest_layer(error):
    """The innermost non-model layer whose method is in the traceback."""
    found = None
    for frame in frames_of(error):
        owner = frame.f_locals.get("self")
        if is_layer(owner) and not is_model(owner) and type(owner).__name__ != "InputLayer":
            found = owner
    return found


def constructor_frame(error):
    """The arguments of the layer constructor that raised, and the layer, if any."""
    found, layer = None, None
    for frame in frames_of(error):
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "__init__" and is_layer(owner) and not is_model(owner):
            found = {k: frame.f_locals[k] for k in _CONSTRUCTOR_ARGUMENTS if k in frame.f_locals}
            layer = owner
    return found, layer


def owner_of_weight(error, wanted):
    """Name the layer whose weight has shape ``wanted``, from the model in the traceback."""
    for frame in frames_of(error):
        owner = frame.f_locals.get("self")
        if is_model(owner):
            for layer in model_layers(owner):
                for weight in getattr(layer, "weights", []):
                    if tuple(int(v) for v in weight.shape) == tuple(wanted):
                        return layer.name
    return None
