"""Masked retraining: the client fine-tunes on its own data while every pruned weight stays zero.

The masks are re-applied after every optimizer step (a callback), which works
with any optimizer and any Keras 3 backend state; momentum cannot leak weight
back into a pruned position because the position is zeroed again right after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import numpy.typing as npt

from patternlite.converter.errors import ConverterError
from patternlite.converter.graph import has_softmax_activation
from patternlite.converter.pruner import PruneResult


class MaskConstraint(keras.constraints.Constraint):
    """A kernel constraint that multiplies by a fixed 0/1 mask (for users who build their own layers)."""

    def __init__(self, mask: npt.ArrayLike) -> None:
        self.mask = np.asarray(mask, dtype=np.float32)

    def __call__(self, w: Any) -> Any:
        return w * keras.ops.convert_to_tensor(self.mask, dtype=w.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mask": self.mask.tolist()}


class MaskCallback(keras.callbacks.Callback):
    """Zero the pruned weights of the named layers after every training batch."""

    def __init__(self, masks: Mapping[str, npt.ArrayLike]) -> None:
        super().__init__()
        self.masks = {name: np.asarray(m, dtype=np.float32) for name, m in masks.items()}

    def apply(self, model: keras.Model) -> None:
        for name, mask in self.masks.items():
            kernel = model.get_layer(name).kernel
            if tuple(kernel.shape) != mask.shape:
                raise ConverterError(f"mask for {name} has shape {mask.shape}, kernel has {tuple(kernel.shape)}")
            kernel.assign(keras.ops.convert_to_numpy(kernel) * mask)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.apply(self.model)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.apply(self.model)


def masked_finetune(
    result_or_model: PruneResult | keras.Model,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    masks: Mapping[str, npt.ArrayLike] | None = None,
    epochs: int = 3,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    loss: str | keras.losses.Loss | None = None,
    validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    freeze_bn: bool = True,
    verbose: int = 1,
) -> keras.Model:
    """Fine-tune the pruned model on ``(x, y)`` (integer labels) with the masks held fixed.

    The model is trained in place and returned. ``loss`` defaults to sparse
    categorical cross-entropy, from logits unless the model ends in a softmax.
    ``freeze_bn`` keeps the BatchNorm layers in inference mode with their
    pretrained statistics: a few thousand client images (often of another
    quality, e.g. JPEG) would otherwise drag the running statistics away from
    what the rest of the network was trained with.
    """
    if isinstance(result_or_model, PruneResult):
        model = result_or_model.model
        masks = result_or_model.masks if masks is None else masks
    else:
        model = result_or_model
    if masks is None:
        raise ConverterError("masked_finetune needs masks (a PruneResult or masks=...)")
    if loss is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=not _ends_in_softmax(model))
    frozen = []
    if freeze_bn:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable:
                layer.trainable = False
                frozen.append(layer)
    try:
        _fit(model, x, y, masks, epochs, batch_size, learning_rate, loss, validation_data, verbose)
    finally:
        for layer in frozen:
            layer.trainable = True
    return model


def _fit(
    model: keras.Model,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    masks: Mapping[str, npt.ArrayLike],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    loss: str | keras.losses.Loss,
    validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None,
    verbose: int,
) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"])
    model.fit(
        np.asarray(x, np.float32),
        np.asarray(y),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=[MaskCallback(masks)],
        validation_data=validation_data,
        verbose=verbose,
    )


def _ends_in_softmax(model: keras.Model) -> bool:
    last = model.layers[-1]
    return isinstance(last, keras.layers.Softmax) or has_softmax_activation(last)
