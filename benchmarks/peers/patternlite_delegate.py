"""patternlite: the pattern-pruned .tflite under our external delegate (TFLite runs the rest)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks.peers.base import PeerUnavailableError
from benchmarks.peers.tflite_xnnpack import Peer as TflitePeer
from benchmarks.peers.tflite_xnnpack import make_interpreter

# Invocations that cover the autotuner's trials (up to 9 candidates x 3 runs)
# with a margin.
TUNING_INVOCATIONS = 30


def _is_int8(tflite: str) -> bool:
    """Whether the model holds int8 tensors (the suite's int8 files)."""
    from patternlite.tflite_file import TfliteModel

    return any(t.dtype == "int8" for t in TfliteModel.from_file(tflite).tensors)


def int8_policy() -> str:
    """The delegate's int8 option for the suite's int8 models."""
    return os.environ.get("PATTERNLITE_BENCH_INT8", "auto")


class Peer(TflitePeer):
    name = "patternlite"

    def __init__(self) -> None:
        super().__init__()
        self.delegate: Any = None

    def version(self) -> str:
        try:
            import patternlite
        except ImportError as exc:
            raise PeerUnavailableError(f"patternlite not importable: {exc}") from exc
        return f"patternlite {patternlite.__version__} on {super().version()}"

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        try:
            import patternlite

            # int8 models run under the delegate's default int8="auto" (what a
            # user gets: int8 convs only where our kernel measured faster than
            # XNNPACK's), or the policy PATTERNLITE_BENCH_INT8 names ("all"
            # times every int8 kernel, docs/int8.md). The option is passed only
            # for int8 models, so float runs also load older libraries.
            int8 = {"int8": int8_policy()} if _is_int8(artifacts["tflite"]) else {}
            self.delegate = patternlite.load_delegate(num_threads=threads, **int8)
        except Exception as exc:  # not built yet, missing .so, ...: report, never drop
            raise PeerUnavailableError(f"delegate not loadable: {type(exc).__name__}: {exc}") from exc
        try:
            self.interp = make_interpreter(artifacts["tflite"], threads, delegates=[self.delegate])
        except Exception as exc:
            # TFLite's ModifyGraphWithDelegate raises a bare RuntimeError: add what we know.
            st = self.delegate.stats()
            raise RuntimeError(
                f"TFLite rejected the delegate ({type(exc).__name__}: {exc or 'no message'}); "
                f"delegate stats: claimed={len(st.get('claimed', []))} declined={len(st.get('declined', []))}"
            ) from exc
        self._tune()
        stats = self.delegate.stats()
        claimed = stats.get("claimed", [])
        declined = stats.get("declined", [])
        if not claimed:
            reasons = sorted({str(d.get("reason")) for d in declined})
            raise PeerUnavailableError(f"delegate claimed no conv (declined: {reasons[:3]})")
        return {
            "claimed": len(claimed),
            "declined": len(declined),
            "declined_reasons": sorted({str(d.get("reason")) for d in declined}),
            "tuned": sum(1 for c in claimed if (c.get("plan") or {}).get("tuned")),
            # int8 convs claimed (an int8 model's 3x3 pattern convs) and the int8 kernels they run.
            "claimed_int8": sum(1 for c in claimed if c.get("dtype") == "int8"),
            "int8_kernels": sorted({str(c["int8_kernel"]) for c in claimed if c.get("int8_kernel")}),
            "int8_policy": int8_policy() if _is_int8(artifacts["tflite"]) else None,
        }

    def _tune(self) -> None:
        """Lets the delegate's autotuner choose every layer's plan before timing starts.

        Part of preparing the engine, like DeepSparse's compile: the tuner times its
        candidate plans (up to 9, 3 runs each) on the first invocations.
        """
        import numpy as np

        detail = self.interp.get_input_details()[0]
        x = np.random.default_rng(0).standard_normal(detail["shape"]).astype(np.float32)
        self.interp.set_tensor(detail["index"], x)
        for _ in range(TUNING_INVOCATIONS):
            self.interp.invoke()

    def close(self) -> None:
        self.interp = None
        self.delegate = None
