"""Conv2D shape arithmetic, exactly as Keras 3 does it, without importing TensorFlow.

This package is the ONLY owner of the Conv2D rules: every output size, SAME
padding split, effective kernel and data-format permutation in convclinic is
computed here; plots, widgets and diagnosis only call it
(``tests/test_architecture.py`` enforces that).

Taught in lesson 00 (the numbered rules), 02 (SAME padding), 03 (stride,
dilation, a stack that shrinks to nothing), 04 (data formats) and 06
(tracing a whole model).

The five rules, numbered as the lessons number them (effective kernel, valid,
same, TF's asymmetric SAME padding, no stride with dilation), are written out
once, in :mod:`~convclinic.shapes.rules`.

Modules, one idea each:

- :mod:`~convclinic.shapes.rules`: the rules themselves, argument normalisers
  (:func:`pair`), data formats (:data:`DATA_FORMATS`, :func:`layout_permutation`);
- :mod:`~convclinic.shapes.geometry`: :class:`ConvGeometry`, where the kernel
  lands (padding, output size, taps, coverage) for the drawings;
- :mod:`~convclinic.shapes.explain`: :func:`rule_text`, the rules in words
  with a setting's numbers;
- :mod:`~convclinic.shapes.transpose`: :func:`conv_transpose_output_size`,
  the size rule of ``Conv2DTranspose`` (lesson 07);
- :mod:`~convclinic.shapes.stack`: layer specs and :func:`trace`;
- :mod:`~convclinic.shapes.keras_layers`: :func:`spec_from_layer`, a Keras
  layer read as a spec (duck-typed, no Keras import).

Every function raises ``ValueError`` exactly where Keras raises, with a
message a learner can act on.
"""

from __future__ import annotations

from convclinic.shapes.explain import rule_text
from convclinic.shapes.geometry import ConvGeometry, conv_geometry
from convclinic.shapes.keras_layers import (
    SAME_SHAPE_LAYERS,
    SameShape,
    spec_from_layer,
    specs_from_layers,
)
from convclinic.shapes.rules import (
    DATA_FORMATS,
    PADDINGS,
    SPATIAL_NAMES,
    check_stride_dilation,
    conv2d_output_shape,
    conv_output_size,
    effective_kernel,
    effective_kernel_size,
    join_shape,
    layout_permutation,
    normalize_data_format,
    normalize_padding,
    pair,
    permute_shape,
    pool2d_output_shape,
    positive_int,
    same_padding,
    split_shape,
)
from convclinic.shapes.stack import (
    AveragePooling2D,
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
    Trace,
    TraceStep,
    ZeroPadding2D,
    trace,
)
from convclinic.shapes.transpose import conv_transpose_output_size

__all__ = [
    "PADDINGS",
    "DATA_FORMATS",
    "SPATIAL_NAMES",
    "pair",
    "positive_int",
    "effective_kernel",
    "effective_kernel_size",
    "conv_output_size",
    "conv_transpose_output_size",
    "same_padding",
    "check_stride_dilation",
    "normalize_padding",
    "normalize_data_format",
    "conv2d_output_shape",
    "pool2d_output_shape",
    "split_shape",
    "join_shape",
    "layout_permutation",
    "permute_shape",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "ZeroPadding2D",
    "Flatten",
    "Dense",
    "SameShape",
    "SAME_SHAPE_LAYERS",
    "spec_from_layer",
    "specs_from_layers",
    "TraceStep",
    "Trace",
    "trace",
    "ConvGeometry",
    "conv_geometry",
    "rule_text",
]
