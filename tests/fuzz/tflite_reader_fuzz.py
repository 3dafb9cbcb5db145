"""atheris harness of the pure-Python .tflite reader and metadata decoder (docs/fuzzing.md).

Each input goes to

* ``patternlite.tflite_file.TfliteModel.from_bytes``, then to every accessor a
  caller uses on the model it returns: the metadata names and entries, every
  buffer, every tensor's array, the tensors each CONV_2D names;
* ``patternlite.metadata.decode``, of the input itself, of the input with its
  header repaired (magic, major version, size and CRC made to agree with the
  bytes, so that the fuzzer reaches the records behind the CRC), and of the
  model's ``patternlite`` entry when it has one;
* ``patternlite.inspect.inspect_model`` and ``format_summary`` (what
  ``patternlite inspect`` prints), on the input written to a file.

The reader may refuse only with the project's own errors: ``TfliteFileError``
(``patternlite.tflite_file``) and ``MetadataError`` (``patternlite.metadata``).
Any other exception escapes; atheris reports it as a finding and saves the
input. A decoded blob must also encode back to a blob that decodes to the
same content.

    .venv/bin/python tests/fuzz/tflite_reader_fuzz.py [libFuzzer flags] [corpus dirs]

``tools/fuzz.sh`` runs it beside the C++ harnesses. Without atheris it says so
and exits 0 (skipped). ``check_input`` needs no atheris:
``tests/test_fuzz_corpus.py`` replays the committed corpus through it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import struct
import sys
import tempfile
import types
import zlib

try:
    import atheris
except ImportError:  # the harness can still be imported for replay
    atheris = None

from patternlite import inspect as pl_inspect
from patternlite import metadata, tflite_file
from patternlite._contract import HEADER_FORMAT, MAGIC, METADATA_NAME, VERSION_MAJOR

OWN_ERRORS = (tflite_file.TfliteFileError, metadata.MetadataError)
_HEADER = struct.Struct(HEADER_FORMAT)
_SCRATCH = os.path.join(tempfile.gettempdir(), f"patternlite-fuzz-{os.getpid()}.tflite")


def repaired_header(data: bytes) -> bytes | None:
    """``data`` with magic, major version, size and CRC made to agree with its bytes."""
    if len(data) < _HEADER.size:
        return None
    body = data[_HEADER.size :]
    _, _, minor, _, _, k, n_layers = _HEADER.unpack_from(data, 0)
    header = _HEADER.pack(MAGIC, VERSION_MAJOR, minor, len(data), zlib.crc32(body) & 0xFFFFFFFF, k, n_layers)
    return header + body


def _decode(blob: bytes) -> None:
    try:
        meta = metadata.decode(blob)
    except metadata.MetadataError:
        return
    again = metadata.decode(metadata.encode(meta))  # what was accepted round-trips
    same = again.patterns == meta.patterns and [
        (la.tensor_name, la.keep, la.kernel_pattern.tobytes(), la.kernel_pattern.shape) for la in again.layers
    ] == [(la.tensor_name, la.keep, la.kernel_pattern.tobytes(), la.kernel_pattern.shape) for la in meta.layers]
    if not same:
        raise AssertionError("an accepted metadata blob does not round-trip through encode")


def _read_model(data: bytes) -> None:
    try:
        model = tflite_file.TfliteModel.from_bytes(data)
    except tflite_file.TfliteFileError:
        return
    # Buffers are read when asked for: each accessor may refuse, with TfliteFileError only.
    for name in model.metadata_names():
        with contextlib.suppress(tflite_file.TfliteFileError):
            model.metadata(name)
    blob = None
    with contextlib.suppress(tflite_file.TfliteFileError):
        blob = model.metadata(METADATA_NAME)
    if blob is not None:
        _decode(blob)
    for index in range(len(model._buffers)):
        with contextlib.suppress(tflite_file.TfliteFileError):
            model.buffer_bytes(index)
    for tensor in model.tensors:
        with contextlib.suppress(tflite_file.TfliteFileError):
            model.tensor_array(tensor.index)
    for conv in model.convs:
        for index in (conv.input, conv.filter, conv.output):
            model.tensors[index]  # the reader promises operators name existing tensors
    for index in (*model.inputs, *model.outputs):
        model.tensors[index]  # and so do the subgraph's inputs and outputs


def _inspect(data: bytes) -> None:
    with open(_SCRATCH, "wb") as f:
        f.write(data)
    with contextlib.suppress(tflite_file.TfliteFileError):
        pl_inspect.format_summary(pl_inspect.inspect_model(_SCRATCH))


def check_input(data: bytes) -> None:
    """Everything the harness does with one input; raises only on a finding."""
    _decode(data)
    fixed = repaired_header(data)
    if fixed is not None:
        _decode(fixed)
    _read_model(data)
    _inspect(data)


def _instrument() -> None:
    """Coverage instrumentation of the code under test: every function of patternlite and flatbuffers.

    atheris.instrument_imports() misses patternlite when it is an editable
    install (a custom loader), and instrument_all() also takes numpy, which
    makes start-up slow; so the functions already loaded are patched in place.
    """
    packages = ("patternlite", "flatbuffers")
    funcs = [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, types.FunctionType) and (obj.__module__ or "").split(".")[0] in packages
    ]
    for func in funcs:
        atheris.instrument_func(func)
    print(f"tflite_reader_fuzz: instrumented {len(funcs)} functions of patternlite and flatbuffers", file=sys.stderr)


def main() -> None:
    if atheris is None:
        print("tflite_reader_fuzz: atheris is not installed (pip install atheris); skipped", file=sys.stderr)
        sys.exit(0)
    _instrument()
    try:
        atheris.Setup(sys.argv, check_input)
        atheris.Fuzz()
    finally:
        if os.path.exists(_SCRATCH):
            os.unlink(_SCRATCH)


if __name__ == "__main__":
    main()
