"""Harness-side handles on engines: in-process (TFLite, patternlite) or a worker subprocess
running in the peer's own venv (see peers/worker.py)."""

from __future__ import annotations

import importlib
import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers import INT8_PEERS, PEERS, PRUNED_PEERS
from benchmarks.peers.base import PeerUnavailableError

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / "benchmarks" / ".venvs"


class EngineError(RuntimeError):
    def __init__(self, reason: str, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unavailable = unavailable


class InProcessEngine:
    def __init__(self, name: str, module: str, cls: str = "Peer") -> None:
        self.name = name
        module, _, spec_cls = module.partition(":")
        cls = spec_cls or cls
        try:
            self.peer = getattr(importlib.import_module(module), cls)()
            self.version = self.peer.version()
        except Exception as exc:
            raise EngineError(f"{type(exc).__name__}: {exc}", unavailable=True) from exc

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        try:
            return dict(self.peer.prepare(artifacts, workdir, threads))
        except PeerUnavailableError as exc:
            raise EngineError(str(exc), unavailable=True) from exc
        except Exception as exc:
            raise EngineError(f"{type(exc).__name__}: {exc}") from exc

    def set_input(self, x: np.ndarray) -> None:
        self.peer.set_input(x)

    def run(self, n: int = 1) -> list[float]:
        return [self.peer.run_once() for _ in range(n)]

    def output(self) -> np.ndarray:
        return self.peer.output()

    def close(self) -> None:
        self.peer.close()


def guard_bin(cache: Path) -> Path:
    """A PATH entry whose pip/pip3 refuse to run.

    MNN's Python tools pip-install packages and send telemetry with the machine id; the
    worker never calls them, and this guard makes sure nothing it loads can pip either.
    """
    d = cache / "guard-bin"
    d.mkdir(parents=True, exist_ok=True)
    for name in ("pip", "pip3", f"pip3.{sys.version_info.minor}"):
        p = d / name
        p.write_text("#!/bin/sh\necho 'pip is disabled inside benchmark workers' >&2\nexit 1\n")
        p.chmod(0o755)
    return d


def worker_env(cache: Path, threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{guard_bin(cache)}:/usr/local/bin:/usr/bin:/bin"
    env["PIP_NO_INDEX"] = "1"  # even `python -m pip` cannot reach a registry
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    env["TVM_NUM_THREADS"] = str(threads)  # TVM's pool reads this once, at start
    env["OMP_NUM_THREADS"] = str(threads)
    env["NM_DISABLE_ANALYTICS"] = "1"  # DeepSparse/SparseZoo send usage analytics on import otherwise
    return env


class SubprocessEngine:
    def __init__(self, name: str, module: str, venv: str, cache: Path, threads: int, log: Path, timeout: float) -> None:
        self.name = name
        self.timeout = timeout
        py = VENVS / venv / "bin" / "python"
        if not py.exists():
            raise EngineError(
                f"venv benchmarks/.venvs/{venv} missing: run benchmarks/install_peers.sh {venv}",
                unavailable=True,
            )
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log = log
        self.proc = subprocess.Popen(
            [str(py), "-m", "benchmarks.peers.worker", module],
            cwd=ROOT,
            env=worker_env(cache, threads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            bufsize=0,
        )
        hello = self._read(timeout=300)
        if not hello.get("ok"):
            self.close()
            raise EngineError(f"import failed: {hello.get('error')}", unavailable=True)
        self.version = str(hello["version"])

    def _read(self, timeout: float | None = None) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout or self.timeout)
        if not ready:
            self.kill()
            raise EngineError(f"worker timed out after {timeout or self.timeout:.0f}s (log {self.log})")
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            tail = self.log.read_text(errors="replace")[-300:] if self.log.exists() else ""
            raise EngineError(f"worker died (rc {rc}): {tail.strip()}")
        return dict(json.loads(line))

    def _call(self, timeout: float | None = None, **req: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        if self.proc.poll() is not None:
            raise EngineError(f"worker exited (rc {self.proc.returncode})")
        self.proc.stdin.write((json.dumps(req) + "\n").encode())
        rep = self._read(timeout)
        if not rep.get("ok"):
            raise EngineError(str(rep.get("error")), unavailable=bool(rep.get("unavailable")))
        return rep

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        # Conversion (tf2onnx, pnnx, TVM compile) can take minutes on a big model, tuning more.
        rep = self._call(
            cmd="prepare",
            artifacts=artifacts,
            workdir=str(workdir),
            threads=threads,
            timeout=max(self.timeout, 3600 if self.name == "tvm_tuned" else 1800),
        )
        return dict(rep.get("info") or {})

    def set_input(self, x: np.ndarray) -> None:
        path = self.log.with_suffix(".in.npy")
        np.save(path, x)
        self._call(cmd="set_input", path=str(path))

    def run(self, n: int = 1) -> list[float]:
        return [float(t) for t in self._call(cmd="run", n=n)["times"]]

    def output(self) -> np.ndarray:
        path = self.log.with_suffix(".out.npy")
        self._call(cmd="output", path=str(path))
        return np.load(path)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self._call(cmd="quit", timeout=60)
                self.proc.wait(timeout=30)
        except Exception:
            self.kill()


Engine = InProcessEngine | SubprocessEngine


def open_engine(name: str, cache: Path, threads: int, log: Path, timeout: float, dtype: str = "float32") -> Engine:
    """Start engine ``name`` (its int8 path for ``dtype`` "int8"); raise EngineError (with
    .unavailable) when it cannot run here."""
    if name == "patternlite":
        return InProcessEngine(name, "benchmarks.peers.patternlite_delegate")
    if name == "tflite_builtin":
        return InProcessEngine(name, "benchmarks.peers.tflite_xnnpack", "BuiltinPeer")
    if dtype == "int8":
        if name not in INT8_PEERS:
            raise EngineError(f"{name} has no int8 path in this suite", unavailable=True)
        module, venv = INT8_PEERS[name]
    else:
        module, venv = PEERS[name] if name in PEERS else PRUNED_PEERS[name]
    if venv is None:
        return InProcessEngine(name, module)
    return SubprocessEngine(name, module, venv, cache, threads, log, timeout)
