"""What ``skhisto embed`` reads: an ImageFolder, a flat folder of images, or a CSV of paths."""

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import CommandError

#: Extensions of the whole-slide formats OpenSlide reads.
SLIDE_EXTENSIONS = (
    *(".svs", ".ndpi", ".mrxs", ".scn", ".bif", ".vms", ".vmu", ".svslide"),
    *(".tif", ".tiff", ".dcm"),
)


@dataclass
class Listing:
    """The images an INPUT lists: paths, labels (None: unlabeled), a few words on its kind,
    and its other columns by name (a CSV's ``patient``, ``slide``, ...: one str per image)."""

    paths: list
    labels: list = None
    kind: str = ""
    columns: dict = field(default_factory=dict)


def read_input(source, *, max_per_class=None, random_state=None, max_images=None):
    """The :class:`Listing` of the images of ``source``: paths, labels, kind, columns.

    Parameters
    ----------
    source : str
        A folder of class folders (``<root>/<class>/<image>``, labels are the
        class names), a flat folder of images (no labels), or a CSV file with a
        ``path`` column and an optional ``label`` column (relative paths are
        resolved against the CSV's folder).
    max_per_class, random_state : int, optional
        Keep a seeded draw of at most ``max_per_class`` images of each class
        folder (as :func:`~skhisto.datasets.load_image_folder`), or of each
        label of a labeled CSV (:func:`per_class_rows`); a flat folder and an
        unlabeled CSV are read whole.
    max_images : int, optional
        Then keep a seeded draw of at most ``max_images`` images of any input
        (:func:`subsample_rows`, in the input's order).

    Returns
    -------
    Listing
        ``paths`` (list of str), ``labels`` (list of str, None when unlabeled),
        ``kind`` (words for the progress line) and ``columns`` (a CSV's other
        columns, e.g. ``patient``).
    """
    path = Path(source)
    if not path.exists():
        raise CommandError(
            f"INPUT {source!r} does not exist; pass an image folder, a CSV with a path column "
            "or a slide file"
        )
    if path.is_dir():
        listing = _read_folder(path, max_per_class, random_state)
    elif path.suffix.lower() != ".csv":
        raise CommandError(
            f"INPUT {source!r} is a file but not a .csv; pass an image folder or a CSV with a "
            "path column"
        )
    else:
        listing = _read_csv(path)
        if max_per_class is not None and listing.labels is not None:  # drawn by its labels
            listing = keep_rows(
                listing, per_class_rows(listing.labels, max_per_class, random_state)
            )
    if max_per_class is not None and listing.labels is None:
        what = "a flat folder" if path.is_dir() else "a CSV without a 'label' column"
        raise CommandError(
            f"--per-class {max_per_class} draws images of each class, but INPUT {source!r} is "
            f"{what}: no classes; pass --max-images {max_per_class} for a draw of it"
        )
    return keep_rows(listing, subsample_rows(len(listing.paths), max_images, random_state))


def subsample_rows(n_images, max_images, random_state):
    """The rows a seeded draw of at most ``max_images`` of ``n_images`` keeps, sorted (all of
    them when ``max_images`` is None): the one ``--max-images`` draw of every command."""
    import numpy as np

    if max_images is None or max_images >= n_images:
        return np.arange(n_images)
    return np.sort(np.random.default_rng(random_state).choice(n_images, max_images, False))


def per_class_rows(labels, per_class, random_state):
    """The rows a seeded draw of at most ``per_class`` of each label keeps, sorted (all of
    them when ``per_class`` is None).

    The draw of :func:`~skhisto.datasets.load_image_folder` (``max_per_class``): classes in
    sorted order, one RandomState, so a file `skhisto embed` wrote of whole class folders
    draws the images the folders would.
    """
    import numpy as np
    from sklearn.utils import check_random_state

    labels = np.asarray(labels)
    if per_class is None:
        return np.arange(len(labels))
    rng = check_random_state(random_state)
    kept = [np.flatnonzero(labels == name) for name in np.unique(labels)]
    kept = [rows if len(rows) <= per_class else rng.choice(rows, per_class, False) for rows in kept]
    return np.sort(np.concatenate(kept))


def draw_rows(labels, n_rows, *, per_class=None, max_images=None, random_state=None):
    """The rows of a labeled table (an embeddings file, a CSV) that ``--per-class`` and then
    ``--max-images`` keep, sorted: the draw of :func:`read_input` (unlabeled: ``labels`` None,
    only ``max_images`` draws)."""
    import numpy as np

    rows = np.arange(n_rows)
    if labels is not None:
        rows = per_class_rows(labels, per_class, random_state)
    return rows[subsample_rows(len(rows), max_images, random_state)]


def keep_rows(listing, rows):
    """``listing`` cut to ``rows`` (its paths, labels and columns)."""
    if len(rows) == len(listing.paths):
        return listing
    pick = [int(i) for i in rows]
    return Listing(
        [listing.paths[i] for i in pick],
        None if listing.labels is None else [listing.labels[i] for i in pick],
        listing.kind,
        {name: [values[i] for i in pick] for name, values in listing.columns.items()},
    )


def _read_folder(root, max_per_class=None, random_state=None):
    from ..datasets import load_image_folder
    from ..io import IMAGE_EXTENSIONS

    entries = [e for e in sorted(os.scandir(root), key=lambda e: e.name) if e.name[0] != "."]
    if any(e.is_dir() for e in entries):
        data = load_image_folder(root, max_per_class=max_per_class, random_state=random_state)
        labels = [data.target_names[i] for i in data.target]
        kind = f"ImageFolder, {len(data.target_names)} classes"
        return Listing(data.paths.tolist(), labels, kind)
    paths = [e.path for e in entries if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)]
    if not paths:
        raise CommandError(
            f"INPUT folder {str(root)!r} holds no images {IMAGE_EXTENSIONS} and no class folders"
            + _slides_hint(e.path for e in entries)
        )
    return Listing(paths, None, "flat folder, no labels")


def read_csv_rows(path):
    """Column names (stripped) and rows (dicts) of a CSV; a CommandError when it is unreadable."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            reader.fieldnames = [name.strip() for name in reader.fieldnames or ()]
            return reader.fieldnames, list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"cannot read CSV {str(path)!r}: {exc}") from exc


def refuse_repeats(path, files, noun):
    """A file a CSV lists twice is refused, naming both lines: one file, one label.

    Listed twice, an image would sit in both the training and the test folds
    (or carry two labels); files are compared by their real path.
    """
    lines = {}
    for number, file in enumerate(files, start=2):  # line 1 is the header
        key = os.path.realpath(file)
        if key in lines:
            raise CommandError(
                f"CSV {str(path)!r} lists {noun} {file!r} twice (lines {lines[key]} and "
                f"{number}); each {noun} has one label: list it once"
            )
        lines[key] = number


def _read_csv(path):
    columns, rows = read_csv_rows(path)
    if "path" not in columns:
        raise CommandError(
            f"CSV {str(path)!r} has no 'path' column (columns: {columns}); name the "
            "image column 'path' and the optional class column 'label'"
            + ("; for a CSV of slides, pass --slides" if "slide" in columns else "")
        )
    if not rows:
        raise CommandError(f"CSV {str(path)!r} lists no images")
    folder = path.parent
    paths = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        value = (row["path"] or "").strip()
        if not value:
            raise CommandError(f"CSV {str(path)!r} line {number} has an empty path")
        paths.append(value if os.path.isabs(value) else os.path.join(folder, value))
    missing = [(n, p) for n, p in enumerate(paths, start=2) if not os.path.exists(p)]
    if missing:
        number, first = missing[0]
        raise CommandError(
            f"{len(missing)} of the {len(paths)} images listed in CSV {str(path)!r} do not "
            f"exist, e.g. {first!r} (line {number}); relative paths are read from the CSV's folder"
        )
    refuse_repeats(path, paths, "image")
    labels = [(row.get("label") or "").strip() for row in rows] if "label" in columns else None
    others = {
        name: [(row.get(name) or "").strip() for row in rows]
        for name in columns
        if name not in ("path", "label") and name
    }
    kind = "CSV, labeled" if labels is not None else "CSV, no labels"
    return Listing(paths, labels, kind, others)


def _slides_hint(paths):
    """A pointer to --slides when files that can only be whole-slide images are there."""
    only_slides = set(SLIDE_EXTENSIONS) - {".tif", ".tiff"}
    found = next((p for p in paths if Path(p).suffix.lower() in only_slides), None)
    return "" if found is None else f"; it holds slides (e.g. {Path(found).name!r}): pass --slides"


def check_not_slides(paths):
    """Refuse multi-page pyramidal TIFFs read as images, pointing to --slides."""
    first = paths[0]
    if Path(first).suffix.lower() not in (".tif", ".tiff"):
        return
    from ..io import ImageReadError, MultiFrameImageError, read_image

    try:
        read_image(first)  # a pyramid is refused at its header, before any page is decoded
    except MultiFrameImageError as error:
        raise CommandError(
            f"{first!r} holds {error.frames} pages, as a pyramidal whole-slide image does; pass "
            "--slides to tile slides into patches"
        ) from None
    except ImageReadError:
        pass  # named again when it is embedded
