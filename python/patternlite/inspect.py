"""``patternlite inspect``: what a .tflite's pattern metadata says, and what it saves.

For every CONV_2D and DEPTHWISE_CONV_2D of the model it reports the layer kind,
what is kept (3x3 kernels, 1x1 weights or depthwise channels), the patterns
used and the multiply-accumulates dense against kept, then the expected
reduction over all convolutions. It also says what the file holds: float32 or
int8 (full-integer) weights, per conv whether an int8 filter is quantised per
output channel, and the dtype of the model's input and output. Needs numpy and
flatbuffers only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from patternlite._contract import KERNEL_TAPS, PATTERN_TAPS
from patternlite.metadata import (
    CHANNEL_BLOCK,
    KIND_CONV3X3,
    KIND_DEPTHWISE3X3,
    KIND_POINTWISE,
    KINDS,
    METADATA_NAME,
    PRUNED,
    LayerPatterns,
    MetadataError,
    PatternMetadata,
    decode,
    mask_to_grid,
)
from patternlite.op_kinds import tflite_kind_value
from patternlite.tflite_file import TensorInfo, TfliteFileError, TfliteModel

# Multiply-accumulates per kept entry of a record, per output pixel: a kept 3x3 or
# depthwise kernel runs its pattern's taps, a kept 1x1 weight one.
_KEPT_MACS = {KIND_CONV3X3: PATTERN_TAPS, KIND_POINTWISE: 1, KIND_DEPTHWISE3X3: PATTERN_TAPS}
_SHORT = dict(zip(KINDS, ("3x3", "1x1", "depthwise"), strict=True))
# The --help text: the docstring's first line without its reStructuredText quoting.
_DESCRIPTION = (__doc__ or "").splitlines()[0].replace("``", "")


def _macs_per_output_pixel(shape: tuple[int, ...]) -> int:
    """Dense MACs per output pixel: O*KH*KW*I for a conv, KH*KW*C for a depthwise [1, KH, KW, C] filter."""
    o, kh, kw, i = shape
    return int(o * kh * kw * i)


def _record_fits(record: LayerPatterns, kind: int | None, shape: tuple[int, ...]) -> str:
    """Why a record cannot apply to its op ('' when it can): the delegate declines such a match."""
    if kind != record.kind:
        return f"a {record.kind_name} record on a filter of shape {list(shape)}"
    o, i = (shape[3], 1) if kind == KIND_DEPTHWISE3X3 else (shape[0], shape[3])
    if (record.out_channels, record.in_channels) != (o, i):
        return f"a {record.out_channels}x{record.in_channels} record for a {o}x{i} filter"
    return ""


def _weights(tensor: TensorInfo) -> str:
    """A filter's storage: float32, int8 per-channel (symmetric or not), int8 per-tensor, ..."""
    q = tensor.quantization
    if tensor.dtype != "int8" or q is None:
        return tensor.dtype
    layout = "per-channel" if q.per_channel else "per-tensor"
    return f"int8 {layout}" + ("" if q.symmetric else " asymmetric")


def _model_dtype(model: TfliteModel) -> str:
    """float32 or int8 by the conv filters (mixed when they differ); the input's dtype without convs."""
    dtypes = {model.tensors[c.filter].dtype for c in model.convs}
    if len(dtypes) > 1:
        return "mixed"
    if dtypes:
        return dtypes.pop()
    return model.tensors[model.inputs[0]].dtype if model.inputs else "unknown"


def _structure(kernel_pattern: npt.NDArray[np.uint8]) -> str:
    """How a 3x3 layer's kernels are arranged per block of CHANNEL_BLOCK filters (the converter's
    ``--connectivity``): "shared" (the filters of a block read each kept input through one pattern,
    what the int8 shared-pattern kernel runs), "block" (they keep the same inputs) or "kernel"."""
    o = kernel_pattern.shape[0]
    if o < CHANNEL_BLOCK:
        return "kernel"
    blocks = [kernel_pattern[s : s + CHANNEL_BLOCK] for s in range(0, o, CHANNEL_BLOCK)]
    if all(np.all(b == b[:1]) for b in blocks):
        return "shared"
    if all(np.all((b == PRUNED) == (b[:1] == PRUNED)) for b in blocks) and np.any(kernel_pattern == PRUNED):
        return "block"
    return "kernel"


def inspect_model(path: str) -> dict[str, Any]:
    """A summary of the model's convs and pattern metadata (JSON-serialisable)."""
    model = TfliteModel.from_file(path)
    blob = model.metadata(METADATA_NAME)
    meta: PatternMetadata | None = None
    meta_error = ""
    if blob is not None:
        try:
            meta = decode(blob)
        except MetadataError as exc:
            meta_error = str(exc)
    layers = []
    total_dense = total_kept = 0
    for conv in model.convs:
        ft = model.tensors[conv.filter]
        out_shape = model.tensors[conv.output].shape
        pixels = int(np.prod(out_shape[1:3])) if len(out_shape) == 4 else 0
        dense = pixels * _macs_per_output_pixel(ft.shape) if len(ft.shape) == 4 else 0
        kind = tflite_kind_value(model, conv)
        record = meta.layer(ft.name) if meta else None
        row: dict[str, Any] = {
            "op": conv.index,
            "builtin": conv.builtin,
            "kind": KINDS[kind] if kind is not None else "other",
            "filter": ft.name,
            "shape": list(ft.shape),
            "output": list(out_shape),
            "stride": list(conv.stride),
            "padding": conv.padding,
            "activation": conv.activation,
            "pattern_pruned": False,
            "dense_macs": dense,
            "weights": _weights(ft),
        }
        if record is not None and (why := _record_fits(record, kind, ft.shape)):
            row["record_ignored"] = why + " (the delegate declines it)"
            record = None
        row["pattern_pruned"] = record is not None
        kept = dense
        if record is None and kind == KIND_CONV3X3:
            # No metadata: the delegate still claims a 3x3 conv whose non-zero
            # kernels all fit a pattern (PATTERN_TAPS taps), so report what the weights say.
            weights = model.tensor_array(conv.filter)
            if weights is not None and weights.dtype == np.float32:
                taps = np.count_nonzero(weights != 0, axis=(1, 2))  # [O, I] non-zero taps per kernel
                if taps.max(initial=0) <= PATTERN_TAPS:
                    n_kept = int(np.count_nonzero(taps))
                    kept = pixels * n_kept * PATTERN_TAPS
                    row.update(pattern_source="weights", kept_kernels=n_kept, total_kernels=int(taps.size))
        if record is not None:
            kp = record.kernel_pattern
            n_kept = int(np.count_nonzero(kp != PRUNED))
            kept = pixels * n_kept * _KEPT_MACS[record.kind]
            row.update(
                pattern_source="metadata",
                kept_kernels=n_kept,
                total_kernels=int(kp.size),
                keep=record.keep,
            )
            if record.kind != KIND_POINTWISE:
                n_patterns = len(meta.patterns) if meta else 0
                hist: list[int] = np.bincount(kp[kp != PRUNED].ravel(), minlength=n_patterns).tolist()
                row["pattern_histogram"] = hist
            if record.kind == KIND_CONV3X3:
                row["structure"] = _structure(kp)
        row["kept_macs"] = kept
        row["reduction"] = dense / kept if kept else float("inf")
        total_dense += dense
        total_kept += kept
        layers.append(row)
    return {
        "path": path,
        "operators": model.operator_count,
        "dtype": _model_dtype(model),
        "input_dtype": [model.tensors[i].dtype for i in model.inputs],
        "output_dtype": [model.tensors[i].dtype for i in model.outputs],
        "metadata": {
            "present": blob is not None,
            "error": meta_error,
            "version": list(meta.version) if meta else None,
            "patterns": list(meta.patterns) if meta else [],
            "layers": len(meta.layers) if meta else 0,
            "kinds": {k: sum(1 for r in meta.layers if r.kind_name == k) for k in KINDS} if meta else {},
        },
        "convs": layers,
        "total_dense_macs": total_dense,
        "total_kept_macs": total_kept,
        "total_reduction": total_dense / total_kept if total_kept else float("inf"),
    }


def _pattern_art(masks: list[int]) -> list[str]:
    """The library as 3x3 glyph grids side by side ('#' kept, '.' pruned)."""
    grids = [mask_to_grid(m) for m in masks]
    lines = ["".join(f"  p{i:<3d}" for i in range(len(masks)))]
    for r in range(3):
        lines.append("".join("  " + "".join("#" if g[r, c] else "." for c in range(3)) + " " for g in grids))
    return lines


def format_summary(summary: dict[str, Any]) -> str:
    n_dw = sum(1 for row in summary["convs"] if row.get("builtin") == "DEPTHWISE_CONV_2D")
    n_conv = len(summary["convs"]) - n_dw
    out = [f"model: {summary['path']}  ({summary['operators']} operators, {n_conv} CONV_2D, {n_dw} DEPTHWISE_CONV_2D)"]
    io = "/".join(sorted(set(summary["input_dtype"] + summary["output_dtype"]))) or "?"
    out.append(f"weights: {summary['dtype']}; input and output: {io}")
    md = summary["metadata"]
    if not md["present"]:
        out.append("pattern metadata: none (the delegate can still claim layers whose weights fit patterns)")
    elif md["error"]:
        out.append(f"pattern metadata: CORRUPT ({md['error']}); the delegate will claim nothing from it")
    else:
        kinds = ", ".join(f"{n} {_SHORT[k]}" for k, n in md.get("kinds", {}).items() if n)
        out.append(
            f"pattern metadata: v{md['version'][0]}.{md['version'][1]}, {len(md['patterns'])} patterns, "
            f"{md['layers']} layers" + (f" ({kinds})" if kinds else "")
        )
        out.extend(_pattern_art(md["patterns"]))
    out.append("")
    head = (
        f"{'op':>4} {'kind':<9} {'filter':<44} {'weights':<16} {'shape':<16} {'out':<14} {'kept':>14} "
        f"{'blocks':<7} {'MMACs dense':>12} {'MMACs kept':>11} {'x':>6}"
    )
    out.append(head)
    out.append("-" * len(head))
    for row in summary["convs"]:
        name = row["filter"] if len(row["filter"]) <= 44 else "..." + row["filter"][-41:]
        shape = "x".join(str(d) for d in row["shape"])
        outs = "x".join(str(d) for d in row["output"][1:])
        kept = f"{row['kept_kernels']}/{row['total_kernels']}" if "kept_kernels" in row else "dense"
        if row.get("pattern_source") == "weights":
            kept += "*"
        if row.get("record_ignored"):
            kept += "!"
        kind = _SHORT.get(row.get("kind", ""), "-")
        out.append(
            f"{row['op']:>4} {kind:<9} {name:<44} {row['weights']:<16} {shape:<16} {outs:<14} {kept:>14} "
            f"{row.get('structure', '-'):<7} {row['dense_macs'] / 1e6:>12.2f} "
            f"{row['kept_macs'] / 1e6:>11.2f} {row['reduction']:>6.2f}"
        )
    out.append("-" * len(head))
    out.append(
        f"kept: 3x3 kernels ({PATTERN_TAPS} taps each), 1x1 weights, "
        f"depthwise channels ({PATTERN_TAPS} taps each, {KERNEL_TAPS} dense)"
    )
    if any("structure" in row for row in summary["convs"]):
        out.append(
            "blocks: how each block of 16 filters keeps its 3x3 kernels: shared (one pattern per kept input, "
            "the int8 kernel's fastest), block (the same inputs), kernel (each on its own)"
        )
    if any(row.get("pattern_source") == "weights" for row in summary["convs"]):
        out.append("* no metadata for this layer; its weights fit 4-tap patterns, so the delegate can still claim it")
    for row in summary["convs"]:
        if row.get("record_ignored"):
            out.append(f"! op {row['op']}: {row['record_ignored']}")
    out.append(
        f"total conv MACs: {summary['total_dense_macs'] / 1e6:.1f}M dense -> {summary['total_kept_macs'] / 1e6:.1f}M "
        f"kept, expected reduction {summary['total_reduction']:.2f}x"
    )
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="patternlite inspect", description=_DESCRIPTION)
    parser.add_argument("model", help="a .tflite file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        summary = inspect_model(args.model)
    except FileNotFoundError:
        print(f"patternlite inspect: no such file: {args.model}", file=sys.stderr)
        return 1
    except TfliteFileError as exc:
        print(f"patternlite inspect: {args.model}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder, no permission, ...
        print(f"patternlite inspect: cannot read {args.model}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
