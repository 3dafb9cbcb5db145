"""Fixed synthetic set against a growing adversarial pool, at equal wall time (data-free stage).

For each model, keep fraction and time budget, ``prune`` runs twice with the
same seed, preset and budget:

* ``fixed``: today's default, one set of BatchNorm-matched images made up
  front, then layer-wise ADMM and distillation on that set;
* ``growing``: the same, but distillation spends ``--share`` of its time adding
  adversarial images to the pool (CMI-style, ``patternlite.converter.synthesis.pool_growth``).

Both obey the same ``--budget``, so the comparison is at equal wall time.
Scored on the 500 lossless dev images (absolute, +-2.5 points) and the 4,500
JPEG dev images (lower noise, for comparing the two variants).

    PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.datafree_synthesis --budget 5

writes benchmarks/results/datafree-synthesis-<date>-<host>[-tag].json and .md.
Exits 2 (with one line) when the shared material is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.accuracy.common import MODELS, REPO, dev_sets, results_base, shared_dir, top1  # noqa: E402


def render(meta: dict[str, Any], rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        f"# Data-free synthesis at equal wall time, {meta['date']}, {meta['host']}",
        "",
        meta["note"],
        "",
        "| model | keep | budget | variant | lossless top-1 | JPEG top-1 | prune s | distill steps | pool images "
        "(grown) | synthesis s in distillation |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} (dense {r['dense']:.1%}) | {r['keep']:g} | {r['budget']:g} min | {r['variant']} | "
            f"{r['lossless']:.1%} | {r['jpeg']:.1%} | {r['seconds']:.0f} | {r['distill_steps']} | "
            f"{r['pool_images']} ({r['grown_images']}) | {r['synthesis_seconds']:.0f} |"
        )
    command = f"python -m benchmarks.accuracy.datafree_synthesis {command}"
    lines += ["", f"Reproduce: `PATTERNLITE_SHARED=../shared {command}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--models", default="resnet20")
    p.add_argument("--keeps", default="1.0,0.5")
    p.add_argument("--budget", type=float, default=5.0, help="prune --budget, minutes, the same for both variants")
    p.add_argument("--preset", default="fast", help="prune --preset (synthesis sizes)")
    p.add_argument("--variants", default="fixed,growing")
    p.add_argument("--share", type=float, default=0.3, help="share of distillation time spent growing the pool")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)

    shared = shared_dir(args.shared)
    if not (shared / "models").is_dir() or not (shared / "data" / "cifar10_dev_lossless.npz").is_file():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    variants = args.variants.split(",")
    unknown = set(variants) - {"fixed", "growing"}
    if unknown:
        print(f"unknown variants: {sorted(unknown)} (choose from fixed, growing)", file=sys.stderr)
        return 2
    import keras

    from patternlite.converter import prune
    from patternlite.converter.policy import PrunePolicy
    from patternlite.converter.synthesis.pool_growth import PoolGrowth

    x_eval, y_eval, x_jpeg, y_jpeg = dev_sets(shared)
    base, stamp, host = results_base(args.out, "datafree-synthesis", args.tag)
    meta = {
        "date": stamp,
        "host": host,
        "cpus": os.cpu_count(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "note": (
            f"`prune --keep K --preset {args.preset} --budget B`, seed 0, no data; `growing` adds "
            f"`--synthesis growing` (share {args.share:g} of distillation time on adversarial rounds). "
            "Lossless: 500 dev images (+-2.5 points); JPEG: 4,500 dev images (compare variants only)."
        ),
    }
    command = " ".join(sys.argv[1:] if argv is None else argv)
    rows: list[dict[str, Any]] = []
    for name in args.models.split(","):
        dense_model = keras.models.load_model(shared / "models" / MODELS[name], compile=False)
        dense = top1(dense_model, x_eval, y_eval)
        for keep in (float(k) for k in args.keeps.split(",")):
            for variant in variants:
                growth = PoolGrowth(share=args.share) if variant == "growing" else None
                t = time.perf_counter()
                result = prune(
                    dense_model,
                    keep=keep,
                    policy=PrunePolicy.from_options(preset=args.preset, budget=args.budget, growth=growth),
                    progress=False,
                )
                seconds = time.perf_counter() - t
                d = result.distilled
                row = {
                    "model": name,
                    "dense": dense,
                    "keep": keep,
                    "budget": args.budget,
                    "variant": variant,
                    "lossless": top1(result.model, x_eval, y_eval),
                    "jpeg": top1(result.model, x_jpeg, y_jpeg),
                    "seconds": round(seconds, 1),
                    "distill_steps": d.steps if d else 0,
                    "pool_images": d.pool_images if d else 0,
                    "grown_images": d.grown_images if d else 0,
                    "synthesis_seconds": round(d.synthesis_seconds, 1) if d else 0.0,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                base.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
                base.with_suffix(".md").write_text(render(meta, rows, command))
    print(f"wrote {base}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
