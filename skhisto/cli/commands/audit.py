"""``skhisto audit``: near-duplicates, leakage, outliers, class balance and label issues at once.

The images are embedded once (through the embedding cache), or an embeddings file
is read, then one :func:`skhisto.cleaning.audit_dataset` call checks them: the CSV
lists every flagged sample once per issue type, the summary says how many of each.
"""

from .._backbone_options import BackboneOptions, add_backbone_arguments
from .._errors import CommandError
from .._gallery import check_gallery_images, draw_sections
from .._groups import add_groups_argument, pick_groups
from .._labeled import embed_labeled, read_any
from .._options import (
    add_input_argument,
    add_json_argument,
    add_max_images_argument,
    add_out_dir_argument,
    add_per_class_argument,
    add_seed_argument,
    non_negative_int,
    positive_float,
    positive_int,
)
from .._outputs import announce, check_out_dir, check_outputs, show_results
from .._tracking_options import add_tracking_arguments, log_metrics, run_tracker

NAME = "audit"
HELP = "a data audit: near-duplicates, leakage, outliers, class balance, label issues"
DESCRIPTION = (
    "Embed images once (or read embeddings) and audit them: near-duplicate tiles, copies shared "
    "by two patients or slides (leakage), outliers (background, blur, pen marks, tiles unlike "
    "their class), class balance per group, and likely-wrong labels. Unlabeled input is "
    "audited too; the label checks are then skipped, and the summary says so."
)
EPILOG = """\
examples:
  skhisto audit ../shared/data/lc25000_lung --no-pretrained --per-class 100
  skhisto audit emb.npz --groups patient --gallery 5
  skhisto audit tiles.csv --backbone uni --json > audit.json

INPUT is images (class folders, a flat folder or a CSV with a 'path' column and optional
'label' and 'group'/'patient'/'slide' columns, as `skhisto embed` reads them) or a
.npz/.parquet/.zarr written by `skhisto embed`. Groups come from INPUT (see --groups).

With SEED = --random-state, the run is
  audit = audit_dataset(X, y, groups=groups, n_neighbors=K, duplicate_threshold=D,
                        outlier_iqr=IQR, label_method=METHOD, random_state=SEED)
on the embeddings X of FoundationEmbedder(NAME, ..., random_state=SEED), the labels y
(None when INPUT has none) and the groups; its rows are audit.flagged().

output: a title line, then one row per issue type (audit.get_issue_summary(): how many
samples, their share, and the threshold used or why the check was skipped); with --json
one JSON object instead (title, n_samples, summary, balance_issues and every row); and in
--out-dir
  audit.csv  one row per flagged sample and issue type, columns sample, path, issue_type,
             score, partner, partner_path, detail, label, group; by issue type, the most
             severe first
    score        a cosine distance (to the nearest copy, the leaked copy, or the mean to the
                 neighbors for outliers) or, for label_issue, the label quality
    partner      the row of the nearest copy (near_duplicate, leakage), else -1
  audit.png  --gallery N tiles of each issue type (needs matplotlib; drawn when INPUT
             lists readable images): copies side by side with their partner
Embeddings are cached (see --no-cache): a second run skips embedding.
"""

CSV_NAME, PNG_NAME = "audit.csv", "audit.png"
CSV_COLUMNS = [
    "sample",
    "path",
    "issue_type",
    "score",
    "partner",
    "partner_path",
    "detail",
    "label",
    "group",
]
METHODS = ("knn", "confident_learning", "ensemble")
PAIRED = ("near_duplicate", "leakage")


def add_arguments(parser):
    add_input_argument(
        parser, "INPUT", "images (folder or CSV, labeled or not) or embeddings (.npz/.parquet)"
    )
    parser.add_argument(
        "--duplicate-threshold",
        type=positive_float,
        default=0.05,
        metavar="D",
        help="largest cosine distance (standardized embeddings) of two near-duplicates "
        "(default: 0.05)",
    )
    parser.add_argument(
        "--n-neighbors",
        type=positive_int,
        default=10,
        metavar="K",
        help="neighbors searched for copies and averaged for outliers (default: 10)",
    )
    parser.add_argument(
        "--outlier-iqr",
        type=positive_float,
        default=1.5,
        metavar="IQR",
        help="an outlier's mean distance to its neighbors lies above Q3 + IQR interquartile "
        "ranges (default: 1.5)",
    )
    parser.add_argument(
        "--label-method",
        choices=METHODS,
        default="knn",
        help="find_label_issues' method for the label check (default: knn)",
    )
    add_per_class_argument(parser)
    add_max_images_argument(parser)
    parser.add_argument(
        "--gallery",
        type=non_negative_int,
        default=None,
        metavar="N",
        help=f"draw N tiles of each issue type in {PNG_NAME} (needs matplotlib; default: 4 "
        "when INPUT lists readable images, else none; 0: none)",
    )
    add_groups_argument(parser)
    add_json_argument(parser)
    add_seed_argument(parser, "the draw, the label check's folds and a random init")
    add_out_dir_argument(parser, "audit", f"{CSV_NAME} (and {PNG_NAME}) are")
    add_backbone_arguments(parser, default="resnet18")
    add_tracking_arguments(parser, "the number of samples each check flags")


def run(args):
    import numpy as np

    backbone = BackboneOptions.from_args(args)
    data = _read(
        args.input,
        per_class=args.per_class,
        random_state=args.random_state,
        max_images=args.max_images,
    )
    data.groups = pick_groups(
        args.groups, columns=data.columns, paths=data.paths, source=args.input
    )
    names = _names(data)
    gallery, read = _gallery_reader(args.gallery, names, args.input)
    out_dir = check_outputs(NAME, args.out_dir) if gallery else check_out_dir(args.out_dir)
    run_tracker(NAME, args)  # --log-to: opened before any work
    X, source, _ = embed_labeled(NAME, data, args.input, backbone)
    run_tracker(NAME, args, provenance={"embeddings": source})
    labels = None if data.labels is None else np.asarray(data.labels)
    groups = data.groups.values
    announce(
        NAME,
        f"auditing {len(X)} samples ({'labeled' if labels is not None else 'unlabeled'}, "
        f"{data.groups.describe()})",
    )
    audit = _audit(X, labels, groups, args)
    rows = _rows(audit.flagged(), names)
    summary = _summary_rows(audit)
    n_flagged = len({row["sample"] for row in rows})
    # a check that did not run (no labels) has no count: log_metrics skips None
    log_metrics(
        {
            "n_samples": len(X),
            "n_flagged": n_flagged,
            **{f"flagged/{row['issue_type']}": row["n_issues"] for row in summary},
        }
    )
    title = (
        f"{n_flagged} of {len(X)} samples flagged ({data.kind}; {data.groups.describe()}); {source}"
    )
    show_results(
        NAME,
        json_output=args.json,
        title=title,
        rows=rows,
        columns=["issue_type", "n_issues", "share", "meaning"],
        table_rows=summary,
        csv_columns=CSV_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        summary={
            "n_samples": len(X),
            "n_flagged": n_flagged,
            "summary": summary,
            "balance_issues": audit.balance_issues.to_dict(orient="records"),
        },
        **_gallery(rows, gallery, out_dir, read),
    )
    return 0


def _audit(X, labels, groups, args):
    from ...cleaning import audit_dataset

    try:
        return audit_dataset(
            X,
            labels,
            groups=groups,
            n_neighbors=args.n_neighbors,
            duplicate_threshold=min(args.duplicate_threshold, 2.0),
            outlier_iqr=args.outlier_iqr,
            label_method=args.label_method,
            random_state=args.random_state,
            device=args.device,
        )
    except ValueError as exc:
        raise CommandError(f"INPUT {args.input!r}: {exc}") from None


def _read(source, *, per_class, random_state, max_images=None):
    """INPUT, labeled or not, with its columns (for --groups); nothing embedded yet."""
    data, columns = read_any(
        source, per_class=per_class, random_state=random_state, max_images=max_images
    )
    if data.labels is not None:
        empty = [i for i, label in enumerate(data.labels) if label == ""]
        if len(empty) == len(data.labels):
            data.labels = None
        elif empty:
            raise CommandError(
                f"INPUT {source!r}: {len(empty)} of {len(data.labels)} labels are empty, e.g. "
                f"row {empty[0]}; label every image, or none for an unlabeled audit"
            )
    if len(data.paths) < 3:
        raise CommandError(f"INPUT {source!r} has {len(data.paths)} images; an audit needs 3")
    data.columns = columns
    return data


def _names(data):
    """Each sample's name in the CSV: its path, or its row when the input lists none."""
    paths = data.paths or []
    n = len(data.labels) if data.labels is not None else len(paths)
    if data.embeddings is not None:
        n = len(data.embeddings)
    if len(paths) != n or not all(paths):
        return list(range(n))
    return list(paths)


def _gallery_reader(n, names, source):
    """How many tiles of each issue to draw, and how to read one (None, None: no gallery).

    An explicit ``--gallery N`` on an input without images is an error; the default
    draws 4 tiles per issue type when the images are there and matplotlib is installed.
    """
    import importlib.util
    import os

    if n == 0:
        return 0, None
    if n is not None:
        return n, check_gallery_images(names, source)
    has_images = all(isinstance(name, str) and os.path.isfile(name) for name in names)
    if not has_images or importlib.util.find_spec("matplotlib") is None:
        return 0, None
    return 4, check_gallery_images(names, source)


def _summary_rows(audit):
    """The summary table: each issue type, its count and share, and what it means."""
    from ...cleaning import DataAudit

    meanings = DataAudit.MEANINGS
    rows = []
    for row in audit.get_issue_summary().to_dict(orient="records"):
        checked = bool(row["checked"])
        meaning = meanings[row["issue_type"]] + ("" if checked else f" [{row['note']}]")
        if row["issue_type"] == "class_balance" and checked and len(audit.balance_issues):
            details = audit.balance_issues["detail"].tolist()
            meaning += ": " + "; ".join(details[:3]) + ("; ..." if len(details) > 3 else "")
        rows.append(
            {
                "issue_type": row["issue_type"],
                "n_issues": int(row["n_issues"]) if checked else None,
                "share": float(row["share"]) if checked else None,
                "checked": checked,
                "meaning": meaning,
                "note": row["note"],
            }
        )
    return rows


def _rows(flagged, names):
    """The CSV rows: audit.flagged() with each sample's and partner's name."""
    rows = []
    for record in flagged.to_dict(orient="records"):
        partner = int(record["partner"])
        rows.append(
            {
                "sample": int(record["sample"]),
                "path": names[int(record["sample"])],
                "issue_type": record["issue_type"],
                "score": float(record["score"]),
                "partner": partner,
                "partner_path": names[partner] if partner >= 0 else "",
                "detail": record["detail"],
                "label": _plain(record.get("label", "")),
                "group": _plain(record.get("group", "")),
            }
        )
    return rows


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _gallery(rows, n, out_dir, read):
    """show_results' plot: up to ``n`` tiles per issue type, copies beside their partner."""
    if not n or not rows:
        return {}
    own = {(row["issue_type"], row["sample"]): row for row in rows}
    sections = []
    for issue_type in dict.fromkeys(row["issue_type"] for row in rows):
        chosen, seen = [], set()
        for row in (r for r in rows if r["issue_type"] == issue_type):
            if len(chosen) >= n:
                break
            if row["sample"] in seen:
                continue
            chosen.append(row)
            seen.add(row["sample"])
            if issue_type in PAIRED and row["partner"] >= 0 and len(chosen) < n:
                mate = {**row, "path": row["partner_path"], "sample": row["partner"]}
                chosen.append(own.get((issue_type, row["partner"]), mate))
                seen.add(row["partner"])
        sections.append((issue_type, chosen))

    def caption(row):
        words = f"#{row['sample']}" + (f" {row['label']}" if row["label"] != "" else "")
        if row["group"] != "":
            words += f" [{row['group']}]"
        return f"{words}\n{row['detail'][:28]}"

    return {"plot": lambda: draw_sections(sections, caption, read), "png_path": out_dir / PNG_NAME}
