"""Reading and checking the client's data for ``patternlite finetune``: an ``.npz`` or a folder of images.

* ``.npz``: the images under the key ``images`` (or ``x``), shaped like the
  model's input, (N, H, W, C) or (N, H, W) for one channel; optional labels
  under ``labels`` (or ``y``), integer class indices (N,) or one-hot (N, classes).
  A file with both names of one array (``images`` and ``x``) is refused as
  ambiguous; other keys are ignored.
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
IMAGE_KEYS = ("images", "x")  # the .npz keys of the images, preferred name first
LABEL_KEYS = ("labels", "y")
# Fewer images than this cannot retrain a network (nor leave a held-out slice to score it on).
MIN_IMAGES = 10


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
    xk = _key(path, keys, IMAGE_KEYS)
    if xk is None:
        raise ConverterError(f"{path} has no 'images' (or 'x') array; it has {sorted(keys)}")
    yk = _key(path, keys, LABEL_KEYS)
    try:  # the arrays are read here: an object array (pickled data) is refused now
        return data[xk], (data[yk] if yk else None)
    except (OSError, ValueError) as exc:
        raise ConverterError(f"cannot read {path} as .npz: {exc}") from exc


def _key(path: Path, keys: set[str], names: tuple[str, ...]) -> str | None:
    """The one key of ``names`` in ``keys`` (None when absent); both present is ambiguous."""
    found = [k for k in names if k in keys]
    if len(found) > 1:
        raise ConverterError(f"{path} has both {' and '.join(map(repr, found))}; keep one (they name the same array)")
    return found[0] if found else None


def scan_folder(folder: Path) -> tuple[list[Path], list[int] | None]:
    """The image files of a folder and their labels (None without class sub-folders), without decoding them."""
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
    return files, labels


def as_class_indices(y: npt.ArrayLike, count: int) -> npt.NDArray[np.int64]:
    """Labels as int64 class indices (one-hot rows become their argmax); one line saying why not."""
    ya = np.asarray(y)
    if ya.ndim == 2 and ya.shape[1] > 1:
        ya = np.argmax(ya, axis=1)  # one-hot labels
    ya = ya.reshape(-1)
    if len(ya) != count:
        raise ConverterError(f"{count} images but {len(ya)} labels")
    integral = np.issubdtype(ya.dtype, np.integer) or (
        np.issubdtype(ya.dtype, np.floating) and bool(np.all(np.isfinite(ya))) and bool(np.all(np.mod(ya, 1) == 0))
    )
    if not integral:
        raise ConverterError("labels must be integer class indices")
    return ya.astype(np.int64)


def check_client_arrays(x: npt.ArrayLike, y: npt.ArrayLike | None) -> None:
    """Refuse client data that cannot retrain a model, whatever the model: too few images, images
    that are not numbers or not finite, every image constant (all zeros, say: nothing to learn
    from), labels that do not match the images, or a single class (labels that teach nothing).
    """
    xa = np.asarray(x)
    if xa.ndim < 2:
        raise ConverterError(f"client images must be shaped (N, H, W, C) or (N, H, W), got {xa.shape}")
    if len(xa) == 0:
        raise ConverterError("the client data holds no images")
    if not np.issubdtype(xa.dtype, np.number):
        raise ConverterError(f"client images must be numbers, got dtype {xa.dtype}")
    if len(xa) < MIN_IMAGES:
        raise ConverterError(f"the client data holds {len(xa)} images; retraining needs at least {MIN_IMAGES}")
    flat = xa.reshape(len(xa), -1)
    if not np.all(np.isfinite(flat)):
        raise ConverterError("client images contain NaN or infinity")
    if bool(np.all(flat.min(axis=1) == flat.max(axis=1))):
        value = flat[0, 0] if np.all(flat == flat[0, 0]) else None
        what = f"all {value}" if value is not None else "each a single value"
        raise ConverterError(f"every client image is constant ({what}); there is nothing to learn from")
    if y is None:
        return
    ya = as_class_indices(y, len(xa))
    classes = np.unique(ya)
    if len(classes) < 2:
        raise ConverterError(
            f"every label is {int(classes[0])}: one class teaches nothing (drop the labels to distil from the teacher)"
        )


def read_before_model(
    path: Path,
) -> tuple[npt.NDArray[np.generic] | None, npt.NDArray[np.generic] | None, bool]:
    """``(images, labels, labelled)`` checked as far as they can be without the model.

    An ``.npz`` is read and checked in full (its arrays are returned); a folder is
    listed, not decoded (images and labels None): its count and its classes are
    checked now, its pixels once the model's input size is known.
    """
    check_data_path(path)
    if path.is_dir():
        files, labels = scan_folder(path)
        if len(files) < MIN_IMAGES:
            raise ConverterError(f"{path} holds {len(files)} images; retraining needs at least {MIN_IMAGES}")
        if labels is not None and len(set(labels)) < 2:
            raise ConverterError(
                f"{path} holds one class folder: one class teaches nothing (put the images in {path} itself "
                "to distil from the teacher without labels)"
            )
        return None, None, labels is not None
    x, y = load_client_data(path)
    check_client_arrays(x, y)
    return x, y, y is not None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _load_folder(
    folder: Path, shape: tuple[int, int, int]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64] | None]:
    files, labels = scan_folder(folder)
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
