"""One conv's least-squares reconstruction problem: building it from activations, and writing
solved weights back into the Keras layers.

The solvers (``conv.py``, ``depthwise.py``) work in BN-folded units: each output channel is scaled
by the following BatchNorm's ``|gamma| / sqrt(var + eps)``, so an error counts as
much as it will after the fold the TFLite converter does. ``apply_weights`` undoes
the scaling and puts the bias change where the layer can hold it.
"""

from __future__ import annotations

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter.graph import ConvInfo
from patternlite.converter.solvers.conv import LayerProblem

# Patch rows sampled per layer for the Gram matrices: plenty for (9I+1)-dimensional statistics.
_MAX_ROWS = 200_000
_CHUNK = 32  # samples per patch extraction
# Samples per forward pass. The prefix models run once per layer; eager Keras
# calls on small chunks spent most of ResNet-20's layer-wise time dispatching
# ops (3.7 s per deep prefix on 1024 images at 32, 0.5 s compiled at 256).
_FORWARD_CHUNK = 256


def output_pixels(layer: keras.layers.Layer) -> int:
    """Output positions of a conv: the multiply-accumulates of one kept kernel, over its taps."""
    shape = layer.output.shape
    return int(shape[1] or 1) * int(shape[2] or 1)


def bn_scale(conv: ConvInfo) -> npt.NDArray[np.float64]:
    """|gamma / sqrt(var + eps)| of the following BN (ones without BN), floored away from zero."""
    o = conv.out_channels
    if conv.bn is None:
        return np.ones(o)
    bn = conv.bn
    gamma = keras.ops.convert_to_numpy(bn.gamma).astype(np.float64) if bn.scale else np.ones(o)
    s = np.abs(gamma / np.sqrt(keras.ops.convert_to_numpy(bn.moving_variance).astype(np.float64) + bn.epsilon))
    floor = 1e-3 * float(s.max()) if s.max() > 0 else 1.0
    return np.maximum(s, floor)


def forward(sub: keras.Model, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    run = tf.function(lambda t: sub(t, training=False), reduce_retracing=True)
    parts = [np.asarray(run(tf.constant(x[i : i + _FORWARD_CHUNK]))) for i in range(0, len(x), _FORWARD_CHUNK)]
    return np.concatenate(parts).astype(np.float32)


def patches(x: npt.NDArray[np.float32], conv: keras.layers.Layer) -> npt.NDArray[np.float32]:
    """im2col rows (ky, kx, c) matching a (kh, kw, I, O) kernel reshaped to (kh*kw*I, O).

    For a 1x1 conv a row is one input pixel; for a depthwise conv the columns
    are (ky, kx, c) too, so channel ``c``'s 9 taps are columns ``c, C + c, ...``.
    """
    s = conv.strides
    kh, kw = conv.kernel_size
    p = tf.image.extract_patches(
        x, sizes=[1, kh, kw, 1], strides=[1, s[0], s[1], 1], rates=[1, 1, 1, 1], padding=conv.padding.upper()
    )
    return np.asarray(p).reshape(-1, p.shape[-1])


def build_problem(
    conv: ConvInfo,
    orig_conv: ConvInfo,
    xp: npt.NDArray[np.float32],
    xq: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float64],
    rng: np.random.Generator,
) -> LayerProblem:
    layer = orig_conv.layer
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    n = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    bias = keras.ops.convert_to_numpy(layer.bias).astype(np.float64) if layer.use_bias else np.zeros(kernel.shape[3])
    has_bias_slot = conv.layer.use_bias or conv.bn is not None
    w0 = np.concatenate([kernel.reshape(n, -1), bias[None, :]]) * scale[None, :]
    gpp = np.zeros((n + 1, n + 1))
    gpq = np.zeros((n + 1, n + 1))
    gqq = np.zeros((n + 1, n + 1))
    out_hw = patches(xp[:1], conv.layer).shape[0]
    frac = min(1.0, _MAX_ROWS / (out_hw * len(xp)))
    for i in range(0, len(xp), _CHUNK):
        p = patches(xp[i : i + _CHUNK], conv.layer)
        q = patches(xq[i : i + _CHUNK], conv.layer)
        if frac < 1.0:
            pick = rng.random(len(p)) < frac
            p, q = p[pick], q[pick]
        # Without a bias (and no BN to absorb one) the bias column is zero, so the solver keeps bias 0.
        ones = np.full((len(p), 1), 1.0 if has_bias_slot else 0.0, np.float32)
        p = np.hstack([p, ones])
        q = np.hstack([q, np.ones((len(q), 1), np.float32)])
        gpp += (p.T @ p).astype(np.float64)
        gpq += (p.T @ q).astype(np.float64)
        gqq += (q.T @ q).astype(np.float64)
    return LayerProblem(gpp=gpp, gpq=gpq, gqq=gqq, w0=w0, kernel_shape=tuple(kernel.shape))  # type: ignore[arg-type]


def apply_weights(
    conv: ConvInfo,
    weights: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
    mask: npt.NDArray[np.bool_],
) -> None:
    """Write solved (scaled) weights back: kernel, and the bias shift into the conv bias or the BN mean."""
    layer = conv.layer
    shape = tuple(layer.kernel.shape)
    kernel = (weights[:-1] / scale[None, :]).reshape(shape) * mask
    layer.kernel.assign(kernel.astype(np.float32))
    write_bias(conv, weights[-1] / scale)


def write_bias(conv: ConvInfo, bias: npt.NDArray[np.float64]) -> None:
    """Put a solved bias (unscaled units) into the conv's bias or, without one, into its BN's moving mean."""
    layer = conv.layer
    if layer.use_bias:
        layer.bias.assign(bias.astype(np.float32))
    elif conv.bn is not None:
        # BN(x + b) with mean m equals BN(x) with mean m - b: the BN absorbs the bias shift.
        mean = keras.ops.convert_to_numpy(conv.bn.moving_mean).astype(np.float64)
        conv.bn.moving_mean.assign((mean - bias).astype(np.float32))
