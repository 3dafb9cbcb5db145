"""What the int8 numerics sweeps share: running a model on TFLite's reference
kernels and through the delegate, the difference in output quanta, the sweep
totals, and one claimed-layer check (test_int8_numerics.py,
test_int8_block_numerics.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from int8_models import Int8Quant

import patternlite
from patternlite.delegate import isa_available

from runtimes import delegated_op_count, make_interpreter

ISAS = [isa for isa in ("scalar", "avx2", "avx512", "neon") if isa_available(isa)]


def new_totals() -> dict[str, int]:
    """Outputs compared, bit-exact ones, the largest difference in quanta, cases."""
    return {"outputs": 0, "exact": 0, "max_quanta": 0, "cases": 0}


def invoke(model: bytes, x: npt.NDArray[Any], delegate: Any = None, threads: int = 1) -> tuple[npt.NDArray[Any], Any]:
    interp = make_interpreter(model, delegate=delegate, reference=True, threads=threads)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).copy(), interp


def quanta(out: npt.NDArray[Any], ref: npt.NDArray[Any], scale: float) -> npt.NDArray[np.int64]:
    """Per-output difference in output quanta (float I/O: dequantized values / scale)."""
    if out.dtype == np.int8:
        return np.abs(out.astype(np.int64) - ref.astype(np.int64))
    return np.rint(np.abs(out.astype(np.float64) - ref.astype(np.float64)) / scale).astype(np.int64)


def record(totals: dict[str, int], diff: npt.NDArray[np.int64]) -> None:
    totals["outputs"] += int(diff.size)
    totals["exact"] += int((diff == 0).sum())
    totals["max_quanta"] = max(totals["max_quanta"], int(diff.max(initial=0)))
    totals["cases"] += 1


def sweep_input(rng: np.random.Generator, shape: tuple[int, ...], float_io: bool) -> npt.NDArray[Any]:
    """A sweep case's input: float32 over the quantized input range, or int8 over all of int8."""
    if float_io:
        return rng.uniform(-3.5, 3.5, shape).astype(np.float32)
    return rng.integers(-128, 128, shape).astype(np.int8)


def claimed_quanta(
    model: bytes, x: npt.NDArray[Any], quant: Int8Quant, case: dict[str, Any], kind: str, **options: Any
) -> tuple[npt.NDArray[np.int64], dict[str, Any]]:
    """Runs a one-conv model on the reference kernels and through the delegate
    (int8='all', the case's isa and threads), checks the delegate claimed the
    conv as one int8 `kind` node from the expected source, and returns the
    per-output difference in quanta and the claim."""
    ref, _ = invoke(model, x)
    delegate = patternlite.load_delegate(int8="all", isa=case["isa"], **options, log_level="silent")
    out, interp = invoke(model, x, delegate, threads=case["threads"])
    stats = delegate.stats()
    assert delegated_op_count(interp) == 1, stats["declined"]
    (claim,) = stats["claimed"]
    assert (claim["kind"], claim["dtype"], claim["invocations"]) == (kind, "int8", 1)
    assert claim["source"] == ("metadata" if case["with_metadata"] else "weights")
    return quanta(out, ref, quant.output_scale), claim
