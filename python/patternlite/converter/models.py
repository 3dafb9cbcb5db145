"""Built-in material for the demo and the tests: a digits CNN and a VGG-shaped speed model."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt

from patternlite.converter.export.io import write_atomic

DIGITS_SIZE = 16


def cache_dir() -> Path:
    """``$PATTERNLITE_CACHE`` or ``~/.cache/patternlite`` (created on demand)."""
    d = Path(os.environ.get("PATTERNLITE_CACHE", Path.home() / ".cache" / "patternlite")).expanduser()
    d.mkdir(parents=True, exist_ok=True)
    return d


def digits_data() -> tuple[
    npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64]
]:
    """scikit-learn's 8x8 digits, upsampled to 16x16x1 in 0..1; a fixed 75/25 train/test split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    x = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)[..., None]  # nearest-neighbour 8x8 -> 16x16
    y = d.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n_train = int(0.75 * len(x))
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def digits_cnn(width: int = 32, seed: int = 0) -> keras.Model:
    """A small CNN: four 3x3 conv + BN + ReLU blocks, global pooling, dense head."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((DIGITS_SIZE, DIGITS_SIZE, 1), name="digits")
    x = inp
    for i, (ch, pool) in enumerate([(width // 2, False), (width, True), (width, False), (width, False)]):
        x = keras.layers.Conv2D(ch, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        if pool:
            x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(inp, out, name="digits_cnn")


def train_digits_cnn(epochs: int = 20, width: int = 32, seed: int = 0, verbose: int = 0) -> keras.Model:
    x, y, _, _ = digits_data()
    model = digits_cnn(width, seed)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, batch_size=64, shuffle=True, verbose=verbose)
    return model


def cached_digits_cnn(verbose: int = 0) -> keras.Model:
    """The demo's pretrained digits CNN: trained on first use, then loaded from the cache."""
    path = cache_dir() / "digits_cnn.keras"
    if path.exists():
        try:
            return keras.models.load_model(path, compile=False)
        except (OSError, ValueError):
            path.unlink()  # a damaged cache entry: retrain
    model = train_digits_cnn(verbose=verbose)
    write_atomic(path, lambda tmp: model.save(tmp))
    return model


def accuracy(model: keras.Model, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
    pred = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(pred, axis=1) == y))


def vgg_blocks(blocks: int = 2, size: int = 224, seed: int = 0) -> keras.Model:
    """The first ``blocks`` VGG-16 blocks (random He weights, BN after each conv) at ImageNet size."""
    keras.utils.set_random_seed(seed)
    widths = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)][:blocks]
    inp = keras.Input((size, size, 3), name="image")
    x = inp
    for b, (ch, n) in enumerate(widths, start=1):
        for c in range(1, n + 1):
            x = keras.layers.Conv2D(ch, 3, padding="same", activation="relu", name=f"block{b}_conv{c}")(x)
        x = keras.layers.MaxPooling2D(name=f"block{b}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(1000, name="predictions")(x)
    return keras.Model(inp, out, name=f"vgg16_blocks{blocks}")
