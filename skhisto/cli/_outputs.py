"""What experiment commands write: a table on stdout, the same table as CSV, a PNG, and embeddings.

Every command that produces results writes them under ``--out-dir`` as
``<name>.csv`` (one row per measurement, machine-readable) and ``<name>.png``
(the plot), atomically, and prints the table on stdout.
"""

import csv
import io
import json
import os
from pathlib import Path

from ._backbone_options import announce
from ._errors import CommandError

EMBEDDING_FORMATS = (".npz", ".parquet", ".zarr")


def add_out_dir_argument(parser, default, what="the CSV table and PNG plot are"):
    parser.add_argument(
        "--out-dir",
        default=default,
        metavar="DIR",
        help=f"where {what} written (default: {default})",
    )


def check_out_dir(out_dir, option="--out-dir", *, target=None):
    """Create ``out_dir`` (given as ``option``) and prove it writable before any work starts.

    ``target``: the file ``option`` names, when ``out_dir`` is its folder (said in the error).
    """
    from ..utils import ensure_writable_dir
    from ._errors import note_created

    note_created(out_dir)
    try:
        return ensure_writable_dir(Path(out_dir), option)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else exc
        if Path(out_dir).exists() and not Path(out_dir).is_dir():
            reason = "it is a file, not a folder"
        where = f"{str(target)!r} (folder {str(out_dir)!r})" if target else repr(str(out_dir))
        raise CommandError(f"cannot write {option} {where}: {reason}") from exc


def check_out_file(out, kind):
    """Refuse an ``--out`` file (a ``kind`` file) that cannot be written, before any work."""
    if out.is_dir():
        raise CommandError(f"--out {str(out)!r} is a directory; name a {kind} file")
    check_out_dir(out.parent, "--out", target=out)


def format_table(rows, columns, headers=None):
    """``rows`` (dicts) as an aligned text table; floats with 3 decimals.

    ``headers`` name the columns (default: the keys in ``columns``).
    """

    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    header = list(columns if headers is None else headers)
    cells = [header, *([cell(row[key]) for key in columns] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def write_csv(path, rows, columns):
    """Write ``rows`` (dicts) as CSV with a header, atomically."""
    from ..utils import atomic_write

    with atomic_write(path, mode="w") as f:
        f.write(csv_text(rows, columns))
    return Path(path)


def csv_text(rows, columns):
    """``rows`` (dicts) as CSV text with a header, the ``columns`` in order."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: row[key] for key in columns} for row in rows)
    return text.getvalue()


def save_figure(ax, path):
    """Save the figure of ``ax`` as PNG, atomically, and close it."""
    from ..plotting._mpl import require_pyplot
    from ..utils import atomic_write

    plt = require_pyplot()
    figure = ax.get_figure()
    figure.tight_layout()
    with atomic_write(path) as f:
        figure.savefig(f, format="png", dpi=120)
    plt.close(figure)
    return Path(path)


def read_embeddings(source):
    """Embeddings, labels and paths from a file written by ``skhisto embed``.

    Returns
    -------
    X : ndarray of shape (n, d), float32
    labels : ndarray of str, or None when the file has no labels
    paths : ndarray of str
    """
    import numpy as np

    path = Path(source)
    suffix = path.suffix.lower()
    if not (path.is_dir() if suffix == ".zarr" else path.is_file()):
        raise CommandError(f"embeddings file {source!r} does not exist")
    if suffix == ".npz":
        X, labels, paths, patches = _read_npz(path)
    elif suffix == ".parquet":
        X, labels, paths, patches = _read_parquet(path)
    elif suffix == ".zarr":
        X, labels, paths = _read_zarr(path)
        patches = None
    else:
        raise CommandError(
            f"{source!r}: embeddings must be a .npz, .parquet or .zarr written by `skhisto embed`"
        )
    if patches is not None:  # patches of slides: each named by its slide and its corner
        paths = np.array([f"{s}@{x},{y}" for s, x, y in zip(*patches[:3], strict=True)])
    if X.ndim != 2 or len(X) == 0 or len(labels) != len(X):
        raise CommandError(
            f"{source!r}: expected a 2-D 'embeddings' array with one label per row, got shape "
            f"{X.shape} and {len(labels)} labels"
        )
    if not np.isfinite(X).all():
        raise CommandError(f"{source!r}: the embeddings hold NaN or infinite values")
    labels = None if all(label == "" for label in labels) else labels
    return X, labels, paths


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
    patches = None if read is None else read(Path(source))[-1]
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
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read embeddings {os.fspath(path)!r}: {exc}") from exc
    return np.asarray(X, dtype=np.float32), labels.astype(str), paths.astype(str), patches


def _read_zarr(path):
    import numpy as np

    from ..embedding._dataset import LAYOUT

    try:
        import zarr

        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
    except ImportError as exc:
        raise CommandError(f"reading {os.fspath(path)!r} needs zarr: {exc}") from exc
    except Exception as exc:  # zarr raises several types for "not a group here"
        raise CommandError(f"cannot read embeddings {os.fspath(path)!r}: {exc}") from exc
    if attrs.get("layout") != LAYOUT:
        raise CommandError(f"{os.fspath(path)!r} is not a store written by `skhisto embed`")
    if not attrs.get("complete"):
        done = group["done"][:]
        raise CommandError(
            f"{os.fspath(path)!r} is incomplete ({int(done.sum())} of {len(done)} chunks "
            "embedded); run the `skhisto embed` that made it again to finish it"
        )
    X = group["embeddings"][:]  # one in-memory copy, float32 as stored
    strings = [np.array(group[name][:].tolist(), dtype=str) for name in ("labels", "paths")]
    return X, *strings


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
    stored = ["path", "label", *(c for c in PATCH_COLUMNS if c in table.columns)]
    X = table.drop(columns=stored).to_numpy(dtype=np.float32)
    labels, paths = table["label"].to_numpy(dtype=str), table["path"].to_numpy(dtype=str)
    return X, labels, paths, _patch_columns(table)


def show_results(
    args,
    *,
    title,
    rows,
    columns,
    csv_columns,
    csv_path,
    plot=None,
    png_path=None,
    table_rows=None,
    summary=None,
):
    """Print the table (or, with --json, ``rows`` as JSON) on stdout, then write ``rows`` as CSV
    and, when there is a ``plot``, its PNG. ``table_rows`` (default ``rows``) is what the text
    table shows; ``summary`` (a dict) goes into the JSON object between the title and the rows."""
    if args.json:
        ordered = [_in_order(row, csv_columns) for row in rows]
        print(json.dumps({"title": title, **(summary or {}), "rows": ordered}, indent=2))
    else:
        table = format_table(rows if table_rows is None else table_rows, columns)
        print(f"{title}\n\n{table}")
    write_csv(csv_path, rows, csv_columns)
    written = [csv_path]
    if plot is not None:
        written.append(save_figure(plot(), png_path))
    announce(args.command, f"wrote {' and '.join(map(str, written))}")


def _in_order(row, columns):
    """``row`` with its keys in the CSV's column order (any others after)."""
    return {**{key: row[key] for key in columns if key in row}, **row}


def add_json_argument(parser):
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
