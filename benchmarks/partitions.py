"""Partitions and 1-vs-2-thread latency of the delegate with and without its op claims.

``python -m benchmarks.partitions --models resnet20,resnet18,mobilenetv2 --keeps 1.0,0.28``

For each model and keep, in one process: the dense model under TFLite + XNNPACK,
and the pruned model under the delegate with ``claim_ops`` off (convs only) and
on (convs and the ADDs next to them), at each thread count. It reports the
execution plan (the delegate's nodes, XNNPACK's partitions, TFLite's own ops)
and the steady-state latency, timed round-robin with an idle gap before each
turn so one variant's spinning pool is not billed to the next.
``--dtype int8 --connectivity quads``: the same for the full-integer files
(the delegate at its default ``int8="auto"``; with ``claim_ops`` it also takes
the int8 ADDs next to its claimed convs, where its ISA has an int8 ADD kernel).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.artifacts import CONNECTIVITIES, model_artifacts
from benchmarks.engines import ROOT
from benchmarks.peers.tflite_xnnpack import make_interpreter, tflite_module


def plan_counts(interp: Any, stats: dict[str, Any] | None) -> dict[str, int]:
    """Nodes of the execution plan: ours, XNNPACK's partitions, and TFLite's own ops."""
    ops = interp._get_ops_details()
    delegate_nodes = sum(1 for op in ops if op["op_name"] == "DELEGATE")
    ours = len(stats["claimed"]) + len(stats.get("claimed_ops", [])) if stats else 0
    # TFLite keeps a replaced node in the node list; a node is still planned when no
    # DELEGATE node covers it: count the builtin ops whose outputs nothing delegated reads.
    covered: set[int] = set()
    producer = {int(t): op for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    for d in (op for op in ops if op["op_name"] == "DELEGATE"):
        inputs = {int(t) for t in d["inputs"]}
        stack = [int(t) for t in d["outputs"]]
        while stack:
            t = stack.pop()
            p = producer.get(t)
            if t in inputs or p is None or p["index"] in covered:
                continue
            covered.add(p["index"])
            stack.extend(int(i) for i in p["inputs"])
    tflite_ops = sum(1 for op in ops if op["op_name"] != "DELEGATE" and op["index"] not in covered)
    return {"patternlite_nodes": ours, "xnnpack_partitions": delegate_nodes - ours, "tflite_ops": tflite_ops}


class Variant:
    def __init__(
        self, name: str, path: str, threads: int, claim_ops: bool | None, delegate_threads: int | None = None
    ) -> None:
        self.name, self.threads = name, threads
        self.delegate = None
        delegates = None
        if claim_ops is not None:
            import patternlite

            self.delegate = patternlite.load_delegate(
                num_threads=delegate_threads or threads, claim_ops=claim_ops, log_level="error"
            )
            delegates = [self.delegate]
        self.interp = make_interpreter(path, threads, delegates=delegates)
        self.input = self.interp.get_input_details()[0]["index"]
        self.times: list[float] = []

    def turn(self, x: np.ndarray, burst: int) -> None:
        self.interp.set_tensor(self.input, x)
        self.interp.invoke()  # untimed: pays for the caches and waking the pools
        ts = []
        for _ in range(burst):
            t0 = time.perf_counter()
            self.interp.invoke()
            ts.append(time.perf_counter() - t0)
        self.times.append(statistics.median(ts))

    def report(self) -> dict[str, Any]:
        stats = self.delegate.stats() if self.delegate else None
        ms = [t * 1e3 for t in self.times]
        out: dict[str, Any] = {
            "variant": self.name,
            "threads": self.threads,
            "median_ms": round(statistics.median(ms), 4),
            "min_ms": round(min(ms), 4),
            "turns": len(ms),
            **plan_counts(self.interp, stats),
        }
        if stats:
            out["claimed_ops"] = [f"{op['op']} {op['node']}: {op['reason']}" for op in stats.get("claimed_ops", [])]
        return out


def bench(model: str, keep: float, threads: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    art = model_artifacts(model, [keep], Path(args.cache), (args.dtype,), (args.connectivity,))
    files = art["int8"] if args.dtype == "int8" else art
    dense, pruned = files["dense"], next(iter(files["pruned"].values()))
    # The int8 files take float32 input too (the converter's default float I/O).
    x = np.random.default_rng(0).standard_normal(art["input_shape"]).astype(np.float32)
    variants = []
    for t in threads:
        variants.append(Variant("tflite_xnnpack dense", dense, t, None))
        variants.append(Variant("patternlite convs only", pruned, t, False))
        variants.append(Variant("patternlite convs+ops", pruned, t, True))
        if args.one_thread_delegate and t > 1:
            # The delegate's own kernels on one thread, XNNPACK's partitions on t.
            variants.append(Variant("patternlite convs+ops, delegate 1 thread", pruned, t, True, 1))
    for v in variants:
        for _ in range(args.warmup):
            v.turn(x, 1)
        v.times.clear()
    for r in range(args.reps):
        order = variants[r % len(variants) :] + variants[: r % len(variants)]
        for v in order:
            time.sleep(args.gap_ms / 1e3)
            v.turn(x, args.burst)
    rows = []
    for v in variants:
        row = {"model": model, "keep": keep, "dtype": args.dtype, "connectivity": args.connectivity, **v.report()}
        rows.append(row)
        print(json.dumps({k: row[k] for k in row if k != "claimed_ops"}), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="resnet20,resnet18,mobilenetv2")
    p.add_argument("--keeps", default="1.0,0.28")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--reps", type=int, default=15, help="round-robin turns per variant")
    p.add_argument("--burst", type=int, default=10, help="timed invocations per turn (its median is the turn's time)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--gap-ms", type=float, default=30)
    p.add_argument(
        "--one-thread-delegate", action="store_true", help="also: the delegate on 1 thread beside XNNPACK on N"
    )
    p.add_argument(
        "--dtype", default="float32", choices=["float32", "int8"], help="int8: the full-integer files, int8='auto'"
    )
    p.add_argument("--connectivity", default="kernel", choices=list(CONNECTIVITIES))
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / ".cache"))
    p.add_argument("--out", default="", help="JSON file to write (default: print only)")
    p.add_argument("--note", default="")
    args = p.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    for model in args.models.split(","):
        for keep in (float(k) for k in args.keeps.split(",")):
            rows.extend(bench(model, keep, threads, args))
    if args.out:
        import patternlite

        result = {
            "schema": "patternlite-partitions/1",
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "runtime": tflite_module()[1],
            "delegate": str(patternlite.delegate.library_path()),
            "args": vars(args),
            "rows": rows,
        }
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
