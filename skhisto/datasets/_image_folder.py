"""ImageFolder-layout datasets (``<root>/<class>/<image>``) as sklearn Bunches."""

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ..io import IMAGE_EXTENSIONS
from ..io import load_images as _decode  # the name load_images is a parameter here
from ..utils import groups_from_paths, io_error, warn
from ..utils._constraints import PATH, POSITIVE_INT
from ..utils._sklearn_compat import validate_params

#: load_image_folder's options, also checked by the fetchers before any download.
LOAD_CONSTRAINTS = {
    "classes": ["array-like", None],
    "max_per_class": POSITIVE_INT + [None],
    "shuffle": ["boolean"],
    "load_images": ["boolean"],
    "image_size": POSITIVE_INT + [None],
    "extensions": [tuple, list],
    "groups": [str, callable, None],
    "random_state": ["random_state"],
}


def check_load_contents(*, classes=None, extensions=IMAGE_EXTENSIONS, **_):
    """What LOAD_CONSTRAINTS cannot say: folder names are distinct strings, extensions exist."""
    if classes is not None:
        if not all(isinstance(c, str) for c in classes):
            raise TypeError(f"classes must be a list of folder names (str); got {classes!r}.")
        if not len(classes):
            raise ValueError("classes is empty; pass None to keep every class folder.")
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes lists a folder twice: {list(classes)!r}.")
    if not extensions:
        raise ValueError(
            f"extensions must be a non-empty tuple like ('.png',); got {extensions!r}."
        )


def _listdir(directory):
    try:
        return sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        raise io_error(exc, "list", directory) from exc


def _class_dirs(root, classes, suffixes):
    entries = [e for e in _listdir(root) if not e.name.startswith(".")]
    found = [e.name for e in entries if e.is_dir()]
    loose = [e.name for e in entries if e.is_file() and e.name.lower().endswith(suffixes)]
    if loose:  # images beside the class folders belong to no class
        warn(
            f"{len(loose)} images lie directly in {str(root)!r} (e.g. {loose[0]!r}), outside "
            "any class folder, and are not loaded; move them into <root>/<class>/.",
            UserWarning,
        )
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


def _images_under(directory, suffixes, seen=()):
    """Image files in ``directory`` and its sub-folders (as torchvision's ImageFolder), sorted.

    Hidden files and folders are skipped; linked folders are followed, and a
    link back to a folder being walked is an error rather than endless recursion.
    """
    real = os.path.realpath(directory)
    if real in seen:
        raise ValueError(f"Folder {str(directory)!r} links back to {real!r}; remove the link.")
    found = []
    for entry in _listdir(directory):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            found.extend(_images_under(entry.path, suffixes, (*seen, real)))
        elif entry.name.lower().endswith(suffixes):
            found.append(entry.path)
    return sorted(found)


def _subsample(indices, max_per_class, rng):
    if max_per_class is None or len(indices) <= max_per_class:
        return indices
    return np.sort(rng.choice(indices, size=max_per_class, replace=False))


@validate_params({"path": PATH, **LOAD_CONSTRAINTS}, prefer_skip_nested_validation=True)
def load_image_folder(
    path,
    *,
    classes=None,
    max_per_class=None,
    shuffle=False,
    load_images=False,
    image_size=None,
    extensions=IMAGE_EXTENSIONS,
    groups=None,
    random_state=None,
):
    """Load an ImageFolder-layout dataset (``<path>/<class>/<image>``).

    As torchvision's ``ImageFolder``, each class folder is searched
    recursively: ``<path>/<class>/<any sub-folders>/<image>`` belongs to
    ``<class>``. A class folder without any image is an error naming it.

    Parameters
    ----------
    path : str or os.PathLike
        Root folder with one sub-folder per class.
    classes : list of str, optional
        Keep only these class folders (default: all, sorted by name).
    max_per_class : int, optional
        Keep at most this many images per class (a positive int), drawn with
        ``random_state``.
    shuffle : bool, default=False
        Shuffle the samples (otherwise ordered by class, then file path).
    load_images : bool, default=False
        Also decode the images into a uint8 array ``images``.
    image_size : int, optional
        Resize loaded images to ``image_size x image_size`` (required when the
        images differ in size and ``load_images=True``).
    extensions : tuple of str
        File extensions counted as images (case-insensitive).
    groups : str or callable, optional
        The patient or slide of each image, so that no split puts one
        patient's patches on both sides: a regular expression searched in each
        file name (in the whole path when it holds a ``/``; its first capture
        group, else the match), or a callable of the path. See
        :func:`skhisto.utils.groups_from_paths`.
    random_state : int, RandomState instance or None
        Controls ``max_per_class`` subsampling and ``shuffle``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``paths`` (ndarray of str), ``target`` (ndarray of int), ``target_names``
        (list of str), ``groups`` (ndarray of str, only with ``groups``),
        ``images`` (uint8 ndarray of shape (n, H, W, 3), only with
        ``load_images=True``) and ``DESCR``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        When ``path`` does not exist or is a file.
    ValueError
        When a parameter is out of range, a class is unknown, or a class
        folder holds no image (the message names them).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skhisto.datasets import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("normal", "tumor"):
    ...     (root / name).mkdir()
    ...     Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / name / "a.png")
    >>> data = load_image_folder(root, load_images=True)
    >>> data.target_names, data.target.tolist(), data.images.shape
    (['normal', 'tumor'], [0, 1], (2, 8, 8, 3))

    Groups (here the patient before the first ``_`` of a file name) keep a
    patient's patches on one side of every split:

    >>> _ = (root / "tumor" / "p7_b.png").write_bytes((root / "tumor" / "a.png").read_bytes())
    >>> load_image_folder(root, groups=r"^([^_.]+)").groups.tolist()
    ['a', 'a', 'p7']
    """
    check_load_contents(classes=classes, extensions=extensions)
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"Dataset folder does not exist: {str(root)!r}")
    if not root.is_dir():
        raise NotADirectoryError(
            f"Dataset path {str(root)!r} is a file; pass the folder holding <class>/<image>."
        )
    rng = check_random_state(random_state)
    suffixes = tuple(e.lower() for e in extensions)
    names = _class_dirs(root, classes, suffixes)
    files = {name: _images_under(root / name, suffixes) for name in names}
    empty = [name for name in names if not files[name]]
    if empty:
        raise ValueError(
            f"Class folders {empty} of {str(root)!r} hold no images with extensions "
            f"{suffixes}; remove them or pass classes= without them."
        )
    paths, target = [], []
    for label, name in enumerate(names):
        chosen = _subsample(np.arange(len(files[name])), max_per_class, rng)
        paths.extend(files[name][i] for i in chosen)
        target.extend([label] * len(chosen))
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
    if groups is not None:
        bunch.groups = groups_from_paths(paths, groups)
        bunch.DESCR += f" {len(set(bunch.groups.tolist()))} groups."
    if load_images:
        bunch.images = _decode(paths, image_size)
    return bunch
