"""Build and cache the .tflite files the benchmark runs: dense, pattern-pruned, single-op layers.

Everything lands in benchmarks/.cache/<model>-v<BUILDER_VERSION>/ and is reused while
present; random weights are seeded so a rebuild gives the same model.  With the int8
dtype, the same models are also written full-integer int8 (``*.int8.tflite``, float32
I/O), all calibrated on one cached set of the converter's synthetic images (``calib.npy``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.models import BUILDER_VERSION, MODELS, conv3x3_layers
from benchmarks.pruning import PRUNER, calibration_images, int8_tflite, keras_to_tflite, pruned_tflite

SEED = 0
DTYPES = ("float32", "int8")
# Synthetic images that calibrate the int8 files.  The ranges they give do not change
# the speed, and BatchNorm-matched synthesis of 224x224 images costs tens of seconds per
# image on two cores, so a few suffice here (the converter's own default is 200).
CALIB_IMAGES = 8


def _seeded(build: Any) -> Any:
    def run() -> Any:
        import keras

        keras.utils.set_random_seed(SEED)
        return build()

    return run


# "quads": block 3x3 + 1x1 inputs in aligned fours; "shared": 3x3 blocks that also read each kept
# channel through one pattern, + 1x1 quads (the fastest int8 structure).
CONNECTIVITIES = ("kernel", "block", "quads", "shared")


def keep_tag(keep: float, connectivity: str = "kernel") -> str:
    """The file stem and variant name of a pruned file: ``keep0.28``, or ``keep0.28-block`` for
    block-structured connectivity (cached apart; the per-kernel default keeps its old name)."""
    return f"keep{keep:g}" if connectivity == "kernel" else f"keep{keep:g}-{connectivity}"


def _variants(keeps: list[float], connectivities: tuple[str, ...] | list[str]) -> list[tuple[float, str]]:
    return [(keep, c) for keep in keeps for c in connectivities]


def _stale(path: Path, made_by: str | None) -> bool:
    """Missing, or not made by the converter (the old numpy stop-gap, or unrecorded)."""
    return not path.exists() or made_by != PRUNER


def int8_tag(tag: str) -> str:
    """The file stem and pruner key of a file's int8 twin: ``keep0.5`` -> ``keep0.5.int8``."""
    return f"{tag}.int8"


def model_artifacts(
    name: str,
    keeps: list[float],
    cache: Path,
    dtypes: tuple[str, ...] | list[str] = ("float32",),
    connectivities: tuple[str, ...] | list[str] = ("kernel",),
) -> dict[str, Any]:
    """Dense and pruned .tflite paths plus the model's 3x3-conv table (cached as info.json).

    With "int8" in ``dtypes`` also ``int8`` = {"dense", "pruned", "calibration"}: the int8 files
    and the .npy of the images that calibrated them (NHWC float32, as the model takes them).
    """
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
    for keep, conn in _variants(keeps, connectivities):
        tag = keep_tag(keep, conn)
        p = d / f"{tag}.tflite"
        if _stale(p, pruners.get(tag)):
            pruners[tag] = pruned_tflite(_seeded(spec.build), keep, p, connectivity=conn)
        pruned[tag] = str(p)
    out: dict[str, Any] = {
        "dir": d,
        "dense": str(dense),
        "pruned": pruned,
        "info": info,
        "input_shape": (1, *spec.input_shape),
    }
    if "int8" in dtypes:
        out["int8"] = _int8_files(d, spec.build, _variants(keeps, connectivities), pruners, info)
    info_file.write_text(json.dumps(info, indent=1))
    return out


def _int8_files(
    d: Path, build: Any, variants: list[tuple[float, str]], pruners: dict[str, str], info: dict[str, Any]
) -> dict[str, Any]:
    """The dense and pruned int8 files of one model, built where missing; updates ``pruners``/``info``."""
    import numpy as np

    calib = d / "calib.npy"
    dense = d / f"{int8_tag('dense')}.tflite"
    if not calib.exists():
        np.save(calib, calibration_images(_seeded(build)(), CALIB_IMAGES))
        dense.unlink(missing_ok=True)  # calibrated on other images: rebuild
    images = np.load(calib)
    info["int8_calibration"] = {
        "images": int(len(images)),
        "source": "the converter's synthetic images (BatchNorm-matched; calibrated noise without BatchNorm)",
    }
    if not dense.exists():
        int8_tflite(_seeded(build)(), dense, images)
    pruned: dict[str, str] = {}
    for keep, conn in variants:
        tag = int8_tag(keep_tag(keep, conn))
        p = d / f"{tag}.tflite"
        if _stale(p, pruners.get(tag)):
            pruners[tag] = pruned_tflite(_seeded(build), keep, None, int8_path=p, calibration=images, connectivity=conn)
        pruned[keep_tag(keep, conn)] = str(p)
    return {"dense": str(dense), "pruned": pruned, "calibration": str(calib)}


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


def build_in_subprocess(
    name: str,
    keeps: list[float],
    cache: Path,
    dtypes: tuple[str, ...] | list[str] = ("float32",),
    connectivities: tuple[str, ...] | list[str] = ("kernel",),
) -> None:
    """Build a model's files in a child process that then exits.

    Converting VGG-16 four times leaves the process at ~7 GB RSS even after Keras' state is
    cleared (the allocator keeps the pages); the harness itself must stay small because
    tf2onnx, running next to it, needs many GB for the same model on a 24 GB machine.
    """
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "benchmarks.artifacts", name, ",".join(map(str, keeps)), str(cache), ",".join(dtypes)]
    cmd.append(",".join(connectivities))
    # cwd = the repository root, so ``-m benchmarks.artifacts`` resolves wherever pytest runs from.
    subprocess.run(cmd, check=True, cwd=Path(__file__).resolve().parent.parent)


if __name__ == "__main__":
    import sys

    dtypes = sys.argv[4].split(",") if len(sys.argv) > 4 else ["float32"]
    conns = sys.argv[5].split(",") if len(sys.argv) > 5 else ["kernel"]
    model_artifacts(sys.argv[1], [float(k) for k in sys.argv[2].split(",")], Path(sys.argv[3]), dtypes, conns)
