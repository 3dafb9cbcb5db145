"""Worst-case error of the delegate against TFLite's builtin kernels.

    python -m benchmarks.numerics_sweep --cases 400

Draws random pattern-pruned convs (shapes, strides, padding, activations,
batch, libraries, keep ratios), runs each through TFLite's reference kernels
and through the delegate with every available ISA, and reports the largest
error relative to the output's scale (max |out - ref| / max |ref|).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import patternlite  # noqa: E402
from patternlite.delegate import isa_available  # noqa: E402

from conv_models import ALL_TAP_MASKS_WITH_CENTRE, build_conv_model, metadata_for, pattern_pruned_filters  # noqa: E402
from runtimes import max_scaled_error, run  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-save", action="store_true", help="print only, no results file")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    isas = [i for i in ("scalar", "avx2", "avx512", "neon") if isa_available(i)]
    worst = {isa: 0.0 for isa in isas}
    claimed = 0
    for _ in range(args.cases):
        padding = str(rng.choice(["SAME", "VALID"]))
        h, w = (int(v) for v in rng.integers(3, 60, 2))
        c, o = (int(v) for v in rng.integers(1, 80, 2))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        library = [int(m) for m in rng.choice(ALL_TAP_MASKS_WITH_CENTRE, int(rng.integers(1, 13)), replace=False)]
        keep = float(rng.uniform(0.05, 1.0))
        filt, ids = pattern_pruned_filters(rng, o, c, library, keep)
        shape = (int(rng.integers(1, 3)), h, w, c)
        model = build_conv_model(
            shape,
            filt,
            rng.standard_normal(o).astype(np.float32),
            stride=stride,
            padding=padding,
            activation=str(rng.choice(["NONE", "RELU", "RELU6"])),
            metadata=metadata_for(library, ids, keep),
        )
        x = rng.standard_normal(shape).astype(np.float32)
        ref, _ = run(model, x, reference=True)
        for isa in isas:
            delegate = patternlite.load_delegate(isa=isa, min_sparsity=0.0)
            out, _ = run(model, x, delegate=delegate, threads=2)
            claimed += len(delegate.stats()["claimed"])
            worst[isa] = max(worst[isa], max_scaled_error(out, ref))
    result = {
        "date": dt.date.today().isoformat(),
        "host": socket.gethostname(),
        "command": "python -m benchmarks.numerics_sweep " + " ".join(sys.argv[1:]),
        "cases": args.cases,
        "seed": args.seed,
        "claimed_runs": claimed,
        "max_scaled_error": worst,
        "bound": 1e-4,
    }
    print(json.dumps(result, indent=1))
    if not args.no_save:
        out = Path(__file__).resolve().parent / "results" / f"numerics-{result['date']}-{result['host']}.json"
        out.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
