"""The pruned CIFAR-10 ResNet-20 through stock tf.lite: the OpenCL backend against the CPU path.

Prunes ``../shared/models/resnet20_cifar10.keras`` with the converter's instant
``magnitude`` mode (8 patterns, ``--keep`` of the kernels), exports the
``.tflite``, then classifies the 500 lossless dev images with
``tf.lite.Interpreter`` three ways: no patternlite delegate,
``load_delegate()`` (the CPU kernels) and ``load_delegate(backend="opencl")``.
It prints each top-1, how many predictions the OpenCL run shares with the CPU
run, and the largest logit difference relative to the logits' scale.

    PATTERNLITE_SHARED=../shared .venv/bin/python -m benchmarks.opencl_resnet20
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import patternlite


def shared_dir() -> Path:
    return Path(os.environ.get("PATTERNLITE_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))


def pruned_resnet20(shared: Path, keep: float, out: Path) -> Path:
    import keras

    from patternlite.converter import export_tflite, prune
    from patternlite.converter.policy import PrunePolicy

    model = keras.models.load_model(shared / "models" / "resnet20_cifar10.keras", compile=False)
    result = prune(model, keep=keep, policy=PrunePolicy.from_options(patterns=8, method="magnitude"), progress=False)
    return Path(export_tflite(result, out))


def classify(model: Path, images: np.ndarray, delegate: Any | None, batch: int = 50) -> tuple[np.ndarray, float]:
    """Logits of every image through stock tf.lite, and the seconds it took."""
    import tensorflow as tf

    delegates = [delegate] if delegate is not None else []
    interp = tf.lite.Interpreter(model_path=str(model), experimental_delegates=delegates, num_threads=1)
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    interp.resize_tensor_input(inp, [batch, *images.shape[1:]])
    interp.allocate_tensors()
    logits = []
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        interp.set_tensor(inp, np.ascontiguousarray(images[i : i + batch], np.float32))
        interp.invoke()
        logits.append(np.array(interp.get_tensor(out)))
    return np.concatenate(logits), time.perf_counter() - start


def evaluate(shared: Path, keep: float = 0.5, model: Path | None = None) -> dict[str, Any]:
    data = np.load(shared / "data" / "cifar10_dev_lossless.npz")
    images, labels = data["images"].astype(np.float32), data["labels"]
    with tempfile.TemporaryDirectory() as tmp:
        path = model if model is not None else pruned_resnet20(shared, keep, Path(tmp) / "resnet20.tflite")
        tflite, _ = classify(path, images, None)
        cpu_delegate = patternlite.load_delegate()
        cpu, cpu_s = classify(path, images, cpu_delegate)
        cl_delegate = patternlite.load_delegate(backend="opencl")
        opencl, opencl_s = classify(path, images, cl_delegate)
        cl_stats, cpu_stats = cl_delegate.stats(), cpu_delegate.stats()

    def top1(logits: np.ndarray) -> float:
        return float(np.mean(np.argmax(logits, axis=1) == labels))

    scale = float(np.abs(cpu).max())
    return {
        "images": len(labels),
        "keep": keep,
        "top1_tflite": top1(tflite),
        "top1_cpu": top1(cpu),
        "top1_opencl": top1(opencl),
        "same_predictions": int(np.sum(np.argmax(cpu, axis=1) == np.argmax(opencl, axis=1))),
        "max_scaled_diff_opencl_vs_cpu": float(np.abs(opencl - cpu).max() / scale),
        "max_scaled_diff_opencl_vs_tflite": float(np.abs(opencl - tflite).max() / float(np.abs(tflite).max())),
        # The 3x3 convs go to the OpenCL device; 1x1 and depthwise claims stay on the CPU kernels.
        "claimed_opencl": sum(c["backend"] == "opencl" for c in cl_stats["claimed"]),
        "claimed_opencl_run_on_cpu": sorted(c["kind"] for c in cl_stats["claimed"] if c["backend"] != "opencl"),
        "claimed_cpu": len(cpu_stats["claimed"]),
        "claimed_cpu_conv3x3": sum(c["kind"] == "conv3x3" for c in cpu_stats["claimed"]),
        "declined_opencl": sorted({d["reason"] for d in cl_stats["declined"]}),
        "device": cl_stats["backend"]["device"],
        "device_type": cl_stats["backend"]["device_type"],
        "seconds_cpu": cpu_s,
        "seconds_opencl": opencl_s,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=float, default=0.5)
    ap.add_argument("--model", type=Path, default=None, help="an already pruned .tflite (skips pruning)")
    args = ap.parse_args()
    shared = shared_dir()
    if not (shared / "README.md").is_file():
        print(f"no evaluation material at {shared} (set PATTERNLITE_SHARED)")
        return 2
    print(json.dumps(evaluate(shared, args.keep, args.model), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
