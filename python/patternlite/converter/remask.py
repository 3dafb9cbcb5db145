"""Mask re-selection for the client stage (``finetune --remask``): ADMM-regularised training.

Masked retraining only adjusts the weights that survived the data-free
pruning; which pattern each kernel follows and which kernels survive were
chosen on synthetic images. A client with data can choose them again. This
module is the ADMM half of the PatDNN training flow, run on the client's data:

* every pruned layer gets an auxiliary copy ``Z`` constrained to the structure
  (library patterns, the layer's keep fraction) and a scaled dual ``U``;
* training minimises the task loss plus ``rho/2 * ||W - Z + U||^2`` with the
  masks lifted, so weight may grow where the data asks for it;
* a few times per phase (spread evenly over its time, so the schedule scales
  with how many steps the budget allows, not with a fixed step count)
  ``Z = project(W + U)`` and ``U += W - Z``, and ``rho`` grows geometrically,
  so ``W`` is pulled ever closer to the structure;
* at the end, :meth:`AdmmState.harden` projects ``W`` onto the structure: the
  new masks, with the same library and the same kept count per layer, so the
  delegate's speed is unchanged. Masked retraining (``finetune.py``) follows.

The projection is the pruner's own (``solvers/projection.py``), weighted by the
following BatchNorm's scale as in pruning, so a kernel is ranked by what it
contributes after BN folding, which is what the delegate runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite._contract import KERNEL_TAPS
from patternlite.converter.errors import ConverterError
from patternlite.converter.graph import CONV3X3, POINTWISE, ConvInfo, find_layers
from patternlite.converter.solvers.layer_problem import bn_scale
from patternlite.converter.solvers.projection import QUAD, Projection, project_layer
from patternlite.metadata import CHANNEL_BLOCK


def infer_connectivity(mask: npt.NDArray[np.bool_]) -> str:
    """How a 3x3 mask's kept kernels were chosen: "shared", "block" or "kernel".

    "block" when every block of ``CHANNEL_BLOCK`` filters keeps the same inputs,
    "shared" when its filters also read each kept input through one pattern. The
    masks file does not record how connectivity was chosen, and a remask must keep
    the structure the delegate's kernels were picked for.
    """
    m = np.asarray(mask, bool).reshape(KERNEL_TAPS, mask.shape[2], mask.shape[3])
    kept: npt.NDArray[np.bool_] = np.asarray(m.any(axis=0))
    o = kept.shape[1]
    if o < CHANNEL_BLOCK:
        return "kernel"
    shared = True
    for start in range(0, o, CHANNEL_BLOCK):
        block = m[:, :, start : start + CHANNEL_BLOCK]
        if not np.all(kept[:, start : start + CHANNEL_BLOCK] == kept[:, start : start + 1]):
            return "kernel"
        shared = shared and bool(np.all(block == block[:, :, :1]))
    if shared:
        return "shared"
    return "kernel" if kept.all() else "block"


def infer_quads(mask: npt.NDArray[np.bool_]) -> bool:
    """Whether a 1x1 mask keeps whole aligned fours of inputs in every block (``pointwise_quads``).

    As for :func:`infer_connectivity`: the remask keeps what the old masks had. A
    mask that keeps every input counts as not quad-structured (nothing to keep).
    """
    kept = np.asarray(mask, bool).reshape(mask.shape[2], mask.shape[3])
    if kept.all() or not kept.any():
        return False
    i_ch = kept.shape[0]
    pad = (-i_ch) % QUAD
    quads = np.pad(kept, ((0, pad), (0, 0)), mode="edge").reshape(-1, QUAD, kept.shape[1])
    return bool(np.all(quads == quads[:, :1, :]))


def kept_fraction(kind: str, mask: npt.NDArray[np.bool_]) -> float:
    """The keep fraction a mask realises, in the unit its kind's projection counts.

    3x3: kernels with any kept tap; 1x1: weights; depthwise: channels. Taken from
    the mask rather than the masks file so the re-selected mask keeps exactly as
    many as the old one.
    """
    # 3x3: a kernel is kept when any tap is; (3, 3, C, 1) depthwise: a channel.
    kept = mask.reshape(-1) if kind == POINTWISE else mask.reshape(KERNEL_TAPS, -1).any(axis=0)
    return float(np.count_nonzero(kept)) / max(1, kept.size)


@dataclass
class _Layer:
    conv: ConvInfo
    kernel: tf.Variable
    z: tf.Variable
    u: tf.Variable
    keep: float
    connectivity: str
    quads: bool = False


class AdmmState:
    """``Z``, ``U`` and ``rho`` of every pruned layer of ``student`` (a model whose layers the masks name).

    ``penalty()`` is the term added to the loss inside the compiled step;
    ``update()`` is the Z/U step between training steps; ``harden()`` the final
    projection. ``rho`` runs from ``rho_start`` to ``rho_end`` over ``updates``
    updates.
    """

    def __init__(
        self,
        student: keras.Model,
        masks: Mapping[str, npt.NDArray[np.bool_]],
        library: Sequence[int],
        *,
        rho_start: float,
        rho_end: float,
        updates: int,
    ) -> None:
        if not library:
            raise ConverterError("remasking needs the pattern library (a PruneResult, or library=...)")
        self.library = [int(p) for p in library]
        convs = {c.name: c for c in find_layers(student)}
        self.layers: list[_Layer] = []
        for name, m in masks.items():
            conv = convs.get(name)
            if conv is None:
                raise ConverterError(f"the masks name {name!r}, which is not a prunable layer of the model")
            mask = np.asarray(m, bool)
            kernel = conv.layer.kernel
            value = keras.ops.convert_to_numpy(kernel)
            self.layers.append(
                _Layer(
                    conv=conv,
                    kernel=kernel,
                    z=tf.Variable(value, trainable=False, name=f"{name}_admm_z"),
                    u=tf.Variable(np.zeros_like(value), trainable=False, name=f"{name}_admm_u"),
                    keep=kept_fraction(conv.kind, mask),
                    connectivity=infer_connectivity(mask) if conv.kind == CONV3X3 else "kernel",
                    quads=conv.kind == POINTWISE and infer_quads(mask),
                )
            )
        self.rho = tf.Variable(float(rho_start), trainable=False, dtype=tf.float32, name="admm_rho")
        self.rho_start = float(rho_start)
        self.rho_end = float(rho_end)
        self.factor = (rho_end / rho_start) ** (1.0 / max(1, updates)) if rho_start > 0 else 1.0
        self.updates = 0

    def _project(self, layer: _Layer, value: npt.NDArray[np.float32]) -> Projection:
        return project_layer(
            layer.conv.kind,
            value,
            self.library,
            layer.keep,
            weights=bn_scale(layer.conv),
            connectivity=layer.connectivity,
            pointwise_quads=layer.quads,
        )

    def start(self) -> None:
        """Begin from the current weights: ``Z`` their projection, ``U`` zero, ``rho`` at its start."""
        for ly in self.layers:
            w = keras.ops.convert_to_numpy(ly.kernel)
            ly.z.assign(self._project(ly, w).kernel)
            ly.u.assign(np.zeros_like(w))
        self.rho.assign(self.rho_start)
        self.updates = 0

    def penalty(self) -> tf.Tensor:
        """``rho/2 * sum ||W - Z + U||^2`` over the pruned kernels (a tensor; call inside the step)."""
        terms = [tf.reduce_sum(tf.square(ly.kernel - ly.z + ly.u)) for ly in self.layers]
        return 0.5 * self.rho * tf.add_n(terms)

    def update(self) -> float:
        """One Z/U step; returns the relative distance ``||W - Z|| / ||W||`` (how far from the structure)."""
        gap = norm = 0.0
        for ly in self.layers:
            w = keras.ops.convert_to_numpy(ly.kernel)
            u = ly.u.numpy()
            z = self._project(ly, w + u).kernel
            ly.z.assign(z)
            ly.u.assign(u + w - z)
            gap += float(np.sum((w - z) ** 2))
            norm += float(np.sum(w**2))
        self.rho.assign(min(float(self.rho.numpy()) * self.factor, self.rho_end))
        self.updates += 1
        return float(np.sqrt(gap / max(norm, 1e-30)))

    def harden(self) -> tuple[dict[str, npt.NDArray[np.bool_]], dict[str, npt.NDArray[np.uint8]]]:
        """Project every pruned kernel onto the structure in place; (new masks, new assignments)."""
        masks: dict[str, npt.NDArray[np.bool_]] = {}
        assignments: dict[str, npt.NDArray[np.uint8]] = {}
        for ly in self.layers:
            proj = self._project(ly, keras.ops.convert_to_numpy(ly.kernel))
            ly.kernel.assign(proj.kernel)
            masks[ly.conv.name] = proj.mask
            assignments[ly.conv.name] = proj.assignment
        self.rho.assign(0.0)
        return masks, assignments


def changed_fraction(old: Mapping[str, npt.NDArray[np.bool_]], new: Mapping[str, npt.NDArray[np.bool_]]) -> float:
    """The fraction of weights whose kept/pruned state differs between two sets of masks."""
    diff = sum(int(np.count_nonzero(np.asarray(old[n], bool) != np.asarray(new[n], bool))) for n in new)
    total = sum(int(np.asarray(new[n]).size) for n in new)
    return diff / max(1, total)


def count_kept(kind: str, mask: npt.NDArray[np.bool_]) -> int:
    """The kept count :func:`kept_fraction` is the fraction of (for tests and the report)."""
    return round(kept_fraction(kind, mask) * (mask.size if kind == POINTWISE else mask.size // KERNEL_TAPS))


__all__ = ["AdmmState", "changed_fraction", "count_kept", "infer_connectivity", "infer_quads", "kept_fraction"]
