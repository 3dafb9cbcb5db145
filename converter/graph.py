"""Walking a Keras model: which layers are prunable 3x3 convs, and their BatchNorms.

Only plain ``Conv2D`` layers with a 3x3 kernel, ``groups == 1`` and dilation 1
are prunable: those are the ops the delegate claims. Depthwise/separable convs,
1x1 shortcuts and dilated convs are left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from patternlite.converter.errors import UnsupportedModelError


@dataclass
class ConvInfo:
    """One prunable conv layer and the BatchNormalization that directly follows it (if any)."""

    name: str
    layer: keras.layers.Conv2D
    bn: keras.layers.BatchNormalization | None
    index: int  # position among the model's 3x3 convs, in layer order

    @property
    def in_channels(self) -> int:
        return int(self.layer.kernel.shape[2])

    @property
    def out_channels(self) -> int:
        return int(self.layer.kernel.shape[3])


def is_prunable_conv(layer: keras.layers.Layer) -> bool:
    """True for the 3x3 dense (ungrouped, undilated) convolutions the delegate can run."""
    if type(layer) is not keras.layers.Conv2D:  # excludes Depthwise/Separable/Conv2DTranspose
        return False
    cfg = layer.get_config()
    if tuple(cfg.get("kernel_size", ())) != (3, 3):
        return False
    if int(cfg.get("groups", 1)) != 1:
        return False
    if cfg.get("data_format", "channels_last") != "channels_last":
        return False
    return tuple(cfg.get("dilation_rate", (1, 1))) == (1, 1)


def _consumers(model: keras.Model, layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Layers of ``model`` that take ``layer``'s output as an input."""
    out = []
    for node in layer._outbound_nodes:  # noqa: SLF001 - Keras keeps the graph here, no public API
        op = getattr(node, "operation", None)
        if op is not None and op in model.layers:
            out.append(op)
    return out


def find_convs(model: keras.Model) -> list[ConvInfo]:
    """All prunable 3x3 convs of a built functional or Sequential model, in layer order."""
    if not model.built:
        raise UnsupportedModelError("the model is not built; call it on an input first")
    if not isinstance(model, keras.Sequential) and not hasattr(model, "_operations"):
        raise UnsupportedModelError("only functional and Sequential Keras models are supported")
    convs: list[ConvInfo] = []
    layers = list(model.layers)
    for pos, layer in enumerate(layers):
        if not is_prunable_conv(layer):
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
        convs.append(ConvInfo(name=layer.name, layer=layer, bn=bn, index=len(convs)))
    if not convs:
        raise UnsupportedModelError("the model has no 3x3 Conv2D layers to prune")
    return convs


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
