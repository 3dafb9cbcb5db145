"""A MobileNetV2-style CIFAR-10 model, trained here, for the accuracy of 1x1 and depthwise pruning.

The shared material has no pretrained MobileNet, so this plays the client's
pretrained model: inverted-residual blocks (1x1 expand, 3x3 depthwise, 1x1
project, residual adds, BatchNorm and ReLU6 as in MobileNetV2) sized for 32x32
inputs, trained on the client's 10,000 training images
(``cifar10_client_train_jpeg_q75.npz``, the only CIFAR training images there
are) for a few minutes on the CPU. Its dense accuracy is therefore far below
a MobileNet trained on all of CIFAR-10; what the benchmark measures is how
much of it each stage keeps.

    PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.mobilenet_cifar --minutes 8

caches the model in benchmarks/.cache/accuracy/mobilenet_cifar-<minutes>min.keras.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.accuracy.common import REPO, dev_sets, shared_dir, top1

# (expansion, output channels, blocks, first stride): MobileNetV2's stages, narrowed for 32x32.
STAGES = [(1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 3, 2), (4, 64, 3, 2), (4, 96, 2, 1)]
SEED = 0


def build() -> Any:
    """The untrained model: raw 0..255 RGB in (scaling inside), 10 logits out."""
    import keras
    from keras import layers

    def BN(name: str) -> Any:  # noqa: N802 - reads as the layer it makes
        # Momentum 0.9: minutes of training are a few hundred steps, too few for
        # the default 0.99 moving statistics to settle (inference then fails).
        return layers.BatchNormalization(momentum=0.9, name=name)

    inp = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inp)
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, name="stem")(x)
    x = BN(name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    channels = 32
    for s, (t, c, n, stride) in enumerate(STAGES):
        for b in range(n):
            name = f"s{s}b{b}"
            y = x
            if t != 1:
                y = layers.Conv2D(channels * t, 1, use_bias=False, name=f"{name}_expand")(y)
                y = BN(name=f"{name}_expand_bn")(y)
                y = layers.ReLU(6.0, name=f"{name}_expand_relu")(y)
            y = layers.DepthwiseConv2D(
                3, strides=stride if b == 0 else 1, padding="same", use_bias=False, name=f"{name}_dw"
            )(y)
            y = BN(name=f"{name}_dw_bn")(y)
            y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
            y = layers.Conv2D(c, 1, use_bias=False, name=f"{name}_project")(y)
            y = BN(name=f"{name}_project_bn")(y)
            if b > 0 or (stride == 1 and channels == c):
                y = layers.Add(name=f"{name}_add")([x, y])
            x, channels = y, c
    x = layers.Conv2D(256, 1, use_bias=False, name="head_conv")(x)
    x = BN(name="head_bn")(x)
    x = layers.ReLU(6.0, name="head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    out = layers.Dense(10, name="logits")(x)
    return keras.Model(inp, out, name="mobilenet_cifar")


def train(x: np.ndarray, y: np.ndarray, minutes: float, batch: int = 128) -> Any:
    """A fresh model trained for about ``minutes`` (flips and shifts, AdamW, cosine decay by time)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    model = build()
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.125, 0.125)])
    data = (
        tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.int64)))
        .shuffle(len(x), seed=SEED, reshuffle_each_iteration=True)
        .batch(batch)
        .map(lambda a, b: (augment(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(2)
    )
    steps_per_epoch = math.ceil(len(x) / batch)
    # One epoch at the peak rate tells how many fit the budget; then cosine decay over those.
    model.compile(
        optimizer=keras.optimizers.AdamW(2e-3, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    t0 = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    per_epoch = time.perf_counter() - t0
    epochs = max(1, int(60 * minutes / per_epoch) - 1)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, epochs * steps_per_epoch)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(data, epochs=epochs, verbose=0)
    print(f"trained {epochs + 1} epochs in {time.perf_counter() - t0:.0f} s", flush=True)
    return model


def trained(shared: Path, cache: Path, minutes: float) -> Any:
    """The cached model trained for ``minutes`` on the client images, training it if needed."""
    import keras

    path = cache / f"mobilenet_cifar-{minutes:g}min.keras"
    if path.exists():
        return keras.models.load_model(path, compile=False)
    client = np.load(shared / "data" / "cifar10_client_train_jpeg_q75.npz")
    model = train(client["images"], client["labels"], minutes)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    tmp.replace(path)
    return model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "accuracy")
    args = p.parse_args(argv)
    shared = shared_dir(args.shared)
    if not (shared / "data" / "cifar10_client_train_jpeg_q75.npz").is_file():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    model = trained(shared, args.cache, args.minutes)
    x_eval, y_eval, x_jpeg, y_jpeg = dev_sets(shared)
    print(f"top-1: lossless {top1(model, x_eval, y_eval):.1%}, JPEG {top1(model, x_jpeg, y_jpeg):.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
