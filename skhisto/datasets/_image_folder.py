"""ImageFolder-layout datasets (``<root>/<class>/<image>``) as sklearn Bunches."""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ..io import IMAGE_EXTENSIONS, read_image
from ..io._resize import resize_uint8


def _class_dirs(root, classes):
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise ValueError(
            f"{str(root)!r} has no class sub-folders (expected <root>/<class>/<image>)."
        )
    if classes is None:
        return found
    unknown = sorted(set(classes) - set(found))
    if unknown:
        raise ValueError(f"Classes {unknown} are not folders of {str(root)!r}; found {found}.")
    return sorted(classes)


def _subsample(indices, max_per_class, rng):
    if max_per_class is None or len(indices) <= max_per_class:
        return indices
    return np.sort(rng.choice(indices, size=max_per_class, replace=False))


def load_image_folder(
    path,
    *,
    classes=None,
    max_per_class=None,
    shuffle=False,
    load_images=False,
    image_size=None,
    extensions=IMAGE_EXTENSIONS,
    random_state=None,
):
    """Load an ImageFolder-layout dataset (``<path>/<class>/<image>``).

    Parameters
    ----------
    path : str or os.PathLike
        Root folder with one sub-folder per class.
    classes : list of str, optional
        Keep only these class folders (default: all, sorted by name).
    max_per_class : int, optional
        Keep at most this many images per class, drawn with ``random_state``.
    shuffle : bool, default=False
        Shuffle the samples (otherwise ordered by class, then file name).
    load_images : bool, default=False
        Also decode the images into a uint8 array ``images``.
    image_size : int, optional
        Resize loaded images to ``image_size x image_size`` (required when the
        images differ in size and ``load_images=True``).
    extensions : tuple of str
        File extensions counted as images (case-insensitive).
    random_state : int, RandomState instance or None
        Controls ``max_per_class`` subsampling and ``shuffle``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``paths`` (ndarray of str), ``target`` (ndarray of int), ``target_names``
        (list of str), ``images`` (uint8 ndarray of shape (n, H, W, 3), only with
        ``load_images=True``) and ``DESCR``.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder does not exist: {str(root)!r}")
    rng = check_random_state(random_state)
    names = _class_dirs(root, classes)
    suffixes = tuple(e.lower() for e in extensions)
    paths, target = [], []
    for label, name in enumerate(names):
        files = sorted(
            f
            for f in os.listdir(root / name)
            if f.lower().endswith(suffixes) and not f.startswith(".")
        )
        chosen = _subsample(np.arange(len(files)), max_per_class, rng)
        paths.extend(str(root / name / files[i]) for i in chosen)
        target.extend([label] * len(chosen))
    if not paths:
        raise ValueError(f"No images with extensions {suffixes} found under {str(root)!r}.")
    paths, target = np.asarray(paths), np.asarray(target, dtype=np.int64)
    if shuffle:
        order = rng.permutation(len(paths))
        paths, target = paths[order], target[order]
    bunch = Bunch(
        paths=paths,
        target=target,
        target_names=names,
        DESCR=f"Image folder {str(root)!r}: {len(paths)} images in {len(names)} classes.",
    )
    if load_images:
        bunch.images = _load_images(paths, image_size)
    return bunch


def _load_images(paths, image_size):
    first = read_image(paths[0])
    size = image_size
    if size is None:
        if first.shape[0] != first.shape[1]:
            raise ValueError("Images are not square; pass image_size= to resize them on load.")
        size = first.shape[0]
    images = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        image = first if i == 0 else read_image(p)
        if image_size is None and image.shape[:2] != (size, size):
            raise ValueError(
                f"{p!r} is {image.shape[1]}x{image.shape[0]} but earlier images are {size}x{size}; "
                "pass image_size= to resize them on load."
            )
        images[i] = resize_uint8(image, size)
    return images
