"""``export_tflite``: a stock float32 (or full-integer int8) .tflite with the pattern metadata blob added.

TFLite's converter folds BatchNorm into the conv weights (a per-output-channel
scale, so zeros stay zeros) and names tensors its own way, so the layer records
are written *after* conversion: every CONV_2D 3x3, CONV_2D 1x1 (filter OHWI
[O, 1, 1, I]) and DEPTHWISE_CONV_2D 3x3 (filter [1, 3, 3, C]) of the flatbuffer
is matched back to a pruned Keras layer of the same kind (by name, confirmed by
its zero pattern). Every record carries the pruned layer's structure (the
mask), checked against the weights actually stored in the file (every pruned
weight is zero), so a kept weight that happens to be 0 cannot break a block's
shared inputs or shared pattern: a 3x3 kernel keeps the pattern the pruner
gave it (a kernel stored as all zeros is recorded pruned), a 1x1 or depthwise
record its block's inputs or pattern.

An int8 file (``int8=``, ``export/int8.py``) is matched and checked the same
way on its int8 filters: they keep the float file's tensor names, and symmetric
per-channel quantisation stores a pruned weight as exactly 0, so the records are
built from (and checked against) the int8 weights actually written.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite._contract import KERNEL_TAPS, PATTERN_TAPS
from patternlite.converter.errors import ConverterError
from patternlite.converter.export.int8 import Int8Options, calibration_inputs, check_int8_filters, keras_to_int8_tflite
from patternlite.converter.export.io import check_output, write_bytes_atomic
from patternlite.converter.graph import CONV3X3, DEPTHWISE, POINTWISE, find_convs, kinds_of
from patternlite.converter.pruner import PruneResult
from patternlite.converter.solvers.patterns import all_candidates
from patternlite.metadata import (
    CENTRE_BIT,
    KINDS,
    MAX_PATTERNS,
    METADATA_NAME,
    PRUNED,
    LayerPatterns,
    MetadataError,
    PatternMetadata,
    encode,
    kernel_patterns_from_weights,
)
from patternlite.op_kinds import tflite_kind_value
from patternlite.tflite_file import TensorInfo, TfliteFileError, TfliteModel, with_metadata


@dataclass
class ConvOp:
    """A CONV_2D (3x3 or 1x1) or DEPTHWISE_CONV_2D (3x3) of a flatbuffer: its filter and weights."""

    filter_name: str
    output_name: str
    # As stored: OHWI, or [1, 3, 3, C] for a depthwise conv; an int8 filter's integers, as float32
    # (the zeros are what the records describe, and symmetric quantisation keeps them).
    weights: npt.NDArray[np.float32]
    kind: str = CONV3X3


def keras_to_tflite(model: keras.Model) -> bytes:
    """Plain float32 conversion; the converter's chatter on stdout is swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        return bytes(converter.convert())


def conv_ops(model_bytes: bytes) -> list[ConvOp]:
    """Every op of one of the kinds (``patternlite.op_kinds``) with a constant float32 filter, or an int8
    one with zero points 0, in every subgraph."""
    first = TfliteModel.from_bytes(model_bytes)
    graphs = [first, *(TfliteModel.from_bytes(model_bytes, g) for g in range(1, first.subgraph_count))]
    out = []
    for graph in graphs:
        for conv in graph.convs:
            ft = graph.tensors[conv.filter]
            kind = tflite_kind_value(graph, conv)
            if kind is None or not _zero_is_zero(ft):
                continue
            try:
                w = graph.tensor_array(conv.filter)
            except TfliteFileError:
                continue  # data that does not fill the shape: not a constant stored in the file
            if w is None:
                continue
            out.append(ConvOp(ft.name, graph.tensors[conv.output].name, np.asarray(w, np.float32), KINDS[kind]))
    return out


def _zero_is_zero(tensor: TensorInfo) -> bool:
    """A float32 filter, or an int8 one whose zero points are 0: a stored 0 is a real 0."""
    if tensor.dtype == "float32":
        return True
    q = tensor.quantization
    return tensor.dtype == "int8" and q is not None and q.symmetric


def _name_hints(op: ConvOp) -> set[str]:
    """Keras layer names a tensor name may contain ('model_1/conv2_1/convolution' -> conv2, ...)."""
    hints = set()
    for full in (op.filter_name, op.output_name):
        for part in re.split(r"[/;]", full):
            hints.add(part)
            hints.add(re.sub(r"_\d+$", "", part))
    return hints


def _fits(w_ohwi: npt.NDArray[np.float32], mask_hwio: npt.NDArray[np.bool_]) -> bool:
    """True when the stored filter has the mask's shape and no non-zero where the mask prunes.

    The same transpose serves every kind: Keras (kh, kw, I, O) -> TFLite OHWI, and
    a depthwise (3, 3, C, 1) -> TFLite [1, 3, 3, C].
    """
    mask = np.transpose(mask_hwio, (3, 0, 1, 2))
    return mask.shape == w_ohwi.shape and not np.any((w_ohwi != 0) & ~mask)


def _mask_kind(mask: npt.NDArray[np.bool_]) -> str:
    """A mask's kind when the Keras model cannot say: 1x1 by shape, else 3x3 (the format's 1.0 meaning)."""
    return POINTWISE if tuple(mask.shape[:2]) == (1, 1) else CONV3X3


def match_layers(
    ops: Sequence[ConvOp],
    masks: Mapping[str, npt.NDArray[np.bool_]],
    kinds: Mapping[str, str] | None = None,
) -> dict[str, ConvOp]:
    """Pruned Keras layer name -> its op of the layer's kind; every pruned layer must be found exactly once."""
    found: dict[str, ConvOp] = {}
    used: set[str] = set()
    for name, mask in masks.items():
        kind = (kinds or {}).get(name) or _mask_kind(mask)
        fitting = [op for op in ops if op.kind == kind and op.filter_name not in used and _fits(op.weights, mask)]
        named = [op for op in fitting if name in _name_hints(op)]
        pick = named if named else fitting
        if len(pick) != 1:
            op_name = "DEPTHWISE_CONV_2D" if kind == DEPTHWISE else "CONV_2D"
            if not pick:
                _refuse_disagreeing_weights(name, kind, mask, ops, op_name)
            why = "no" if not pick else f"{len(pick)} ambiguous"
            raise ConverterError(f"layer {name}: {why} {op_name} in the converted model matches its mask")
        found[name] = pick[0]
        used.add(pick[0].filter_name)
    return found


def _refuse_disagreeing_weights(
    name: str, kind: str, mask: npt.NDArray[np.bool_], ops: Sequence[ConvOp], op_name: str
) -> None:
    """When the layer's own op (by name and shape) is there but keeps weights its mask prunes, say so."""
    mask_o = np.transpose(mask, (3, 0, 1, 2))
    for op in ops:
        if op.kind == kind and name in _name_hints(op) and op.weights.shape == mask_o.shape:
            stray = int(np.count_nonzero((op.weights != 0) & ~mask_o))
            raise ConverterError(
                f"layer {name}: the weights of {op_name} {op.filter_name!r} disagree with the masks "
                f"({stray} non-zero weights where the mask prunes); not writing the file"
            )


def _pointwise_table(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """The O x I record of a (1, 1, I, O) mask: 0 where a weight is kept, PRUNED where not."""
    return np.where(np.asarray(mask)[0, 0].T, 0, PRUNED).astype(np.uint8)


def _conv3x3_table(
    mask: npt.NDArray[np.bool_], library: Sequence[int], w_ohwi: npt.NDArray[np.floating]
) -> npt.NDArray[np.uint8]:
    """The O x I record of a (3, 3, I, O) mask: each kernel's library pattern as the mask gives it.

    Reading the patterns off the weights instead would give a kernel whose kept weight was
    quantised (or trained) to 0 whichever library pattern covering its other taps comes first,
    and so break a block's shared pattern (``connectivity="shared"``). A kernel stored as all
    zeros is recorded pruned, as the weights say. Falls back to the weights where the mask holds
    a support that is not a library pattern (a mask made outside the pruner).
    """
    m = np.asarray(mask)
    i_ch, o_ch = m.shape[2], m.shape[3]
    bits = (m.reshape(KERNEL_TAPS, i_ch * o_ch).T * (1 << np.arange(KERNEL_TAPS))).sum(axis=1)
    index = np.full(1 << KERNEL_TAPS, -1, dtype=np.int64)
    for i, p in enumerate(library):
        index[int(p)] = i
    stored = np.any(np.asarray(w_ohwi) != 0, axis=(1, 2))  # (O, I): the kernel has a non-zero weight
    table = index[bits].reshape(i_ch, o_ch).T  # (O, I)
    if np.any(table[stored] < 0):
        return kernel_patterns_from_weights(w_ohwi, list(library))
    return np.where(stored, table, PRUNED).astype(np.uint8)


def _depthwise_table(mask: npt.NDArray[np.bool_], library: Sequence[int]) -> npt.NDArray[np.uint8]:
    """The C x 1 record of a (3, 3, C, 1) mask: each channel's library index, or PRUNED."""
    m = np.asarray(mask)
    bits = (m.reshape(KERNEL_TAPS, m.shape[2]).T * (1 << np.arange(KERNEL_TAPS))).sum(axis=1)
    index = {int(p): i for i, p in enumerate(library)}
    out = np.full((m.shape[2], 1), PRUNED, dtype=np.uint8)
    for c, b in enumerate(bits):
        if b == 0:
            continue
        if int(b) not in index:
            raise MetadataError(f"channel {c} keeps taps {int(b):#05x}, which is not a library pattern")
        out[c, 0] = index[int(b)]
    return out


def infer_patterns(
    model: keras.Model,
) -> tuple[dict[str, npt.NDArray[np.bool_]], list[int], dict[str, float]]:
    """Masks and a library read off the weights of an already pattern-pruned model.

    3x3 convs only: a bare model's 1x1 and depthwise layers are not inferred
    (their block structure cannot be told from zeros alone with confidence;
    export them with their masks). A 3x3 conv counts as pruned when every non-zero kernel keeps at most
    PATTERN_TAPS (4) taps including the centre and at least one kernel has zeros. The library is the
    distinct 4-tap supports found, most frequent first (smaller supports are
    covered by a library pattern or, failing that, the first candidate that does).
    """
    masks: dict[str, npt.NDArray[np.bool_]] = {}
    bits_by_layer: dict[str, npt.NDArray[np.int64]] = {}
    counts: dict[int, int] = {}
    convs = find_convs(model) if CONV3X3 in kinds_of(model).values() else []
    for conv in convs:
        k = keras.ops.convert_to_numpy(conv.layer.kernel)
        bits = ((k != 0).reshape(KERNEL_TAPS, -1).T * (1 << np.arange(KERNEL_TAPS))).sum(axis=1)
        nz = bits[bits != 0]
        pop = np.array([bin(int(b)).count("1") for b in nz])
        if nz.size == 0 or np.any(pop > PATTERN_TAPS) or np.any((nz & CENTRE_BIT) == 0) or np.all(pop == KERNEL_TAPS):
            continue
        bits_by_layer[conv.name] = bits
        for b in nz[pop == PATTERN_TAPS]:
            counts[int(b)] = counts.get(int(b), 0) + 1
    library = sorted(counts, key=lambda b: (-counts[b], b))
    for bits in bits_by_layer.values():
        for b in np.unique(bits[bits != 0]):
            if not any((int(b) & ~p) == 0 for p in library):
                library.append(next(c for c in all_candidates() if (int(b) & ~c) == 0))
    if len(library) > MAX_PATTERNS:
        raise ConverterError(f"the weights use {len(library)} distinct patterns; the format allows {MAX_PATTERNS}")
    keep: dict[str, float] = {}
    for name, bits in bits_by_layer.items():
        conv_k = next(c for c in convs if c.name == name).layer.kernel
        shape = tuple(conv_k.shape)
        support = np.zeros((len(bits), KERNEL_TAPS), bool)
        for row, b in enumerate(bits):
            if b:
                p = next(p for p in library if (int(b) & ~p) == 0)
                support[row] = [(p >> t) & 1 for t in range(KERNEL_TAPS)]
        masks[name] = support.T.reshape(shape)
        keep[name] = max(float(np.count_nonzero(bits)) / len(bits), 1e-6)
    return masks, library, keep


def build_metadata(
    model_bytes: bytes,
    masks: Mapping[str, npt.NDArray[np.bool_]],
    library: Sequence[int],
    keep: Mapping[str, float],
    kinds: Mapping[str, str] | None = None,
) -> PatternMetadata:
    """Layer records for the pruned layers, computed from the weights stored in ``model_bytes``.

    ``kinds`` (layer name -> kind) says what each mask is; without it a (1, 1, ...)
    mask is a 1x1 conv and any other a 3x3 conv.
    """
    matched = match_layers(conv_ops(model_bytes), masks, kinds)
    layers = []
    for name, op in matched.items():
        try:
            if op.kind == POINTWISE:
                kp = _pointwise_table(masks[name])
            elif op.kind == DEPTHWISE:
                kp = _depthwise_table(masks[name], library)
            else:
                kp = _conv3x3_table(masks[name], library, op.weights)
        except MetadataError as exc:
            raise ConverterError(f"layer {name}: exported weights do not follow the library: {exc}") from exc
        layers.append(
            LayerPatterns(
                tensor_name=op.filter_name,
                kernel_pattern=kp,
                keep=float(keep.get(name, 1.0)),
                kind=KINDS.index(op.kind),
            )
        )
    return PatternMetadata(patterns=list(library), layers=layers)


def export_tflite(
    result_or_model: PruneResult | keras.Model,
    path: str | Path,
    *,
    metadata: bool = True,
    masks: Mapping[str, npt.NDArray[np.bool_]] | None = None,
    library: Sequence[int] | None = None,
    keep: Mapping[str, float] | None = None,
    source: str | Path | None = None,
    int8: bool | Int8Options = False,
) -> Path:
    """Convert to a float32 .tflite at ``path`` (written atomically), pattern metadata included.

    Give a :class:`PruneResult`, or a Keras model plus its ``masks``/``library``
    (e.g. after masked retraining); with a bare model the patterns are inferred
    from its zeros. ``source`` is the input file, which is never overwritten.
    ``int8``: True or an :class:`Int8Options` writes a full-integer int8 model
    instead (per-channel symmetric int8 weights, int8 activations calibrated on
    synthetic images unless ``Int8Options(calibration=images)``, float32 input and
    output unless ``int8_io``); its metadata is checked against the int8 weights.
    """
    out = check_output(path, source)
    pool = None
    if isinstance(result_or_model, PruneResult):
        model = result_or_model.model
        masks = result_or_model.masks if masks is None else masks
        library = result_or_model.library if library is None else library
        keep = result_or_model.keep if keep is None else keep
        pool = result_or_model.calibration_pool
    else:
        model = result_or_model
    if int8:
        options = int8 if isinstance(int8, Int8Options) else Int8Options()
        data = keras_to_int8_tflite(model, calibration_inputs(model, options, pool), options)
        check_int8_filters(data)
    else:
        data = keras_to_tflite(model)
    if metadata:
        if masks is None or library is None:
            masks, library, inferred_keep = infer_patterns(model)
            keep = inferred_keep if keep is None else keep
        if masks:
            meta = build_metadata(data, masks, library, keep or {}, kinds_of(model))
            data = with_metadata(data, METADATA_NAME, encode(meta))
    return write_bytes_atomic(out, data)
