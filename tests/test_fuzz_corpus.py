"""The committed fuzz corpus (tests/fuzz/corpus, docs/fuzzing.md) replayed without a fuzzer.

* Every corpus file through the atheris harness's ``check_input``: the pure
  Python .tflite reader, ``patternlite.metadata.decode`` (as is and with its
  header repaired) and ``patternlite inspect``'s summary, which may refuse only
  with TfliteFileError or MetadataError.
* The findings of the fuzzers, fixed: each ``regress-*`` input, and one
  hand-built case per bug.
* The metadata and .tflite corpora through a plain build of
  tests/fuzz/metadata_reader_fuzz.cc (tests/fuzz/replay_main.cc gives it a
  main(); any C++17 compiler, a few seconds), and the conv-path corpus through
  a plain CMake build of tests/fuzz/conv_path_fuzz.cc with the delegate's
  sources (slow).

No clang, libFuzzer or atheris needed: tools/fuzz.sh runs the fuzzers themselves.
"""

from __future__ import annotations

import functools
import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import flatbuffers
import numpy as np
import pytest
from native_build import cmake_target, compiler

from patternlite._contract import PATTERN_CANDIDATES
from patternlite.inspect import main as inspect_main
from patternlite.metadata import LayerPatterns, MetadataError, PatternMetadata, decode, encode
from patternlite.tflite_file import TfliteFileError, TfliteModel

from conv_models import build_conv_model

REPO = Path(__file__).resolve().parent.parent
FUZZ = REPO / "tests" / "fuzz"
CORPUS = FUZZ / "corpus"
HARNESSES = ("metadata_reader", "conv_path", "block_path", "tflite_reader")


@functools.cache
def _harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tflite_reader_fuzz", FUZZ / "tflite_reader_fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(*harnesses: str) -> list[Path]:
    return sorted(f for h in harnesses for f in (CORPUS / h).iterdir() if f.is_file())


def test_corpus_is_small_and_present() -> None:
    for h in HARNESSES:
        assert _files(h), f"tests/fuzz/corpus/{h} is empty"
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    assert total < 200_000, f"the committed corpus holds {total} bytes; keep it under 200 KB"


@pytest.mark.parametrize("path", _files(*HARNESSES), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_python_reader_replays_corpus(path: Path) -> None:
    _harness().check_input(path.read_bytes())  # raises on anything but the project's own errors


# Each fixed finding: its input in the corpus, and the error the fixed code gives.
REGRESSIONS = {
    # flatbuffers raises TypeError ("bad number ... for type uint32") on a negative offset.
    "regress-negative-offset": TfliteFileError,
    # A buffer's vector runs past the end: numpy's ValueError from buffer_bytes (and metadata()).
    "regress-buffer-past-end": TfliteFileError,
    # A constant tensor whose data does not fill its shape: ValueError from reshape in tensor_array.
    "regress-tensor-data-short": TfliteFileError,
    # A CONV_2D naming a tensor index past the tensor list: IndexError in patternlite inspect.
    "regress-conv-tensor-index": TfliteFileError,
    # A metadata layer name that is not UTF-8 (valid CRC): UnicodeDecodeError from decode.
    "regress-metadata-name-not-utf8": MetadataError,
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_fixed_findings_refuse_with_own_error(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = CORPUS / "tflite_reader" / name
    data = path.read_bytes()
    _harness().check_input(data)
    # What a user sees: `patternlite inspect` reports one line and exits 1, or summarises.
    assert inspect_main([str(path)]) in (0, 1)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    expected = REGRESSIONS[name]
    if expected is MetadataError:
        with pytest.raises(MetadataError):
            decode(_harness().repaired_header(data))
    else:
        with pytest.raises(TfliteFileError):
            model = TfliteModel.from_bytes(data)
            for i in range(len(model._buffers)):
                model.buffer_bytes(i)
            for t in model.tensors:
                model.tensor_array(t.index)


def _schema() -> ModuleType:
    try:
        from patternlite.tflite_file import _schema as schema

        return schema()
    except ImportError:
        pytest.skip("needs ai-edge-litert or tensorflow to build .tflite files")


def _conv_model(**edit: object) -> bytes:
    """The tiny conv of tests/conv_models.py, its flatbuffer edited through the object API."""
    s = _schema()
    data = build_conv_model((1, 4, 4, 2), np.ones((3, 3, 3, 2), np.float32))
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(bytearray(data), 0))
    sg = model.subgraphs[0]
    if "filter_index" in edit:
        sg.operators[0].inputs[1] = edit["filter_index"]
    if "filter_shape" in edit:
        sg.tensors[1].shape = edit["filter_shape"]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_conv_naming_a_missing_tensor_is_refused() -> None:
    with pytest.raises(TfliteFileError, match="names a tensor outside"):
        TfliteModel.from_bytes(_conv_model(filter_index=99))
    TfliteModel.from_bytes(_conv_model())  # the unedited model reads


def test_tensor_data_not_filling_its_shape_is_refused() -> None:
    model = TfliteModel.from_bytes(_conv_model(filter_shape=[3, 3, 3, 3]))  # 54 floats for a 81-float shape
    with pytest.raises(TfliteFileError, match="do not fill its shape"):
        model.tensor_array(1)


def test_metadata_name_not_utf8_is_refused() -> None:
    layer = LayerPatterns("ab", np.zeros((1, 1), np.uint8))
    blob = bytearray(encode(PatternMetadata(patterns=[PATTERN_CANDIDATES[0]], layers=[layer])))
    at = blob.index(b"ab")
    blob[at] = 0xB0  # a UTF-8 continuation byte cannot start a name
    with pytest.raises(MetadataError, match="not UTF-8"):
        decode(_harness().repaired_header(bytes(blob)))


# ---------------------------------------------------------------------------
# The C++ harnesses, built as plain replay programs.


def _replay(program: Path, *folders: Path) -> None:
    run = subprocess.run([str(program), *map(str, folders)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "no failure" in run.stdout


def test_metadata_reader_harness_replays_corpus(tmp_path: Path) -> None:
    cxx = compiler()
    if cxx is None:
        pytest.skip("needs a C++ compiler")
    program = tmp_path / "metadata_reader_replay"
    sources = [
        "tests/fuzz/metadata_reader_fuzz.cc",
        "tests/fuzz/replay_main.cc",
        "delegate/metadata/metadata_reader.cc",
        "delegate/packing/pattern_pack.cc",
        "delegate/runtime/weight_checks.cc",
    ]
    build = subprocess.run(
        [cxx, "-std=c++17", "-O1", "-g", f"-I{REPO}", *[str(REPO / s) for s in sources], "-o", str(program)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-4000:]
    _replay(program, CORPUS / "metadata_reader", CORPUS / "tflite_reader")


@pytest.mark.slow  # one CMake build of the delegate's sources
def test_conv_path_harness_replays_corpus(tmp_path: Path) -> None:
    program = cmake_target(tmp_path / "build", "PATTERNLITE_FUZZ_REPLAY", "conv_path_fuzz")
    _replay(program, CORPUS / "conv_path")


@pytest.mark.slow  # one CMake build of the delegate's sources
def test_block_path_harness_replays_corpus(tmp_path: Path) -> None:
    program = cmake_target(tmp_path / "build", "PATTERNLITE_FUZZ_REPLAY", "block_path_fuzz")
    _replay(program, CORPUS / "block_path")
