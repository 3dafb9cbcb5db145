"""Run the side-by-side benchmark: ``python -m benchmarks.run --models ... --threads 1,2``.

For every model: the dense .tflite under each dense peer, and the pattern-pruned .tflite
at each keep under the patternlite delegate and under the pruned peers (DeepSparse on the
same pruned model), all loaded together and timed round-robin.
Outputs are checked against TFLite's builtin kernels.  Then, per 3x3 conv layer shape, a
single-op model dense under XNNPACK against pruned under the delegate.

``--dtypes float32,int8`` adds the int8 dimension: the same models full-integer int8 (the
converter's export path, synthetic calibration), dense under XNNPACK (and ONNX Runtime's and
DeepSparse's int8 paths), pruned under the delegate and under XNNPACK, timed in the same
round-robin as the float32 runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.artifacts import CONNECTIVITIES, build_in_subprocess, layer_artifacts, layer_key, model_artifacts
from benchmarks.engines import ROOT, Engine, EngineError, open_engine
from benchmarks.models import ALL_MODELS, MODELS
from benchmarks.peers import DENSE_PEERS, INT8_PEERS, PRUNED_PEERS
from benchmarks.timing import agreement, round_robin, summarize

SCHEMA = "patternlite-bench/1"
TVM_DEFAULT_MODELS = ("resnet20", "resnet56", "tiny")
# Engines that run the pattern-pruned models, once per keep; every other engine runs the dense model.
PRUNED_ENGINES = ("patternlite", *PRUNED_PEERS)
DTYPES = ("float32", "int8")
# int8 engines on an int8 model of their own (ONNX Runtime quantises the fp32 ONNX itself):
# no common int8 file to compare bit for bit, so they are checked against the float32 model,
# passing within twice the converter's own int8 file's distance from it (at least 0.1):
# on random-weight models int8 quantisation moves the logits by tens of percent.
INT8_OWN_MODEL_TOL = 0.1
# Whole int8 models against TFLite's builtin int8 kernels on the same file: each conv may be
# 1 quantum off (fp32 requantisation, as XNNPACK's), and those differences propagate through
# the following layers, so a whole model is held to this many output quanta (measured on
# ResNet-20: XNNPACK 4, the delegate 2 to 3).  Single convs (kernel_bench) are held to 1.
AGREE_QUANTA_MODEL = 8.0


def machine_info() -> dict[str, Any]:
    cpu, flags = "unknown", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags.split()]
    import os

    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "simd": simd,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def _artifacts(path: str, shape: tuple[int, ...], tvm_trials: int) -> dict[str, str]:
    n, h, w, c = shape
    return {
        "tflite": path,
        "input_shape_nhwc": f"{n},{h},{w},{c}",
        "input_shape_nchw": f"{n},{c},{h},{w}",
        "tvm_trials": str(tvm_trials),
    }


def _reference(path: str, x: np.ndarray) -> np.ndarray:
    """TFLite builtin kernels (no XNNPACK, no delegate): the agreement baseline."""
    from benchmarks.peers.tflite_xnnpack import make_interpreter

    interp = make_interpreter(path, 1, builtin_only=True)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return np.array(interp.get_tensor(interp.get_output_details()[0]["index"]))


def output_quantum(path: str) -> float:
    """The scale of the int8 tensor an int8 model's output comes from: its own, or that of the
    DEQUANTIZE feeding a float32 output."""
    from benchmarks.peers.tflite_xnnpack import make_interpreter

    interp = make_interpreter(path, 1, builtin_only=True)
    out = interp.get_output_details()[0]
    if out["dtype"] != np.float32:
        return float(out["quantization"][0])
    details = {t["index"]: t for t in interp.get_tensor_details()}
    for op in interp._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and out["index"] in list(op["outputs"]):
            return float(details[int(op["inputs"][0])]["quantization"][0])
    raise RuntimeError(f"{path}: the output comes from no int8 tensor")


class Session:
    """Shared state of one harness run: settings, cache paths and the engine registry."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cache = Path(args.cache)
        self.engines_seen: dict[str, dict[str, Any]] = {}

    def note_engine(self, name: str, version: str | None, reason: str | None) -> None:
        e = self.engines_seen.setdefault(name, {"version": None, "available": False, "reasons": []})
        if version:
            e["version"] = version
        if reason is None:
            e["available"] = True
        elif reason not in e["reasons"]:
            e["reasons"].append(reason)

    def timed_group(
        self, jobs: list[dict[str, Any]], x: np.ndarray, threads: int, tag: str, reps: int
    ) -> list[dict[str, Any]]:
        """Open every job's engine, check its output, time all round-robin, close all.

        A job is {"label", "engine", "variant", "path", "ref", "ref_name", "shape", "workdir"};
        returns one record per job, with status ok / failed / unavailable / skipped.
        """
        args = self.args
        opened: dict[str, Engine] = {}
        records: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for job in jobs:
            rec: dict[str, Any] = {
                "engine": job["engine"],
                "variant": job["variant"],
                "dtype": job.get("dtype", "float32"),
                "threads": threads,
                "status": "ok",
                "reason": None,
            }
            records[job["label"]] = rec
            if job.get("skip"):
                rec.update(status="skipped", reason=job["skip"])
                self.note_engine(job["engine"], None, job["skip"])
                continue
            log = self.cache / "logs" / f"{tag}-{job['label']}-t{threads}.log"
            engine: Engine | None = None
            try:
                engine = open_engine(job["engine"], self.cache, threads, log, args.timeout, rec["dtype"])
                rec["version"] = engine.version
                rec["info"] = engine.prepare(
                    {**_artifacts(job["path"], job["shape"], args.tvm_trials), **job.get("artifacts", {})},
                    job["workdir"],
                    threads,
                )
                engine.set_input(x)
                engine.run(1)
                rec["agreement"] = agreement(
                    engine.output(), job["ref"], job["ref_name"], job.get("quantum"), job.get("tol")
                )
                opened[job["label"]] = engine
                self.note_engine(job["engine"], engine.version, None)
            except EngineError as exc:
                rec.update(status="unavailable" if exc.unavailable else "failed", reason=exc.reason)
                self.note_engine(job["engine"], rec.get("version"), exc.reason)
                if engine is not None:
                    engine.close()
            rel = rec.get("agreement", {}).get("rel_diff")
            agree = f" rel_diff={rel:.2e}" if rel is not None else ""
            quanta = rec.get("agreement", {}).get("quanta")
            agree += f" quanta={quanta:.2f}" if quanta is not None else ""
            why = rec["reason"] or ""
            print(f"  [{tag} t{threads}] {job['label']}: {rec['status']} {why}{agree}", flush=True)
            if rec["status"] == "ok" and rec["agreement"].get("ok") is False:
                print(f"  [{tag} t{threads}] {job['label']}: DISAGREES with {job['ref_name']}", flush=True)
        times = round_robin(opened, args.warmup, reps, failures, args.gap_ms / 1e3, args.burst)
        for label, engine in opened.items():
            engine.close()
            if label in failures:
                records[label].update(status="failed", reason=failures[label])
            else:
                records[label].update(summarize(times[label]))
        return list(records.values())


def int8_jobs(args: argparse.Namespace, name: str, art: dict[str, Any], x: np.ndarray) -> list[dict[str, Any]]:
    """The int8 runs of one model: XNNPACK on the dense and every pruned int8 file, the delegate on
    every pruned one, ONNX Runtime's and DeepSparse's int8 paths on the dense model; every other
    engine as skipped, with the reason."""
    a8 = art["int8"]
    ref_dense = _reference(a8["dense"], x)
    jobs: list[dict[str, Any]] = []

    def on_tflite(eng: str, variant: str, path: str, ref: np.ndarray, what: str) -> dict[str, Any]:
        return {
            "label": f"{eng}[int8]" if variant == "dense" else f"{eng}[int8 {variant}]",
            "engine": eng,
            "variant": variant,
            "dtype": "int8",
            "path": path,
            "ref": ref,
            "ref_name": f"tflite_builtin on {what} (int8)",
            "quantum": output_quantum(path),
            "tol": AGREE_QUANTA_MODEL,
        }

    pruned_refs = {tag: _reference(p, x) for tag, p in a8["pruned"].items()}
    ref_fp32 = _reference(art["dense"], x)
    own_tol = max(INT8_OWN_MODEL_TOL, 2 * agreement(ref_dense, ref_fp32, "")["rel_diff"])
    for eng in args.engines:
        if eng == "patternlite":
            for tag, path in a8["pruned"].items():
                jobs.append(on_tflite(eng, tag, path, pruned_refs[tag], "the same pruned model"))
        elif eng == "tflite_xnnpack":
            jobs.append(on_tflite(eng, "dense", a8["dense"], ref_dense, "the dense model"))
            # Quantising the pruned model alone: XNNPACK's int8 kernels do not skip zeros.
            for tag, path in a8["pruned"].items():
                jobs.append(on_tflite(eng, tag, path, pruned_refs[tag], "the same pruned model"))
        elif eng in INT8_PEERS:
            jobs.append(
                {
                    "label": f"{eng}[int8]",
                    "engine": eng,
                    "variant": "dense",
                    "dtype": "int8",
                    "path": art["dense"],  # the fp32 source; the peer quantises its own conversion of it
                    "artifacts": {"calibration": a8["calibration"]},
                    "ref": ref_fp32,
                    "ref_name": "tflite_builtin on the dense float32 model (the engine quantises it itself; "
                    "tolerance: twice the converter's int8 file's distance from it)",
                    "tol": own_tol,
                }
            )
        else:
            jobs.append(
                {
                    "label": f"{eng}[int8]",
                    "engine": eng,
                    "variant": "dense",
                    "dtype": "int8",
                    "skip": f"{eng} has no int8 path in this suite",
                }
            )
    return jobs


def bench_model(sess: Session, name: str) -> dict[str, Any]:
    args = sess.args
    t0 = time.time()
    build_in_subprocess(name, args.keeps, sess.cache, args.dtypes, args.connectivity)
    # All cached now: no TensorFlow work here.
    art = model_artifacts(name, args.keeps, sess.cache, args.dtypes, args.connectivity)
    shape = art["input_shape"]
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    ref_dense = _reference(art["dense"], x)
    refs = {tag: _reference(p, x) for tag, p in art["pruned"].items()}
    convs = art["info"]["conv3x3"]
    rec: dict[str, Any] = {
        "name": name,
        "input_shape": list(shape),
        "params": art["info"]["params"],
        "conv3x3_layers": len(convs),
        "conv3x3_gflops_dense": sum(2 * c["ho"] * c["wo"] * c["cout"] * c["cin"] * 9 for c in convs) / 1e9,
        "pruner": art["info"].get("pruner", {}),
        "runs": [],
    }
    if "int8" in args.dtypes:
        rec["int8_calibration"] = art["info"].get("int8_calibration")
    for threads in args.threads:
        jobs: list[dict[str, Any]] = []
        for eng in args.engines if "float32" in args.dtypes else []:
            if eng in PRUNED_ENGINES:
                for tag, path in art["pruned"].items():
                    jobs.append(
                        {
                            "label": f"{eng}[{tag}]",
                            "engine": eng,
                            "variant": tag,
                            "path": path,
                            "ref": refs[tag],
                            "ref_name": "tflite_builtin on the same pruned model",
                        }
                    )
                continue
            job = {
                "label": eng,
                "engine": eng,
                "variant": "dense",
                "path": art["dense"],
                "ref": ref_dense,
                "ref_name": "tflite_builtin on the dense model",
            }
            if eng == "tvm_tuned" and name not in args.tvm_tune:
                job["skip"] = f"tuning is optional and off for {name} (--tvm-tune {name} to run it)"
            if eng == "tvm_untuned" and name not in args.tvm_models:
                job["skip"] = (
                    "untuned TVM is ~100x slower than XNNPACK here; "
                    f"only {','.join(args.tvm_models)} run (--tvm-models to change)"
                )
            jobs.append(job)
        if "int8" in args.dtypes:
            jobs += int8_jobs(args, name, art, x)
        for job in jobs:
            job.update(shape=shape, workdir=art["dir"])
        rec["runs"] += sess.timed_group(jobs, x, threads, name, args.reps)
    rec["wall_s"] = round(time.time() - t0, 1)
    return rec


def _nonzeros(path: str, cout: int, cin: int) -> int:
    """Non-zero weights of the single conv's filter ([cout, 3, 3, cin]) in a .tflite."""
    from benchmarks.peers.tflite_xnnpack import make_interpreter

    interp = make_interpreter(path, 1, builtin_only=True)
    for t in interp.get_tensor_details():
        if list(t["shape"]) == [cout, 3, 3, cin]:
            return int(np.count_nonzero(interp.get_tensor(t["index"])))
    raise RuntimeError(f"no [{cout},3,3,{cin}] filter in {path}")


def bench_layers(sess: Session, model: str) -> list[dict[str, Any]]:
    args = sess.args
    build_in_subprocess(model, args.keeps, sess.cache)
    info = model_artifacts(model, args.keeps, sess.cache)["info"]
    shapes: dict[str, dict[str, Any]] = {}
    for conv in info["conv3x3"]:
        shapes.setdefault(layer_key(conv), {**conv, "layers": []})["layers"].append(conv["layer"])
    out = []
    for key, shp in shapes.items():
        base = {
            "model": model,
            "shape_key": key,
            "layers": shp["layers"],
            **{k: shp[k] for k in ("h", "w", "cin", "cout", "stride", "ho", "wo")},
            "flops_dense": 2 * shp["ho"] * shp["wo"] * shp["cout"] * shp["cin"] * 9,
        }
        if shp["cin"] <= 3:
            # The converter never prunes an RGB stem (too few kernels to choose from).
            out.append({**base, "status": "not prunable", "reason": "cin <= 3: stem conv stays dense"})
            continue
        la = layer_artifacts(shp, args.keeps, sess.cache)
        base["pruner"] = la["pruner"]
        x = np.random.default_rng(2).standard_normal(la["input_shape"]).astype(np.float32)
        jobs = [
            {
                "label": "tflite_xnnpack",
                "engine": "tflite_xnnpack",
                "variant": "dense",
                "path": la["dense"],
                "ref": _reference(la["dense"], x),
                "ref_name": "tflite_builtin on the dense layer",
            }
        ]
        kept = {}
        for tag, path in la["pruned"].items():
            kept[tag] = 2 * shp["ho"] * shp["wo"] * _nonzeros(path, shp["cout"], shp["cin"])
            jobs.append(
                {
                    "label": f"patternlite[{tag}]",
                    "engine": "patternlite",
                    "variant": tag,
                    "path": path,
                    "ref": _reference(path, x),
                    "ref_name": "tflite_builtin on the same pruned layer",
                }
            )
        for job in jobs:
            job.update(shape=la["input_shape"], workdir=la["dir"])
        for threads in args.threads:
            recs = sess.timed_group(jobs, x, threads, f"{model}-{key}", args.layer_reps)
            dense = recs[0]
            row = {
                **base,
                "threads": threads,
                "dense_status": dense["status"],
                "dense_reason": dense["reason"],
                "dense_ms": dense.get("median_ms"),
                "dense_p90_ms": dense.get("p90_ms"),
                "keeps": {},
            }
            for r in recs[1:]:
                tag = r["variant"]
                k: dict[str, Any] = {
                    "status": r["status"],
                    "reason": r["reason"],
                    "flops_kept": kept[tag],
                    "flop_reduction": base["flops_dense"] / max(kept[tag], 1),
                    "pattern_ms": r.get("median_ms"),
                    "pattern_p90_ms": r.get("p90_ms"),
                    "agreement": r.get("agreement"),
                    "info": r.get("info"),
                }
                if k["pattern_ms"] and row["dense_ms"]:
                    k["speedup"] = row["dense_ms"] / k["pattern_ms"]
                    k["efficiency"] = k["speedup"] / k["flop_reduction"]
                row["keeps"][tag] = k
            row["status"] = "ok"
            out.append(row)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    p.add_argument("--models", default=",".join(ALL_MODELS), help="comma list of " + ",".join(MODELS))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--engines", default=",".join([*DENSE_PEERS, *PRUNED_ENGINES]))
    p.add_argument("--keeps", default="1.0,0.5,0.28", help="connectivity keep fractions of the pruned models")
    p.add_argument(
        "--connectivity",
        default="kernel",
        help="comma list of kernel,block,quads,shared: how the models' 3x3 kernels are pruned at each keep (block: "
        "the 16 filters of a block keep the same input channels, files and variants keep<K>-block; quads: block "
        "plus 1x1 blocks keeping aligned fours of inputs, keep<K>-quads; shared: the 3x3 blocks also read each kept "
        "channel through one pattern, plus the 1x1 quads, keep<K>-shared; the single-layer runs stay per kernel)",
    )
    p.add_argument(
        "--dtypes",
        default="float32",
        help="float32 and/or int8 (comma list): int8 adds the full-integer models (whole models only)",
    )
    p.add_argument(
        "--layers", default="vgg16,resnet50", help="models whose 3x3 layers are timed one by one ('' = none)"
    )
    p.add_argument("--tvm-models", default=",".join(TVM_DEFAULT_MODELS))
    p.add_argument("--tvm-tune", default="", help="models to meta-schedule tune with TVM (minutes each)")
    p.add_argument("--tvm-trials", type=int, default=512, help="meta-schedule trials per tuned model")
    p.add_argument("--reps", type=int, default=20, help="timed runs per engine (>= 20 for reported numbers)")
    p.add_argument("--layer-reps", type=int, default=None, help="timed runs per layer engine (default --reps)")
    p.add_argument("--gap-ms", type=float, default=30, help="idle ms before each run (spinning pools stop)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument(
        "--burst",
        type=int,
        default=5,
        help="timed back-to-back invocations per turn after one untimed one; a turn's time is their median "
        "(steady state, as benchmark_model); 1: the first invocation after the gap (cold caches)",
    )
    p.add_argument("--quick", action="store_true", help="validation run: resnet20, 5 reps, 1 warm-up, one layer model")
    p.add_argument("--timeout", type=float, default=600, help="seconds one worker call may take")
    p.add_argument("--cache", default=str(ROOT / "benchmarks" / ".cache"))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default="", help="suffix for the results file name")
    p.add_argument("--note", default="", help="free text for the report, e.g. what else the machine was doing")
    p.add_argument("--no-report", action="store_true", help="write the JSON only (no markdown/PNG)")
    a = p.parse_args(argv)
    if a.quick:
        if "--models" not in (argv or sys.argv):
            a.models = "resnet20"
        if "--layers" not in (argv or sys.argv):
            a.layers = "resnet20"
        a.reps, a.warmup = min(a.reps, 5), 1
        a.tag = a.tag or "quick"
    split = [s for s in a.models.split(",") if s]
    unknown = [m for m in split if m not in MODELS]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    a.models = split
    a.threads = [int(t) for t in str(a.threads).split(",") if t]
    # ncnn reads the ONNX file the onnxruntime peer converts, so onnxruntime goes first
    # (DeepSparse reuses it too, converting it itself only when it is missing).
    order = [*DENSE_PEERS, *PRUNED_ENGINES]
    a.engines = sorted((e for e in a.engines.split(",") if e), key=lambda e: order.index(e) if e in order else 99)
    a.keeps = [float(k) for k in a.keeps.split(",") if k]
    a.connectivity = [c for c in a.connectivity.split(",") if c]
    if not a.connectivity or set(a.connectivity) - set(CONNECTIVITIES):
        p.error(f"--connectivity: choose from {','.join(CONNECTIVITIES)}, got {a.connectivity}")
    a.dtypes = [d for d in a.dtypes.split(",") if d]
    if not a.dtypes or set(a.dtypes) - set(DTYPES):
        p.error(f"--dtypes: choose from {','.join(DTYPES)}, got {a.dtypes}")
    a.layers = [m for m in a.layers.split(",") if m]
    a.tvm_models = [m for m in a.tvm_models.split(",") if m]
    a.tvm_tune = [m for m in a.tvm_tune.split(",") if m]
    a.layer_reps = a.layer_reps or a.reps
    if a.burst < 1:
        p.error(f"--burst must be >= 1, got {a.burst}")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    sess = Session(args)
    now = dt.datetime.now()
    host = socket.gethostname()
    res: dict[str, Any] = {
        "schema": SCHEMA,
        "date": now.strftime("%Y-%m-%d"),
        "started": now.isoformat(timespec="seconds"),
        "host": host,
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_info(),
        "settings": {
            k: getattr(args, k)
            for k in (
                "models",
                "threads",
                "engines",
                "keeps",
                "dtypes",
                "layers",
                "tvm_models",
                "tvm_tune",
                "tvm_trials",
                "reps",
                "layer_reps",
                "warmup",
                "gap_ms",
                "burst",
                "quick",
            )
        },
        "note": args.note,
        "engines": sess.engines_seen,
        "models": [],
        "layers": [],
    }
    if args.connectivity != ["kernel"]:  # recorded only when asked for: default runs' files stay as they were
        res["settings"]["connectivity"] = args.connectivity
    from benchmarks.pruning import PRUNER

    res["pruner"] = PRUNER
    for name in args.models:
        print(f"== model {name}", flush=True)
        res["models"].append(bench_model(sess, name))
    for name in args.layers:
        print(f"== layers of {name}", flush=True)
        res["layers"] += bench_layers(sess, name)
    res["wall_s"] = round(time.time() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{res['date']}-{host}{'-' + args.tag if args.tag else ''}"
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1))
    print(f"wrote {stem}.json ({res['wall_s']} s)")
    if not args.no_report:
        from benchmarks.report import write_report

        write_report(res, stem)
        print(f"wrote {stem}.md, {stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
