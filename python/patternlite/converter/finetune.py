"""The client stage: masked retraining on the client's own data, within a time budget.

The vendor pruned without data; the client owns both the data and the dense
model, so it can give the pruned model its accuracy back:

* **Distillation from the dense model** (``teacher``): the loss is
  ``T^2 * KL(softmax(t/T) || softmax(s/T))`` on the logits, plus the labels'
  cross-entropy when there are labels (``label_weight``). Without labels the
  teacher alone trains the student, so unlabelled client data works too.
* **Standard augmentation**: random crops of the reflect-padded image (4 pixels
  at 32x32) and horizontal flips, fresh every batch.
* **A time budget**: the learning rate follows one cosine (after a short
  warm-up) over the clock, reaching zero exactly at ``minutes`` (see
  ``schedule.py``), so a 1-minute and a 10-minute run both finish their schedule
  however fast the machine is.
* **The best checkpoint is kept**: with labels, a held-out slice of the client
  data (``holdout``) is scored before training, at the end of every epoch and
  at the last step; the weights with the best held-out top-1 are returned, the
  starting weights included, so the client stage never hands back a model that
  scores below its start on that slice. The report says which step it kept.
* **BatchNorm policy** (``batchnorm``): "train" (batch statistics, running
  statistics updated) or "frozen" (pretrained statistics, affine terms train).
* **The mask holds exactly**: gradients of pruned weights are zeroed and the
  pruned weights are re-zeroed after every step, so no optimizer state can move
  weight into a pruned position. A mask has its layer's kernel shape, whatever
  the kind ((3, 3, I, O), (1, 1, I, O) for a 1x1 conv, (3, 3, C, 1) for a
  depthwise conv), so a 1x1 block's shared inputs and a depthwise block's shared
  pattern hold too.

Defaults are measured choices, see docs/converter.md ("client stage").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter.client_data import as_class_indices, check_client_arrays
from patternlite.converter.errors import ConverterError
from patternlite.converter.finetune_policy import FinetunePolicy
from patternlite.converter.graph import with_logits
from patternlite.converter.progress import progress_bar
from patternlite.converter.remask import AdmmState, changed_fraction
from patternlite.converter.schedule import BudgetedCosine
from patternlite.converter.synthesis.distill import augment


class PrunedModel(Protocol):
    """What the client stage reads from a ``PruneResult`` (``prune --data`` runs this module, so no import)."""

    model: keras.Model
    masks: dict[str, npt.NDArray[np.bool_]]
    library: list[int]


@dataclass
class RemaskReport:
    """What the mask re-selection (``remask``) did.

    ``changed``: the fraction of weight positions whose kept/pruned state the
    projection changed; ``gap_last``: ``||W - Z|| / ||W||`` at the last Z/U step
    (how far the weights still were from the structure); ``kept_new_masks``:
    False when the held-out slice scored the starting weights (old masks) best,
    which are then returned. ``assignments``: the new library index per kernel.
    """

    admm_steps: int
    admm_epochs: float
    admm_seconds: float
    z_updates: int
    gap_last: float | None
    changed: float
    kept_new_masks: bool
    assignments: dict[str, npt.NDArray[np.uint8]] | None = field(default=None, repr=False)


@dataclass
class FinetuneReport:
    """What the client stage did. Accuracies are on the held-out slice (None without one).

    ``accuracy_after`` is the returned model's: the best checkpoint's, which
    ``kept_step`` names (0: the starting weights, no checkpoint scored higher;
    None: no held-out slice, so the last step's weights are returned).
    ``accuracy_last`` is the last step's, ``checkpoints`` how many were scored.
    """

    model: keras.Model
    steps: int
    epochs: float
    seconds: float
    budget_seconds: float
    train_images: int
    holdout_images: int
    accuracy_before: float | None = None
    accuracy_after: float | None = None
    teacher_accuracy: float | None = None
    loss_start: float = 0.0
    loss_end: float = 0.0
    policy: FinetunePolicy = field(default_factory=FinetunePolicy)
    kept_step: int | None = None
    kept_epoch: float | None = None
    accuracy_last: float | None = None
    checkpoints: int = 0
    # The masks the returned weights follow: the given ones, or the re-selected ones after a remask.
    masks: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict, repr=False)
    remask: RemaskReport | None = None

    def summary(self) -> str:
        line = ""
        if self.remask is not None:
            r = self.remask
            gap = "" if r.gap_last is None else f", last distance to the structure {r.gap_last:.3f}"
            line = (
                f"re-selected the masks: {r.admm_steps} ADMM steps ({r.admm_epochs:.1f} epochs), "
                f"{r.z_updates} Z/U updates{gap}; the projection changed {r.changed:.1%} of the weight positions"
                + ("" if r.kept_new_masks else "; the starting weights (old masks) scored best and are returned")
                + "\n"
            )
        line += (
            f"retrained {self.steps} steps ({self.epochs:.1f} epochs of {self.train_images} images) "
            f"in {self.seconds / 60:.1f} of {self.budget_seconds / 60:.1f} min; loss {self.loss_start:.3g} -> "
            f"{self.loss_end:.3g}"
        )
        if self.accuracy_before is not None and self.accuracy_after is not None:
            line += (
                f"\nheld-out client images ({self.holdout_images}): top-1 {self.accuracy_before:.1%} -> "
                f"{self.accuracy_after:.1%}"
            )
            if self.teacher_accuracy is not None:
                line += f" (teacher {self.teacher_accuracy:.1%})"
        if self.kept_step == 0:
            line += (
                f"\nkept the starting weights: none of {self.checkpoints} checkpoints scored above "
                f"{self.accuracy_before:.1%} on the held-out images"
            )
        elif self.kept_step is not None and self.kept_epoch is not None:
            last = "" if self.accuracy_last is None else f"; the last step scored {self.accuracy_last:.1%}"
            line += (
                f"\nkept step {self.kept_step} of {self.steps} (epoch {self.kept_epoch:.1f}), the best held-out "
                f"top-1 of {self.checkpoints} checkpoints{last}"
            )
        return line


@dataclass
class _Checkpoint:
    """The best weights seen so far, by held-out top-1 (the starting point is step 0)."""

    step: int
    epoch: float
    accuracy: float
    weights: list[npt.NDArray[Any]]
    masks: Mapping[str, npt.NDArray[np.bool_]]


class MaskConstraint(keras.constraints.Constraint):
    """A kernel constraint that multiplies by a fixed 0/1 mask (for users who build their own layers)."""

    def __init__(self, mask: npt.ArrayLike) -> None:
        self.mask = np.asarray(mask, dtype=np.float32)

    def __call__(self, w: Any) -> Any:
        return w * keras.ops.convert_to_tensor(self.mask, dtype=w.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mask": self.mask.tolist()}


class MaskCallback(keras.callbacks.Callback):
    """Zero the pruned weights of the named layers after every batch (for your own ``model.fit``)."""

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


def check_client_data(
    model: keras.Model, x: npt.ArrayLike, y: npt.ArrayLike | None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64] | None]:
    """Images as float32 of the model's input shape, labels as int64 in range; a clear error otherwise."""
    xa = np.asarray(x)
    want = tuple(model.inputs[0].shape[1:])
    if xa.ndim != len(want) + 1 or any(w is not None and w != d for w, d in zip(want, xa.shape[1:], strict=True)):
        raise ConverterError(f"client images have shape {xa.shape}; the model takes (N, {', '.join(map(str, want))})")
    if len(xa) == 0:
        raise ConverterError("the client data holds no images")
    if not np.issubdtype(xa.dtype, np.number):
        raise ConverterError(f"client images must be numbers, got dtype {xa.dtype}")
    xf = xa.astype(np.float32)
    if not np.all(np.isfinite(xf)):
        raise ConverterError("client images contain NaN or infinity")
    ya = None if y is None else as_class_indices(y, len(xf))
    check_client_arrays(xf, ya)  # the model-independent checks: count, constant images, a single class
    if ya is None:
        return xf, None
    classes = int(model.outputs[0].shape[-1])
    if ya.min() < 0 or ya.max() >= classes:
        raise ConverterError(f"labels must be in [0, {classes - 1}] (the model has {classes} outputs)")
    return xf, ya


def masked_finetune(
    result_or_model: PrunedModel | keras.Model,
    x: npt.ArrayLike,
    y: npt.ArrayLike | None = None,
    *,
    masks: Mapping[str, npt.ArrayLike] | None = None,
    teacher: keras.Model | None = None,
    policy: FinetunePolicy | None = None,
    library: Sequence[int] | None = None,
    progress: bool = True,
    **overrides: Any,
) -> FinetuneReport:
    """Retrain the pruned model on the client's images ``x`` (labels ``y`` optional) with its masks held.

    The model is trained in place; the returned report holds it as ``.model``.
    ``policy`` (or keyword ``overrides`` of its fields, e.g. ``minutes=3``) says
    how. With ``teacher`` (the client's dense model) the student learns its
    softened outputs, mixed with the labels by ``label_weight``; without
    ``teacher`` the labels are required and the loss is plain cross-entropy.
    With ``remask=True`` (a policy field) the data re-selects the masks first
    (``remask.py``; it needs ``library``, which a PruneResult carries); the
    report's ``masks`` are then the ones the returned weights follow.
    """
    if isinstance(result_or_model, keras.Model):
        model = result_or_model
    else:  # a PruneResult
        model = result_or_model.model
        masks = result_or_model.masks if masks is None else masks
        library = result_or_model.library if library is None else library
    if masks is None:
        raise ConverterError("masked_finetune needs masks (a PruneResult or masks=...)")
    pol = replace(policy or FinetunePolicy(), **overrides).check()
    if pol.remask and not library:
        raise ConverterError(
            "remask needs the pattern library: pass a PruneResult, or library=... (the masks file has it)"
        )
    if pol.remask and pol.remask_from == "dense" and teacher is None:
        raise ConverterError("remask_from='dense' needs the teacher (the dense model)")
    xf, ya = check_client_data(model, x, y)
    if ya is None and teacher is None:
        raise ConverterError("unlabelled client data needs a teacher (the dense model)")
    if teacher is not None and tuple(teacher.outputs[0].shape[1:]) != tuple(model.outputs[0].shape[1:]):
        raise ConverterError(
            f"the teacher's output {tuple(teacher.outputs[0].shape[1:])} differs from the model's "
            f"{tuple(model.outputs[0].shape[1:])}"
        )
    for name, m in masks.items():
        try:
            shape = tuple(model.get_layer(name).kernel.shape)
        except ValueError as exc:
            raise ConverterError(f"the masks name {name!r}, which is not a layer of the model") from exc
        if shape != np.shape(m):
            raise ConverterError(f"mask for {name} has shape {np.shape(m)}, kernel has {shape}")
    return _Trainer(model, teacher, masks, pol, progress, library).run(xf, ya)


def _split(
    n: int, y: npt.NDArray[np.int64] | None, fraction: float, rng: np.random.Generator
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Train and held-out indices; the held-out slice exists only with labels (it is scored)."""
    order = rng.permutation(n)
    held = int(round(n * fraction)) if y is not None else 0
    if held and n - held < 1:
        held = 0
    return order[held:], order[:held]


class _Batches:
    """The client images in shuffled epochs, freshly augmented; shared by the phases of one run."""

    def __init__(
        self,
        x: npt.NDArray[np.float32],
        y: npt.NDArray[np.int64] | None,
        train: npt.NDArray[np.intp],
        batch: int,
        augment_images: bool,
        rng: np.random.Generator,
    ) -> None:
        self.x, self.y, self.train, self.batch, self.rng = x, y, train, batch, rng
        self.shift = max(1, min(4, x.shape[1] // 8)) if x.ndim == 4 and augment_images else 0
        self.order = rng.permutation(train)
        self.pos = 0

    def next(self) -> tuple[tf.Tensor, tf.Tensor, bool]:
        """(images, labels, whether an epoch ended just before this batch)."""
        ended = False
        if self.pos + self.batch > len(self.order):
            self.order, self.pos, ended = self.rng.permutation(self.train), 0, True
        idx = self.order[self.pos : self.pos + self.batch]
        self.pos += self.batch
        xb = augment(self.x[idx], self.rng, shift=self.shift, mix=False) if self.shift else self.x[idx]
        yb = self.y[idx] if self.y is not None else np.zeros(len(idx), np.int64)
        return tf.constant(xb), tf.constant(yb), ended


class _Trainer:
    """One client-stage run: the compiled step, the budgeted schedule(s) and the scoring.

    Without ``remask`` it is one masked phase over the whole budget. With it, an
    ADMM phase (masks lifted, ``remask.AdmmState`` pulling towards the structure)
    comes first, then the hard projection, then the masked phase over the rest.
    """

    def __init__(
        self,
        model: keras.Model,
        teacher: keras.Model | None,
        masks: Mapping[str, npt.ArrayLike],
        policy: FinetunePolicy,
        progress: bool,
        library: Sequence[int] | None = None,
    ) -> None:
        self.model, self.policy, self.progress = model, policy, progress
        self.student = with_logits(model)
        self.teacher = with_logits(teacher) if teacher is not None else None
        # "frozen": BatchNorm runs in inference mode (pretrained statistics); its scale and offset still train.
        self.bn_training = policy.batchnorm == "train"
        self.masks = {n: np.asarray(m, bool) for n, m in masks.items()}
        # Variables, so the remask can change them without retracing the step.
        self.kernels = [
            (self.student.get_layer(n).kernel, tf.Variable(m.astype(np.float32), trainable=False))
            for n, m in self.masks.items()
        ]
        mask_of = {id(k): m for k, m in self.kernels}
        self.variables = self.student.trainable_variables
        self.var_masks = [mask_of.get(id(v)) for v in self.variables]
        self.opt = keras.optimizers.SGD(learning_rate=0.0, momentum=policy.momentum, nesterov=True)
        self.lr = self.opt.learning_rate  # a variable the schedule assigns before every step
        self.admm = (
            AdmmState(
                self.student,
                self.masks,
                library or [],
                rho_start=policy.rho_start,
                rho_end=policy.rho_end,
                updates=policy.admm_updates,
            )
            if policy.remask
            else None
        )

    def _loss(self, logits: tf.Tensor, target: tf.Tensor | None, labels: tf.Tensor | None) -> tf.Tensor:
        p = self.policy
        parts = []
        if target is not None:
            t = p.temperature
            p_t = tf.nn.softmax(target / t)
            log_s = tf.nn.log_softmax(logits / t)
            kd = tf.reduce_mean(tf.reduce_sum(p_t * (tf.math.log(p_t + 1e-12) - log_s), axis=-1)) * t * t
            parts.append((1.0 - p.label_weight) * kd if labels is not None else kd)
        if labels is not None:
            ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
            parts.append(p.label_weight * ce if target is not None else ce)
        return tf.add_n(parts)

    def _step_fn(self, labelled: bool) -> Any:
        @tf.function(reduce_retracing=True)
        def step(xb: tf.Tensor, yb: tf.Tensor) -> tf.Tensor:
            target = self.teacher(xb, training=False) if self.teacher is not None else None
            with tf.GradientTape() as tape:
                logits = self.student(xb, training=self.bn_training)
                loss = self._loss(logits, target, yb if labelled else None)
                # The ADMM pull (zero once rho is: after the hard projection) is not part of the reported loss.
                total = loss + self.admm.penalty() if self.admm is not None else loss
            grads = tape.gradient(total, self.variables)
            grads = [g if m is None or g is None else g * m for g, m in zip(grads, self.var_masks, strict=True)]
            self.opt.apply_gradients(zip(grads, self.variables, strict=True))
            for kernel, mask in self.kernels:
                kernel.assign(kernel * mask)
            return loss

        return step

    def _set_masks(self, masks: Mapping[str, npt.NDArray[np.bool_]] | None) -> None:
        """Hold these masks from now on (None: lift them all, for the ADMM phase)."""
        for (_, var), name in zip(self.kernels, self.masks, strict=True):
            var.assign(np.ones(var.shape, np.float32) if masks is None else masks[name].astype(np.float32))

    def _accuracy(self, net: keras.Model, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> float:
        hits = 0
        for i in range(0, len(x), 256):
            hits += int(np.sum(np.argmax(np.asarray(net(x[i : i + 256], training=False)), axis=1) == y[i : i + 256]))
        return hits / len(x)

    def _phase(
        self,
        name: str,
        seconds: float,
        max_steps: int | None,
        batches: _Batches,
        step_fn: Any,
        on_step: Any,
    ) -> tuple[list[float], float]:
        """One cosine run of the learning rate over ``seconds`` (or ``max_steps``), ``on_step`` before each step.

        Returns the losses and the seconds it took on the policy's clock.
        """
        p = self.policy
        schedule = BudgetedCosine(p.lr, seconds=seconds, max_steps=max_steps, warmup=p.warmup, clock=p.clock)
        bar = progress_bar(total=round(seconds), desc=name, unit="s", disable=not self.progress, leave=False)
        losses: list[float] = []
        shown = 0
        while True:
            xb, yb, ended = batches.next()
            on_step(ended, schedule, len(losses))
            self.lr.assign(schedule.lr(len(losses)))
            losses.append(float(step_fn(xb, yb)))
            if schedule.done(len(losses)):
                break
            now = round(min(schedule.elapsed(), seconds))
            if self.progress and now > shown:
                bar.update(now - shown)
                shown = now
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3g}", lr=f"{float(self.lr.numpy()):.3g}", refresh=False)
        bar.close()
        return losses, schedule.elapsed()

    def run(self, x: npt.NDArray[np.float32], y: npt.NDArray[np.int64] | None) -> FinetuneReport:
        p = self.policy
        rng = np.random.default_rng(p.seed)
        train, held = _split(len(x), y, p.holdout, rng)
        x_held = x[held]
        y_held = y[held] if y is not None else None
        before = teacher_acc = None
        best: _Checkpoint | None = None
        if y_held is not None and len(held):
            before = self._accuracy(self.student, x_held, y_held)
            best = _Checkpoint(0, 0.0, before, self.student.get_weights(), self.masks)
            if self.teacher is not None:
                teacher_acc = self._accuracy(self.teacher, x_held, y_held)
        step_fn = self._step_fn(y is not None)
        batch = min(p.batch_size, len(train))
        batches = _Batches(x, y, train, batch, p.augment, rng)
        budget = 60.0 * p.minutes
        per_epoch = max(1, len(train) // batch)
        cap = None if p.epochs is None else max(1, int(p.epochs * per_epoch))
        steps = 0
        losses: list[float] = []
        admm: _AdmmRun | None = None
        masks: Mapping[str, npt.NDArray[np.bool_]] = self.masks
        if self.admm is not None:
            admm = self._admm_phase(budget, cap, batches, step_fn)
            steps, losses, masks = admm.steps, admm.losses, admm.masks
        first = steps  # the masked phase's steps are counted after the ADMM phase's
        scored = _Scoring(best, first)
        held_out = (x_held, y_held) if y_held is not None else None

        def score_epoch_end(ended: bool, schedule: BudgetedCosine, done: int) -> None:
            if ended and held_out is not None:
                scored.score(self, first + done, batch / len(train), masks, *held_out)

        # The budget bounds the training phases (and the projection between them), not the scoring.
        used = 0.0 if admm is None else admm.seconds
        left = max(budget - used, 1e-3)
        left_steps = None if cap is None else max(1, cap - steps)
        more, spent = self._phase("finetune", left, left_steps, batches, step_fn, score_epoch_end)
        losses += more
        steps = len(losses)
        seconds = used + spent
        after = last_acc = None
        if held_out is not None and scored.best is not None:
            # The last step is a checkpoint too; the best one (the start included) is what the client gets.
            last_acc = scored.score(self, steps, batch / len(train), masks, *held_out, last=True)
            best = scored.best
            self.student.set_weights(best.weights)
            after = best.accuracy
            masks = best.masks
        else:
            best = None
        checkpoints = scored.checkpoints
        # with_logits made a copy: the kept weights (BN statistics included) go back to the model.
        self.model.set_weights(self.student.get_weights())
        tail = max(1, len(losses) // 10)
        return FinetuneReport(
            model=self.model,
            steps=steps,
            epochs=steps * batch / max(1, len(train)),
            seconds=seconds,
            budget_seconds=budget,
            train_images=len(train),
            holdout_images=len(held),
            accuracy_before=before,
            accuracy_after=after,
            teacher_accuracy=teacher_acc,
            loss_start=float(np.mean(losses[:tail])),
            loss_end=float(np.mean(losses[-tail:])),
            policy=p,
            kept_step=None if best is None else best.step,
            kept_epoch=None if best is None else best.epoch,
            accuracy_last=last_acc,
            checkpoints=checkpoints,
            masks=dict(masks),
            remask=None if admm is None else admm.summary(best is None or best.step > 0, self.masks),
        )

    def _load_dense(self) -> None:
        """The teacher's weights into the student: the ADMM phase then prunes the dense model (PatDNN's flow)."""
        if self.teacher is None:
            raise ConverterError("remask_from='dense' needs the teacher (the dense model)")
        dense = self.teacher.get_weights()
        if [w.shape for w in dense] != [tuple(v.shape) for v in self.student.weights]:
            raise ConverterError("remask_from='dense' needs a teacher of the same architecture as the pruned model")
        self.student.set_weights(dense)

    def _admm_phase(self, budget: float, cap: int | None, batches: _Batches, step_fn: Any) -> _AdmmRun:
        """Masks lifted, the ADMM pull on, Z/U steps evenly over the phase's time; then the hard projection."""
        assert self.admm is not None
        p, admm = self.policy, self.admm
        if p.remask_from == "dense":
            self._load_dense()
        admm.start()
        seconds = p.remask_share * budget
        max_steps = None if cap is None else max(1, int(p.remask_share * cap))
        # The Z/U steps split the phase into equal parts; the hard projection ends the last part.
        interval = seconds / (p.admm_updates + 1)
        step_interval = None if max_steps is None else max(1, max_steps // (p.admm_updates + 1))
        gaps: list[float] = []

        def z_step(ended: bool, schedule: BudgetedCosine, done: int) -> None:
            # Time-driven (or step-driven under a step cap), so the number of Z/U steps does not depend on
            # how many training steps the machine manages in the budget.
            due = (
                schedule.elapsed() >= interval * (admm.updates + 1)
                if step_interval is None
                else done >= step_interval * (admm.updates + 1)
            )
            if due and admm.updates < p.admm_updates:
                gaps.append(admm.update())

        self._set_masks(None)
        losses, spent = self._phase("remask (ADMM)", seconds, max_steps, batches, step_fn, z_step)
        t0 = p.clock()
        masks, assignments = admm.harden()
        self._set_masks(masks)
        spent += p.clock() - t0  # the projection counts against the budget too
        epochs = len(losses) * batches.batch / len(batches.train)
        return _AdmmRun(len(losses), losses, masks, assignments, gaps, epochs, spent)


class _Scoring:
    """The best checkpoint by held-out top-1 (the starting weights are step 0), and how many were scored."""

    def __init__(self, best: _Checkpoint | None, last_scored: int) -> None:
        self.best, self.last_scored, self.checkpoints = best, last_scored, 0

    def score(
        self,
        trainer: _Trainer,
        step: int,
        epochs_per_step: float,
        masks: Mapping[str, npt.NDArray[np.bool_]],
        x_held: npt.NDArray[np.float32],
        y_held: npt.NDArray[np.int64],
        *,
        last: bool = False,
    ) -> float | None:
        """Score the current weights unless this step was scored already (then the last call just reads it).

        A tie goes to the later weights: they score the same on the slice and have trained longer.
        """
        if self.best is None:
            return None
        if step <= self.last_scored:
            return trainer._accuracy(trainer.student, x_held, y_held) if last else None
        acc = trainer._accuracy(trainer.student, x_held, y_held)
        self.checkpoints += 1
        self.last_scored = step
        if acc >= self.best.accuracy:
            self.best = _Checkpoint(step, step * epochs_per_step, acc, trainer.student.get_weights(), dict(masks))
        return acc


@dataclass
class _AdmmRun:
    """What the ADMM phase did: its steps and losses, the masks and assignments it projected onto."""

    steps: int
    losses: list[float]
    masks: dict[str, npt.NDArray[np.bool_]]
    assignments: dict[str, npt.NDArray[np.uint8]]
    gaps: list[float]
    epochs: float
    seconds: float

    def summary(self, kept: bool, old: Mapping[str, npt.NDArray[np.bool_]]) -> RemaskReport:
        return RemaskReport(
            admm_steps=self.steps,
            admm_epochs=self.epochs,
            admm_seconds=self.seconds,
            z_updates=len(self.gaps),
            gap_last=self.gaps[-1] if self.gaps else None,
            changed=changed_fraction(old, self.masks),
            kept_new_masks=kept,
            assignments=self.assignments if kept else None,
        )
