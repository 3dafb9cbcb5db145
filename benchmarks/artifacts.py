"""Build and cache the .tflite files the benchmark runs: dense, pattern-pruned, single-op layers.

Everything lands in benchmarks/.cache/<model>-v<BUILDER_VERSION>/ and is reused while
present; random weights are seeded so a rebuild gives the same model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.models import BUILDER_VERSION, MODELS, conv3x3_layers
from benchmarks.pruning import PRUNER, keras_to_tflite, pruned_tflite

SEED = 0


def _seeded(build: Any) -> Any:
    def run() -> Any:
        import keras

        keras.utils.set_random_seed(SEED)
        return build()

    return run


def keep_tag(keep: float) -> str:
    return f"keep{keep:g}"


def _stale(path: Path, made_by: str | None) -> bool:
    """Missing, or not made by the converter (the old numpy stop-gap, or unrecorded)."""
    return not path.exists() or made_by != PRUNER


def model_artifacts(name: str, keeps: list[float], cache: Path) -> dict[str, Any]:
    """Dense and pruned .tflite paths plus the model's 3x3-conv table (cached as info.json)."""
    spec = MODELS[name]
    d = cache / f"{name}-v{BUILDER_VERSION}"
    d.mkdir(parents=True, exist_ok=True)
    info_file = d / "info.json"
    info: dict[str, Any] = json.loads(info_file.read_text()) if info_file.exists() else {}
    dense = d / "dense.tflite"
    if not dense.exists() or "conv3x3" not in info:
        model = _seeded(spec.build)()
        info["params"] = int(model.count_params())
        info["conv3x3"] = conv3x3_layers(model)
        keras_to_tflite(model, dense)
    pruners = info.setdefault("pruner", {})
    pruned: dict[str, str] = {}
    for keep in keeps:
        p = d / f"{keep_tag(keep)}.tflite"
        if _stale(p, pruners.get(keep_tag(keep))):
            pruners[keep_tag(keep)] = pruned_tflite(_seeded(spec.build), keep, p)
        pruned[keep_tag(keep)] = str(p)
    info_file.write_text(json.dumps(info, indent=1))
    return {
        "dir": d,
        "dense": str(dense),
        "pruned": pruned,
        "info": info,
        "input_shape": (1, *spec.input_shape),
    }


def layer_key(shape: dict[str, Any]) -> str:
    return f"h{shape['h']}w{shape['w']}c{shape['cin']}o{shape['cout']}s{shape['stride']}{shape['padding']}"


def layer_artifacts(shape: dict[str, Any], keeps: list[float], cache: Path) -> dict[str, Any]:
    """A single-Conv2D model of one layer shape (bias + ReLU as in the networks), dense and pruned."""
    d = cache / "layers" / f"{layer_key(shape)}-v{BUILDER_VERSION}"
    d.mkdir(parents=True, exist_ok=True)

    def build() -> Any:
        import keras

        inp = keras.Input((shape["h"], shape["w"], shape["cin"]))
        out = keras.layers.Conv2D(
            shape["cout"],
            3,
            strides=shape["stride"],
            padding=shape["padding"],
            activation="relu",
            name="conv",
        )(inp)
        return keras.Model(inp, out)

    dense = d / "dense.tflite"
    if not dense.exists():
        keras_to_tflite(_seeded(build)(), dense)
    made_file = d / "pruner.json"
    pruners: dict[str, str] = json.loads(made_file.read_text()) if made_file.exists() else {}
    pruned = {}
    for keep in keeps:
        p = d / f"{keep_tag(keep)}.tflite"
        if _stale(p, pruners.get(keep_tag(keep))):
            pruners[keep_tag(keep)] = pruned_tflite(_seeded(build), keep, p, prune_first=True)
        pruned[keep_tag(keep)] = str(p)
    made_file.write_text(json.dumps(pruners))
    return {
        "dir": d,
        "dense": str(dense),
        "pruned": pruned,
        "pruner": pruners,
        "input_shape": (1, shape["h"], shape["w"], shape["cin"]),
    }


def build_in_subprocess(name: str, keeps: list[float], cache: Path) -> None:
    """Build a model's files in a child process that then exits.

    Converting VGG-16 four times leaves the process at ~7 GB RSS even after Keras' state is
    cleared (the allocator keeps the pages); the harness itself must stay small because
    tf2onnx, running next to it, needs many GB for the same model on a 24 GB machine.
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "benchmarks.artifacts", name, ",".join(map(str, keeps)), str(cache)]
    # cwd = the repository root, so ``-m benchmarks.artifacts`` resolves wherever pytest runs from.
    subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    import sys

    model_artifacts(sys.argv[1], [float(k) for k in sys.argv[2].split(",")], Path(sys.argv[3]))
