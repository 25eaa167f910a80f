"""Embeddings files written by ``skhisto embed`` (.npz, .parquet, .zarr), read back."""

import os
from pathlib import Path

from ._errors import CommandError
from ._provenance import note_embeddings

EMBEDDING_FORMATS = (".npz", ".parquet", ".zarr")


def is_embeddings_file(source):
    return Path(source).suffix.lower() in EMBEDDING_FORMATS


def paths_to_store(paths):
    """``paths`` as `skhisto embed` stores them: absolute, so that every folder reads them (a
    relative path would only resolve from the folder `embed` ran in)."""
    return [os.path.abspath(os.fspath(p)) for p in paths]


def resolve_stored_paths(paths, source):
    """The stored ``paths`` of embeddings file ``source``, as read from the working folder.

    Files written before :func:`paths_to_store` may hold paths relative to the folder `embed`
    ran in. They stay as stored when the first one exists from here (that folder, or a file
    hand-made for it); else, when it exists from the file's folder (a file written beside its
    images), all are read from there. Two stats per file, not one per row.
    """
    import numpy as np

    folder = os.path.dirname(os.fspath(source))
    first = next((p for p in paths if p and not os.path.isabs(p)), None)
    if not folder or first is None or os.path.exists(first):
        return paths
    if not os.path.exists(os.path.join(folder, first)):
        return paths  # found nowhere: named as stored by whatever reads it
    return np.array([p if not p or os.path.isabs(p) else os.path.join(folder, p) for p in paths])


def read_embeddings(source):
    """Embeddings, labels and paths from a file written by ``skhisto embed``.

    Returns
    -------
    X : ndarray of shape (n, d), float32
    labels : ndarray of str, or None when the file has no labels
    paths : ndarray of str
    """
    return read_embeddings_with_columns(source)[:3]


def read_embeddings_with_columns(source, *, provenance=True, **draw):
    """:func:`read_embeddings`, and the file's per-row columns by name: ``group`` (the
    groups `skhisto embed` stored) and, for slide patches, ``slide`` (both str arrays).

    ``provenance``: announce the file's provenance once per run and refuse a file from
    another backbone than one read before (:func:`skhisto.cli._provenance.note_embeddings`).
    ``draw``: ``per_class``, ``max_images`` and ``random_state`` of ``--per-class`` and
    ``--max-images``, the rows kept (:func:`skhisto.cli._inputs.draw_rows`, by label); a
    Zarr store reads only those rows.
    """
    import numpy as np

    path = Path(source)
    suffix = path.suffix.lower()
    if not path.exists():
        raise CommandError(f"embeddings file {source!r} does not exist")
    if suffix != ".zarr":
        from ..utils import NotRegularFileError, check_regular_file

        try:
            check_regular_file(path, "embeddings file")  # a FIFO or a folder, said as such
        except NotRegularFileError as exc:
            raise CommandError(str(exc)) from None
    elif not path.is_dir():
        raise CommandError(f"{source!r} is not a Zarr store (a folder written by `skhisto embed`)")
    if suffix == ".npz":
        X, labels, paths, patches, groups = _drawn(*_read_npz(path), draw)
    elif suffix == ".parquet":
        X, labels, paths, patches, groups = _drawn(*_read_parquet(path), draw)
    elif suffix == ".zarr":
        X, labels, paths, groups = _read_zarr(path, draw)
        patches = None
    else:
        raise CommandError(
            f"{source!r}: embeddings must be a .npz, .parquet or .zarr written by `skhisto embed`"
        )
    columns = {} if groups is None else {"group": groups}
    if patches is None:
        paths = resolve_stored_paths(paths, source)
    else:  # patches of slides: each named by its slide (stored absolute) and its corner
        paths = np.array([f"{s}@{x},{y}" for s, x, y in zip(*patches[:3], strict=True)])
        columns["slide"] = patches[0].astype(str)
    if X.ndim != 2 or len(X) == 0 or len(labels) != len(X):
        raise CommandError(
            f"{source!r}: expected a 2-D 'embeddings' array with one label per row, got shape "
            f"{X.shape} and {len(labels)} labels"
        )
    if not np.isfinite(X).all():
        raise CommandError(f"{source!r}: the embeddings hold NaN or infinite values")
    if any(len(values) != len(X) for values in columns.values()):
        raise CommandError(f"{source!r}: its groups do not have one entry per row")
    labels = None if all(label == "" for label in labels) else labels
    if provenance:
        note_embeddings(source)
    return X, labels, paths, columns


#: What `skhisto embed` stores beside the embeddings of slide patches (the patch table).
PATCH_COLUMNS = ("slide", "x", "y", "level", "size", "mpp", "tissue")


def _patch_columns(columns):
    """``(slide, x, y, level, size)`` of a file of slide patches (``columns[name]``), else None."""
    import numpy as np

    names = PATCH_COLUMNS[:5]
    if not set(names) <= set(columns):
        return None
    return tuple(np.asarray(columns[name]) for name in names)


def read_patch_regions(source):
    """The slide regions of an embeddings file of slide patches, by name; None for images.

    Returns
    -------
    dict
        ``{"<slide>@<x>,<y>": (regions, row)}`` for :class:`skhisto.slides.PatchRegions`.
    """
    import pandas as pd

    from ..slides import check_patch_table

    read = {".npz": _read_npz, ".parquet": _read_parquet}.get(Path(source).suffix.lower())
    patches = None if read is None else read(Path(source))[3]
    if patches is None:
        return None
    table = pd.DataFrame(dict(zip(PATCH_COLUMNS[:5], patches, strict=True)))
    try:
        regions = check_patch_table(table)
    except (ValueError, OSError) as exc:
        raise CommandError(f"{source!r}: cannot read its patches from their slides: {exc}") from exc
    return {
        f"{s}@{x},{y}": (regions, i) for i, (s, x, y) in enumerate(zip(*patches[:3], strict=True))
    }


def _rows(labels, n_rows, draw):
    """The rows ``draw`` keeps (None: all), by label unless the file has none."""
    from ._inputs import draw_rows

    if not any(value is not None for name, value in draw.items() if name != "random_state"):
        return None
    labeled = len(labels) == n_rows and not all(label == "" for label in labels)
    rows = draw_rows(labels if labeled else None, n_rows, **draw)
    return None if len(rows) == n_rows else rows


def _drawn(X, labels, paths, patches, groups, draw):
    """A file's arrays cut to the rows ``draw`` keeps (as read when they do not match: the
    caller names the mismatch)."""
    rows = _rows(labels, len(X), draw) if len(labels) == len(X) == len(paths) else None
    if rows is None:
        return X, labels, paths, patches, groups
    patches = None if patches is None else tuple(column[rows] for column in patches)
    groups = None if groups is None or len(groups) != len(X) else groups[rows]
    return X[rows], labels[rows], paths[rows], patches, groups


def _read_npz(path):
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            missing = {"embeddings", "labels", "paths"} - set(data.files)
            if missing:
                raise CommandError(
                    f"{os.fspath(path)!r} has no {sorted(missing)} arrays (it has "
                    f"{sorted(data.files)}); write it with `skhisto embed`"
                )
            X, labels, paths = data["embeddings"], data["labels"], data["paths"]
            patches = _patch_columns(data)
            groups = data["groups"].astype(str) if "groups" in data.files else None
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read embeddings {os.fspath(path)!r}: {exc}") from exc
    X = np.asarray(X, dtype=np.float32)
    return X, labels.astype(str), paths.astype(str), patches, groups


def _read_zarr(path, draw):
    import numpy as np

    from ..embedding import open_store

    try:
        group = open_store(path)
    except ImportError as exc:
        raise CommandError(f"reading {os.fspath(path)!r} needs zarr: {exc}") from exc
    except FileExistsError as exc:
        message = f"{os.fspath(path)!r} is not a store written by `skhisto embed`"
        raise CommandError(message) from exc
    if not group.attrs.get("complete"):
        done = group["done"][:]
        raise CommandError(
            f"{os.fspath(path)!r} is incomplete ({int(done.sum())} of {len(done)} chunks "
            "embedded); run the `skhisto embed` that made it again to finish it"
        )
    names = ("labels", "paths", "groups") if "groups" in group else ("labels", "paths")
    strings = [np.array(group[name][:].tolist(), dtype=str) for name in names]
    embeddings = group["embeddings"]
    same = all(len(values) == embeddings.shape[0] for values in strings)
    rows = _rows(strings[0], embeddings.shape[0], draw) if same else None
    if rows is None:
        X = embeddings[:]  # one in-memory copy, float32 as stored
    else:  # the drawn rows only (sorted: chunks are read in order), not the whole store
        X = embeddings.get_orthogonal_selection((rows, slice(None)))
        strings = [values[rows] for values in strings]
    return X, *strings, *([None] if len(strings) == 2 else [])


def _read_parquet(path):
    import numpy as np

    try:
        import pandas as pd

        table = pd.read_parquet(path)
    except ImportError as exc:
        raise CommandError(f"reading {os.fspath(path)!r} needs pandas and pyarrow: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read embeddings {os.fspath(path)!r}: {exc}") from exc
    if not {"path", "label"} <= set(table.columns):
        raise CommandError(f"{os.fspath(path)!r} has no 'path' and 'label' columns")
    stored = ["path", "label", "group", *(c for c in PATCH_COLUMNS if c in table.columns)]
    X = table.drop(columns=stored, errors="ignore").to_numpy(dtype=np.float32)
    labels, paths = table["label"].to_numpy(dtype=str), table["path"].to_numpy(dtype=str)
    groups = table["group"].to_numpy(dtype=str) if "group" in table.columns else None
    return X, labels, paths, _patch_columns(table), groups
