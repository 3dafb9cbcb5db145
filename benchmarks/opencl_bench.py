"""The OpenCL backend's pattern conv against the CPU kernels and a dense OpenCL baseline.

Per layer (random pattern-pruned weights, batch 1, bias + ReLU) it times:

* ``opencl_pattern``: the delegate's OpenCL pattern kernel on the chosen OpenCL
  device, as the delegate runs it (host-pointer buffers, map/unmap, finish);
* ``opencl_dense``: a dense 3x3 OpenCL kernel of the same work-item mapping
  over every tap and channel, on the same pruned weights (the baseline the
  pattern kernel's sparsity must beat on the same device);
* ``cpu``: the delegate's best SIMD kernel (``patternlite_conv2d``).

All three outputs are checked against the scalar reference kernel. On PoCL
(OpenCL on the CPU) the OpenCL figures are a sanity check of the path only:
they say nothing about any GPU's speed. Run it on a machine with a GPU and its
OpenCL driver to measure a GPU.

    .venv/bin/python -m benchmarks.opencl_bench                  # default layers, keep 0.5
    .venv/bin/python -m benchmarks.opencl_bench --keep 0.28 --layers "cifar 32x32x16->16" --device 0
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import patternlite  # noqa: E402
from benchmarks.kernel_bench import LAYERS, LIBRARY, direct  # noqa: E402
from benchmarks.native_conv import run_native_conv  # noqa: E402
from benchmarks.run import machine_info  # noqa: E402
from patternlite.delegate import best_isa  # noqa: E402

from conv_models import pattern_pruned_filters  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_LAYERS = [
    "cifar 32x32x16->16",
    "cifar 8x8x64->64",
    "resnet 28x28x128->128",
    "resnet 14x14x256->256",
    "stride2 56x56x64->128",
]


def opencl_conv(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray,
    stride: int,
    *,
    dense: bool,
    repeats: int,
    platform: str,
    device: str,
) -> tuple[float, np.ndarray, str]:
    """Median seconds of one run, the output, and the device's name."""
    name = ctypes.create_string_buffer(256)
    middle = [int(dense), platform.encode(), device.encode(), repeats]
    seconds, out = run_native_conv("patternlite_opencl_conv2d", x, w, bias, stride, middle, (name, ctypes.sizeof(name)))
    return seconds, out, name.value.decode(errors="replace")


def scaled_error(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(out - ref).max() / max(float(np.abs(ref).max()), 1e-6))


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# OpenCL backend: pattern kernel vs dense OpenCL vs CPU, {meta['date']}",
        "",
        f"Device: **{meta['device']}** (`{meta['device_type']}`), host {meta['machine']['cpu_model']}, "
        f"{meta['machine']['cores']} cores; keep {meta['keep']}, batch 1, median of {meta['repeats']} runs, "
        f"CPU kernel `{meta['isa']}` at {meta['threads']} thread(s).",
        "",
    ]
    if meta["device_type"] != "GPU":
        lines += [
            "**Sanity figures only**: this OpenCL device is not a GPU (PoCL runs OpenCL on the CPU), so the",
            "OpenCL columns say nothing about GPU speed. They show the path works and what the work-item",
            "mapping costs against the SIMD kernels on the same cores.",
            "",
        ]
    lines += [
        "| layer | MMAC kept | OpenCL pattern ms | OpenCL dense ms | pattern vs dense | CPU kernel ms | max error |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['layer']} | {r['mmac_kept']:.1f} | {r['opencl_pattern_ms']:.3f} | {r['opencl_dense_ms']:.3f} | "
            f"{r['opencl_dense_ms'] / r['opencl_pattern_ms']:.2f}x | {r['cpu_ms']:.3f} | {r['max_error']:.1e} |"
        )
    lines += ["", f"Reproduce: `{meta['command']}`", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", default=",".join(DEFAULT_LAYERS), help="comma-separated layer names of kernel_bench")
    ap.add_argument("--keep", type=float, default=0.5, help="fraction of kernels kept")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="threads of the CPU kernel")
    ap.add_argument("--platform", default="", help="OpenCL platform: index or name substring")
    ap.add_argument("--device", default="", help="OpenCL device: index or name substring")
    ap.add_argument("--out", type=Path, default=None, help="write JSON and Markdown here (stem)")
    args = ap.parse_args()

    wanted = [s.strip() for s in args.layers.split(",") if s.strip()]
    layers = [layer for layer in LAYERS if layer[0] in wanted]
    unknown = set(wanted) - {layer[0] for layer in LAYERS}
    if unknown:
        ap.error(f"unknown layer(s) {sorted(unknown)}; known: {[layer[0] for layer in LAYERS]}")
    delegate = patternlite.load_delegate(backend="opencl", opencl_platform=args.platform, opencl_device=args.device)
    backend = delegate.stats()["backend"]
    delegate.close()
    isa = best_isa()
    rows = []
    for name, h, w_, c, o, stride in layers:
        rng = np.random.default_rng(0)
        w, _ = pattern_pruned_filters(rng, o, c, LIBRARY, args.keep)
        bias = rng.standard_normal(o).astype(np.float32)
        x = rng.standard_normal((1, h, w_, c)).astype(np.float32)
        _, ref = direct("scalar", x, w, bias, stride, 1, 1)
        t0 = time.perf_counter()
        pat_s, pat, device = opencl_conv(
            x, w, bias, stride, dense=False, repeats=args.repeats, platform=args.platform, device=args.device
        )
        dense_s, dense, _ = opencl_conv(
            x, w, bias, stride, dense=True, repeats=args.repeats, platform=args.platform, device=args.device
        )
        cpu_s, cpu = direct(isa, x, w, bias, stride, args.threads, args.repeats)
        kept = int(np.count_nonzero(np.abs(w).reshape(o, 9, c).sum(axis=1)))
        oh, ow = -(-h // stride), -(-w_ // stride)
        max_error = max(scaled_error(pat, ref), scaled_error(dense, ref), scaled_error(cpu, ref))
        row: dict[str, Any] = {
            "layer": name,
            "mmac_kept": kept * 4 * oh * ow / 1e6,
            "opencl_pattern_ms": pat_s * 1e3,
            "opencl_dense_ms": dense_s * 1e3,
            "cpu_ms": cpu_s * 1e3,
            "max_error": max_error,
            "device": device,
            "wall_s": time.perf_counter() - t0,
        }
        rows.append(row)
        print(
            f"{name:26s} pattern {row['opencl_pattern_ms']:9.3f} ms  dense {row['opencl_dense_ms']:9.3f} ms  "
            f"cpu[{isa}] {row['cpu_ms']:8.3f} ms  err {row['max_error']:.1e}",
            flush=True,
        )
        if max_error > 1e-4:
            print(f"error: {name} disagrees with the scalar kernel ({max_error:.2e})", file=sys.stderr)
            return 1
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": socket.gethostname(),
        "machine": machine_info(),
        "device": backend["device"],
        "device_type": backend["device_type"],
        "platform": backend["platform"],
        "keep": args.keep,
        "repeats": args.repeats,
        "threads": args.threads,
        "isa": isa,
        "command": "python -m benchmarks.opencl_bench " + " ".join(sys.argv[1:]),
    }
    if backend["device_type"] != "GPU":
        print("note: the OpenCL device is not a GPU; the OpenCL timings are a sanity figure only")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
        args.out.with_suffix(".md").write_text(markdown(rows, meta))
        print(f"wrote {args.out.with_suffix('.json')} and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
