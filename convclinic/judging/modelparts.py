""""Repair the model" parts of assignments 01-03: a learner's Keras model, judged outside its kernel.

Kernel side (:meth:`ModelTask.collect`): call the learner's ``build_fixed_model()``
and record the model as data with :func:`convclinic.judging.kernel.model_record`:
its JSON config, its weights and its compile config (never an expected value,
never a verdict).

Clean side (:meth:`ModelTask.judge`): rebuild the model from that data with
``safe_mode=True`` (:func:`convclinic.judging.truth.rebuild_model`), then check,
in this order, each requirement the task states:

1. the task's own layer rules (which layers the repaired model must keep or add);
2. the output shape on a judge-made batch, BEFORE any training, so a wrong
   shape is named as such (not as TensorFlow's empty "Graph execution error:");
3. the compile settings the task asks for (``adam`` and
   ``SparseCategoricalCrossentropy(from_logits=True)``);
4. one real training step on judge-made data of the case's batch size
   (:func:`convclinic.judging.truth.train_one_step`), with a finite loss.

The rebuilt layers carry their own ``data_format`` and dtype in their config, and
the truth is computed under Keras' default settings, so a global setting the
learner changed (``keras.config.set_image_data_format``) never changes the
truth. Lessons 01 (channel axis), 02 (padding) and 03 (stride and dilation)
teach the repairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convclinic import shapes
from convclinic.judging import truth
from convclinic.judging.casework import case_items, error_text, judge_each
from convclinic.judging.core import Part

MAX_BATCH = 64
LOSS_TEXT = "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"


def model_case(case):
    """``[batch, seed]``: the training batch's size and the data's seed; ValueError when malformed."""
    batch, seed = case_items(case, 2, lambda items: all(
        isinstance(v, int) and not isinstance(v, bool) for v in items), "model case")
    if not (1 <= batch <= MAX_BATCH and 0 <= seed < 2**31):
        raise ValueError(f"bad model case {case!r}")
    return batch, seed


# --- layer rules: (requirement, check(model) -> None or a teaching message, hint) ----------


@dataclass(frozen=True)
class Rule:
    requirement: str
    check: object
    hint: str


def layer_config(layer):
    return layer.get_config() if hasattr(layer, "get_config") else {}


def all_layers(model):
    """Every layer of ``model``, nested models' layers included, in order."""
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(all_layers(layer))
    return found


def convolutions(model):
    """Every Conv2D-like layer of ``model`` (those with strides and dilation_rate)."""
    return [layer for layer in all_layers(model)
            if {"strides", "dilation_rate"} <= set(layer_config(layer))]


def _config_pair(value):
    """A layer config value as (rows, cols) (shapes.pair), or (value, value) when it is not one."""
    try:
        return shapes.pair(value)
    except ValueError:
        return (value, value)


def conv_matches(layer, filters=None, kernel=None, dilation=None, stride=None):
    config = layer_config(layer)
    if type(layer).__name__ != "Conv2D":
        return False
    wanted = {"filters": filters, "kernel_size": kernel, "dilation_rate": dilation, "strides": stride}
    for key, value in wanted.items():
        if value is None:
            continue
        got = config.get(key)
        if key != "filters":
            got, value = _config_pair(got), _config_pair(value)
        if got != value:
            return False
    return True


def describe_convs(model):
    found = [f"Conv2D({c.get('filters')}, {tuple(_config_pair(c.get('kernel_size')))}, strides="
             f"{tuple(_config_pair(c.get('strides')))}, dilation_rate={tuple(_config_pair(c.get('dilation_rate')))})"
             for c in map(layer_config, convolutions(model))]
    return ", ".join(found) if found else "no Conv2D layer at all"


def has_relu(model, conv):
    """The Conv2D's own activation is relu, or a ReLU / Activation("relu") layer exists."""
    if layer_config(conv).get("activation") == "relu":
        return True
    return any(type(layer).__name__ == "ReLU" or layer_config(layer).get("activation") == "relu"
               for layer in all_layers(model) if type(layer).__name__ in ("ReLU", "Activation"))


def conv_rule(requirement, hint, filters=None, kernel=None, dilation=None, stride=None,
              output_hw=None, relu=False, present=()):
    """The model keeps a Conv2D with these settings (and, if given, this output height x width,
    a relu activation, and layers of the classes ``present``, e.g. ``("Flatten", "Dense")``)."""
    def check(model):
        matching = [layer for layer in convolutions(model)
                    if conv_matches(layer, filters, kernel, dilation, stride)]
        if not matching:
            return f"{requirement}; your model has {describe_convs(model)}"
        if relu and not any(has_relu(model, layer) for layer in matching):
            return f"the Conv2D lost its relu activation: keep activation=\"relu\" ({requirement})"
        names = {type(layer).__name__ for layer in all_layers(model)}
        missing = [name for name in present if name not in names]
        if missing:
            return f"the model has no {' and no '.join(missing)} layer: {requirement}"
        if output_hw is not None:
            shapes = [output_hw_of(layer) for layer in matching]
            if tuple(output_hw) not in shapes:
                got = " x ".join(map(str, shapes[0])) if shapes[0] else "of unknown size"
                return (f"the feature map after the Conv2D is {got}, it must stay "
                        f"{output_hw[0]} x {output_hw[1]}: {hint}")
        return None
    return Rule(requirement, check, hint)


def output_hw_of(layer):
    """(height, width) of a layer's output in the rebuilt model, or None when unknown."""
    try:
        return tuple(int(v) for v in layer.output.shape[1:3])
    except Exception:  # noqa: BLE001 - a layer used twice has no single output
        return None


def dense_inputs_rule(requirement, hint, inputs, units):
    """The last Dense layer has a (inputs, units) kernel."""
    def check(model):
        dense = [layer for layer in all_layers(model) if type(layer).__name__ == "Dense"]
        if not dense:
            return f"{requirement}; your model has no Dense layer"
        shape = tuple(int(v) for v in dense[-1].kernel.shape)
        if shape != (inputs, units):
            return (f"the last Dense layer has a {shape} kernel: it gets {shape[0]} inputs, "
                    f"it needs {inputs}: {hint}")
        return None
    return Rule(requirement, check, hint)


# --- the task --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTask:
    """A "repair the model" part: ``function()`` returns a compiled Keras model for ``input_shape``."""

    input_shape: tuple
    rules: tuple = field(default_factory=tuple)
    function: str = "build_fixed_model"
    classes: int = 10
    visible: tuple = ([16, 0],)

    @property
    def requirements(self):
        return (*(rule.requirement for rule in self.rules),
                f"the model maps a (batch, {', '.join(map(str, self.input_shape))}) float32 batch to "
                f"(batch, {self.classes}) logits",
                f"the model is compiled with optimizer=\"adam\" and loss={LOSS_TEXT}",
                "the model trains one step on float32 images with integer labels "
                f"0-{self.classes - 1} (finite loss)")

    # kernel side
    def collect(self, answers, cases):
        """Call the learner's function once per case; record each model as data."""
        function = answers[self.function]
        data = []
        for case in cases:
            model_case(case)
            data.append(record_answer(function))
        return data

    # clean side
    def judge(self, data, cases, hidden):
        return judge_each(self.requirements, data, cases, hidden,
                          lambda verdicts, case, row: self._judge_one(verdicts, model_case(case), row))

    def part(self, grade_id, label):
        """The graded :class:`~convclinic.judging.core.Part` of this task."""
        return Part(grade_id=grade_id, label=label, names=(self.function,), visible=self.visible,
                    collect=self.collect, judge=self.judge, requirements=self.requirements)

    def _judge_one(self, verdicts, case, row):
        count = len(self.rules)
        output_index, compile_index, train_index = count, count + 1, count + 2
        everything = range(count + 3)
        model, problem = self._rebuild(row)
        if model is None:
            for index in everything:
                verdicts.fail(index, problem, problem)
            return
        for index, rule in enumerate(self.rules):
            message = rule.check(model)
            if message:
                verdicts.fail(index, message, rule.hint)
        batch, seed = case
        images, labels = self.data(batch, seed)
        shape_problem = self._output_problem(model, images)
        if shape_problem:
            verdicts.fail(output_index, shape_problem,
                          f"the output shape is wrong: one row of {self.classes} logits per image")
        compile_problem = compile_problem_of(row["model"].get("compile"))
        if compile_problem:
            verdicts.fail(compile_index, compile_problem, compile_problem)
        if shape_problem or compile_problem:
            why = "fix the output shape first" if shape_problem else "fix the compile settings first"
            verdicts.fail(train_index, f"the training step was not tried: {why}",
                          f"the training step was not tried: {why}")
            return
        trained, why = truth.train_one_step(model, images, labels)
        if not trained:
            verdicts.fail(train_index, f"on a ({batch}, {', '.join(map(str, self.input_shape))}) "
                                       f"batch {why}",
                          f"one training step failed: {str(why).split(':')[0]}")

    def data(self, batch, seed):
        """Judge-made training data: float32 images in [0, 1) and integer labels."""
        return truth.judge_data((batch, *self.input_shape), self.classes, seed)

    def _rebuild(self, row):
        """(model, None) or (None, why) for one collected row."""
        what = f"{self.function}()"
        if not isinstance(row, dict):
            raise ValueError("malformed row")
        error = error_text(row, what)
        if error:
            return None, error
        if "not_model" in row:
            return None, (f"{what} returned {str(row['not_model'])[:60]}, not a Keras model: "
                          "return the compiled keras.Sequential / keras.Model")
        if "unrecordable" in row:
            return None, f"the model {what} returned could not be recorded: {str(row['unrecordable'])[:160]}"
        try:
            return truth.rebuild_model(row["model"]), None
        except truth.ModelError as error:
            return None, str(error)

    def _output_problem(self, model, images):
        expected = (2, self.classes)
        with truth.default_keras_config():
            outcome = truth.outcome(lambda: model(images[:2]))
        if outcome == expected:
            return None
        shape = f"(2, {', '.join(map(str, self.input_shape))})"
        if isinstance(outcome, str):
            return f"the model cannot run on a {shape} float32 batch: {outcome}"
        return (f"the model maps a {shape} batch to {outcome}, expected {expected}: "
                f"one row of {self.classes} logits per image")


def record_answer(function):
    """Kernel side: call ``function()`` and record the model it returns, or what went wrong."""
    from convclinic.judging.kernel import model_record
    from convclinic.runtime import import_keras

    keras = import_keras()
    try:
        model = function()
    except Exception as error:  # noqa: BLE001 - the learner's error IS the record
        return {"error": type(error).__name__, "detail": _first_line(error)}
    if not isinstance(model, keras.Model):
        return {"not_model": type(model).__name__}
    try:
        return {"model": model_record(model)}
    except Exception as error:  # noqa: BLE001
        return {"unrecordable": f"{type(error).__name__}: {_first_line(error)}"}


def _first_line(error):
    from convclinic.runtime import headline

    return headline(error)[:160]


def compile_problem_of(config):
    """None when the recorded compile config is adam + SCCE(from_logits=True), else why not."""
    if not config:
        return ("the model is not compiled: call model.compile(optimizer=\"adam\", "
                f"loss={LOSS_TEXT}) before returning it")
    optimizer = _class_name(config.get("optimizer"))
    loss = config.get("loss")
    problems = []
    if optimizer != "adam":
        problems.append(f"the optimizer is {optimizer or 'missing'}, the task asks for \"adam\"")
    if _class_name(loss) != "sparsecategoricalcrossentropy":
        problems.append(f"the loss is {_class_name(loss) or 'missing'}, the task asks for {LOSS_TEXT}")
    elif not (isinstance(loss, dict) and isinstance(loss.get("config"), dict)
              and loss["config"].get("from_logits") is True):
        problems.append(f"the loss needs from_logits=True ({LOSS_TEXT}): the last Dense layer "
                        "outputs logits, not probabilities")
    return "; ".join(problems) or None


def _class_name(value):
    """A serialized optimizer/loss as a lower-case name without underscores ('adam')."""
    if isinstance(value, str):
        name = value
    elif isinstance(value, dict):
        name = value.get("class_name")
        if name == "function":
            name = value.get("config")
    else:
        return None
    return str(name).replace("_", "").lower() if name else None




pair = _config_pair  # the name other parts import
