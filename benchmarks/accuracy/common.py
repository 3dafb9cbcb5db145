"""What every accuracy run shares: the shared folder, its models and dev sets, top-1, result names."""

from __future__ import annotations

import datetime as dt
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent.parent
# Shared pretrained models; "mobilenet" is trained here (benchmarks/accuracy/mobilenet_cifar.py).
MODELS = {"resnet20": "resnet20_cifar10.keras", "resnet8": "mlperf_tiny_resnet8.h5", "mobilenet": None}


def shared_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("PATTERNLITE_SHARED", REPO.parent / "shared")).resolve()


def dev_sets(shared: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 500 lossless dev images and the 4,500 JPEG ones (float32), each with its labels."""
    lossless = np.load(shared / "data" / "cifar10_dev_lossless.npz")
    jpeg = np.load(shared / "data" / "cifar10_dev_jpeg_q75.npz")
    return lossless["images"].astype(np.float32), lossless["labels"], jpeg["images"].astype(np.float32), jpeg["labels"]


def results_base(out: Path, prefix: str, tag: str) -> tuple[Path, str, str]:
    """``out/<prefix>-<date>-<host>[-<tag>]`` (the .json and .md share it), the date and the host."""
    host = socket.gethostname()
    stamp = dt.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    return out / f"{prefix}-{stamp}-{host}{('-' + tag) if tag else ''}", stamp, host


def top1(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=250, verbose=0), axis=1) == y))
