"""Writes the seed corpus of the fuzz harnesses, tests/fuzz/corpus/<harness>/ (docs/fuzzing.md).

    .venv/bin/python tests/fuzz/make_seeds.py

Deterministic: a rerun rewrites the same files (it needs ai-edge-litert or
TensorFlow for the .tflite seeds, as tests/conv_models.py does). Files whose
names start with ``crash-`` or ``regress-`` are inputs that once found a bug
(docs/fuzzing.md, "Findings"); this script leaves them alone.

* metadata_reader: valid blobs (patternlite.metadata.encode) of a few shapes,
  and some broken ones (bad magic, CRC, version, truncated);
* tflite_reader: tiny single-conv .tflite files (tests/conv_models.py), with
  and without a patternlite entry, and a few metadata blobs;
* conv_path: byte strings that steer conv_path_fuzz.cc into each of its modes
* block_path: the same for block_path_fuzz.cc (1x1 and depthwise)
  (metadata or not, strides, padding, activations, violations, exactness).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for conv_models

from patternlite._contract import PATTERN_CANDIDATES  # noqa: E402
from patternlite.metadata import PRUNED, LayerPatterns, PatternMetadata, encode  # noqa: E402

from conv_models import build_conv_model, metadata_for, pattern_pruned_filters  # noqa: E402

CORPUS = HERE / "corpus"


def _write(harness: str, name: str, data: bytes) -> None:
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def metadata_blobs() -> dict[str, bytes]:
    rng = np.random.default_rng(3)
    lib = list(PATTERN_CANDIDATES[:4])
    blobs = {
        "one-pattern-no-layers": encode(PatternMetadata(patterns=[PATTERN_CANDIDATES[0]])),
        "two-layers": encode(
            PatternMetadata(
                patterns=lib,
                layers=[
                    LayerPatterns("conv/filter", rng.integers(0, 4, size=(3, 2)).astype(np.uint8), 0.5),
                    LayerPatterns("block1/conv2/kernel", np.full((2, 5), PRUNED, np.uint8), 0.25),
                ],
            )
        ),
        "mixed-pruned": encode(
            PatternMetadata(
                patterns=lib[:2],
                layers=[LayerPatterns("c", np.array([[0, PRUNED, 1], [PRUNED, 1, 0]], np.uint8), 0.75)],
            )
        ),
        "utf8-name": encode(
            PatternMetadata(patterns=lib, layers=[LayerPatterns("conv/Ökernel:0", np.zeros((1, 1), np.uint8))])
        ),
        "empty-kernel-table": encode(
            PatternMetadata(patterns=lib[:1], layers=[LayerPatterns("e", np.zeros((0, 3), np.uint8))])
        ),
        "full-library": encode(
            PatternMetadata(
                patterns=list(PATTERN_CANDIDATES),
                layers=[LayerPatterns("w", rng.integers(0, 56, size=(4, 4)).astype(np.uint8))],
            )
        ),
    }
    good = blobs["two-layers"]
    blobs["bad-magic"] = b"XXXX" + good[4:]
    blobs["bad-crc"] = good[:-1] + bytes([good[-1] ^ 1])
    blobs["bad-version"] = good[:4] + b"\x02\x00" + good[6:]
    blobs["truncated"] = good[:30]
    return blobs


def tflite_models() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    lib = list(PATTERN_CANDIDATES[:3])
    w, ids = pattern_pruned_filters(rng, 2, 3, lib, 0.5)
    models = {
        "conv-with-metadata.tflite": build_conv_model((1, 4, 4, 3), w, metadata=metadata_for(lib, ids, 0.5)),
        "conv-no-metadata.tflite": build_conv_model((1, 5, 5, 3), w, stride=(2, 2), padding="VALID"),
        "conv-relu6.tflite": build_conv_model((1, 3, 3, 3), w, activation="RELU6", metadata=metadata_for(lib, ids)),
    }
    dense = rng.standard_normal((1, 3, 3, 1)).astype(np.float32)
    models["conv-dense.tflite"] = build_conv_model((1, 3, 3, 1), dense)
    return models


def conv_inputs() -> dict[str, bytes]:
    """Inputs of conv_path_fuzz.cc: 5 shape bytes (in, out channels, H, W, flags), act, then the rest."""
    rnd = random.Random(7)
    out = {}
    cases = [  # name, in_c, out_c, h, w, flags, act
        ("meta-same-s1", 8, 8, 8, 8, 0b00110000, 1),  # metadata, bias, SAME, stride 1, RELU
        ("meta-valid-s2", 5, 12, 9, 7, 0b00111011, 3),  # VALID, stride 2x2, batch 2, RELU6
        ("nometa-same-s1", 16, 21, 12, 12, 0b00100100, 0),
        ("nometa-s12", 3, 3, 5, 11, 0b00000110, 2),  # stride 1x2
        ("meta-violation", 4, 4, 6, 6, 0b11010000, 1),
        ("nometa-violation", 4, 4, 6, 6, 0b11000000, 0),
        ("inexact", 23, 23, 11, 11, 0b00110100, 0b1000),
        ("unsupported-act", 2, 2, 3, 3, 0, 4),
        ("tiny-valid", 0, 0, 1, 1, 0, 0),  # 1x1 input: too small for VALID
        ("wide-s2", 16, 20, 5, 24, 0b00100111, 0b110001),  # width 24 (act bits 4-5), stride 2: AVX-512 wide rows
    ]
    for name, c, o, h, w, flags, act in cases:
        head = bytes([c - 1 if c else 0, o - 1 if o else 0, h - 1, w - 1, flags, act])
        out[name] = head + bytes(rnd.randrange(256) for _ in range(rnd.randrange(200, 700)))
    return out


def block_inputs() -> dict[str, bytes]:
    """Inputs of block_path_fuzz.cc: kind, batch, side, H, W, C, [O], strides, padding, act, bias, blocked, record."""
    rnd = random.Random(11)
    cases = {  # the leading decision bytes; the rest random
        "pointwise-blocked-record": [0, 0, 1, 9, 9, 33, 39, 0, 0, 1, 3, 1, 1, 1, 2],
        "pointwise-s2-scattered": [0, 1, 1, 11, 6, 17, 20, 1, 1, 0, 1, 0, 0, 0],
        "pointwise-violation": [0, 0, 1, 5, 5, 7, 9, 0, 0, 1, 0, 1, 1, 1, 1],
        "depthwise-blocked-record": [1, 0, 1, 11, 11, 39, 0, 0, 1, 2, 1, 1, 1, 3],
        "depthwise-s2-valid": [1, 1, 0, 30, 17, 19, 1, 1, 0, 3, 0, 1, 0],
        "depthwise-violation": [1, 0, 1, 6, 6, 20, 0, 0, 1, 1, 1, 1, 1, 1],
    }
    out = {}
    for name, head in cases.items():
        out[name] = bytes(head) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(300, 900)))
    return out


def main() -> None:
    for name, blob in metadata_blobs().items():
        _write("metadata_reader", name, blob)
    for name, blob in tflite_models().items():
        _write("tflite_reader", name, blob)
    for name in ("two-layers", "utf8-name", "bad-crc"):
        _write("tflite_reader", f"metadata-{name}", metadata_blobs()[name])
    for name, data in conv_inputs().items():
        _write("conv_path", name, data)
    for name, data in block_inputs().items():
        _write("block_path", name, data)
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"make_seeds: corpus in {CORPUS.relative_to(HERE.parent.parent)}, {total} bytes")


if __name__ == "__main__":
    main()
