"""Per-layer keep fractions chosen by ``allocation="sensitivity"``, from an accuracy results JSON.

    python benchmarks/plot_allocation.py benchmarks/results/accuracy-<date>-<host>-<tag>.json

writes ``<same name>-allocation.png`` beside it: one panel per (model, keep), a bar per
pruned layer in network order, with the uniform fraction as a dashed line. It shows where
the measured damage sends the kernel budget (typically: the transition layers and the
early, small layers keep more; the last, widest layers give most).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def allocation_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The sensitivity-allocated ADMM runs of one results file, in file order."""
    return [r for r in results["runs"] if r.get("allocation") == "sensitivity" and r.get("layer_keep")]


def plot(path: Path) -> Path | None:
    results = json.loads(path.read_text())
    rows = allocation_rows(results)
    if not rows:
        print(f"{path}: no sensitivity-allocated runs", file=sys.stderr)
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.6 * len(rows)), squeeze=False)
    for ax, row in zip(axes[:, 0], rows, strict=True):
        names = list(row["layer_keep"])
        ax.bar(range(len(names)), [row["layer_keep"][n] for n in names], color="tab:blue")
        ax.axhline(row["keep"], color="black", linestyle="--", linewidth=1, label=f"uniform {row['keep']}")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("kernels kept")
        ax.set_title(
            f"{row['model']}, keep {row['keep']}: top-1 {row['top1']:.1%}, "
            f"{row['kernels_kept']:.1%} of kernels and {row['macs_kept']:.1%} of 3x3 MACs kept",
            fontsize=9,
        )
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    out = path.with_name(path.stem + "-allocation.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for p in paths:
        out = plot(p)
        if out is not None:
            print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
