"""Helpers shared by the peers that run in their own venvs (numpy only)."""

from __future__ import annotations

from pathlib import Path


def fresh(target: Path, *sources: Path) -> bool:
    """True when ``target`` exists and is newer than every source (a cache hit)."""
    if not target.exists():
        return False
    t = target.stat().st_mtime
    return all(s.stat().st_mtime <= t for s in sources if s.exists())


def onnx_path(workdir: Path) -> Path:
    """Where the onnxruntime peer writes the NCHW ONNX file that ncnn's pnnx also reads."""
    return workdir / "model.nchw.onnx"


def int8_onnx_path(workdir: Path) -> Path:
    """Where the onnxruntime int8 peer writes its quantised (QDQ) copy of ``onnx_path``; DeepSparse's int8 reads it."""
    return workdir / "model.nchw.int8.onnx"
