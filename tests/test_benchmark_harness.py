"""End-to-end check of the benchmark harness on a tiny model (asserts nothing about time).

Runs ``benchmarks.run`` with the in-process TFLite peer (always present) plus every other
peer whose venv exists; peers not installed are reported as skipped, with the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

# The benchmarks package lives at the repository root, which is not on sys.path when
# pytest is started from elsewhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

pytest.importorskip("numpy")
tf_runtime = pytest.importorskip("ai_edge_litert", reason="needs a TFLite runtime (ai-edge-litert)")
pytest.importorskip("keras", reason="the harness builds its models with keras")

from benchmarks import run  # noqa: E402
from benchmarks.engines import VENVS  # noqa: E402
from benchmarks.peers import INT8_PEERS, PEERS, PRUNED_PEERS  # noqa: E402
from benchmarks.report import markdown  # noqa: E402

RUN_KEYS = {"engine", "variant", "threads", "status", "reason"}
TIMED_KEYS = {"n", "median_ms", "p90_ms", "times_ms", "agreement"}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the module: the tiny .tflite files are built once."""
    return tmp_path_factory.mktemp("bench-cache")


def _installed_peers() -> list[str]:
    return [name for name, (_, venv) in PEERS.items() if venv is None or (VENVS / venv / "bin" / "python").exists()]


def test_harness_end_to_end(tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    peers = _installed_peers()
    missing = sorted(set(PEERS) - set(peers))
    # Slow peers' venvs take a while to spawn; the TFLite peer alone proves the pipeline.
    engines = ["tflite_xnnpack", "patternlite"]
    argv = [
        "--models",
        "tiny",
        "--layers",
        "tiny",
        "--threads",
        "1",
        "--engines",
        ",".join(engines),
        "--reps",
        "3",
        "--warmup",
        "1",
        "--keeps",
        "0.5",
        "--out",
        str(tmp_path),
        "--tag",
        "test",
        "--cache",
        str(cache),
    ]
    assert run.main(argv) == 0
    files = list(tmp_path.glob("*-test.json"))
    assert len(files) == 1
    res = json.loads(files[0].read_text())

    assert res["schema"] == run.SCHEMA
    assert {"date", "host", "command", "machine", "settings", "engines", "models", "layers", "wall_s"} <= set(res)
    assert res["machine"]["cores"] >= 1 and res["machine"]["cpu_model"]
    assert [m["name"] for m in res["models"]] == ["tiny"]
    runs = res["models"][0]["runs"]
    assert {(r["engine"], r["variant"]) for r in runs} == {
        ("tflite_xnnpack", "dense"),
        ("patternlite", "keep0.5"),
    }
    for r in runs:
        assert set(r) >= RUN_KEYS
        if r["status"] == "ok":
            assert set(r) >= TIMED_KEYS and r["n"] == 3
        else:  # never silently dropped: a status and a reason
            assert r["status"] in ("unavailable", "failed", "skipped") and r["reason"]

    tfl = next(r for r in runs if r["engine"] == "tflite_xnnpack")
    assert tfl["status"] == "ok", tfl["reason"]
    # The agreement check ran against TFLite's builtin kernels and passed.
    assert tfl["agreement"]["reference"].startswith("tflite_builtin")
    assert tfl["agreement"]["ok"], tfl["agreement"]
    pl = next(r for r in runs if r["engine"] == "patternlite")
    if pl["status"] == "ok":
        assert pl["agreement"]["ok"], pl["agreement"]
        assert "same pruned model" in pl["agreement"]["reference"]

    layers = res["layers"]
    assert {row["shape_key"] for row in layers} == {
        "h16w16c3o8s1same",
        "h16w16c8o16s1same",
        "h16w16c16o16s2same",
    }
    for row in layers:
        assert row["flops_dense"] > 0
        if row["status"] == "ok":
            k = row["keeps"]["keep0.5"]
            assert 0 < k["flops_kept"] < row["flops_dense"]  # pruned: fewer FLOPs kept
            assert k["flop_reduction"] > 2.0  # 4 of 9 taps at least

    stem = files[0].with_suffix("")
    assert "| tiny | tflite_xnnpack |" in stem.with_suffix(".md").read_text()
    assert stem.with_suffix(".png").stat().st_size > 1000

    if pl["status"] != "ok" or missing:
        with capsys.disabled():
            print(
                f"\n[benchmark harness] patternlite: {pl['status']} {pl['reason'] or ''}; "
                f"peers not installed (run benchmarks/install_peers.sh): {missing or 'none'}"
            )


# Peers that start from the ONNX file tf2onnx writes in the onnx venv: that venv is needed too.
NEEDS_ONNX_VENV = {"ncnn", "deepsparse", "deepsparse_pruned"}


# tvm_tuned is left out: meta-schedule tuning takes minutes even on the tiny model.
@pytest.mark.parametrize(
    "peer", [p for p, (_, venv) in {**PEERS, **PRUNED_PEERS}.items() if venv is not None and p != "tvm_tuned"]
)
def test_peer_worker_on_tiny(peer: str, tmp_path: Path, cache: Path) -> None:
    """Each installed venv peer runs the tiny model and agrees with TFLite; skipped when not installed.

    Dense peers run the dense model; pruned peers (DeepSparse on patternlite's pruned model)
    run the keep-0.5 pruned model and are checked against TFLite on that same pruned model.
    """
    venv = {**PEERS, **PRUNED_PEERS}[peer][1]
    for v in (str(venv), *(["onnx"] if peer in NEEDS_ONNX_VENV else [])):
        if not (VENVS / v / "bin" / "python").exists():
            pytest.skip(f"{peer}: benchmarks/.venvs/{v} not installed (bash benchmarks/install_peers.sh {v})")
    engines = f"onnxruntime,{peer}" if peer == "ncnn" else peer  # ncnn converts from onnxruntime's ONNX
    argv = [
        "--models",
        "tiny",
        "--layers",
        "",
        "--threads",
        "1",
        "--engines",
        engines,
        "--reps",
        "2",
        "--warmup",
        "1",
        "--keeps",
        "0.5",
        "--out",
        str(tmp_path),
        "--tag",
        peer,
        "--no-report",
        "--cache",
        str(cache),
    ]
    assert run.main(argv) == 0
    res = json.loads(next(tmp_path.glob(f"*-{peer}.json")).read_text())
    r = next(r for r in res["models"][0]["runs"] if r["engine"] == peer)
    assert r["status"] == "ok", r["reason"]
    assert r["agreement"]["ok"], r["agreement"]
    if peer in PRUNED_PEERS:
        assert r["variant"] == "keep0.5"
        assert "same pruned model" in r["agreement"]["reference"]
    if peer.startswith("deepsparse"):
        # The pruned model's zeros reach the ONNX weights DeepSparse compiles (4 of 9 taps kept,
        # then half the kernels: ~78% zeros); the dense model has none.
        zeros = r["info"]["conv3x3_weight_zeros"]
        assert zeros > 0.5 if peer in PRUNED_PEERS else zeros < 0.01, r["info"]


def _run(engine: str, variant: str, ms: float, status: str = "ok", **extra: object) -> dict[str, object]:
    rec: dict[str, object] = {"engine": engine, "variant": variant, "threads": 1, "status": status, "reason": None}
    if status == "ok":
        rec.update(median_ms=ms, p90_ms=ms * 1.1, agreement={"ok": True, "rel_diff": 1e-6})
    else:
        rec["reason"] = "not installed"
    rec.update(extra)
    return rec


def _results(*models: dict[str, Any]) -> dict[str, Any]:
    """A benchmark results file around ``models``, as run.py writes it (one thread, no layers)."""
    return {
        "date": "2026-01-01",
        "host": "h",
        "command": "x",
        "wall_s": 1.0,
        "machine": {"cpu_model": "cpu", "cores": 2, "simd": [], "os": "linux"},
        "settings": {"threads": [1], "warmup": 1, "reps": 3},
        "engines": {},
        "models": list(models),
        "layers": [],
    }


def test_report_pruned_peer_columns() -> None:
    """DeepSparse dense counts as a dense peer; DeepSparse on the pruned model gets its own table."""
    res = _results(
        {
            "name": "tiny",
            "runs": [
                _run("tflite_xnnpack", "dense", 4.0),
                _run("deepsparse", "dense", 2.0),
                _run("patternlite", "keep0.5", 1.0),
                _run("deepsparse_pruned", "keep0.5", 1.5, info={"conv3x3_weight_zeros": 0.78}),
                _run("deepsparse_pruned", "keep0.28", 0.0, status="unavailable"),
            ],
        }
    )
    md = markdown(res)
    # best dense = DeepSparse's 2.0 ms: patternlite at 1.0 ms is 2x, XNNPACK 0.5x
    assert "| tiny | patternlite (keep 0.5) | 1.00 (1.10) | 2.00x |" in md
    assert "| tiny | tflite_xnnpack | 4.00 (4.40) | 0.50x |" in md
    assert "| tiny | deepsparse_pruned (keep 0.5) | 1.50 (1.65) | 1.33x |" in md
    assert "## The same pruned model under another engine" in md
    assert (
        "| tiny | deepsparse_pruned | keep 0.5 | 1 | 78.0% | 1.00 (1.10) | 1.50 (1.65) | 1.50x | 2.00 (2.20) | 1.33x |"
        in md
    )
    assert "| tiny | deepsparse_pruned | keep 0.28 | 1 | - | - | unavailable | - | 2.00 (2.20) | - |" in md


def test_harness_int8_end_to_end(tmp_path: Path, cache: Path) -> None:
    """--dtypes float32,int8: the int8 files are built, XNNPACK runs the dense and the pruned int8
    models, the delegate the pruned one and claims its convs as int8, all within the whole-model
    quanta of TFLite's builtin int8 kernels; the report gains the int8 table and targets."""
    argv = [
        "--models",
        "tiny",
        "--layers",
        "",
        "--threads",
        "1",
        "--engines",
        "tflite_xnnpack,patternlite,mnn",
        "--dtypes",
        "float32,int8",
        "--reps",
        "2",
        "--warmup",
        "1",
        "--keeps",
        "0.5",
        "--out",
        str(tmp_path),
        "--tag",
        "int8",
        "--cache",
        str(cache),
    ]
    assert run.main(argv) == 0
    res = json.loads(next(tmp_path.glob("*-int8.json")).read_text())
    assert res["settings"]["dtypes"] == ["float32", "int8"]
    model = res["models"][0]
    assert model["int8_calibration"]["images"] >= 1
    runs = {(r["engine"], r["variant"], r["dtype"]): r for r in model["runs"]}
    assert {
        ("tflite_xnnpack", "dense", "float32"),
        ("patternlite", "keep0.5", "float32"),
        ("tflite_xnnpack", "dense", "int8"),
        ("tflite_xnnpack", "keep0.5", "int8"),
        ("patternlite", "keep0.5", "int8"),
        ("mnn", "dense", "int8"),
    } <= set(runs)
    # An engine without an int8 path is reported, never dropped.
    assert runs[("mnn", "dense", "int8")]["status"] == "skipped"
    assert "no int8 path" in runs[("mnn", "dense", "int8")]["reason"]
    for key in [("tflite_xnnpack", "dense", "int8"), ("tflite_xnnpack", "keep0.5", "int8")]:
        r = runs[key]
        assert r["status"] == "ok", r["reason"]
        assert r["agreement"]["ok"] and r["agreement"]["quanta"] <= run.AGREE_QUANTA_MODEL, r["agreement"]
        assert "(int8)" in r["agreement"]["reference"] and r["agreement"]["quantum"] > 0
    pl = runs[("patternlite", "keep0.5", "int8")]
    if pl["status"] == "ok":
        assert pl["agreement"]["ok"] and pl["agreement"]["quanta"] <= run.AGREE_QUANTA_MODEL, pl["agreement"]
        assert "same pruned model" in pl["agreement"]["reference"]
        assert pl["info"]["claimed_int8"] >= 1 and pl["info"]["int8_kernels"], pl["info"]
    md = next(tmp_path.glob("*-int8.md")).read_text()
    assert "## int8 (full-integer models)" in md
    assert "| tiny | tflite_xnnpack int8 | 1 |" in md
    assert "resnet18 keep 0.28 int8, 1 thr: >= 2x over XNNPACK int8 dense: not measured" in md
    # The float32 tables keep their float32 rows only.
    assert "| tiny | tflite_xnnpack | " in md.split("## int8")[0]
    assert "int8" not in md.split("## Whole models")[1].split("## int8")[0].replace("int8 convs", "")


@pytest.mark.parametrize("peer", [p for p, (_, venv) in INT8_PEERS.items() if venv is not None])
def test_int8_peer_worker_on_tiny(peer: str, tmp_path: Path, cache: Path) -> None:
    """Each installed int8 venv peer (ONNX Runtime's quantize_static, DeepSparse on its file) runs
    the tiny model, or reports why not; skipped when not installed."""
    for v in {INT8_PEERS[peer][1], "onnx"}:
        if not (VENVS / str(v) / "bin" / "python").exists():
            pytest.skip(f"{peer}: benchmarks/.venvs/{v} not installed (bash benchmarks/install_peers.sh {v})")
    engines = "onnxruntime" if peer == "onnxruntime" else f"onnxruntime,{peer}"  # DeepSparse reads ORT's file
    argv = ["--models", "tiny", "--layers", "", "--threads", "1", "--engines", engines, "--dtypes", "int8"]
    argv += ["--reps", "2", "--warmup", "1", "--keeps", "0.5", "--out", str(tmp_path), "--tag", peer]
    assert run.main([*argv, "--no-report", "--cache", str(cache)]) == 0
    res = json.loads(next(tmp_path.glob(f"*-{peer}.json")).read_text())
    r = next(r for r in res["models"][0]["runs"] if r["engine"] == peer)
    assert r["dtype"] == "int8"
    if peer == "deepsparse" and r["status"] == "unavailable":
        assert "deepsparse" in r["reason"]  # its int8 path refused the file: the reason is the result
        return
    assert r["status"] == "ok", r["reason"]
    assert r["agreement"]["ok"], r["agreement"]


def test_report_int8_targets() -> None:
    """The int8 table compares with XNNPACK int8 dense and marks the whole-model targets."""
    res = _results(
        {
            "name": "resnet18",
            "runs": [
                _run("tflite_xnnpack", "dense", 40.0),
                _run("tflite_xnnpack", "dense", 12.0, dtype="int8"),
                _run("patternlite", "keep0.28", 5.0, dtype="int8"),
                _run("patternlite", "keep1", 10.0, dtype="int8"),
            ],
        }
    )
    md = markdown(res)
    assert "| resnet18 | patternlite int8 (keep 0.28) | 1 | 5.00 (5.50) | 2.40x |" in md
    assert "resnet18 keep 0.28 int8, 1 thr: >= 2x over XNNPACK int8 dense: **met** (2.40x)" in md
    assert "resnet18 keep 1 int8, 1 thr: >= 1.3x over XNNPACK int8 dense: **missed** (1.20x)" in md
    assert "vgg16 keep 0.28 int8, 1 thr: >= 2x over XNNPACK int8 dense: not measured" in md
    # int8 runs stay out of the float32 table: XNNPACK float32 is the best dense there.
    assert "| resnet18 | tflite_xnnpack | 40.00 (44.00) | 1.00x |" in md


def test_kernel_bench_int8_columns() -> None:
    """kernel_bench's int8 columns on a small layer: every raw variant and the delegate within one
    quantum of TFLite's builtin int8 kernel, the delegate claiming the conv as int8."""
    pytest.importorskip("patternlite.delegate")
    import numpy as np

    from benchmarks import kernel_bench

    try:
        kernel_bench.patternlite.load_delegate()
    except Exception as exc:  # noqa: BLE001  # no built delegate here: nothing to time
        pytest.skip(f"delegate not loadable: {exc}")
    rng = np.random.default_rng(0)
    w, ids = kernel_bench.pattern_pruned_filters(rng, 16, 16, kernel_bench.LIBRARY, 0.5)
    dense = rng.standard_normal(w.shape).astype(np.float32)
    bias = rng.standard_normal(16).astype(np.float32)
    col = kernel_bench.int8_columns(np.random.default_rng(1), w, dense, bias, ids, 0.5, (8, 8, 16, 16, 1), 1, 2)
    assert col["int8_scalar_ms"] > 0 and col["int8_delegate_ms"] > 0 and col["int8_xnnpack_dense_ms"] > 0
    assert col["int8_max_quanta"] <= 1
    assert col["int8_kernel"]
    assert col["int8_efficiency"] == pytest.approx(col["int8_speedup_vs_xnnpack"] / 4.5)
    table = kernel_bench.int8_markdown_table([{"layer": "l", "keep": 0.5, "flop_reduction": 4.5, **col}], 1)
    assert "| l | 0.50 |" in table and "(>= 0.6)" in table


def test_connectivity_variant_names_and_default() -> None:
    """--connectivity block adds variants keep<K>-block (cached apart); the default keeps the old names."""
    from benchmarks.artifacts import keep_tag

    assert keep_tag(0.28) == keep_tag(0.28, "kernel") == "keep0.28" and keep_tag(1.0) == "keep1"
    assert keep_tag(0.28, "block") == "keep0.28-block"
    assert run.parse_args([]).connectivity == ["kernel"]
    assert run.parse_args(["--connectivity", "kernel,block"]).connectivity == ["kernel", "block"]
    with pytest.raises(SystemExit):
        run.parse_args(["--connectivity", "filter"])
