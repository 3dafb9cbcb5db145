"""Data-free distillation: after layer-wise pruning, train the pruned network end to end
to behave like the original on synthetic inputs, masks and BatchNorm statistics fixed.

Layer-wise reconstruction fixes each layer in isolation, against a local
least-squares target; the small errors that remain still add up through
depth. Distillation spreads the correction across layers with one global
objective: the teacher's (softened) class distribution, plus the output of
every pruned layer, normalised by the teacher's own feature variance so that
each layer counts the same. Every trainable weight adapts (the pruned layers
within their masks); ``only_pruned`` restricts training to the pruned convs and
the BatchNorms folded into them, so every other layer keeps the client's weights.

A few hundred synthetic images are too few to train on as they are, so every
batch is freshly augmented (random shifts, horizontal flips and mixing of two
images): the teacher labels each augmented image itself, so the augmentation
never needs to be label-preserving. All randomness comes from ``seed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter import defaults
from patternlite.converter.clock import MONOTONIC, Clock
from patternlite.converter.graph import ConvInfo, find_layers, with_logits
from patternlite.converter.progress import progress_bar
from patternlite.converter.schedule import BudgetedCosine
from patternlite.converter.synthesis.pool_growth import PoolGrower, PoolGrowth


@dataclass
class DistillReport:
    """Loss at the start and at the end of distillation (mean over the first/last 10% of steps)."""

    steps: int
    loss_start: float
    loss_end: float
    seconds: float
    pool_images: int = 0  # images distilled on at the end (the pool grows with ``growth``)
    grown_images: int = 0  # of which made by adversarial rounds
    synthesis_seconds: float = 0.0  # spent on those rounds


def _pruned_convs(model: keras.Model, names: list[str]) -> list[ConvInfo]:
    """The named convs of ``model`` (with their BatchNorms, of every kind), in ``names`` order."""
    convs = {c.name: c for c in find_layers(model)}
    return [convs[n] for n in names]


def _taps(model: keras.Model, pruned: list[ConvInfo]) -> keras.Model:
    """``model`` with extra outputs: each pruned conv's BN output (or the conv's own), then the logits."""
    feats = [(c.bn or c.layer).output for c in pruned]
    return keras.Model(model.inputs, [*feats, model.outputs[0]])


def _pruned_variables(pruned: list[ConvInfo]) -> list[tf.Variable]:
    """The trainable weights of the pruned convs and of the BatchNorms folded into them.

    With ``only_pruned`` only those change, and every other layer (the dense
    head, 1x1 shortcuts, the unpruned stem) stays bit-exact as the client
    trained it. It is not the default because letting those layers adapt is
    worth a little: ResNet-8, all 4500 JPEG dev images, keep 0.5 56.0% against
    54.3% (uniform) and 57.1% against 55.3% (sensitivity); patterns only 67.4%
    against 67.6%.
    """
    out: list[tf.Variable] = []
    for c in pruned:
        for layer in (c.layer, c.bn):
            if layer is not None and layer.trainable:
                out.extend(layer.trainable_weights)
    return out


def augment(
    x: npt.NDArray[np.float32], rng: np.random.Generator, shift: int = 4, mix: bool = True
) -> npt.NDArray[np.float32]:
    """A freshly augmented copy of the batch ``x``: shifts and flips for images, then (``mix``) mixing."""
    out = x.copy()
    if x.ndim == 4 and x.shape[1] >= 4 * shift and x.shape[2] >= 4 * shift:
        h, w = x.shape[1:3]
        padded = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="reflect")
        dy = rng.integers(0, 2 * shift + 1, len(x))
        dx = rng.integers(0, 2 * shift + 1, len(x))
        flip = rng.random(len(x)) < 0.5
        for i in range(len(x)):
            img = padded[i, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
            out[i] = img[:, ::-1] if flip[i] else img
    if not mix:
        return out
    # Mix half the batch with a random partner: new inputs between synthetic images.
    mixing = rng.random(len(x)) < 0.5
    lam = rng.random(len(x)).astype(np.float32).reshape((-1,) + (1,) * (x.ndim - 1))
    partner = out[rng.permutation(len(x))]
    mixed = lam * out + (1.0 - lam) * partner
    out[mixing] = mixed[mixing]
    return out


def augment_pool(
    x: npt.NDArray[np.float32], copies: int, *, seed: int = 0, mix: bool = True
) -> npt.NDArray[np.float32]:
    """``x`` followed by ``copies`` augmented copies of it (seeded)."""
    if copies <= 0:
        return x
    rng = np.random.default_rng(seed + 1)
    return np.concatenate([x, *(augment(x, rng, mix=mix) for _ in range(copies))])


def distill(
    student: keras.Model,
    teacher: keras.Model,
    x: npt.NDArray[np.float32],
    masks: Mapping[str, npt.NDArray[np.bool_]],
    *,
    steps: int = defaults.DISTILL_STEPS,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    temperature: float = 4.0,
    feature_weight: float = 1.0,
    adversarial: float = defaults.DISTILL_ADVERSARIAL,
    only_pruned: bool = False,
    seed: int = 0,
    progress: bool = True,
    seconds: float | None = None,
    growth: PoolGrowth | None = None,
    clock: Clock = MONOTONIC,
) -> DistillReport:
    """Train ``student`` (the pruned copy of ``teacher``) in place on the synthetic inputs ``x``.

    Loss: ``T^2 * KL(softmax(t/T) || softmax(s/T))`` on the logits plus
    ``feature_weight`` times the mean normalised squared error of every masked
    layer's output. BatchNorm layers run in inference mode (their statistics are
    the pretrained ones and stay so); masked weights are re-zeroed after every
    step (the same for every kind: a mask has its layer's kernel shape, e.g.
    (3, 3, C, 1) for a depthwise conv, so a 1x1 conv's shared block inputs and a
    depthwise block's shared pattern hold); ``only_pruned`` trains the pruned convs
    and their folded BatchNorms only. Adam with a cosine-decayed learning rate. ``adversarial`` > 0 nudges
    half of each batch one signed-gradient step (that fraction of the pool's
    standard deviation) up the student-teacher divergence: the synthetic pool
    is small, and these are the inputs where the student still has most to learn.
    ``seconds`` (optional) is a time budget: the cosine then runs over the clock
    and ends at it (``steps`` stays the cap), see ``schedule.py``. ``growth``
    (optional, needs BatchNorm in the teacher) spends that share of the time
    adding adversarial images to the pool (``pool_growth.py``). ``clock`` measures
    the budget and that share.
    """
    t0 = clock()
    names = list(masks)
    s_model = with_logits(student)
    t_model = with_logits(teacher)
    s_pruned = _pruned_convs(s_model, names)
    s_taps, t_taps = _taps(s_model, s_pruned), _taps(t_model, _pruned_convs(t_model, names))
    rng = np.random.default_rng(seed)

    probe = t_taps(x[: min(len(x), 256)], training=False)
    # Per-layer normaliser: the teacher's mean feature variance on the synthetic pool.
    norms = [float(np.mean(np.var(np.asarray(a), axis=tuple(range(a.ndim - 1))))) + 1e-8 for a in probe[:-1]]
    kernels = [(s_model.get_layer(n).kernel, tf.constant(masks[n].astype(np.float32))) for n in names]
    variables = _pruned_variables(s_pruned) if only_pruned else s_model.trainable_variables
    opt = keras.optimizers.Adam(0.0)
    schedule = BudgetedCosine(learning_rate, seconds=seconds, max_steps=max(steps, 1), warmup=0.0, clock=clock)
    t2 = temperature * temperature
    # Step size of the adversarial nudge, in units of the synthetic pool's own spread.
    eps = adversarial * float(np.std(x))

    def kl_of(target: tf.Tensor, student_logits: tf.Tensor) -> tf.Tensor:
        p_t = tf.nn.softmax(target / temperature)
        log_s = tf.nn.log_softmax(student_logits / temperature)
        return tf.reduce_mean(tf.reduce_sum(p_t * (tf.math.log(p_t + 1e-12) - log_s), axis=-1)) * t2

    @tf.function(reduce_retracing=True)
    def nudge(xb: tf.Tensor) -> tf.Tensor:
        # Move the inputs one signed-gradient step towards where student and teacher disagree most.
        with tf.GradientTape() as tape:
            tape.watch(xb)
            gap = kl_of(t_model(xb, training=False), s_model(xb, training=False))
        return xb + eps * tf.sign(tape.gradient(gap, xb))

    @tf.function(reduce_retracing=True)
    def train_step(xb: tf.Tensor) -> tf.Tensor:
        target = t_taps(xb, training=False)
        with tf.GradientTape() as tape:
            out = s_taps(xb, training=False)
            feat = tf.add_n(
                [tf.reduce_mean(tf.square(a - b)) / n for a, b, n in zip(out[:-1], target[:-1], norms, strict=True)]
            )
            loss = kl_of(target[-1], out[-1]) + feature_weight * feat / len(norms)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        for kernel, mask in kernels:
            kernel.assign(kernel * mask)
        return loss

    grower = PoolGrower(teacher, t_model, s_model, growth, seed=seed) if growth is not None else None
    synth_seconds = 0.0
    t_loop = clock()
    losses: list[float] = []
    bar = progress_bar(total=steps, desc="distill", disable=not progress, leave=False)
    while steps > 0:
        idx = rng.integers(0, len(x), batch_size)
        xb = tf.constant(augment(x[idx], rng))
        if eps > 0:
            half = batch_size // 2
            xb = tf.concat([xb[:half], nudge(xb[half:])], axis=0)
        opt.learning_rate.assign(schedule.lr(len(losses)))
        losses.append(float(train_step(xb)))
        bar.update(1)
        if grower is not None and synth_seconds < grower.policy.share * (clock() - t_loop):
            t_grow = clock()
            start = augment(x[rng.integers(0, len(x), grower.policy.batch)], rng)
            x = np.concatenate([x, grower.grow(start)])
            synth_seconds += clock() - t_grow
        if len(losses) % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3g}", refresh=False)
        if schedule.done(len(losses)):
            break
    bar.close()
    steps = len(losses)
    # The logits copy shares no variables with ``student``: copy the trained weights back.
    student.set_weights(s_model.get_weights())
    tail = max(1, steps // 10)
    return DistillReport(
        steps=steps,
        loss_start=float(np.mean(losses[:tail])) if losses else 0.0,
        loss_end=float(np.mean(losses[-tail:])) if losses else 0.0,
        seconds=clock() - t0,
        pool_images=len(x),
        grown_images=grower.images if grower is not None else 0,
        synthesis_seconds=synth_seconds,
    )
