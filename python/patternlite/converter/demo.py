"""``patternlite demo``: the whole story on built-in material, in a few minutes on a laptop.

1. A digits CNN (trained on first use, then cached) is pruned data-free,
   exported, and run on stock TFLite with and without the pattern delegate:
   accuracy and latency side by side.
2. A VGG-16-shaped model at 224x224 (random weights, fast magnitude pruning)
   shows the speed-up on ImageNet-sized feature maps.

The demo is seeded and runs TensorFlow's ops deterministically, so it prints
the same accuracies on every run (latencies vary with the machine). TFLite's
C++ runtime announces its XNNPACK delegate on stderr as each interpreter is
built; that line is kept out of the table.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from patternlite.converter.export.tflite import export_tflite
from patternlite.converter.finetune import masked_finetune
from patternlite.converter.finetune_policy import FinetunePolicy
from patternlite.converter.models import accuracy, cached_digits_cnn, digits_data, vgg_blocks
from patternlite.converter.policy import PrunePolicy
from patternlite.converter.pruner import prune
from patternlite.converter.runtime import interpreter, latency_ms, predict, try_delegate

# The client stage of the demo: a gentle learning rate over a few epochs. The
# digits CNN is small and was trained with Adam; the client stage's SGD default
# (0.02, sized for ResNets on CIFAR-10) overshoots it and costs accuracy.
_FINETUNE = FinetunePolicy(epochs=4, learning_rate=1e-4, holdout=0.1, augment=False)  # no flips: a mirrored 2 is no 2


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 on /dev/null: TFLite's C++ runtime prints "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU." there, past Python and past TF_CPP_MIN_LOG_LEVEL. Python's own
    errors still surface: they are raised, not printed, until after descriptor 2 is restored."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _seed(seed: int) -> None:
    """Python, numpy and TensorFlow seeded, and TensorFlow's ops deterministic, for a repeatable table."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    with contextlib.suppress(AttributeError, RuntimeError):  # older TensorFlow, or already configured
        tf.config.experimental.enable_op_determinism()


def _claimed(delegate: object) -> str:
    try:
        stats = delegate.stats()  # type: ignore[attr-defined]
        return f"{len(stats['claimed'])} convs claimed, {len(stats['declined'])} declined"
    except Exception as exc:  # noqa: BLE001 - stats are informative only
        return f"stats unavailable ({exc})"


def run_demo(
    out_dir: str | Path | None = None,
    *,
    keep: float = 0.5,
    patterns: int = 8,
    vgg: int = 2,
    runs: int = 10,
    num_threads: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Run the demo; returns the numbers it printed (used by the tests)."""
    _seed(seed)
    numbers: dict[str, float] = {}
    work = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="patternlite-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    print("== 1. digits CNN: data-free pattern pruning ==")
    model = cached_digits_cnn()
    x_train, y_train, x_test, y_test = digits_data()
    numbers["keras_dense_acc"] = accuracy(model, x_test, y_test)
    print(f"Keras dense accuracy on the held-out digits: {numbers['keras_dense_acc']:.1%}")
    result = prune(
        model,
        keep=keep,
        policy=PrunePolicy.from_options(
            patterns=patterns, method="admm", synthetic="bn", samples=128, synthetic_steps=100
        ),
        seed=seed,
    )
    print(result.summary())
    print(f"pattern library ({len(result.library)}):", " ".join(f"{p:#05x}" for p in result.library))
    numbers["keras_pruned_acc"] = accuracy(result.model, x_test, y_test)
    dense_path = export_tflite(model, work / "digits_dense.tflite", metadata=False)
    pruned_path = export_tflite(result, work / "digits_pruned.tflite")
    # The client's optional step: masked retraining on its own data (here the digits train split).
    print(
        f"masked retraining on the client's data ({_FINETUNE.epochs:g} epochs, masks fixed, distilled from the "
        "dense model, the best checkpoint on a held-out slice kept) ..."
    )
    tuned = keras.models.clone_model(result.model)
    tuned.set_weights(result.model.get_weights())
    report = masked_finetune(
        tuned, x_train, y_train, masks=result.masks, teacher=model, policy=replace(_FINETUNE, seed=seed), progress=False
    )
    print(report.summary())
    tuned_path = export_tflite(
        tuned, work / "digits_pruned_finetuned.tflite", masks=result.masks, library=result.library, keep=result.keep
    )
    print(f"wrote {dense_path}, {pruned_path} and {tuned_path}")

    delegate, why = try_delegate(num_threads)
    if delegate is None:
        print(f"pattern delegate unavailable ({why}); continuing with stock TFLite only")
    rows = [
        ("dense             / TFLite", dense_path, None),
        ("pruned data-free  / TFLite", pruned_path, None),
        ("+ masked retrain  / TFLite", tuned_path, None),
    ]
    if delegate is not None:
        rows.append(("pruned data-free  / + patternlite", pruned_path, delegate))
        tuned_delegate, _ = try_delegate(num_threads)
        rows.append(("+ masked retrain  / + patternlite", tuned_path, tuned_delegate))
    print(f"\n{'model / runtime':<34} {'accuracy':>9} {'latency (ms, batch 1)':>22}")
    for label, path, dlg in rows:
        with _native_stderr_silenced():
            acc = float(np.mean(np.argmax(predict(interpreter(path, dlg, num_threads), x_test), 1) == y_test))
            ms = latency_ms(interpreter(path, dlg, num_threads), x_test.shape[1:], runs=runs * 10)
        print(f"{label:<34} {acc:>9.1%} {ms:>22.3f}")
        numbers[f"{label}:acc"], numbers[f"{label}:ms"] = acc, ms
    if delegate is not None:
        print(f"delegate: {_claimed(delegate)}")

    if vgg > 0:
        print(f"\n== 2. speed: first {vgg} VGG-16 block(s) at 224x224, keep {keep}, magnitude pruning ==")
        big = vgg_blocks(vgg)
        big_result = prune(
            big, keep=keep, policy=PrunePolicy.from_options(patterns=patterns, method="magnitude", prune_first=False)
        )
        big_path = export_tflite(big_result, work / f"vgg16_blocks{vgg}_pruned.tflite")
        big_dense = export_tflite(big, work / f"vgg16_blocks{vgg}_dense.tflite", metadata=False)
        shape = (224, 224, 3)
        timings = [
            ("dense   / TFLite", big_dense, None),
            ("pruned  / TFLite", big_path, None),
        ]
        if delegate is not None:
            vgg_delegate, _ = try_delegate(num_threads)
            timings.append(("pruned  / TFLite + patternlite", big_path, vgg_delegate))
        print(f"{'model / runtime':<32} {'latency (ms, batch 1)':>22}")
        base = None
        for label, path, dlg in timings:
            with _native_stderr_silenced():
                ms = latency_ms(interpreter(path, dlg, num_threads), shape, runs=runs, warmup=1)
            base = ms if base is None else base
            print(f"{label:<32} {ms:>22.1f}   x{base / ms:.2f} vs dense")
            numbers[f"vgg {label}:ms"] = ms
    print(f"\nfiles are in {work}")
    return numbers
