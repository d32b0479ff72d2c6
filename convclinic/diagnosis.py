"""Name the cause of a failing (or silently wrong) Conv2D model, and the fix.

Taught in lesson 06 ("shape detective") and used in its exercise. The method
the lesson teaches is the one this module automates:

1. run the model on the real input and keep the real exception;
2. walk the layers one by one (and trace the shapes with
   :func:`convclinic.shapes.trace`) to find the FIRST layer that fails;
3. compare what that layer received with the rules (lessons 00-05) and name
   the cause;
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

Cause vocabulary (``Report.cause``; also :data:`CAUSES`):

``ok``
    it ran and nothing looks wrong.
``missing_channel_axis``
    the input has no channel axis, e.g. grayscale ``(N, H, W)``. Also
    reported when a model RAN only because Keras added the axis itself
    (a model declared ``(H, W, 1)`` expands ``(N, H, W)``: lesson 01).
``missing_batch_axis``
    one image ``(H, W, C)`` was given without its batch axis.
``channel_mismatch``
    the number of channels differs from what the layer was built for.
``data_format_mismatch``
    the input is laid out channels_first for a channels_last layer, or the
    reverse. Also reported when it ran but the layout looks wrong (silent).
``spatial_too_small``
    a (dilated) kernel or pooling window larger than the padded input, also
    after earlier layers shrank it.
``stride_dilation_conflict``
    ``strides > 1`` together with ``dilation_rate > 1``.
``invalid_padding``
    a padding value other than ``'valid'``/``'same'`` (``'invalid'``, ``1``, a list).
``invalid_data_format``
    a data_format other than ``'channels_last'``/``'channels_first'`` (``'NCHW'``).
``invalid_argument``
    non-positive filters/kernel/strides/dilation, a tuple of the wrong
    length, filters or channels not divisible by ``groups``.
``integer_dtype``
    integer (``uint8``, ``int32``) or bool input given to a float layer.
``downstream_shape_mismatch``
    a later layer (Dense after Flatten, loaded weights) got a size it was
    not built for, because an earlier padding/stride/kernel change altered it.
``nchw_unsupported_on_cpu``
    TensorFlow's CPU kernel refuses NCHW (channels_first without oneDNN, or float64).
``gpu_init_failure``
    cuDNN failed to initialise ("Failed to get convolution algorithm"), usually GPU
    memory already taken.
``unknown``
    none of the above; the raw error is kept in ``Report.message``.

Silent cases (``Report.silent`` is True: it ran, ``ok`` is False) are the
added channel axis and a layout that looks like the other data format.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from dataclasses import dataclass, field
from html import escape

import numpy as np

from convclinic import shapes
from convclinic.runtime import clean_message

__all__ = ["CAUSES", "Report", "FixNotApplicable", "diagnose", "diagnose_error"]

CAUSES = {
    "ok": "It ran and nothing looks wrong.",
    "missing_channel_axis": "The input has no channel axis (e.g. grayscale (N, H, W)).",
    "missing_batch_axis": "One image (H, W, C) was given without its batch axis.",
    "channel_mismatch": "The input has a different number of channels than the layer expects.",
    "data_format_mismatch": "The input is laid out for the other data_format (NCHW vs NHWC).",
    "spatial_too_small": "A (dilated) kernel or pooling window is larger than the padded input.",
    "stride_dilation_conflict": "strides > 1 together with dilation_rate > 1 is refused by Keras.",
    "invalid_padding": "padding must be 'valid' or 'same' (explicit amounts: ZeroPadding2D).",
    "invalid_data_format": "data_format must be 'channels_last' or 'channels_first'.",
    "invalid_argument": "A Conv2D argument is invalid (non-positive, wrong length, groups).",
    "integer_dtype": "Integer or bool input to a float layer: cast it to float32.",
    "downstream_shape_mismatch": "A later layer got a size it was not built for.",
    "nchw_unsupported_on_cpu": "TensorFlow's CPU Conv2D kernel refuses NCHW here.",
    "gpu_init_failure": "cuDNN failed to initialise (GPU memory already taken?).",
    "unknown": "Not recognised; the raw error is kept.",
}

_CHANNEL_COUNTS = (1, 3, 4)  # grayscale, RGB, RGBA: what an image's channel axis usually holds


class FixNotApplicable(Exception):
    """Raised by :meth:`Report.apply_fix` when the fix is advice, not an automatic change."""


# --------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------


@dataclass
class Report:
    """What :func:`diagnose` found. ``str()`` gives plain text; Jupyter shows HTML.

    ``input_fix`` (a function of the input) and ``config_fix`` (``{layer name:
    {argument: new value}}``) are the fix in machine form; :meth:`apply_fix`
    applies them to a model or layer and an input.
    """

    ok: bool
    cause: str
    layer: str | None = None
    explanation: str = ""
    fix: str = ""
    error_type: str | None = None
    message: str | None = None
    phase: str | None = None  # 'construct' | 'build' | 'call' | None
    input_shape: tuple | None = None
    output_shape: tuple | None = None
    silent: bool = False
    legacy: bool = False
    steps: list = field(default_factory=list, repr=False)  # (layer, input shape, output or error)
    trace: shapes.Trace | None = field(default=None, repr=False)
    input_fix: object = field(default=None, repr=False)
    config_fix: dict | None = None

    # ---- the fix, applied -------------------------------------------------------------

    def fixed_input(self, x):
        """Apply the input part of the fix (``np.expand_dims``, a transpose, a cast...)."""
        if self.input_fix is None:
            raise FixNotApplicable(f"the fix for {self.cause!r} does not change the input")
        return self.input_fix(_materialise(x))

    def fixed_model(self, target):
        """A NEW model or layer built from ``target``'s config with ``config_fix`` applied.

        Weights are fresh: a Dense rebuilt this way is made for the size it now receives.
        """
        if self.config_fix is None:
            raise FixNotApplicable(f"the fix for {self.cause!r} does not change the model")
        return _rebuild(target, self.config_fix)

    def apply_fix(self, target, x):
        """Return ``(new_target, new_x)`` with every machine-applicable part of the fix."""
        if self.input_fix is None and self.config_fix is None:
            raise FixNotApplicable(f"no automatic fix for {self.cause!r}: read report.fix")
        new_target = self.fixed_model(target) if self.config_fix is not None else target
        new_x = self.fixed_input(x) if self.input_fix is not None else _materialise(x)
        return new_target, new_x

    # ---- display ----------------------------------------------------------------------

    @property
    def title(self):
        if self.ok:
            shape = f": output shape {self.output_shape}" if self.output_shape else ""
            return f"OK{shape}"
        where = f" in layer '{self.layer}'" if self.layer else ""
        kind = "silent problem" if self.silent else "cause"
        return f"{kind}: {self.cause}{where}"

    def __str__(self):
        lines = [f"Diagnosis -- {self.title}", "", self.explanation]
        if self.fix:
            lines += ["", "Fix:", _indent(self.fix)]
        if self.error_type:
            where = f" (at {self.phase})" if self.phase else ""
            lines += ["", f"Keras said{where}: {self.error_type}: {_first_line(self.message)}"]
        if self.steps:
            lines += ["", "Layer by layer (real shapes):", _indent(self._steps_text())]
        return "\n".join(lines).rstrip()

    def _steps_text(self):
        rows = [f"{'layer':<18} {'input':<22} output"]
        for name, shape_in, result in self.steps:
            rows.append(f"{name:<18} {str(shape_in):<22} {result}")
        return "\n".join(rows)

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def _repr_html_(self):
        # Text carries the verdict (OK / cause); colour only repeats it.
        border = "#1b7837" if self.ok else "#b35806"
        parts = [
            f'<div class="convclinic-diagnosis" style="border-left:4px solid {border};'
            'padding:4px 10px">',
            f"<b>Diagnosis &mdash; {escape(self.title)}</b>",
            f"<p>{escape(self.explanation)}</p>",
        ]
        if self.fix:
            parts.append(f"<p><b>Fix:</b></p><pre>{escape(self.fix)}</pre>")
        if self.error_type:
            where = f" (at {self.phase})" if self.phase else ""
            parts.append(
                f"<p><b>Keras said{escape(where)}:</b> <code>{escape(self.error_type)}: "
                f"{escape(_first_line(self.message))}</code></p>"
            )
        if self.steps:
            rows = "".join(
                f"<tr><td>{escape(n)}</td><td>{escape(str(i))}</td><td>{escape(str(r))}</td></tr>"
                for n, i, r in self.steps
            )
            parts.append(
                "<table><tr><th>layer</th><th>input shape</th><th>output shape</th></tr>"
                f"{rows}</table>"
            )
        parts.append("</div>")
        return "".join(parts)


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in str(text).splitlines())


def _first_line(text):
    text = text or ""
    return text.splitlines()[0] if text.splitlines() else ""


# --------------------------------------------------------------------------------------
# Context: what was run, on what
# --------------------------------------------------------------------------------------


@dataclass
class _Context:
    target: object = None
    legacy: bool = False
    x: object = None
    x_shape: tuple | None = None
    x_dtype: str | None = None
    declared: tuple | None = None  # the model's declared input shape, batch included
    layers: list = field(default_factory=list)  # non-input layers, in order
    failing: object = None  # the first failing layer (object), when found
    failing_input: tuple | None = None  # what it received
    init_args: dict | None = None  # a layer constructor's arguments (construct phase)
    steps: list = field(default_factory=list)
    trace: shapes.Trace | None = None

    @property
    def is_model(self):
        return _is_model(self.target)

    def layer_names(self):
        return [layer.name for layer in self.layers]

    def first_conv(self):
        for layer in self.layers:
            if _is_conv(layer):
                return layer
        return None


def _is_layer(obj):
    return hasattr(obj, "get_config") and hasattr(obj, "built") and callable(obj)


def _is_model(obj):
    return _is_layer(obj) and any(
        cls.__name__ in ("Model", "Functional", "Sequential") for cls in type(obj).__mro__
    )


def _is_conv(layer):
    return hasattr(layer, "kernel_size") and hasattr(layer, "filters")


def _is_legacy_object(obj):
    return type(obj).__module__.startswith("tf_keras")


def _keras_for(legacy):
    from convclinic.runtime import import_keras

    return import_keras(legacy=legacy)


def _shape_of(x):
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    if hasattr(shape, "as_list"):
        try:
            shape = shape.as_list()
        except ValueError:
            return None
    return tuple(None if v is None else int(v) for v in shape)


def _dtype_of(x):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return None
    name = getattr(dtype, "name", None) or str(dtype)
    return str(name)


def _looks_like_shape(x):
    if hasattr(x, "as_list") and not hasattr(x, "dtype"):  # tf.TensorShape
        return True
    return (
        isinstance(x, tuple | list)
        and len(x) <= 8
        and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in x)
    )


def _materialise(x):
    """An input array for ``x``: arrays and tensors as they are, a shape made concrete."""
    if x is None:
        return None
    if _looks_like_shape(x):
        from convclinic.probe import make_input

        dims = list(x.as_list()) if hasattr(x, "as_list") else list(x)
        return make_input(tuple(1 if v is None else v for v in dims))
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    return np.asarray(x)


def _declared_input(model):
    try:
        inputs = model.inputs
    except Exception:  # noqa: BLE001 - an unbuilt Sequential has none
        return None
    if not inputs or len(inputs) != 1:
        return None
    return _shape_of(inputs[0])


def _model_layers(model):
    return [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]


def _int_dtype(dtype):
    return bool(dtype) and (dtype.startswith(("int", "uint")) or dtype == "bool")


# --------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------


def diagnose(target, x=None):
    """Run ``target`` on ``x`` and name what goes wrong (lesson 06). Never raises.

    ``target``: a Keras model, a layer, or a zero-argument function building
    the model. ``x``: an array, a tensor or a shape; ``None`` uses the model's
    declared input shape (batch 1).
    """
    try:
        return _diagnose(target, x)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - the promise is: never raise
        return Report(
            ok=False,
            cause="unknown",
            explanation=f"diagnose() itself could not analyse this: {type(error).__name__}: "
            f"{clean_message(error)}",
            error_type=type(error).__name__,
            message=clean_message(error),
        )


def diagnose_error(exc, target=None, x=None):
    """Name the cause of an exception already caught (lesson 06). Never raises.

    ``target``/``x`` (optional) give context: the model or layer and its input.
    """
    try:
        ctx = _context_for(target, x)
        if target is None:
            _locate_from_traceback(ctx, exc)
        return _from_exception(exc, None, ctx)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        return Report(
            ok=False,
            cause="unknown",
            explanation=f"could not analyse the error ({type(error).__name__}: {error})",
            error_type=type(exc).__name__ if isinstance(exc, BaseException) else None,
            message=clean_message(exc) if isinstance(exc, BaseException) else str(exc),
        )


def _context_for(target, x):
    ctx = _Context(target=target)
    if target is not None:
        ctx.legacy = _is_legacy_object(target)
        if _is_model(target):
            ctx.declared = _declared_input(target)
            ctx.layers = _model_layers(target)
        elif _is_layer(target):
            ctx.layers = [target]
    if x is not None:
        ctx.x = _materialise(x)
        ctx.x_shape = _shape_of(ctx.x)
        ctx.x_dtype = _dtype_of(ctx.x)
    return ctx


def _diagnose(target, x):
    phase_construct = False
    if not _is_layer(target):
        if not callable(target):
            return Report(
                ok=False,
                cause="unknown",
                explanation=f"diagnose() needs a Keras model, a layer or a function that builds "
                f"one; got {type(target).__name__}.",
                fix="report = convclinic.diagnose(lambda: build_model(), x)",
            )
        builder = target
        try:
            with _full_tracebacks():
                target = builder()
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # noqa: BLE001
            ctx = _context_for(None, x)
            _locate_from_traceback(ctx, error)
            return _from_exception(error, "construct", ctx)
        phase_construct = True
        if not _is_layer(target):
            return Report(
                ok=False,
                cause="unknown",
                explanation=f"the builder returned {type(target).__name__}, not a Keras model "
                "or layer: end it with `return model`.",
                fix="def build_model():\n    model = keras.Sequential([...])\n    return model",
            )
    ctx = _context_for(target, x)
    if ctx.x is None:
        if ctx.declared is not None:
            from convclinic.probe import make_input

            ctx.x = make_input(
                tuple((1 if i == 0 else 32) if v is None else v for i, v in enumerate(ctx.declared))
            )
            ctx.x_shape, ctx.x_dtype = _shape_of(ctx.x), _dtype_of(ctx.x)
        else:
            return Report(
                ok=True,
                cause="ok",
                explanation=("It was constructed without error. " if phase_construct else "")
                + "Nothing was run: give an input, diagnose(target, x), to check a call.",
                legacy=ctx.legacy,
            )
    try:
        with warnings.catch_warnings(), _full_tracebacks():
            warnings.simplefilter("ignore")
            output = target(ctx.x)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001
        _walk(ctx)
        if ctx.failing is None:
            _locate_from_traceback(ctx, error)
        return _from_exception(error, "call", ctx)
    out_shape = _shape_of(output) if not isinstance(output, list | tuple) else _shape_of(output[0])
    _walk(ctx, record_only=True)
    silent = _silent_problem(ctx, out_shape)
    if silent is not None:
        return silent
    return Report(
        ok=True,
        cause="ok",
        layer=None,
        explanation=f"The input {ctx.x_shape} runs through and gives {out_shape}; the layout "
        "matches the layers' data_format and no axis had to be added.",
        input_shape=ctx.x_shape,
        output_shape=out_shape,
        legacy=ctx.legacy,
        steps=ctx.steps,
        trace=ctx.trace,
    )


# --------------------------------------------------------------------------------------
# Finding the first failing layer: a real walk, and the shape trace
# --------------------------------------------------------------------------------------


def _adjust_rank(x, declared):
    """What Keras models do to an input whose rank is one off (``_adjust_input_rank``)."""
    if declared is None or x is None:
        return x
    shape = _shape_of(x)
    if len(shape) == len(declared) - 1 and declared[-1] == 1:
        return np.expand_dims(np.asarray(x), -1)
    if len(shape) == len(declared) + 1 and shape[-1] == 1:
        return np.squeeze(np.asarray(x), -1)
    return x


def _walk(ctx, record_only=False):
    """Run the layers one at a time on the real input; remember the first that fails."""
    target = ctx.target
    if target is None or ctx.x is None:
        return
    if not ctx.is_model:
        ctx.failing = target
        ctx.failing_input = ctx.x_shape
        ctx.trace = _shape_trace(ctx, [target], ctx.x_shape)
        return
    x = _adjust_rank(ctx.x, ctx.declared)
    if _int_dtype(_dtype_of(x)):
        x = np.asarray(x).astype("float32")  # models cast their input to the declared dtype
    ctx.trace = _shape_trace(ctx, ctx.layers, _shape_of(x))
    sequential = type(target).__name__ == "Sequential" or _is_linear(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if sequential:
            h = x
            for layer in ctx.layers:
                shape_in = _shape_of(h)
                try:
                    h = layer(h)
                except Exception as error:  # noqa: BLE001
                    _record_failing_step(ctx, layer, shape_in, error, record_only)
                    return
                ctx.steps.append((layer.name, shape_in, _shape_of(h)))
            return
        keras = _keras_for(ctx.legacy)
        for layer in ctx.layers:
            try:
                shape_in = _shape_of(layer.input)
                shape_in = (ctx.x_shape[0],) + tuple(shape_in[1:]) if shape_in else None
                sub = keras.Model(target.inputs, layer.output)
                h = sub(x)
            except Exception as error:  # noqa: BLE001
                _record_failing_step(ctx, layer, shape_in, error, record_only)
                return
            ctx.steps.append((layer.name, shape_in, _shape_of(h)))


def _record_failing_step(ctx, layer, shape_in, error, record_only):
    """Add the failing layer's row to the real per-layer trace (and blame it unless record_only)."""
    ctx.steps.append((layer.name, shape_in, f"FAILS: {type(error).__name__}"))
    if not record_only:
        ctx.failing, ctx.failing_input = layer, shape_in


def _is_linear(model):
    try:
        for previous, layer in zip(model.layers, model.layers[1:], strict=False):
            inbound = layer.input
            if isinstance(inbound, list | tuple) or previous.output is not inbound:
                return False
        return True
    except Exception:  # noqa: BLE001
        return False


def _spec_for(layer):
    """A :mod:`convclinic.shapes` spec for a Keras layer, or None when there is none."""
    kind = type(layer).__name__
    name = layer.name
    if kind == "Conv2D":
        return shapes.Conv2D(
            layer.filters, tuple(layer.kernel_size), tuple(layer.strides), layer.padding,
            tuple(layer.dilation_rate), layer.data_format, name=name,
        )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return shapes.MaxPooling2D(
            tuple(layer.pool_size), tuple(layer.strides), layer.padding, layer.data_format,
            name=name,
        )
    if kind == "ZeroPadding2D":
        return shapes.ZeroPadding2D(tuple(tuple(p) for p in layer.padding),
                                    layer.data_format, name=name)
    if kind == "Flatten":
        return shapes.Flatten(name=name)
    if kind == "Dense":
        built_for = None
        kernel = getattr(layer, "kernel", None) if layer.built else None
        if kernel is not None:
            built_for = int(kernel.shape[0])
        return shapes.Dense(layer.units, built_for=built_for, name=name)
    if kind in ("Activation", "ReLU", "Dropout", "BatchNormalization", "LeakyReLU",
                "LayerNormalization", "Rescaling", "SpatialDropout2D"):
        return _SameShape(name)
    return None


@dataclass(frozen=True)
class _SameShape:
    name: str

    def output_shape(self, input_shape):
        return tuple(input_shape)


def _shape_trace(ctx, layers, input_shape):
    """:func:`convclinic.shapes.trace` over the layers' configs, when every layer has a spec."""
    if input_shape is None or len(input_shape) != 4:
        return None
    specs = [_spec_for(layer) for layer in layers]
    if any(spec is None for spec in specs):
        return None
    try:
        return shapes.trace(specs, input_shape)
    except Exception:  # noqa: BLE001 - a trace is a help, not a requirement
        return None


# --------------------------------------------------------------------------------------
# Reading exceptions
# --------------------------------------------------------------------------------------

def _message(error):
    return clean_message(error if isinstance(error, BaseException) else str(error))


def _error_from_tf_keras(error):
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        if "tf_keras" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


@contextlib.contextmanager
def _full_tracebacks():
    """Keep every frame in tracebacks (Keras and TF filter them) so the layer can be found."""
    from convclinic.runtime import import_tensorflow

    tf = import_tensorflow()
    keras = _keras_for(False)
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


def _locate_from_traceback(ctx, error):
    """Fill the context from the frames of ``error``: Keras version, layer, constructor args."""
    if not isinstance(error, BaseException):
        return
    ctx.legacy = ctx.legacy or _error_from_tf_keras(error)
    ctx.init_args, constructing = _constructor_frame(error)
    ctx.failing = constructing or _deepest_layer(error)


def _deepest_layer(error):
    """The innermost non-model layer whose method is in the traceback."""
    tb, found = getattr(error, "__traceback__", None), None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if _is_layer(owner) and not _is_model(owner) and type(owner).__name__ != "InputLayer":
            found = owner
        tb = tb.tb_next
    return found


def _constructor_frame(error):
    """The arguments of the layer constructor that raised, and the layer, if any."""
    tb = getattr(error, "__traceback__", None)
    found, layer = None, None
    while tb is not None:
        frame = tb.tb_frame
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "__init__" and _is_layer(owner) and not _is_model(owner):
            names = ("filters", "kernel_size", "strides", "padding", "data_format",
                     "dilation_rate", "groups", "pool_size")
            found = {k: frame.f_locals[k] for k in names if k in frame.f_locals}
            layer = owner
        tb = tb.tb_next
    return found, layer


_NAME_PATTERNS = (
    re.compile(r"of layer '([^']+)'"),
    re.compile(r'of layer "([^"]+)"'),
    re.compile(r"calling layer ['\"]([^'\"]+)['\"]"),
    re.compile(r"received by layer ['\"]([^'\"]+)['\"]"),
    re.compile(r"due to downsampling in ([\w.-]+?)\. "),
    re.compile(r"\{\{node ([^}]+)\}\}"),
)


def _names_in(message):
    found = []
    for pattern in _NAME_PATTERNS:
        for match in pattern.finditer(message):
            for part in match.group(1).split("/"):
                found.append((match.start(), part))
    return [name for _, name in sorted(found)]


def _layer_named_in(message, ctx):
    """The innermost non-model layer the message names, checked against the model if known."""
    names = _names_in(message)
    known = ctx.layer_names()
    if known:
        for name in reversed(names):
            if name in known:
                return name
            base = re.sub(r"_\d+$", "", name)
            if base in known:
                return base
        return None
    for name in reversed(names):
        if not re.match(r"(sequential|functional|model)(_\d+)?$", name) and name != "None":
            if not name.startswith(("Conv2D", "MatMul", "convolution", "BiasAdd")):
                return name
    return None


_SHAPE = r"\(([^()]*)\)"


def _parse_shape(text):
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        values.append(None if part in ("None", "?") else int(part))
    return tuple(values)


def _expected_axis(message):
    match = re.search(
        r"expected axis (-?\d+) of input shape to have value (\d+), but received input with "
        r"shape " + _SHAPE,
        message,
    )
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), _parse_shape(match.group(3))


def _expected_vs_found(message):
    """Keras 3 'Expected shape (..), but input has incompatible shape (..)' / Keras 2 form."""
    for pattern in (
        r"Expected shape " + _SHAPE + r", but input has incompatible shape " + _SHAPE,
        r"expected shape=" + _SHAPE + r", found shape=" + _SHAPE,
    ):
        match = re.search(pattern, message)
        if match:
            return _parse_shape(match.group(1)), _parse_shape(match.group(2))
    return None


def _from_exception(error, phase, ctx):
    message = _message(error)
    error_type = type(error).__name__ if isinstance(error, BaseException) else "Error"
    layer_name = ctx.failing.name if _is_layer(ctx.failing) else None
    if layer_name is None:
        layer_name = _layer_named_in(message, ctx)
    if layer_name is None and ctx.trace is not None and ctx.trace.failed_layer:
        layer_name = ctx.trace.failed_layer
    if layer_name is None and ctx.layers and phase == "call":
        layer_name = ctx.layers[0].name
    finding = _classify(error, message, ctx, layer_name)
    return _finding_report(
        ctx, finding, layer=finding.layer if finding.layer is not None else layer_name,
        error_type=error_type, message=message, phase=phase,
    )


@dataclass
class _Finding:
    cause: str
    explanation: str
    fix: str
    input_fix: object = None
    config_fix: dict | None = None
    layer: str | None = None


# --------------------------------------------------------------------------------------
# Classification: the real error + the context -> a cause and a fix
# --------------------------------------------------------------------------------------


def _classify(error, message, ctx, layer):
    low = message.lower()
    failing = ctx.failing
    fmt = getattr(failing, "data_format", None) or _first_format(ctx)
    shape_in = ctx.failing_input or ctx.x_shape
    where = f"layer '{layer}'" if layer else "the layer"

    # --- hardware / runtime -----------------------------------------------------------
    if ("failed to get convolution algorithm" in low or "cudnn failed to initialize" in low
            or "cudnn_status" in low or "dnn library initialization failed" in low
            or "dnn library is not found" in low):
        return _Finding(
            "gpu_init_failure",
            "cuDNN, the GPU convolution library, failed to initialise. The usual reason is that "
            "the GPU memory is already taken: by default TensorFlow maps nearly all of it, so a "
            "second process (or notebook kernel) leaves cuDNN none. Nothing is wrong with the "
            "model's shapes.",
            "import tensorflow as tf\n"
            "for gpu in tf.config.list_physical_devices('GPU'):\n"
            "    tf.config.experimental.set_memory_growth(gpu, True)  # before any op runs\n"
            "# and close other kernels that hold the GPU (nvidia-smi lists them)",
        )
    if "only supports the nhwc tensor format" in low:
        transposed = _transposed(shape_in, (0, 2, 3, 1))
        return _Finding(
            "nchw_unsupported_on_cpu",
            f"{where} is channels_first (NCHW). TensorFlow's plain CPU Conv2D kernel only "
            "supports NHWC; channels_first works on CPU only through oneDNN (on by default on "
            "x86, off with TF_ENABLE_ONEDNN_OPTS=0) and only for float32. Use channels_last on "
            f"CPU and transpose the input {shape_in} -> {transposed}.",
            "x = np.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC\n"
            "layers.Conv2D(..., data_format='channels_last')",
            input_fix=_transpose_fix((0, 2, 3, 1)),
            config_fix=_format_config_fix(ctx, "channels_last"),
        )

    # --- constructor arguments --------------------------------------------------------
    args = ctx.init_args or {}
    if ("`padding` argument" in message or "`padding` must be" in message
            or (_bad_string_arg(error, args, "padding"))):
        value = args.get("padding", _received(message))
        return _Finding(
            "invalid_padding",
            f"padding={value!r} is not accepted by {where}: Conv2D takes only 'valid' (no "
            "padding, the output shrinks by kernel-1) or 'same' (the output keeps "
            "ceil(n / stride)). An explicit number of pixels (PyTorch's padding=1) is a "
            "ZeroPadding2D layer before a 'valid' Conv2D.",
            "layers.Conv2D(filters, kernel_size, padding='same')\n"
            "# or, for exactly p pixels:\n"
            "layers.ZeroPadding2D(padding=p), layers.Conv2D(filters, kernel_size, padding='valid')",
            config_fix={layer: {"padding": "same"}} if layer else None,
        )
    if "`data_format` argument" in message or _bad_string_arg(error, args, "data_format"):
        value = args.get("data_format", _received(message))
        wanted = "channels_first" if "nchw" in str(value).lower() else "channels_last"
        return _Finding(
            "invalid_data_format",
            f"data_format={value!r} is not accepted by {where}: Keras takes 'channels_last' "
            "(N, H, W, C) or 'channels_first' (N, C, H, W). 'NHWC'/'NCHW' are TensorFlow op "
            "names, not Keras values.",
            f"layers.Conv2D(filters, kernel_size, data_format='{wanted}')",
            config_fix={layer: {"data_format": wanted}} if layer else None,
        )
    if "not supported in conjunction with" in low:
        return _Finding(
            "stride_dilation_conflict",
            f"{where} has strides > 1 AND dilation_rate > 1 ({_after_received(message)}). "
            "Keras refuses the combination. Keep the dilation with strides=1 and "
            "downsample afterwards (a pooling layer), or drop the dilation.",
            "layers.Conv2D(filters, kernel_size, dilation_rate=2, strides=1)\n"
            "layers.MaxPooling2D(pool_size=2)  # the downsampling the stride did",
            config_fix={layer: {"strides": 1}} if layer else None,
        )
    invalid = _invalid_argument(message, args)
    if invalid is not None:
        argument, explanation, snippet, value = invalid
        return _Finding(
            "invalid_argument",
            f"{where}: {explanation}",
            snippet,
            config_fix={layer: {argument: value}} if layer and value is not None else None,
        )

    # --- dtype ------------------------------------------------------------------------
    dtype_words = ("incompatible type conversion requested to type",
                   "is not in the list of allowed values", "cannot compute conv2d as input")
    if any(w in low for w in dtype_words) and (
        _int_dtype(ctx.x_dtype) or re.search(r"\b(u?int\d+|bool)\b", message)
    ):
        dtype = ctx.x_dtype or (re.search(r"\b(u?int\d+|bool)\b", message) or [None, "int"])[0]
        scale = " / 255.0" if dtype == "uint8" else ""
        return _Finding(
            "integer_dtype",
            f"The input is {dtype} but {where} has float32 weights; a direct layer call does "
            "not cast (a model would). Convert the images to float first"
            + (" and scale 0-255 to 0-1." if scale else "."),
            f'x = x.astype("float32"){scale}',
            input_fix=_cast_fix(scale != ""),
        )

    # --- input rank: missing axes -----------------------------------------------------
    versus = _expected_vs_found(message)
    if "expected min_ndim=4, found ndim=2" in message or (
        versus is not None and len(versus[1]) == len(versus[0]) - 2
    ):
        received = versus[1] if versus else _full_shape(message) or ctx.x_shape
        channel_axis = 1 if fmt == "channels_first" else -1
        return _Finding(
            "missing_channel_axis",
            f"The input {received} has only 2 axes: one grayscale image without its batch AND "
            "its channel axis. Conv2D needs 4 (batch, height, width, channels).",
            "x = x[None, ..., None]  # (height, width) -> (1, height, width, 1)",
            input_fix=_two_axes_fix(channel_axis),
            layer=layer,
        )
    rank_short = "expected min_ndim=4, found ndim=3" in message or (
        versus is not None and len(versus[1]) == len(versus[0]) - 1
    )
    if rank_short:
        received = versus[1] if versus else _full_shape(message) or ctx.x_shape
        declared = versus[0] if versus else ctx.declared
        if phase_is_construct(ctx, message) and received and received[0] is None:
            # keras.Input((28, 28)) then a Conv2D: the declared shape lacks the channel axis.
            return _missing_channel(ctx, received, declared, fmt, layer, declared_input=True)
        if _missing_is_batch(received, declared, fmt):
            return _missing_batch(received, fmt, layer)
        return _missing_channel(ctx, received, declared, fmt, layer)
    if ctx.is_model and ctx.x_shape is not None and ctx.declared is not None and (
        len(ctx.x_shape) == len(ctx.declared) - 1 and _too_small_message(low)
    ):
        # A Keras model added an axis to ONE image (H, W, 1) -> (H, W, 1, 1): misleading error.
        return _missing_batch(ctx.x_shape, fmt, layer, added_axis=True)

    # --- channels and layout ----------------------------------------------------------
    axis_info = _expected_axis(message)
    if versus is not None and len(versus[0]) == len(versus[1]) and axis_info is None:
        expected_shape, received = versus
        axis = -1 if fmt != "channels_first" else 1
        axis_info = (axis, expected_shape[axis], received)
    if axis_info is not None:
        axis, value, received = axis_info
        if failing is not None and not _is_conv(failing) and type(failing).__name__ == "Dense":
            return _downstream(ctx, layer, value, received[-1])
        if failing is None and ctx.layers and layer and _layer_kind(ctx, layer) == "Dense":
            return _downstream(ctx, layer, value, received[-1])
        layout = _layout_swapped(received, value, axis)
        if layout is not None:
            return _format_mismatch(received, layout, layer, silent=False)
        return _channel_mismatch(received, value, axis, layer, ctx)
    if "input depth must be evenly divisible by filter depth" in low:
        match = re.search(r"filter depth: (\d+) vs (\d+)", message)
        got, want = (int(match.group(1)), int(match.group(2))) if match else (None, None)
        return _channel_mismatch(shape_in, want, -1, layer, ctx, got=got)

    # --- sizes ------------------------------------------------------------------------
    if _too_small_message(low):
        if fmt == "channels_first" and shape_in and len(shape_in) == 4 and _looks_nhwc(shape_in):
            return _format_mismatch(shape_in, "nhwc_into_nchw", layer, silent=False)
        if fmt != "channels_first" and shape_in and len(shape_in) == 4 and _looks_nchw(shape_in):
            return _format_mismatch(shape_in, "nchw_into_nhwc", layer, silent=False)
        return _too_small(ctx, message, layer, shape_in)

    # --- later layers and saved weights ------------------------------------------------
    match = re.search(r"weight shape " + _SHAPE + r" is not compatible with provided weight "
                      r"shape " + _SHAPE, message)
    if match:
        wanted, given = _parse_shape(match.group(1)), _parse_shape(match.group(2))
        owner = _owner_of_weight(error, wanted)
        return _downstream(ctx, owner or layer, wanted[0], given[0], weights=True)
    match = re.search(r"Dimensions must be equal, but are (\d+) and (\d+)", message) or re.search(
        r"Matrix size-incompatible: In\[0\]: \[\d+,(\d+)\], In\[1\]: \[(\d+),\d+\]", message)
    if match:
        return _downstream(ctx, layer, int(match.group(2)), int(match.group(1)))

    # --- an extra axis ----------------------------------------------------------------
    if "kernel shape must have the same length as input" in low or (
        versus is not None and len(versus[1]) == len(versus[0]) + 1
    ):
        received = versus[1] if versus else shape_in
        return _Finding(
            "unknown",
            f"{where} got {len(received or ())} axes {received}; Conv2D needs exactly 4 "
            "(batch, height, width, channels). An extra axis of size 1 can be squeezed.",
            "x = np.squeeze(x, axis=1)  # or whichever axis is the extra one",
        )
    return _Finding(
        "unknown",
        f"This error is not one of the Conv2D failures this tool knows. Keras said: "
        f"{error_type_name(error)}: {_first_line(message)}",
        "Trace the shapes layer by layer (convclinic.shapes.trace) and compare them with "
        "the rules of lessons 00-04; then write a minimal reproducer (lesson 05).",
    )


def error_type_name(error):
    return type(error).__name__ if isinstance(error, BaseException) else "Error"


def phase_is_construct(ctx, message):
    return ctx.target is None or "Full shape received: (None" in message


def _first_format(ctx):
    conv = ctx.first_conv()
    return getattr(conv, "data_format", None) if conv is not None else None


def _layer_kind(ctx, name):
    for layer in ctx.layers:
        if layer.name == name:
            return type(layer).__name__
    return None


def _received(message):
    match = re.search(r"Received:? (?:\w+=)?([^\s.]+)", message)
    return match.group(1) if match else None


def _after_received(message):
    return message.split("Received:")[-1].strip()


def _bad_string_arg(error, args, name):
    """AttributeError "'int' object has no attribute 'lower'" (or a list's TypeError) for ``name``."""
    if name not in args or isinstance(args[name], str) or args[name] is None:
        return False
    return isinstance(error, AttributeError | TypeError)


def _full_shape(message):
    match = re.search(r"Full shape received: " + _SHAPE, message)
    return _parse_shape(match.group(1)) if match else None


def _too_small_message(low):
    return any(
        words in low
        for words in (
            "computed output size would be zero or negative",
            "computed output size would be negative",
            "negative dimension size caused by subtracting",
            "one of the dimensions in the output is <= 0",
        )
    )


_ARGUMENT_MESSAGES = (
    ("filters", re.compile(r"argument `filters`|filters must be evenly divisible|number of "
                           r"filters must be", re.I), 32),
    ("groups", re.compile(r"number of input channels must be evenly divisible", re.I), 1),
    ("kernel_size", re.compile(r"`kernel_size` argument", re.I), 3),
    ("strides", re.compile(r"`strides` argument|argument `strides`", re.I), 1),
    ("dilation_rate", re.compile(r"`dilation_rate` argument|argument `dilation_rate`", re.I), 1),
    ("pool_size", re.compile(r"`pool_size` argument", re.I), 2),
)


def _invalid_argument(message, args):
    for argument, pattern, good in _ARGUMENT_MESSAGES:
        if pattern.search(message):
            value = args.get(argument, _received(message))
            if argument == "groups":
                explanation = (
                    "the input's channels are not divisible by groups: each group convolves "
                    "channels/groups of them. Use groups=1, or a groups value that divides "
                    "the channel count."
                )
                return argument, explanation, "layers.Conv2D(filters, kernel_size, groups=1)", 1
            if "groups" in message and argument == "filters":
                explanation = (
                    f"filters={value!r} is not divisible by groups (or not an integer): "
                    "filters must be a positive integer multiple of groups."
                )
                return argument, explanation, "layers.Conv2D(filters=32, kernel_size=3)", 32
            explanation = (
                f"{argument}={value!r} is invalid. Conv2D needs strictly positive integers, "
                f"given as one int or a tuple of exactly 2 (height, width)."
            )
            snippet = f"layers.Conv2D(filters=32, kernel_size=3, {argument}={good!r})"
            if argument in ("filters",):
                snippet = f"layers.Conv2D(filters={good}, kernel_size=3)"
            return argument, explanation, snippet, good
    return None


def _missing_is_batch(received, declared, fmt):
    """Decide whether a rank-3 input lacks the batch axis (one image) or the channel axis."""
    if received is None or len(received) != 3:
        return False
    if declared is not None and len(declared) == 4:
        image = tuple(declared[1:])
        if tuple(received) == image or (declared[-1] is not None and declared[-1] != 1
                                        and received[-1] == declared[-1]):
            return True
        if fmt != "channels_first" and tuple(received[1:]) == tuple(declared[1:3]):
            return False
    if fmt == "channels_first":
        return received[0] in _CHANNEL_COUNTS and all(v is None or v > 4 for v in received[1:])
    return received[-1] in _CHANNEL_COUNTS and (received[0] is None or received[0] > 4)


def _missing_batch(received, fmt, layer, added_axis=False):
    new = (1,) + tuple(received)
    extra = ""
    if added_axis:
        extra = (
            f" Here the model added a channel axis itself, {received} -> {tuple(received) + (1,)}"
            f", so the conv saw a batch of {received[0]} images of {received[1]}x{received[2]}: "
            "the error talks about negative sizes and never mentions the batch axis."
        )
    return _Finding(
        "missing_batch_axis",
        f"The input {received} is ONE image without its batch axis; Keras layers always take a "
        f"batch, (batch, height, width, channels).{extra} Add a batch axis of 1: {received} -> "
        f"{new}.",
        "x = np.expand_dims(x, axis=0)  # or x[None, ...]: a batch of one image",
        input_fix=_expand_fix(0),
        layer=layer,
    )


def _missing_channel(ctx, received, declared, fmt, layer, declared_input=False):
    channels_first = fmt == "channels_first"
    axis = 1 if channels_first else -1
    want = None
    if declared is not None and len(declared) == 4 and not declared_input:
        want = declared[1] if channels_first else declared[-1]
    if want is None and ctx.failing is not None and _is_conv(ctx.failing) and ctx.failing.built:
        try:
            want = int(ctx.failing.kernel.shape[-2]) * int(getattr(ctx.failing, "groups", 1))
        except Exception:  # noqa: BLE001
            want = None
    new = list(received)
    new.insert(1 if channels_first else len(new), 1)
    if declared_input:
        return _Finding(
            "missing_channel_axis",
            f"The declared input {received} has no channel axis: Conv2D needs 4 axes (batch, "
            "height, width, channels), even for grayscale. Declare the channel axis.",
            f"keras.Input(shape={tuple(received[1:]) + (1,)})  # height, width, channels",
            layer=layer,
        )
    text = (
        f"The input {received} has 3 axes; Conv2D needs 4 (batch, height, width, channels). It "
        f"looks like a batch of {received[0]} grayscale {received[1]}x{received[2]} images "
        "without the channel axis."
    )
    fix = f"x = np.expand_dims(x, axis={axis})  # {received} -> {tuple(new)}"
    repeat = want if want not in (None, 1) else None
    if repeat:
        text += (
            f" The model was built for {repeat} channels, so after adding the axis repeat the "
            f"gray channel {repeat} times (or build the model for 1 channel)."
        )
        fix = (
            f"x = np.repeat(np.expand_dims(x, axis={axis}), {repeat}, axis={axis})"
            "  # gray -> RGB\n# or build the model with keras.Input((height, width, 1))"
        )
    return _Finding(
        "missing_channel_axis", text, fix, input_fix=_expand_fix(axis, repeat), layer=layer
    )


def _channel_mismatch(received, want, axis, layer, ctx, got=None):
    got = got if got is not None else (received[axis] if received else None)
    text = (
        f"{('Layer ' + repr(layer)) if layer else 'The layer'} was built for {want} channels "
        f"(axis {axis}) but received {got}, input shape {received}."
    )
    input_fix = None
    if got == 1 and want in (3, 4):
        fix = f"x = np.repeat(x, {want}, axis={axis})  # gray -> {want} channels"
        input_fix = _repeat_fix(want, axis)
        text += " Grayscale images into an RGB model: repeat the channel, or build for 1 channel."
    elif got == 4 and want == 3:
        fix = "x = x[..., :3]  # drop the alpha channel (RGBA -> RGB)"
        input_fix = _slice_fix(3)
        text += " RGBA images into an RGB model: drop the alpha channel."
    elif got in (3, 4) and want == 1:
        fix = "x = x[..., :3].mean(axis=-1, keepdims=True)  # RGB -> gray"
        input_fix = _gray_fix()
        text += " Colour images into a grayscale model: convert them to one channel."
    else:
        fix = (
            f"keras.Input(shape=(height, width, {got}))  # build the model for {got} channels\n"
            "# a layer is built once, on the first input it sees: create a new one"
        )
        text += (
            " A layer fixes its channel count when it is first built: the same layer object "
            "cannot take another number of channels later."
        )
    return _Finding("channel_mismatch", text, fix, input_fix=input_fix, layer=layer)


def _layout_swapped(received, value, axis):
    """'nchw_into_nhwc' / 'nhwc_into_nchw' when the wanted channel count sits at the other end."""
    if received is None or len(received) != 4:
        return None
    if axis in (-1, 3) and received[1] == value and received[-1] != value:
        return "nchw_into_nhwc"
    if axis == 1 and received[-1] == value and received[1] != value:
        return "nhwc_into_nchw"
    return None


def _looks_nchw(shape):
    return (shape[1] in _CHANNEL_COUNTS and _big(shape[2]) and _big(shape[3])
            and shape[3] not in _CHANNEL_COUNTS)


def _looks_nhwc(shape):
    return (shape[3] in _CHANNEL_COUNTS and _big(shape[1]) and _big(shape[2])
            and shape[1] not in _CHANNEL_COUNTS)


def _big(value):
    return value is not None and value >= 8


def _format_mismatch(received, layout, layer, silent, output_shape=None):
    if layout == "nchw_into_nhwc":
        perm, new = (0, 2, 3, 1), _transposed(received, (0, 2, 3, 1))
        text = (
            f"The input {received} is laid out channels_first (N, C, H, W) but "
            f"{('layer ' + repr(layer)) if layer else 'the layer'} is channels_last (N, H, W, C):"
            f" it reads {received[1]} as the height and {received[3]} as the channel count."
        )
        fix = "x = np.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC"
    else:
        perm, new = (0, 3, 1, 2), _transposed(received, (0, 3, 1, 2))
        text = (
            f"The input {received} is laid out channels_last (N, H, W, C) but "
            f"{('layer ' + repr(layer)) if layer else 'the layer'} is channels_first (N, C, H, W):"
            f" it reads {received[1]} as the channel count and {received[3]} as the width."
        )
        fix = "x = np.transpose(x, (0, 3, 1, 2))  # NHWC -> NCHW\n# or data_format='channels_last'"
    if silent:
        text += (
            f" No error was raised: it returned {output_shape}, a wrong shape computed on the "
            "wrong axes."
        )
    text += f" Transpose the input: {received} -> {new}."
    return _Finding("data_format_mismatch", text, fix, input_fix=_transpose_fix(perm), layer=layer)


def _too_small(ctx, message, layer, shape_in):
    detail = ""
    step = _trace_step(ctx, layer)
    if step is not None and step.input_shape:
        detail = f" It receives {step.input_shape}."
    elif shape_in:
        detail = f" It receives {shape_in}."
    failing = ctx.failing
    rule = ""
    if failing is not None and _is_conv(failing):
        k = tuple(failing.kernel_size)
        d = tuple(failing.dilation_rate)
        k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d, strict=False))
        rule = (
            f" Its kernel {k} with dilation {d} covers {k_eff} pixels (rule 1: "
            "k_eff = d*(k-1)+1), and with padding='valid' the output is "
            "floor((n - k_eff)/s) + 1, which is zero or negative when n < k_eff."
        )
    elif failing is not None and hasattr(failing, "pool_size"):
        rule = f" Its pooling window {tuple(failing.pool_size)} is larger than the input."
    shrunk = ""
    if ctx.trace is not None and ctx.layers and layer and ctx.layers[0].name != layer:
        shrunk = " Earlier layers shrank the input down to this size (see the layer-by-layer shapes)."
    return _Finding(
        "spatial_too_small",
        f"{('Layer ' + repr(layer)) if layer else 'The layer'} has a window larger than its "
        f"(padded) input.{detail}{rule}{shrunk}",
        f"layers.Conv2D(..., padding='same')  # in {layer or 'that layer'}: out = ceil(n / s)\n"
        "# or a smaller kernel/dilation, fewer strides or pooling earlier, or a larger input",
        config_fix={layer: {"padding": "same"}} if layer else None,
        layer=layer,
    )


def _trace_step(ctx, name):
    if ctx.trace is None:
        return None
    for step in ctx.trace.steps:
        if step.name == name:
            return step
    return None


def _downstream(ctx, layer, built_for, received, weights=False):
    how = "the saved weights were made for" if weights else "it was built for"
    text = (
        f"{('Layer ' + repr(layer)) if layer else 'A later layer'} expects {built_for} input "
        f"features ({how} {built_for}) but now receives {received}. The error shows up here, "
        "but the cause is EARLIER: a padding, stride or kernel change in a convolution "
        "changed the spatial size, and Flatten turned it into a different number of features"
    )
    if built_for and received:
        text += (
            f" ({built_for} vs {received})."
        )
    else:
        text += "."
    fix = (
        "# either undo the earlier change (e.g. padding back to what the weights were made for),\n"
        "# or rebuild the head for the new size and retrain (do not load the old weights):\n"
        "model = keras.Sequential.from_config(model.get_config())  # fresh weights\n"
        "# GlobalAveragePooling2D() instead of Flatten() makes the head size-independent"
    )
    return _Finding(
        "downstream_shape_mismatch", text, fix, config_fix={} if not weights else None,
        layer=layer,
    )


def _owner_of_weight(error, wanted):
    """Name the layer whose weight has shape ``wanted``, from the model in the traceback."""
    tb = getattr(error, "__traceback__", None)
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if _is_model(owner):
            for layer in _model_layers(owner):
                for weight in getattr(layer, "weights", []):
                    if tuple(int(v) for v in weight.shape) == tuple(wanted):
                        return layer.name
        tb = tb.tb_next
    return None


def _silent_problem(ctx, output_shape):
    """A run without error that is still wrong: an added axis, or a swapped layout."""
    x_shape = ctx.x_shape
    declared = ctx.declared
    if ctx.is_model and declared is not None and x_shape is not None and (
        len(x_shape) == len(declared) - 1 and declared[-1] == 1
    ):
        new = tuple(x_shape) + (1,)
        finding = _Finding(
            "missing_channel_axis",
            f"It ran, but only because Keras added the missing channel axis itself: the model "
            f"was declared with a last axis of 1, so {x_shape} became {new} (Keras models do "
            f"this: _adjust_input_rank). Output {output_shape}. The same input fails on a "
            "plain layer, on a model declared for RGB, and when the declared channel axis "
            "changes: add the axis yourself.",
            f"x = np.expand_dims(x, axis=-1)  # {x_shape} -> {new}",
            input_fix=_expand_fix(-1),
        )
        return _silent_report(ctx, finding, output_shape, layer=_first_name(ctx))
    trace = ctx.trace
    if trace is not None and trace.failed_layer and _too_small_message(trace.error.lower()):
        # It ran although the rule says the output is empty: Keras 2 (tf_keras) returns an
        # empty (or, through oneDNN, a garbage-sized) output instead of raising.
        layer = trace.failed_layer
        real = next((out for name, _, out in ctx.steps if name == layer), output_shape)
        ctx.failing = next((lay for lay in ctx.layers if lay.name == layer), None)
        finding = _too_small(ctx, trace.error, layer, _trace_step(ctx, layer).input_shape)
        finding.explanation += (
            f" No error was raised: this layer returned {real}, although by the rule its output "
            "is empty. The numbers after it are meaningless."
        )
        return _silent_report(ctx, finding, output_shape, layer=layer)
    conv = ctx.first_conv()
    shape = x_shape
    if ctx.is_model:
        shape = _shape_of(_adjust_rank(ctx.x, declared))
    if conv is not None and shape is not None and len(shape) == 4:
        fmt = getattr(conv, "data_format", "channels_last")
        layout = None
        if fmt == "channels_last" and _looks_nchw(shape):
            layout = "nchw_into_nhwc"
        elif fmt == "channels_first" and _looks_nhwc(shape):
            layout = "nhwc_into_nchw"
        if layout is not None:
            finding = _format_mismatch(shape, layout, conv.name, True, output_shape)
            return _silent_report(ctx, finding, output_shape, layer=conv.name)
    return None


def _first_name(ctx):
    return ctx.layers[0].name if ctx.layers else None


def _silent_report(ctx, finding, output_shape, layer):
    return _finding_report(ctx, finding, layer=layer, output_shape=output_shape, silent=True)


def _finding_report(ctx, finding, layer, **details):
    """A not-ok Report for ``finding`` in context ``ctx`` (a raised or a silent failure)."""
    return Report(
        ok=False,
        cause=finding.cause,
        layer=layer,
        explanation=finding.explanation,
        fix=finding.fix,
        input_shape=ctx.x_shape,
        legacy=ctx.legacy,
        steps=ctx.steps,
        trace=ctx.trace,
        input_fix=finding.input_fix,
        config_fix=finding.config_fix,
        **details,
    )


# --------------------------------------------------------------------------------------
# Fixes in machine form
# --------------------------------------------------------------------------------------


def _as_array(x):
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def _expand_fix(axis, repeat=None):
    def fix(x):
        out = np.expand_dims(_as_array(x), axis)
        return np.repeat(out, repeat, axis=axis) if repeat else out

    return fix


def _two_axes_fix(channel_axis):
    def fix(x):
        return np.expand_dims(np.expand_dims(_as_array(x), 0), channel_axis)

    return fix


def _transpose_fix(perm):
    def fix(x):
        return np.transpose(_as_array(x), perm)

    return fix


def _repeat_fix(count, axis):
    def fix(x):
        return np.repeat(_as_array(x), count, axis=axis)

    return fix


def _slice_fix(count):
    def fix(x):
        return _as_array(x)[..., :count]

    return fix


def _gray_fix():
    def fix(x):
        return _as_array(x)[..., :3].mean(axis=-1, keepdims=True)

    return fix


def _cast_fix(scale):
    def fix(x):
        out = _as_array(x).astype("float32")
        return out / 255.0 if scale else out

    return fix


def _transposed(shape, perm):
    if shape is None or len(shape) != 4:
        return shape
    return tuple(shape[i] for i in perm)


def _format_config_fix(ctx, data_format):
    names = [layer.name for layer in ctx.layers if hasattr(layer, "data_format")]
    if not names and ctx.failing is not None:
        names = [ctx.failing.name]
    if not names:
        return None
    fix = {name: {"data_format": data_format} for name in names}
    if ctx.is_model and ctx.declared is not None and len(ctx.declared) == 4:
        fix["__input_shape__"] = _transposed(ctx.declared, (0, 2, 3, 1))
    return fix


def _rebuild(target, config_fix):
    """A new model/layer from ``target``'s config with ``config_fix`` applied (fresh weights)."""
    config = target.get_config()
    input_shape = config_fix.get("__input_shape__")
    if "layers" in config:
        for entry in config["layers"]:
            inner = entry.get("config", {})
            entry.pop("build_config", None)
            if entry.get("class_name") == "InputLayer" and input_shape is not None:
                key = "batch_shape" if "batch_shape" in inner else "batch_input_shape"
                inner[key] = tuple(input_shape)
            inner.update(config_fix.get(inner.get("name"), {}))
        config.pop("build_input_shape", None)
    else:
        config.update(config_fix.get(config.get("name"), {}))
    return type(target).from_config(config)
