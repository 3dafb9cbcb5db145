"""Synthetic inputs: the only "data" the converter ever sees.

Two generators:

* ``noise`` - Gaussian noise, scaled and shifted so the first BatchNorm sees
  roughly the mean and variance it was trained on (the model's expected input
  range is unknown: raw 0..255 pixels, 0..1, or standardised).
* ``bn`` - starts from that noise and optimises the inputs so that every
  BatchNorm layer's batch statistics match its running statistics (the
  ZeroQ / DeepInversion idea). Inputs then excite the network like real data
  does, which makes layer-wise reconstruction far more faithful than noise.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter.clock import MONOTONIC, Clock
from patternlite.converter.errors import UnsupportedModelError
from patternlite.converter.progress import progress_bar

SYNTHETIC_KINDS = ("bn", "noise")


def input_shape(model: keras.Model) -> tuple[int, ...]:
    """The single input's shape without the batch dimension; every dimension must be known."""
    if len(model.inputs) != 1:
        raise UnsupportedModelError(f"the model has {len(model.inputs)} inputs; only one is supported")
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise UnsupportedModelError(f"the input shape {shape} has unknown dimensions")
    return tuple(int(d) for d in shape)  # type: ignore[arg-type]


def batchnorms(model: keras.Model) -> list[keras.layers.BatchNormalization]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def _bn_stats(bn: keras.layers.BatchNormalization) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    return (
        keras.ops.convert_to_numpy(bn.moving_mean).astype(np.float32),
        keras.ops.convert_to_numpy(bn.moving_variance).astype(np.float32),
    )


def _calibration(model: keras.Model, shape: tuple[int, ...], seed: int) -> tuple[float, float]:
    """Offset ``m`` and scale ``s`` so ``m + s * N(0, 1)`` matches the first BN's input statistics.

    The path from the input to the first BN is usually affine (normalisation,
    padding, a conv), so its channel means are affine in ``m`` and its channel
    variances scale with ``s**2``; three probes solve for both.
    """
    bns = batchnorms(model)
    if not bns:
        return 0.0, 1.0
    probe = keras.Model(model.inputs, bns[0].input)
    z = np.random.default_rng(seed + 7).standard_normal((16, *shape)).astype(np.float32)
    f0 = np.asarray(probe([np.zeros((1, *shape), np.float32)], training=False))
    f1 = np.asarray(probe([np.ones((1, *shape), np.float32)], training=False))
    fz = np.asarray(probe([z], training=False))
    axes = tuple(range(fz.ndim - 1))
    mean0, mean1, meanz = f0.mean(axis=axes), f1.mean(axis=axes), fz.mean(axis=axes)
    varz = fz.var(axis=axes)
    rm, rv = _bn_stats(bns[0])
    ok = varz > 1e-12
    s = math.sqrt(float(np.median(rv[ok] / varz[ok]))) if ok.any() else 1.0
    slope = mean1 - mean0
    resid = rm - mean0 - s * (meanz - mean0)
    denom = float(slope @ slope)
    m = float(slope @ resid) / denom if denom > 1e-12 else 0.0
    if not (math.isfinite(s) and s > 0 and math.isfinite(m)):
        return 0.0, 1.0
    return m, s


def noise_inputs(model: keras.Model, samples: int, *, seed: int = 0) -> npt.NDArray[np.float32]:
    """Calibrated Gaussian noise, ``samples`` inputs."""
    shape = input_shape(model)
    m, s = _calibration(model, shape, seed)
    z = np.random.default_rng(seed).standard_normal((samples, *shape)).astype(np.float32)
    return m + s * z


class BnMatcher:
    """The model's BatchNorm running statistics as a loss on a batch of inputs.

    Inputs are parametrised as ``x = m + s * z`` (the calibration of
    :func:`_calibration`), so step sizes are in units of calibrated noise.
    """

    def __init__(self, model: keras.Model, *, seed: int = 0, tv: float = 0.0) -> None:
        self.shape = input_shape(model)
        self.m, self.s = _calibration(model, self.shape, seed)
        self.tv = tv
        bns = batchnorms(model)
        if not bns:
            raise UnsupportedModelError("the model has no BatchNorm layer to match")
        self.feats = keras.Model(model.inputs, [bn.input for bn in bns])
        self.targets = []
        for bn in bns:
            rm, rv = _bn_stats(bn)
            self.targets.append((tf.constant(rm), tf.constant(np.sqrt(rv + 1e-5)), tf.constant(1.0 / (rv + 1e-5))))

    def inputs(self, z: tf.Tensor) -> tf.Tensor:
        return self.m + self.s * z

    def latent(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        return ((x - self.m) / self.s).astype(np.float32)

    def images(self, z: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """:meth:`inputs` for a latent batch already taken off the graph."""
        return np.asarray(self.m + self.s * z, np.float32)

    def loss(self, z: tf.Tensor) -> tf.Tensor:
        acts = self.feats([self.inputs(z)], training=False)
        if not isinstance(acts, (list, tuple)):
            acts = [acts]
        total = tf.constant(0.0)
        for a, (rm, rsd, inv_var) in zip(acts, self.targets, strict=True):
            axes = list(range(len(a.shape) - 1))
            mu, var = tf.nn.moments(a, axes=axes)
            # Scale-free: squared errors in units of the layer's own running variance.
            total += tf.reduce_mean(((mu - rm) ** 2 + (tf.sqrt(var + 1e-5) - rsd) ** 2) * inv_var)
        # A weak prior keeps the inputs in the calibrated range instead of drifting to extremes.
        loss = total / len(self.targets) + 1e-4 * tf.reduce_mean(z**2)
        if self.tv > 0 and len(z.shape) == 4:
            # Natural images are smooth; a total-variation prior pushes synthetic ones the same way.
            loss += self.tv * (
                tf.reduce_mean((z[:, 1:] - z[:, :-1]) ** 2) + tf.reduce_mean((z[:, :, 1:] - z[:, :, :-1]) ** 2)
            )
        return loss


def bn_inputs(
    model: keras.Model,
    samples: int,
    *,
    steps: int = 200,
    batch: int = 64,
    lr: float = 5.0,
    tv: float = 0.0,
    seed: int = 0,
    progress: bool = True,
    seconds: float | None = None,
    clock: Clock = MONOTONIC,
) -> npt.NDArray[np.float32]:
    """Inputs optimised so every BatchNorm's batch statistics match its running statistics.

    ``seconds`` (optional) bounds the time: no new batch starts once the
    batches so far, plus one more at their mean time, would overrun it, so
    fewer than ``samples`` images may come back (at least one batch). ``clock``
    measures it.

    Each batch is optimised on its own (BN statistics are per batch). Falls back
    to calibrated noise when the model has no BatchNorm. The step size is in
    units of the calibrated noise: real images sit many noise-sigmas apart
    (white noise that matches the first BN is far lower in contrast), so a
    large first step is what lets 200 Adam steps get there. The step then
    decays to zero on a cosine schedule, so the statistics actually converge:
    with a constant step of 5 the MLPerf-Tiny ResNet-8 never settled (BN loss
    0.32 after 200 steps; 47.8% top-1 after patterns-only pruning), with the
    cosine schedule it reaches 0.002 and 75.8% (dense: 89.0%); ResNet-20 is
    unchanged at 76.4% for keep 0.5.
    """
    if not batchnorms(model):
        return noise_inputs(model, samples, seed=seed)
    matcher = BnMatcher(model, seed=seed, tv=tv)
    shape = matcher.shape
    rng = np.random.default_rng(seed)
    out = np.empty((samples, *shape), np.float32)
    n_batches = math.ceil(samples / batch)
    bar = progress_bar(total=n_batches * steps, desc="bn-synthetic", disable=not progress, leave=False)

    t0 = clock()
    done = 0
    for b in range(n_batches):
        spent = clock() - t0
        if seconds is not None and b > 0 and spent + spent / b > seconds:
            break
        n = min(batch, samples - b * batch)
        z = tf.Variable(rng.standard_normal((n, *shape)).astype(np.float32))
        opt = keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.CosineDecay(lr, max(steps, 1)))

        @tf.function
        def step(z: tf.Variable = z, opt: keras.optimizers.Optimizer = opt) -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = matcher.loss(z)
            opt.apply_gradients([(tape.gradient(loss, z), z)])
            return loss

        for _ in range(steps):
            loss = step()
            bar.update(1)
        bar.set_postfix(bn_loss=f"{float(loss):.3g}", refresh=False)
        out[b * batch : b * batch + n] = matcher.images(z.numpy())
        done = b * batch + n
    bar.close()
    return out[:done]


def synthetic_inputs(
    model: keras.Model,
    kind: str,
    samples: int,
    *,
    steps: int = 200,
    seed: int = 0,
    progress: bool = True,
    seconds: float | None = None,
    clock: Clock = MONOTONIC,
) -> npt.NDArray[np.float32]:
    """Dispatch on ``kind`` ("bn" or "noise"); ``seconds`` bounds "bn" (see :func:`bn_inputs`)."""
    if kind == "noise":
        return noise_inputs(model, samples, seed=seed)
    if kind == "bn":
        return bn_inputs(model, samples, steps=steps, seed=seed, progress=progress, seconds=seconds, clock=clock)
    raise ValueError(f"synthetic must be one of {SYNTHETIC_KINDS}, got {kind!r}")
