"""The per-layer summary table printed at the end of prune."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass
class LayerReport:
    """One row of the prune report."""

    layer: str
    shape: tuple[int, int, int, int]  # Keras kernel shape (3, 3, I, O)
    keep: float  # requested fraction of kernels kept
    kept_kernels: int
    total_kernels: int
    weights_before: int  # non-zero weights before pruning
    weights_after: int  # non-zero weights after pruning
    error_projection: float | None  # relative output error of plain projection (synthetic inputs)
    error: float | None  # relative output error of the chosen weights (None for magnitude)
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def format_table(rows: Sequence[LayerReport]) -> str:
    """Plain-text table, one line per pruned layer plus a total."""
    head = (
        f"{'layer':<28} {'kernel':>14} {'keep':>5} {'kernels kept':>14} {'weights':>8} "
        f"{'err(proj)':>9} {'err':>9} {'s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        shape = "x".join(str(d) for d in r.shape)
        kept = f"{r.kept_kernels}/{r.total_kernels}"
        frac = r.weights_after / max(r.weights_before, 1)
        ep = "-" if r.error_projection is None else f"{r.error_projection:.4f}"
        e = "-" if r.error is None else f"{r.error:.4f}"
        lines.append(
            f"{r.layer[:28]:<28} {shape:>14} {r.keep:>5.2f} {kept:>14} {frac:>7.1%} {ep:>9} {e:>9} {r.seconds:>6.1f}"
        )
    before = sum(r.weights_before for r in rows)
    after = sum(r.weights_after for r in rows)
    lines.append("-" * len(head))
    lines.append(
        f"{'total (pruned 3x3 convs)':<28} {'':>14} {'':>5} {'':>14} {after / max(before, 1):>7.1%} "
        f"  -> {before:,} weights become {after:,}"
    )
    lines.append(
        "err = relative squared error of the layer's output on synthetic inputs "
        "(err(proj): plain projection, err: the solution)"
    )
    return "\n".join(lines)
