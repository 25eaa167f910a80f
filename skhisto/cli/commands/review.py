"""``skhisto review``: a local web page where a reviewer decides on flagged or queried tiles.

The decisions are saved as they are made in a decisions file in ``--out-dir``
(:func:`skhisto.io.append_decision`), never beside the input, whose folder is often shared or
read-only; ``--export`` turns them into the corrected labels CSV every skhisto input reads.
"""

import os
from pathlib import Path

from .._errors import CommandError
from .._inputs import draw_rows, read_csv_rows, read_input
from .._options import (
    add_input_argument,
    add_max_images_argument,
    add_per_class_argument,
    add_seed_argument,
    non_negative_int,
    positive_int,
)

NAME = "review"
HELP = "review flagged or queried tiles in a local web page; export the corrected labels"
DESCRIPTION = (
    "Serve a local web page showing the items of INPUT one at a time, most suspect or most "
    "informative first, with their label, the suggested label and score and the nearest "
    "neighbours of each class; each decision (keep, relabel, unusable, skip, undo) is saved at "
    "once in a decisions file in --out-dir. --export writes the corrected labels from it."
)
EPILOG = """\
examples:
  skhisto review results/label-issues/label_issues.csv --embeddings emb.npz
  skhisto review queries.csv --no-browser --port 8765
  skhisto review ../shared/data/lc25000_lung --per-class 20 --no-browser
  skhisto review results/label-issues/label_issues.csv --export --out-dir review

INPUT is a `skhisto label-issues` result (path, label, label_quality, issue, suggested_label:
shown from the lowest label quality), an active-learning query batch (path, label, score:
from the highest score; empty labels are unlabeled queries) or any CSV with a 'path' and an
optional 'label' column (file order), or an ImageFolder. Relative paths are read from the
CSV's folder; <slide>@<x>,<y> patches are read from their slides through --embeddings.
--per-class N and --max-images M review a seeded draw (--random-state) of INPUT's items: N of
each class folder or label (empty labels are no class), then M of those, in INPUT's order;
the decisions file belongs to that draw (another draw is refused against it).

The page listens on 127.0.0.1 (this machine only; --host changes it, warned) on a free port
(--port N for N) and needs the random token in the address printed at start. Keys: k or
Enter keep, 1-9 relabel to the i-th class, u unusable, s skip, z or Backspace undo, left and
right arrows move, g the summary. Reopening resumes at the first undecided item.

In Python, the page is
  app = skhisto.review.make_app(skhisto.review.order_items(table), "INPUT.decisions.csv")
  skhisto.review.serve(app, port=0)
files, in --out-dir (default: the folder of --decisions FILE, else review/ here; never beside
INPUT, whose folder may be shared or read-only), <stem> being INPUT's file or folder name:
  <stem>.decisions.csv  (--decisions FILE) every decision in order: a first line
                        "# skhisto review decisions v1; input=<sha256 of the input's paths and
                        labels>", then path,label,decision,new_label,reviewed_at; an item's last
                        row is its decision (keep, relabel, unusable, skip, pending = undone)
  <stem>.reviewed.csv   with --export: path,label,decision, as
                        skhisto.io.export_labels(items, skhisto.io.read_decisions(FILE)):
                        relabelled items take their new label, unusable ones are dropped, the
                        rest keep theirs; relative paths are written relative to --out-dir,
                        so every skhisto CSV input reads it as it is
"""


def add_arguments(parser):
    add_input_argument(
        parser,
        "INPUT",
        "a label-issues result, an active-learning query batch, a CSV with a path column, or "
        "an image folder",
    )
    parser.add_argument(
        "--decisions",
        metavar="FILE",
        help="the decisions file (default: <INPUT stem>.decisions.csv in --out-dir)",
    )
    parser.add_argument(
        "--out-dir",
        metavar="DIR",
        help="where the decisions file and the --export go (default: the folder of "
        "--decisions FILE, else review/ in the current folder)",
    )
    parser.add_argument(
        "--embeddings",
        metavar="FILE",
        help="embeddings written by `skhisto embed` (.npz/.parquet): shows each item's nearest "
        "neighbours of every class, and reads slide patches (default: no neighbours)",
    )
    parser.add_argument(
        "--neighbors",
        type=positive_int,
        default=3,
        metavar="N",
        help="neighbours shown per class (default: 3)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; another is warned)",
    )
    parser.add_argument(
        "--port",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="port (default: 0, a free one)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="print the address only; open no browser"
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="write <stem>.reviewed.csv (the corrected labels) in --out-dir from the decisions; "
        "serve nothing",
    )
    add_per_class_argument(parser, classes="class folders, or the labels of INPUT's CSV")
    add_max_images_argument(parser, of="items of INPUT")
    add_seed_argument(parser, "the --per-class and --max-images draws")


def run(args):
    from ...io import export_labels, listing_digest, read_decisions

    source = Path(args.input)
    draw = {
        "per_class": args.per_class,
        "max_images": args.max_images,
        "random_state": args.random_state,
    }
    items = read_items(source, **draw)
    digest = listing_digest(items["path"], items["label"])
    decisions, out_dir = _locations(args, source)
    draw_words = _draw_words(args)
    if decisions.exists():
        try:
            read_decisions(decisions, input_digest=digest)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            hint = " (or the --per-class, --max-images and --random-state it was reviewed with)"
            raise CommandError(str(exc) + (hint if "another input" in str(exc) else "")) from None
    if args.export:
        out = _writable(out_dir / f"{_stem(source)}.reviewed.csv", "--out-dir")
        return _export(
            items, decisions, source, digest, export_labels, read_decisions, out, draw_words
        )
    regions = _patch_regions(args.embeddings)
    _refuse_missing(items, source, regions)
    _writable(decisions, "--decisions" if args.decisions else "--out-dir")
    return _serve(args, items, decisions, digest, regions)


def _stem(source):
    """INPUT's name without its suffix (a folder's whole name)."""
    source = Path(os.path.abspath(source))
    return source.name if source.is_dir() else source.stem


def _locations(args, source):
    """The decisions file and the output folder: --out-dir (default: the folder of --decisions,
    else review/ here, as the other commands' --out-dir), never INPUT's folder by default."""
    if args.out_dir is not None:
        out_dir = Path(args.out_dir)
    elif args.decisions:
        out_dir = Path(args.decisions).parent
    else:
        out_dir = Path("review")
    if args.decisions:
        return Path(args.decisions), out_dir
    return out_dir / f"{_stem(source)}.decisions.csv", out_dir


def _older_decisions(source):
    """The decisions file beside INPUT, where earlier versions saved it, if there is one."""
    source = Path(os.path.abspath(source))
    older = source.parent / f"{_stem(source)}.decisions.csv"
    return older if older.is_file() else None


def _writable(path, option):
    """``path``, once its folder is created and proved writable (and the file, if it exists):
    an unwritable one is one line naming it, before any review is lost."""
    from .._outputs import check_out_dir

    if path.is_dir():
        raise CommandError(f"cannot write {option} {str(path)!r}: it is a directory")
    check_out_dir(path.parent, option, target=path)
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"cannot write {option} {str(path)!r}: permission denied")
    return path


def read_items(source, *, per_class=None, max_images=None, random_state=None):
    """The items of INPUT: ``path`` as written (the decisions' key), ``label``, the CSV's other
    columns, and ``file``, the path to read; ``per_class`` of each class (class folder, or
    label of a CSV: empty labels are none) and then ``max_images`` of them, a seeded draw in
    INPUT's order."""
    import pandas as pd

    if source.is_dir():
        listing = read_input(
            str(source), max_per_class=per_class, random_state=random_state, max_images=max_images
        )
        base = Path(os.path.abspath(source)).parent
        labels = listing.labels or [""] * len(listing.paths)
        return pd.DataFrame(
            {
                "path": [os.path.relpath(p, base) for p in listing.paths],
                "label": labels,
                "file": [os.path.abspath(p) for p in listing.paths],
            }
        )
    if not source.exists():
        raise CommandError(f"INPUT {str(source)!r} does not exist")
    if source.suffix.lower() != ".csv":
        raise CommandError(f"INPUT {str(source)!r} is not a .csv; pass a CSV with a path column")
    columns, rows = read_csv_rows(source)
    if "path" not in columns:
        raise CommandError(
            f"CSV {str(source)!r} has no 'path' column (columns: {columns}); name the image "
            "column 'path' and the optional class column 'label'"
        )
    if not rows:
        raise CommandError(f"CSV {str(source)!r} lists no images")
    table = pd.DataFrame(rows, columns=columns).fillna("")
    table["path"] = table["path"].astype(str).str.strip()
    if "label" not in table:
        table["label"] = ""
    table["label"] = table["label"].astype(str).str.strip()
    if (table["path"] == "").any():
        line = int((table["path"] == "").to_numpy().argmax()) + 2
        raise CommandError(f"CSV {str(source)!r} line {line} has an empty path")
    repeated = table["path"].duplicated()
    if repeated.any():
        first = table["path"][repeated].iloc[0]
        raise CommandError(f"CSV {str(source)!r} lists {first!r} twice; list each item once")
    folder = Path(os.path.abspath(source)).parent
    table["file"] = [p if os.path.isabs(p) else str(folder / p) for p in table["path"]]
    labels = table["label"].to_numpy(dtype=str)
    rows = draw_rows(
        labels if (labels != "").any() else None,
        len(table),
        per_class=per_class,
        max_images=max_images,
        random_state=random_state,
    )
    return table.iloc[rows].reset_index(drop=True)


def _refuse_missing(items, source, regions):
    missing = [
        (line, path)
        for line, (path, file) in enumerate(zip(items["path"], items["file"], strict=True), 2)
        if not os.path.exists(file) and path not in (regions or {})
    ]
    if missing:
        line, first = missing[0]
        where = f" (line {line})" if source.is_file() else ""
        patches = "" if regions else "; slide patches need --embeddings with their patch table"
        raise CommandError(
            f"{len(missing)} of the {len(items)} images listed in {str(source)!r} do not exist, "
            f"e.g. {first!r}{where}; relative paths are read from the CSV's folder{patches}"
        )


def _patch_regions(embeddings):
    if embeddings is None:
        return None
    from .._embeddings import read_patch_regions

    if not os.path.exists(embeddings):
        raise CommandError(f"--embeddings {embeddings!r} does not exist")
    return read_patch_regions(embeddings)


def _neighbors(embeddings, items, count):
    """Each item's nearest neighbours of every class in the embeddings file, and their reader."""
    import numpy as np

    from ...io import read_image
    from ...review import class_neighbors
    from .._embeddings import read_embeddings

    X, labels, paths = read_embeddings(embeddings)
    if labels is None:
        raise CommandError(f"--embeddings {embeddings!r} has no labels: no neighbours per class")
    paths = [str(p) for p in paths]
    rows = {os.path.realpath(p): i for i, p in enumerate(paths)} | {
        p: i for i, p in enumerate(paths)
    }
    same = np.array(
        [
            rows.get(p, rows.get(os.path.realpath(f), -1))
            for p, f in zip(items["path"], items["file"], strict=True)
        ]
    )
    found = [{} for _ in range(len(items))]
    known = np.flatnonzero(same >= 0)
    if len(known):
        near = class_neighbors(X[same[known]], X, labels, n_neighbors=count, same=same[known])
        for i, entry in zip(known, near, strict=True):
            found[i] = entry
    regions = _patch_regions(embeddings) or {}

    def read_neighbor(row):
        if paths[row] in regions:
            table, index = regions[paths[row]]
            return table.read(index)
        return read_image(paths[row])

    return found, read_neighbor, len(known)


def _serve(args, items, decisions, digest, regions):
    from ...io import read_image
    from ...review import make_app, order_items, serve
    from .._outputs import announce

    ordered = order_items(items)
    neighbors = read_neighbor = None
    if args.embeddings:
        found, read_neighbor, known = _neighbors(args.embeddings, ordered, args.neighbors)
        neighbors = found
        announce(NAME, f"neighbours from {args.embeddings!r} for {known} of {len(items)} items")
    paths, files = ordered["path"].tolist(), ordered["file"].tolist()

    def read(position):
        if regions and paths[position] in regions:
            table, index = regions[paths[position]]
            return table.read(index)
        return read_image(files[position])

    try:
        app = make_app(
            ordered,
            decisions,
            read=read,
            neighbors=neighbors,
            read_neighbor=read_neighbor,
            input_digest=digest,
            title=f"skhisto review: {Path(args.input).name}",
        )
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    announce(NAME, f"{len(items)} items; decisions saved in {str(decisions)!r}")
    older = None if args.decisions else _older_decisions(Path(args.input))
    if older and not decisions.exists():
        announce(
            NAME,
            f"an earlier review's decisions lie beside INPUT; --decisions {str(older)!r} "
            "goes on with them",
        )
    try:
        serve(app, host=args.host, port=args.port, open_browser=not args.no_browser)
    except OSError as exc:
        raise CommandError(exc.strerror or str(exc)) from None
    return 0


def _draw_words(args):
    """The --per-class, --max-images and --random-state words of a draw, as typed, and
    --out-dir."""
    words = []
    if args.per_class is not None:
        words += ["--per-class", str(args.per_class)]
    if args.max_images is not None:
        words += ["--max-images", str(args.max_images)]
    if words and args.random_state:
        words += ["--random-state", str(args.random_state)]
    if args.out_dir is not None:  # the review to run first writes where the export reads
        words += ["--out-dir", str(args.out_dir)]
    return words


def _export(items, decisions, source, digest, export_labels, read_decisions, out, draw_words=()):
    from ...utils import atomic_write

    if not decisions.exists():
        command = " ".join(["skhisto review", str(source), *draw_words])
        older = _older_decisions(source)
        raise CommandError(
            f"no decisions file {str(decisions)!r} yet: review first ({command}), or pass "
            + (
                f"--decisions {str(older)!r} (where earlier versions saved them)"
                if older
                else "--decisions FILE"
            )
        )
    # the export lies in --out-dir, not INPUT's folder: its relative paths are made relative to
    # it, so that every skhisto input reads the images back from there
    table = export_labels(items[["path", "label"]], read_decisions(decisions, input_digest=digest))
    table["path"] = _relative_to(table["path"], items, out.parent)
    with atomic_write(out, "w") as f:
        table.to_csv(f, index=False, lineterminator="\n")
    counts = table["decision"].value_counts()
    print(
        f"wrote {out}: {len(table)} of {len(items)} items ({counts.get('relabel', 0)} relabelled, "
        f"{len(items) - len(table)} unusable dropped, {counts.get('pending', 0)} undecided)"
    )
    return 0


def _relative_to(paths, items, folder):
    """``paths`` (INPUT's, as written) as read from ``folder``: a relative one becomes relative
    to it; an absolute one stays."""
    files = dict(zip(items["path"], items["file"], strict=True))
    folder = os.path.abspath(folder)
    return [
        p if os.path.isabs(p) else os.path.relpath(os.path.abspath(files[p]), folder) for p in paths
    ]
