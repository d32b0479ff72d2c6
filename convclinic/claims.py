"""Claims of older tutorials against what the installed Keras 2 and Keras 3 do.

Lesson 05 keeps ONE claims-against-reality table: each claim an older Conv2D
tutorial makes (most were written for Keras 2, such as the article "Why did
Conv2D fail to initialize?") is a :class:`Claim` with a small scenario, run
under both Kerases by :func:`convclinic.versions.side_by_side`.
:func:`claims_table` runs them all and shows the table (text or HTML).

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from convclinic.versions import KERAS_LABELS, keras_versions, side_by_side

__all__ = ["Claim", "CLAIMS", "ClaimTable", "claims_table"]


def _shape(tensor):
    return tuple(None if v is None else int(v) for v in tensor.shape)


def _example1_build(keras):
    model = keras.Sequential(
        [keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
    )
    model.build((None, 28, 28, 1))
    return f"built, output {_shape(model.outputs[0])}"


def _example1_call(keras):
    import numpy as np

    model = keras.Sequential(
        [keras.layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
    )
    return _shape(model(np.random.normal(size=(1, 100, 100)).astype("float32")))


def _example2(keras):
    keras.Sequential([keras.layers.Conv2D(32, (3, 3), padding="invalid", input_shape=(28, 28, 1))])
    return "built"


def _big_stride(keras):
    import numpy as np

    return _shape(keras.layers.Conv2D(4, 3, strides=50)(np.zeros((1, 28, 28, 1), "float32")))


def _example3_models(keras):
    last = keras.Sequential([keras.layers.Conv2D(32, (3, 3), input_shape=(28, 28, 1))])
    first = keras.Sequential(
        [keras.layers.Conv2D(32, (3, 3), input_shape=(1, 28, 28), data_format="channels_first")]
    )
    return last, first


def _example3_build(keras):
    last, _ = _example3_models(keras)
    last.build((1, 28, 28, 1))  # the article passes input_tensor_last.shape: batch 1, not None
    return "built"


def _example3_mismatch(keras):
    import numpy as np

    last, _ = _example3_models(keras)
    return _shape(last(np.zeros((1, 1, 28, 28), "float32")))


def _channels_first_cpu(keras):
    import numpy as np

    layer = keras.layers.Conv2D(8, 3, data_format="channels_first")
    return _shape(layer(np.zeros((1, 3, 28, 28), "float32")))


def _bare_layer_mismatch(keras):
    import numpy as np

    layer = keras.layers.Conv2D(8, 3, data_format="channels_first")
    return _shape(layer(np.zeros((1, 28, 28, 3), "float32")))


@dataclass
class Claim:
    """One claim of older tutorials and the scenario that tests it under both Kerases."""

    key: str
    where: str
    claim: str
    scenario: object = field(repr=False)


CLAIMS = (
    Claim("example1_build", "Example 1",
          "model.build((None, 28, 28, 1)) on a model declared input_shape=(28, 28, 1) "
          "\"will fail\"", _example1_build),
    Claim("example1_call", "Example 1",
          "a (1, 100, 100) tensor without the channel axis makes that model fail",
          _example1_call),
    Claim("example2_invalid_padding", "Example 2",
          "padding='invalid' \"will usually build\"", _example2),
    Claim("big_stride", "Invalid Stride",
          "a stride larger than the input gives an empty output (stride 50 on 28x28)",
          _big_stride),
    Claim("example3_build", "Example 3",
          "model.build(input_tensor_last.shape), batch axis 1, builds the model",
          _example3_build),
    Claim("example3_mismatch", "Example 3",
          "a channels_first tensor into the channels_last model \"will usually throw\"",
          _example3_mismatch),
    Claim("channels_first_cpu", "folklore (not in the article)",
          "channels_first only works on a GPU: it fails on the CPU", _channels_first_cpu),
    Claim("bare_layer_mismatch", "Data Format Mismatch",
          "an inconsistent data format \"will cause initialization to fail\" "
          "(a channels_first Conv2D(8, 3) on an NHWC (1, 28, 28, 3) image)",
          _bare_layer_mismatch),
)


@dataclass(repr=False)
class ClaimTable:
    """Rows of (claim, Keras 2 outcome, Keras 3 outcome); shows itself as a table."""

    rows: list
    versions: dict

    def outcome(self, key, label="Keras 3"):
        for claim, outcomes in self.rows:
            if claim.key == key:
                return outcomes[label]
        raise KeyError(key)

    def __repr__(self):
        return str(self)

    def __str__(self):
        lines = []
        for claim, outcomes in self.rows:
            lines.append(f"{claim.where}: {claim.claim}")
            for label, outcome in outcomes.items():
                lines.append(f"    {self.versions[label]:>16}: {outcome.text}")
        return "\n".join(lines)

    def _repr_html_(self):
        from html import escape

        head = "".join(
            f"<th>{escape(label)} ({escape(self.versions[label])}) does</th>"
            for label, _ in KERAS_LABELS
        )
        body = "".join(
            "<tr><td>{}</td><td>{}</td>{}</tr>".format(
                escape(claim.where),
                escape(claim.claim),
                "".join(
                    f"<td>{escape(outcomes[label].text)}</td>" for label, _ in KERAS_LABELS
                ),
            )
            for claim, outcomes in self.rows
        )
        return (
            '<table class="convclinic-claims"><thead><tr><th>where</th><th>the claim</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table>"
        )


def claims_table(claims=CLAIMS):
    """Run every claim under Keras 2 and Keras 3 and return the :class:`ClaimTable`. Lesson 05."""
    return ClaimTable(
        rows=[(claim, side_by_side(claim.scenario)) for claim in claims], versions=keras_versions()
    )
