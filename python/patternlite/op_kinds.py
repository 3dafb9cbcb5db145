"""Which kind of layer an op is: the one rule the converter, the exporter and ``inspect`` share.

The rule is the contract's ``KIND_RULES`` (spec/contract.toml), which the delegate
reads from its generated header: an op is of a kind when its operator, filter size,
strides, dilation and depth multiplier are those the delegate runs for that kind.
Weights, metadata and sparsity are judged later, by the delegate alone. The
converter asks the same question of a Keras layer before pruning it, so it never
prunes a layer the delegate would decline for its shape. Needs no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

from patternlite._contract import KIND_RULES, KindRule
from patternlite.tflite_file import ConvOp, TfliteModel

__all__ = ["KIND_RULES", "KindRule", "kind_of", "kind_value_of", "tflite_kind_value"]


def _matches(
    rule: KindRule,
    op: str,
    kernel: tuple[int, int],
    strides: Sequence[int],
    dilation: Sequence[int],
    depth_multiplier: int,
) -> bool:
    if op != rule.op or tuple(int(k) for k in kernel) != rule.kernel:
        return False
    if not all(int(s) in rule.strides for s in strides):
        return False
    if not rule.any_dilation and any(int(d) != 1 for d in dilation):
        return False
    # depth_multiplier 0 in a rule: not a depthwise op, the argument does not apply.
    return rule.depth_multiplier == 0 or int(depth_multiplier) == rule.depth_multiplier


def kind_of(
    op: str,
    kernel: tuple[int, int],
    strides: Sequence[int] = (1, 1),
    dilation: Sequence[int] = (1, 1),
    depth_multiplier: int = 1,
) -> str | None:
    """The kind name (``conv3x3``, ``pointwise``, ``depthwise3x3``) of an op, or None when it is none of them.

    ``op`` is the TFLite operator name ("CONV_2D", "DEPTHWISE_CONV_2D"), ``kernel`` the
    filter's (height, width), ``strides`` and ``dilation`` per axis, ``depth_multiplier``
    that of a depthwise op (ignored for other ops).
    """
    value = kind_value_of(op, kernel, strides, dilation, depth_multiplier)
    return None if value is None else KIND_RULES[value].name


def kind_value_of(
    op: str,
    kernel: tuple[int, int],
    strides: Sequence[int] = (1, 1),
    dilation: Sequence[int] = (1, 1),
    depth_multiplier: int = 1,
) -> int | None:
    """As :func:`kind_of`, the kind's value (the metadata's kind field) instead of its name."""
    for rule in KIND_RULES:
        if _matches(rule, op, kernel, strides, dilation, depth_multiplier):
            return rule.value
    return None


def tflite_kind_value(model: TfliteModel, conv: ConvOp) -> int | None:
    """The kind value of a conv of a read ``.tflite`` (:func:`kind_value_of` on its filter and options), or None.

    A depthwise filter is [1, KH, KW, C * multiplier]: its multiplier is read off the
    input's channels, as the delegate does, rather than trusted from the options.
    """
    shape = model.tensors[conv.filter].shape
    if len(shape) != 4:
        return None
    multiplier = 1
    if conv.builtin == "DEPTHWISE_CONV_2D":
        if shape[0] != 1:
            return None
        in_shape = model.tensors[conv.input].shape
        channels = in_shape[3] if len(in_shape) == 4 else 0
        multiplier = shape[3] // channels if channels > 0 and shape[3] % channels == 0 else 0
    return kind_value_of(conv.builtin, (shape[1], shape[2]), conv.stride, conv.dilation, multiplier)
