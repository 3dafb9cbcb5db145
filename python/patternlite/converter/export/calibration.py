"""The images that calibrate an int8 export: the user's (``--calibration DATA``) or none (synthetic).

The user's images come in the formats ``finetune --data`` reads
(:mod:`patternlite.converter.client_data`) and are fed to the model exactly as
stored: raw pixel values, as the model takes them (a model that wants another
range normalises inside itself). They are checked here, without TensorFlow, so
a bad file is refused before any model loads; the shape is checked against the
model once it has loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from patternlite.converter.client_data import IMAGE_SUFFIXES, check_data_path, load_client_data
from patternlite.converter.errors import ConverterError


def check_images(x: npt.ArrayLike, what: str = "calibration images") -> npt.NDArray[np.float32]:
    """``x`` as float32 NHWC images: numbers, at least one image, all finite; one clear error otherwise."""
    xa = np.asarray(x)
    if not np.issubdtype(xa.dtype, np.number) or np.issubdtype(xa.dtype, np.complexfloating):
        raise ConverterError(f"{what} must be numbers, got dtype {xa.dtype}")
    if xa.ndim != 4:
        raise ConverterError(f"{what} must be a batch of images (N, H, W, C), got shape {xa.shape}")
    if len(xa) == 0:
        raise ConverterError(f"{what}: no images")
    xf = xa.astype(np.float32)
    if not np.all(np.isfinite(xf)):
        raise ConverterError(f"{what} contain NaN or infinity")
    return xf


def fit_model_input(x: npt.NDArray[np.float32], input_shape: tuple[int | None, ...], what: str) -> None:
    """Refuse images whose (H, W, C) differ from the model's input (None: any size)."""
    want = tuple(input_shape)
    if x.ndim != len(want) + 1 or any(w is not None and w != d for w, d in zip(want, x.shape[1:], strict=True)):
        dims = ", ".join("?" if d is None else str(d) for d in want)
        raise ConverterError(f"{what} have shape {x.shape}; the model takes (N, {dims})")


def read_calibration(path: Path) -> npt.NDArray[np.float32] | None:
    """Check ``--calibration DATA`` before the model loads: an .npz's images now, a folder's presence of images.

    Returns the images of an .npz; None for a folder, whose images are decoded
    at the model's input size once it has loaded (:func:`load_calibration`).
    """
    check_data_path(path)
    what = f"{path}: calibration images"
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.rglob("*") if p.is_file()):
            raise ConverterError(f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return None
    x, _ = load_client_data(path)
    return check_images(x, what)


def load_calibration(
    path: Path, input_shape: tuple[int | None, ...], images: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """The calibration images of ``path`` for a model taking ``input_shape`` (H, W, C), checked.

    ``images`` are those :func:`read_calibration` already read from an .npz.
    """
    what = f"{path}: calibration images"
    if images is None:
        shape = tuple(input_shape)
        known = len(shape) == 3 and all(d is not None for d in shape)
        x, _ = load_client_data(path, shape if known else None)  # type: ignore[arg-type]
        images = check_images(x, what)
    fit_model_input(images, input_shape, what)
    return images
