"""Walking a Keras model: which layers are prunable, of which kind, and their BatchNorms.

Three kinds of layer are prunable (the metadata kinds of ``docs/metadata-format.md``):

* ``conv3x3``: a plain ``Conv2D`` with a 3x3 kernel, ``groups == 1``, dilation 1, strides 1 or 2;
* ``pointwise``: a plain ``Conv2D`` with a 1x1 kernel, ``groups == 1``, dilation 1, strides 1 or 2;
* ``depthwise3x3``: a ``DepthwiseConv2D`` with a 3x3 kernel, depth multiplier 1, dilation 1,
  strides 1 or 2.

All channels-last. Those are the ops the delegate runs, by the one rule of
``patternlite.op_kinds``; separable, grouped, dilated and other convs are left
untouched. This module only says what a layer *is*; which of them a prune run
actually touches (the stem, a classifier head, frozen layers) is the pruner's policy.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import keras

from patternlite.converter.errors import ConverterError, UnsupportedModelError
from patternlite.metadata import KINDS
from patternlite.op_kinds import kind_of

CONV3X3, POINTWISE, DEPTHWISE = KINDS  # "conv3x3", "pointwise", "depthwise3x3"
ALL_KINDS: tuple[str, ...] = tuple(KINDS)
# The CLI's short names, and the metadata names themselves.
KIND_ALIASES = {"3x3": CONV3X3, "1x1": POINTWISE, "depthwise": DEPTHWISE, **{k: k for k in KINDS}}
SHORT_NAMES = {CONV3X3: "3x3", POINTWISE: "1x1", DEPTHWISE: "depthwise"}
# Kinds whose kernels follow a library pattern (a pointwise weight has a single tap).
PATTERN_KINDS = (CONV3X3, DEPTHWISE)
_WEIGHTED = (
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv2DTranspose,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.Model,  # a nested model: assume it computes something
)


@dataclass
class ConvInfo:
    """One prunable layer, its kind and the BatchNormalization that directly follows it (if any)."""

    name: str
    layer: keras.layers.Conv2D | keras.layers.DepthwiseConv2D
    bn: keras.layers.BatchNormalization | None
    index: int  # position among the layers found (of the kinds asked for), in layer order
    kind: str = CONV3X3

    @property
    def in_channels(self) -> int:
        """``I`` of the layer's metadata record: 1 for a depthwise conv (one input channel per filter)."""
        return 1 if self.kind == DEPTHWISE else int(self.layer.kernel.shape[2])

    @property
    def out_channels(self) -> int:
        """``O`` of the layer's metadata record: the output channels (a depthwise conv's channels)."""
        return int(self.layer.kernel.shape[2] if self.kind == DEPTHWISE else self.layer.kernel.shape[3])


def resolve_kinds(kinds: str | Iterable[str] | None) -> tuple[str, ...]:
    """Layer kinds as metadata names, in the order of :data:`ALL_KINDS`; None means all of them.

    Accepts the metadata names (``conv3x3``, ``pointwise``, ``depthwise3x3``) and
    the CLI's short ones (``3x3``, ``1x1``, ``depthwise``), as a list or one
    comma-separated string.
    """
    if kinds is None:
        return ALL_KINDS
    items = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    names = [str(k).strip() for k in items if str(k).strip()]
    unknown = [k for k in names if k not in KIND_ALIASES]
    if unknown:
        known = ", ".join(SHORT_NAMES[k] for k in ALL_KINDS)
        raise ConverterError(f"unknown layer kind {unknown[0]!r} (choose from {known})")
    chosen = {KIND_ALIASES[k] for k in names}
    if not chosen:
        raise ConverterError("no layer kind selected (choose from " + ", ".join(SHORT_NAMES.values()) + ")")
    return tuple(k for k in ALL_KINDS if k in chosen)


def layer_kind(layer: keras.layers.Layer) -> str | None:
    """The prunable kind of ``layer`` (:data:`ALL_KINDS`), or None when the delegate cannot run it.

    The shape rule is the delegate's own (``patternlite.op_kinds``, from the contract):
    a Keras ``Conv2D`` becomes a TFLite CONV_2D, a ``DepthwiseConv2D`` a
    DEPTHWISE_CONV_2D, with the same kernel size, strides, dilation and depth
    multiplier. Grouped and channels-first layers are refused here, as the
    delegate refuses the ops they convert to.
    """
    if type(layer) is keras.layers.Conv2D:  # excludes Depthwise/Separable/Conv2DTranspose
        op, multiplier = "CONV_2D", 1
    elif type(layer) is keras.layers.DepthwiseConv2D:
        op, multiplier = "DEPTHWISE_CONV_2D", int(layer.get_config().get("depth_multiplier", 1))
    else:
        return None
    cfg = layer.get_config()
    if int(cfg.get("groups", 1)) != 1 or cfg.get("data_format", "channels_last") != "channels_last":
        return None
    size = tuple(int(k) for k in cfg.get("kernel_size", ()))
    dilation = tuple(int(d) for d in cfg.get("dilation_rate", (1, 1)))
    # Stricter than the delegate for a 1x1 conv (which it runs at any dilation): the
    # converter has always left dilated layers dense, and a dilated 1x1 conv is rare.
    if len(size) != 2 or dilation != (1, 1):
        return None
    return kind_of(op, (size[0], size[1]), strides=tuple(cfg.get("strides", (1, 1))), depth_multiplier=multiplier)


def _consumers(model: keras.Model, layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Layers of ``model`` that take ``layer``'s output as an input."""
    out = []
    for node in layer._outbound_nodes:  # noqa: SLF001 - Keras keeps the graph here, no public API
        op = getattr(node, "operation", None)
        if op is not None and op in model.layers:
            out.append(op)
    return out


def _check_model(model: keras.Model) -> None:
    if not model.built:
        raise UnsupportedModelError("the model is not built; call it on an input first")
    if not isinstance(model, keras.Sequential) and not hasattr(model, "_operations"):
        raise UnsupportedModelError("only functional and Sequential Keras models are supported")


def _scan(model: keras.Model, kinds: tuple[str, ...]) -> list[ConvInfo]:
    _check_model(model)
    found: list[ConvInfo] = []
    layers = list(model.layers)
    for pos, layer in enumerate(layers):
        kind = layer_kind(layer)
        if kind is None or kind not in kinds:
            continue
        bn: keras.layers.BatchNormalization | None = None
        if isinstance(model, keras.Sequential):
            nxt = layers[pos + 1] if pos + 1 < len(layers) else None
            if isinstance(nxt, keras.layers.BatchNormalization):
                bn = nxt
        else:
            cons = _consumers(model, layer)
            # A BN folds into the conv only if it is the conv's sole consumer.
            if len(cons) == 1 and isinstance(cons[0], keras.layers.BatchNormalization):
                bn = cons[0]
        if bn is not None and int(bn.axis if isinstance(bn.axis, int) else bn.axis[0]) not in (-1, 3):
            bn = None  # channels-first BN: do not try to fold it
        found.append(ConvInfo(name=layer.name, layer=layer, bn=bn, index=len(found), kind=kind))
    return found


def find_layers(model: keras.Model, kinds: str | Iterable[str] | None = None) -> list[ConvInfo]:
    """All prunable layers of the given kinds (default: every kind) of a built model, in layer order."""
    chosen = resolve_kinds(kinds)
    found = _scan(model, chosen)
    if not found:
        what = ", ".join(SHORT_NAMES[k] for k in chosen)
        raise UnsupportedModelError(f"the model has no prunable layers of the kinds asked for ({what})")
    return found


def find_convs(model: keras.Model) -> list[ConvInfo]:
    """All prunable 3x3 convs of a built functional or Sequential model, in layer order."""
    convs = _scan(model, (CONV3X3,))
    if not convs:
        raise UnsupportedModelError("the model has no 3x3 Conv2D layers to prune")
    return convs


def kinds_of(model: keras.Model) -> dict[str, str]:
    """Layer name -> kind for every prunable layer of ``model`` (empty when there is none)."""
    return {c.name: c.kind for c in _scan(model, ALL_KINDS)}


def heads(model: keras.Model) -> set[str]:
    """Names of the layers after which no conv or dense layer follows (e.g. a 1x1 conv classifier).

    Assumes ``model.layers`` is in topological order (Keras keeps it so); a
    consumer not yet seen counts as computing something, so an unusual order
    can only make fewer layers heads.
    """
    _check_model(model)
    layers = list(model.layers)
    if isinstance(model, keras.Sequential):
        out: set[str] = set()
        later_weighted = False
        for layer in reversed(layers):
            if not later_weighted:
                out.add(layer.name)
            later_weighted = later_weighted or isinstance(layer, _WEIGHTED)
        return out
    weighted_after: dict[int, bool] = {}
    for layer in reversed(layers):
        weighted_after[id(layer)] = any(
            isinstance(c, _WEIGHTED) or weighted_after.get(id(c), True) for c in _consumers(model, layer)
        )
    return {layer.name for layer in layers if not weighted_after[id(layer)]}


def has_softmax_activation(layer: keras.layers.Layer) -> bool:
    """True when ``layer`` applies a softmax as its fused activation (e.g. ``Dense(10, "softmax")``)."""
    return getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"


def with_logits(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose final softmax (if any) is dropped, so its output is logits.

    Matching probabilities gives vanishing gradients once the teacher is
    confident; matching (softened) logits does not.
    """
    copy = clone_with_weights(model)
    last = copy.layers[-1]
    if has_softmax_activation(last):
        last.activation = keras.activations.linear
    return copy


def clone_with_weights(model: keras.Model) -> keras.Model:
    """A structurally identical copy holding copies of the weights, so pruning never edits the input."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone
