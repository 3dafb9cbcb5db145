"""Growing the synthetic pool during distillation with adversarial images.

The strongest data-free distillation recipes (CMI, Fang et al. 2021; "Up to
100x faster data-free knowledge distillation", Fang et al. AAAI 2022) do not
synthesise one fixed set up front. They keep a growing pool and make each new
batch **adversarial**: it must still match the teacher's BatchNorm statistics
(so it stays image-like) while maximising teacher-student disagreement (so it
shows the student what it has not learnt yet). Distillation then samples from
the whole pool.

Here a round takes a batch of pool images, freshly augmented (shifts, flips,
mixing), as its starting point: already BatchNorm-matched, they need only a
few steps, which plays the part of the AAAI paper's meta-learned generator
initialisation. The adversarial term counts only images on which student and
teacher still agree on the class (as in CMI), so the images are pushed towards
the decision boundary, not across it into images the teacher itself cannot
label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter.synthesis.synthetic import BnMatcher


@dataclass(frozen=True)
class PoolGrowth:
    """How distillation grows its pool; ``share`` of its time goes to synthesis."""

    share: float = 0.3
    batch: int = 64  # images per round
    steps: int = 20  # Adam steps per round
    lr: float = 0.25  # peak step, in units of the calibrated noise (cosine decay within a round)
    adversarial: float = 1.0  # weight of the disagreement term against BatchNorm matching

    def validate(self) -> None:
        if not (0.0 < self.share < 1.0):
            raise ValueError(f"pool growth share must be in (0, 1), got {self.share}")
        if self.batch < 1 or self.steps < 1 or not self.lr > 0 or not self.adversarial >= 0:
            raise ValueError("pool growth needs batch and steps >= 1, lr > 0 and adversarial >= 0")


class PoolGrower:
    """Makes adversarial rounds of images for one teacher-student pair."""

    def __init__(
        self, teacher: keras.Model, t_logits: keras.Model, s_logits: keras.Model, policy: PoolGrowth, seed: int = 0
    ) -> None:
        policy.validate()
        self.policy = policy
        self.matcher = BnMatcher(teacher, seed=seed)
        shape = (policy.batch, *self.matcher.shape)
        self.z = tf.Variable(tf.zeros(shape))
        self.m1 = tf.Variable(tf.zeros(shape))
        self.m2 = tf.Variable(tf.zeros(shape))
        self.rounds = 0
        b1, b2 = 0.9, 0.999
        adv = float(policy.adversarial)

        @tf.function
        def step(t: tf.Tensor, lr: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                x = self.matcher.inputs(self.z)
                bn = self.matcher.loss(self.z)
                t_out = t_logits(x, training=False)
                s_out = s_logits(x, training=False)
                p_t = tf.nn.softmax(t_out)
                kl = tf.reduce_sum(p_t * (tf.math.log(p_t + 1e-12) - tf.nn.log_softmax(s_out)), axis=-1)
                agree = tf.cast(tf.equal(tf.argmax(t_out, -1), tf.argmax(s_out, -1)), tf.float32)
                gap = tf.reduce_mean(kl * agree)
                loss = bn - adv * gap
            g = tape.gradient(loss, self.z)
            self.m1.assign(b1 * self.m1 + (1 - b1) * g)
            self.m2.assign(b2 * self.m2 + (1 - b2) * g * g)
            m_hat = self.m1 / (1 - b1**t)
            v_hat = self.m2 / (1 - b2**t)
            self.z.assign_sub(lr * m_hat / (tf.sqrt(v_hat) + 1e-8))
            return bn, gap

        self._step = step

    @property
    def images(self) -> int:
        """Images made so far, over all rounds."""
        return self.rounds * self.policy.batch

    def grow(self, start: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """One round: ``start`` (``policy.batch`` images) moved to new adversarial images."""
        p = self.policy
        self.z.assign(self.matcher.latent(start))
        self.m1.assign(tf.zeros_like(self.m1))
        self.m2.assign(tf.zeros_like(self.m2))
        for i in range(p.steps):
            lr = p.lr * 0.5 * (1.0 + math.cos(math.pi * i / p.steps))
            self._step(tf.constant(float(i + 1)), tf.constant(lr, tf.float32))
        self.rounds += 1
        return self.matcher.images(self.z.numpy())
