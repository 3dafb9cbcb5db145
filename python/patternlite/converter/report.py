"""The per-layer summary table printed at the end of prune.

"Kernels" are what a layer's keep counts: the 3x3 kernels of a 3x3 conv, the
weights of a 1x1 conv, the channels of a depthwise conv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from patternlite._contract import KIND_CONV3X3
from patternlite.metadata import CHANNEL_BLOCK, KINDS

_SHORT = dict(zip(KINDS, ("3x3", "1x1", "depthwise"), strict=True))
# What "kernels kept" counts, per kind.
_KEPT_LEGEND = dict(
    zip(
        KINDS,
        (
            "3x3 kernels (3x3)",
            f"weights (1x1, blocks of {CHANNEL_BLOCK} output channels share their inputs)",
            f"channels (depthwise, one pattern per {CHANNEL_BLOCK} channels)",
        ),
        strict=True,
    )
)


@dataclass
class LayerReport:
    """One row of the prune report."""

    layer: str
    shape: tuple[int, int, int, int]  # Keras kernel shape: (3, 3, I, O), (1, 1, I, O) or (3, 3, C, 1)
    keep: float  # requested fraction of kernels kept
    kept_kernels: int  # kernels (3x3), weights (1x1) or channels (depthwise) kept
    total_kernels: int
    weights_before: int  # non-zero weights before pruning
    weights_after: int  # non-zero weights after pruning
    error_projection: float | None  # relative output error of plain projection (synthetic inputs)
    error: float | None  # relative output error of the chosen weights (None for magnitude)
    seconds: float
    kind: str = KINDS[KIND_CONV3X3]  # graph.ALL_KINDS

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def format_table(rows: Sequence[LayerReport], inputs: str = "synthetic inputs") -> str:
    """Plain-text table, one line per pruned layer plus a total."""
    head = (
        f"{'layer':<28} {'kind':<9} {'kernel':>14} {'keep':>5} {'kernels kept':>14} {'weights':>8} "
        f"{'err(proj)':>9} {'err':>9} {'s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        shape = "x".join(str(d) for d in r.shape)
        kept = f"{r.kept_kernels}/{r.total_kernels}"
        frac = r.weights_after / max(r.weights_before, 1)
        ep = "-" if r.error_projection is None else f"{r.error_projection:.4f}"
        e = "-" if r.error is None else f"{r.error:.4f}"
        kind = _SHORT.get(r.kind, r.kind)
        lines.append(
            f"{r.layer[:28]:<28} {kind:<9} {shape:>14} {r.keep:>5.2f} {kept:>14} {frac:>7.1%} {ep:>9} {e:>9} "
            f"{r.seconds:>6.1f}"
        )
    before = sum(r.weights_before for r in rows)
    after = sum(r.weights_after for r in rows)
    lines.append("-" * len(head))
    lines.append(
        f"{'total (pruned layers)':<28} {'':<9} {'':>14} {'':>5} {'':>14} {after / max(before, 1):>7.1%} "
        f"  -> {before:,} weights become {after:,}"
    )
    present = [k for k in KINDS if any(r.kind == k for r in rows)]  # the legend explains only these
    if present:
        lines.append("kernels kept: " + ", ".join(_KEPT_LEGEND[k] for k in present))
    lines.append(
        f"err = relative squared error of the layer's output on {inputs} "
        "(err(proj): plain projection, err: the solution)"
    )
    return "\n".join(lines)
