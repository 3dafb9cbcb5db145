"""Reading the client's data for ``patternlite finetune``: an ``.npz`` or a folder of images.

* ``.npz``: ``images`` (or ``x``), shaped like the model's input, and optional
  ``labels`` (or ``y``), integer class indices.
* A folder with one sub-folder per class (Keras' ``image_dataset_from_directory``
  layout): labels are the sub-folders in sorted order, or their numbers when every
  name is an integer. A folder of images without sub-folders is unlabelled.

Images from a folder are decoded with Pillow, converted to the model's channel
count and resized to its input size; pixel values stay 0..255, as in the
``.npz`` files this project reads (a model that wants another range normalises
inside itself, as Keras models usually do).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from patternlite.converter.errors import ConverterError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")


def check_data_path(path: Path) -> None:
    """Fail fast, before any model loads, when ``path`` cannot be client data."""
    if not path.exists():
        raise ConverterError(f"{path} does not exist")
    if path.is_file() and path.suffix.lower() != ".npz":
        raise ConverterError(f"{path}: client data must be an .npz file or a folder of images")


def load_client_data(
    path: Path, image_shape: tuple[int, int, int] | None = None
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic] | None]:
    """``(images, labels or None)`` from an ``.npz`` or a folder; ``image_shape`` (H, W, C) sizes folder images."""
    check_data_path(path)
    if path.is_dir():
        if image_shape is None:
            raise ConverterError("reading a folder of images needs the model's input shape")
        return _load_folder(path, image_shape)
    try:
        data = np.load(path, allow_pickle=False)
        keys = set(data.files)
    except (OSError, ValueError) as exc:
        raise ConverterError(f"cannot read {path} as .npz: {exc}") from exc
    xk = next((k for k in ("images", "x") if k in keys), None)
    if xk is None:
        raise ConverterError(f"{path} has no 'images' (or 'x') array; it has {sorted(keys)}")
    yk = next((k for k in ("labels", "y") if k in keys), None)
    try:  # the arrays are read here: an object array (pickled data) is refused now
        return data[xk], (data[yk] if yk else None)
    except (OSError, ValueError) as exc:
        raise ConverterError(f"cannot read {path} as .npz: {exc}") from exc


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _load_folder(
    folder: Path, shape: tuple[int, int, int]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64] | None]:
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[Path] = []
    labels: list[int] | None = None
    if classes:
        names = [c.name for c in classes]
        numeric = all(n.isdigit() for n in names)
        labels = []
        for i, c in enumerate(classes):
            found = _images_in(c)
            files += found
            labels += [int(c.name) if numeric else i] * len(found)
    else:
        files = _images_in(folder)
    if not files:
        raise ConverterError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return np.stack([_read_image(f, shape) for f in files]), (None if labels is None else np.asarray(labels))


def _read_image(path: Path, shape: tuple[int, int, int]) -> npt.NDArray[np.uint8]:
    from PIL import Image, UnidentifiedImageError

    h, w, c = shape
    if c not in (1, 3):
        raise ConverterError(f"images can feed only models with 1 or 3 input channels, not {c}")
    try:
        with Image.open(path) as src:
            img = src.convert("L" if c == 1 else "RGB")
            if img.size != (w, h):
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise ConverterError(f"cannot read the image {path}: {exc}") from exc
    return arr.reshape(h, w, c)
