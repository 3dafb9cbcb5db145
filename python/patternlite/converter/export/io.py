"""Files: atomic writes, refusing to overwrite the input, masks .npz round trip."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from patternlite.converter.errors import ConverterError, OutputPathError


def check_output(path: str | Path, *inputs: str | Path | None) -> Path:
    """Resolve ``path`` and refuse it when it is one of ``inputs`` (never overwrite the input)."""
    out = Path(path).expanduser()
    for src in inputs:
        if src is None:
            continue
        s = Path(src).expanduser()
        if out.resolve() == s.resolve() or (out.exists() and s.exists() and os.path.samefile(out, s)):
            raise OutputPathError(f"refusing to overwrite the input {s} with the output")
    if out.exists() and out.is_dir():
        raise OutputPathError(f"{out} is a directory")
    if not out.parent.is_dir():
        raise OutputPathError(f"the folder {out.parent} does not exist")
    # Probe with a real file: os.access says yes to root even on read-only mounts.
    try:
        fd, probe = tempfile.mkstemp(prefix=".patternlite-probe.", dir=out.parent)
    except OSError as exc:
        raise OutputPathError(f"cannot write in the folder {out.parent} ({exc.strerror})") from exc
    os.close(fd)
    os.unlink(probe)
    return out


def check_suffix(path: str | Path, suffixes: Sequence[str], what: str) -> Path:
    """Refuse ``path`` unless it ends in one of ``suffixes`` (case-insensitive)."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise ConverterError(f"{what} must end in {' or '.join(suffixes)}, got {p.name!r}")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` in one step.

    On any exception (Ctrl-C included) the temp file is removed and ``path`` is
    left as it was, so no half-written output ever appears.
    """
    final = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp" + final.suffix, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; a written model gets the usual permissions, as open() would give it.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp_path)`` and move its file into place atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def save_masks(
    path: str | Path,
    masks: Mapping[str, npt.NDArray[np.bool_]],
    library: Sequence[int],
    keep: Mapping[str, float],
) -> Path:
    """One .npz: ``mask/<layer>`` arrays, ``library`` and ``keep/<layer>``."""
    arrays: dict[str, npt.NDArray[np.generic]] = {"library": np.asarray(library, np.int32)}
    for name, m in masks.items():
        arrays[f"mask/{name}"] = np.asarray(m, bool)
        arrays[f"keep/{name}"] = np.asarray(keep.get(name, 1.0), np.float32)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    return write_atomic(check_output(path), write)


def load_masks(path: str | Path) -> tuple[dict[str, npt.NDArray[np.bool_]], list[int], dict[str, float]]:
    """Inverse of :func:`save_masks`: (masks, library, keep)."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConverterError(f"cannot read masks from {path}: {exc}") from exc
    if "library" not in data:
        raise ConverterError(f"{path} is not a patternlite masks file (no 'library')")
    masks = {k[len("mask/") :]: data[k].astype(bool) for k in data.files if k.startswith("mask/")}
    keep = {k[len("keep/") :]: float(data[k]) for k in data.files if k.startswith("keep/")}
    return masks, [int(v) for v in data["library"]], keep
