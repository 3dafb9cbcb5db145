"""Data-free distillation: after layer-wise pruning, train the pruned network to match the
original network's outputs on the same synthetic inputs, masks and BatchNorm statistics fixed.

Layer-wise reconstruction fixes each layer in isolation; small errors still add
up through depth. A few epochs of end-to-end matching on synthetic inputs
(no labels, no client data) spreads the correction across layers.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from patternlite.converter.finetune import MaskCallback


class _Progress(keras.callbacks.Callback):
    def __init__(self, bar: tqdm) -> None:
        super().__init__()
        self.bar = bar

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.bar.update(1)
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3g}")


def distill(
    student: keras.Model,
    teacher: keras.Model,
    x: npt.NDArray[np.float32],
    masks: Mapping[str, npt.NDArray[np.bool_]],
    *,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    progress: bool = True,
) -> None:
    """Train ``student`` in place so its outputs match ``teacher``'s on ``x`` (mean squared error)."""
    target = np.concatenate([np.asarray(teacher([x[i : i + 64]], training=False)) for i in range(0, len(x), 64)])
    frozen = []
    for layer in student.layers:
        # BN statistics come from the pretrained model; synthetic batches must not overwrite them.
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable:
            layer.trainable = False
            frozen.append(layer)
    try:
        student.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
        bar = tqdm(total=epochs, desc="distill", disable=not progress, leave=False)
        student.fit(
            x,
            target,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=0,
            callbacks=[MaskCallback(masks), _Progress(bar)],
        )
        bar.close()
    finally:
        for layer in frozen:
            layer.trainable = True
