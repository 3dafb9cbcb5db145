"""Loading the pattern delegate into any TFLite runtime.

``load_delegate()`` returns an object that every TFLite Python interpreter
accepts in ``experimental_delegates``: tf.lite, ai_edge_litert and
tflite_runtime all only call ``_get_native_delegate_pointer()`` on it. So no
runtime is imported here, and the same object works with all three.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
from pathlib import Path
from typing import Any

from patternlite._contract import ERROR_KIND_BACKEND
from patternlite._contract import OPTION_NAMES as OPTION_NAMES  # spec/contract.toml

LIBRARY_NAME = "libpatternlite_delegate.so"
LIBRARY_ENV = "PATTERNLITE_DELEGATE_LIB"

_ERROR_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_char_p)


class DelegateError(RuntimeError):
    """The delegate library could not be found, loaded or configured."""


class OpenCLUnavailableError(DelegateError):
    """``backend="opencl"`` found no usable OpenCL platform or device.

    The message names the library, platforms and devices it looked for and
    how to install an OpenCL driver; ``backend="auto"`` falls back to the CPU
    kernels instead of raising.
    """


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    found = []
    env = os.environ.get(LIBRARY_ENV)
    if env:
        found.append(Path(env))
    found.append(here / "_native" / LIBRARY_NAME)
    # A source checkout: python/patternlite -> repository root -> build/*.
    root = here.parent.parent
    build = root / "build"
    if build.is_dir():
        # Newest first; sanitizer builds only load with their runtime preloaded,
        # so they are picked only through PATTERNLITE_DELEGATE_LIB.
        builds = [p for p in build.glob(f"*/{LIBRARY_NAME}") if "asan" not in p.parent.name]
        found.extend(sorted(builds, key=lambda p: p.stat().st_mtime, reverse=True))
    return found


def library_path() -> Path:
    """The delegate shared library this package will load."""
    for path in _candidates():
        if path.is_file():
            return path
    tried = ", ".join(str(p) for p in _candidates())
    raise DelegateError(
        f"{LIBRARY_NAME} not found (tried {tried}). Reinstall patternlite with 'pip install .' "
        f"or point {LIBRARY_ENV} at a built library."
    )


_LIB: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _LIB
    if _LIB is None:
        path = library_path()
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise DelegateError(f"cannot load {path}: {exc}") from exc
        lib.tflite_plugin_create_delegate.restype = ctypes.c_void_p
        lib.tflite_plugin_create_delegate.argtypes = [
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_size_t,
            _ERROR_CALLBACK,
        ]
        lib.tflite_plugin_destroy_delegate.restype = None
        lib.tflite_plugin_destroy_delegate.argtypes = [ctypes.c_void_p]
        lib.patternlite_stats_json.restype = ctypes.c_char_p
        lib.patternlite_stats_json.argtypes = [ctypes.c_void_p]
        lib.patternlite_version.restype = ctypes.c_char_p
        lib.patternlite_best_isa.restype = ctypes.c_char_p
        lib.patternlite_isa_available.restype = ctypes.c_int
        lib.patternlite_isa_available.argtypes = [ctypes.c_char_p]
        lib.patternlite_last_error.restype = ctypes.c_char_p
        lib.patternlite_last_error_kind.restype = ctypes.c_int
        _LIB = lib
    return _LIB


def best_isa() -> str:
    """The fastest kernel this CPU runs ('avx512', 'avx2', 'neon' or 'scalar')."""
    return str(_library().patternlite_best_isa().decode())


def isa_available(name: str) -> bool:
    return bool(_library().patternlite_isa_available(name.encode()))


def _option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class Delegate:
    """A pattern delegate instance. Pass it in ``experimental_delegates``.

    Keep it alive as long as any interpreter that uses it (the interpreters of
    all three runtimes hold a reference for you).
    """

    def __init__(self, options: dict[str, Any]) -> None:
        lib = _library()
        self._lib = lib
        self._pointer: int | None = None
        self.options = dict(options)
        errors: list[str] = []

        @_ERROR_CALLBACK
        def report(message: bytes) -> None:
            errors.append(message.decode(errors="replace"))

        keys = [k.encode() for k in options]
        values = [_option_value(v).encode() for v in options.values()]
        key_array = (ctypes.c_char_p * max(1, len(keys)))(*keys)
        value_array = (ctypes.c_char_p * max(1, len(values)))(*values)
        pointer = lib.tflite_plugin_create_delegate(key_array, value_array, len(keys), report)
        if not pointer:
            message = errors[0] if errors else lib.patternlite_last_error().decode()
            if lib.patternlite_last_error_kind() == ERROR_KIND_BACKEND:
                raise OpenCLUnavailableError(message)
            raise ValueError(message)
        self._pointer = int(pointer)

    def _get_native_delegate_pointer(self) -> int:
        """The TfLiteDelegate* every TFLite Python interpreter asks for."""
        if self._pointer is None:
            raise DelegateError("the delegate has been closed")
        return self._pointer

    def stats(self) -> dict[str, Any]:
        """Which CONV_2D and DEPTHWISE_CONV_2D nodes were claimed or declined (with reasons), and the ABI probe."""
        if self._pointer is None:
            raise DelegateError("the delegate has been closed")
        raw = self._lib.patternlite_stats_json(ctypes.c_void_p(self._pointer))
        result: dict[str, Any] = json.loads(raw.decode())
        return result

    def close(self) -> None:
        """Destroy the native delegate. Only call it after its interpreters are gone."""
        if self._pointer is not None:
            self._lib.tflite_plugin_destroy_delegate(ctypes.c_void_p(self._pointer))
            self._pointer = None

    def __del__(self) -> None:
        # At interpreter shutdown the library may already be gone.
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"<patternlite.Delegate {self.options} isa={best_isa()}>"


def load_delegate(num_threads: int | None = None, **options: Any) -> Delegate:
    """Create the pattern delegate.

    The options are those of ``spec/contract.toml`` (table in docs/delegate.md).

    Args:
      num_threads: threads for the pattern kernels. ``None`` follows the
        interpreter's ``num_threads``.
      min_sparsity: claim a layer only when at least this fraction of its 3x3
        weights is zero (default 0.5).
      metadata: ``"auto"`` (use the model's pattern metadata when present, else
        infer patterns from the weights), ``"require"`` (claim only layers the
        metadata names) or ``"ignore"``.
      log_level: ``"silent"``, ``"error"``, ``"warning"`` (default), ``"info"``
        or ``"debug"``.
      isa: ``"auto"`` (default), ``"scalar"``, ``"avx2"``, ``"avx512"`` or ``"neon"``.
      autotune: ``True`` (default) times each claimed layer's candidate
        plans (thread count, work split) on its first run and keeps the
        fastest; ``False`` uses the fixed heuristics, for reproducible plans.
      claim_ops: ``True`` (default) also claims the ADDs next to claimed
        convs (float32; int8 where the ISA has an int8 ADD kernel, AVX-512),
        so that XNNPACK is not cut into one-op partitions
        between them; ``stats()["claimed_ops"]`` says which and why.
        ``False`` claims convs only.
      backend: ``"cpu"`` (default, the SIMD kernels), ``"opencl"`` (an
        OpenCL device runs the claimed convs) or ``"auto"`` (OpenCL when a GPU
        device exists, else the CPU kernels). ``stats()["backend"]`` and each
        claimed node's ``backend``/``device`` say what ran.
      opencl_platform, opencl_device: which OpenCL platform/device: ``""``
        (default: a GPU if any, else the first device), an index (``"0"``) or
        a case-insensitive substring of the name (``"pocl"``).

    Raises:
      ValueError: an unknown option or a bad value.
      OpenCLUnavailableError: ``backend="opencl"`` and no usable OpenCL
        platform or device (the message says what was looked for).
      DelegateError: the shared library is missing or cannot be loaded.
    """
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ValueError(f"unknown delegate option(s) {', '.join(unknown)}; known: {', '.join(OPTION_NAMES)}")
    if num_threads is not None:
        options = {"num_threads": num_threads, **options}
    return Delegate(options)
