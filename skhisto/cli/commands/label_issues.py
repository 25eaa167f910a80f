"""``skhisto label-issues``: which labels of a labeled set are likely wrong, and how noisy it is.

The images are embedded once (through the embedding cache), then one detection
run of :mod:`skhisto.cleaning` gives every label's quality score, the flags and
the estimated noise: the CSV lists every sample, most suspect first.
"""

from .._backbone_options import BackboneOptions, add_backbone_arguments
from .._errors import CommandError
from .._gallery import check_gallery_images, draw_gallery
from .._groups import add_groups_argument
from .._labeled import embed_labeled, labeled_input
from .._options import (
    add_input_argument,
    add_json_argument,
    add_max_images_argument,
    add_out_dir_argument,
    add_per_class_argument,
    add_seed_argument,
    int_at_least,
    non_negative_int,
    positive_int_or,
)
from .._outputs import announce, check_out_dir, check_outputs, show_results
from .._tracking_options import add_tracking_arguments, log_metrics, run_tracker

NAME = "label-issues"
HELP = "which labels are likely wrong: every label's quality, the flags, the noise rate"
DESCRIPTION = (
    "Embed labeled images once and check every label against the embeddings (k-NN votes of "
    "its neighbors, confident learning on out-of-fold probabilities, or both): flag the likely "
    "wrong ones, suggest a class for each and estimate the share of wrong labels."
)
EPILOG = """\
examples:
  skhisto label-issues ../shared/data/lc25000_lung --no-pretrained --per-class 200
  skhisto label-issues emb.npz --method ensemble --cv 3 --show 50 --gallery 20
  skhisto label-issues tiles.csv --backbone uni --json > issues.json

INPUT is labeled images (class folders, or a CSV with 'path' and 'label' columns, as
`skhisto embed` reads them) or a .npz/.parquet/.zarr written by `skhisto embed`. Every image
is checked unless --per-class N draws N per class folder or per label of a CSV or an embeddings
file (a seeded draw, as load_image_folder(INPUT, max_per_class=N, random_state=SEED)) and
--max-images M then M of those (in INPUT's order).

With SEED = --random-state, the run is one fit of
  check = LabelIssueFilter(method=METHOD, action="relabel", cv=K, n_neighbors=N,
                           search=SEARCH, random_state=SEED)
  suggested = check.fit_resample(X, y, groups=GROUPS)[1]
on the embeddings X of FoundationEmbedder(NAME, ..., random_state=SEED), the labels y and
the groups (see --groups; None without), whose attributes equal
  issues, label_quality = find_label_issues(X, y, method=METHOD, cv=K, n_neighbors=N,
                                            groups=GROUPS, random_state=SEED,
                                            return_scores=True)
  noise_rate, transition = estimate_noise(X, y, method=METHOD, cv=K, n_neighbors=N,
                                          groups=GROUPS, random_state=SEED)
With groups, a sample's neighbors are drawn from other groups only and confident learning's
folds keep each group whole, so a slide's near-copies cannot vouch for its wrong label.
(check.label_issues_, check.label_quality_, check.noise_rate_, check.transition_matrix_).

output: a title line with the estimated noise rate and how many labels are flagged, then the
--show most suspect flagged samples (with --json, one JSON object instead: title, n_samples,
n_flagged, noise_rate, classes, transition and every row), and in --out-dir
  label_issues.csv  one row per sample, columns path, label, label_quality, issue,
                    suggested_label; the flagged first, each group by label_quality from
                    the lowest
    path             the image, absolute when it names a file here (as `skhisto review`
                     reads it from any folder); the row index when an embeddings file lists
                     no paths; <slide>@<x>,<y> for a patch of a slide, its level-0 corner
    label_quality    the probability the method gives the label; lower is more suspect
    issue            True: the label is likely wrong
    suggested_label  the most likely other class when flagged, else the label itself (so
                     the column is the relabeled set)
  label_issues.png  with --gallery N: the N most suspect flagged tiles, each titled
                    "label -> suggested_label" and its label_quality
The transition matrix ("transition" in the JSON) is the estimated P(given label = column |
true class = row), rows and columns in "classes" order.
Embeddings are cached (see --no-cache): a second run skips embedding.
"""

METHODS = ("knn", "confident_learning", "ensemble")
CSV_NAME, PNG_NAME = "label_issues.csv", "label_issues.png"
CSV_COLUMNS = ["path", "label", "label_quality", "issue", "suggested_label"]


def add_arguments(parser):
    add_input_argument(
        parser, "INPUT", "labeled images (folder or CSV) or embeddings (.npz/.parquet)"
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="knn",
        help="knn: votes of each sample's nearest neighbors, trains nothing; "
        "confident_learning: out-of-fold LinearHead probabilities; ensemble: both averaged "
        "(default: knn)",
    )
    parser.add_argument(
        "--n-neighbors",
        type=positive_int_or("auto"),
        default="auto",
        metavar="N",
        help="neighbors per vote, or auto: sqrt(n) clipped to [5, 50] (default: auto)",
    )
    parser.add_argument(
        "--search",
        choices=("auto", "exact", "faiss"),
        default="auto",
        help="the neighbor search: exact, the approximate FAISS index, or auto: exact up to "
        "50,000 squared pairs, the index above (faster; where classes overlap it misses "
        "neighbors that change votes) (default: auto)",
    )
    parser.add_argument(
        "--cv",
        type=int_at_least(2, "at least 2 folds"),
        default=5,
        metavar="K",
        help="stratified folds of confident learning (default: 5)",
    )
    add_per_class_argument(parser)
    add_max_images_argument(parser)
    gallery = (
        f"draw the N most suspect flagged tiles, each with its label and the suggested class, "
        f"in {PNG_NAME} (needs matplotlib)"
    )
    for flag, default, text in (
        ("--show", 20, "flagged samples shown on stdout; the CSV lists all"),
        ("--gallery", 0, gallery),
    ):
        help_text = f"{text} (default: {default})"
        parser.add_argument(
            flag, type=non_negative_int, default=default, metavar="N", help=help_text
        )
    add_groups_argument(parser)
    add_json_argument(parser)
    add_seed_argument(parser, "the draw, the folds, the head and a random init")
    add_out_dir_argument(parser, "label-issues", f"{CSV_NAME} (and {PNG_NAME}) are")
    add_backbone_arguments(parser, default="resnet18")
    add_tracking_arguments(parser, "the counts, the noise rate and the transition matrix")


def run(args):
    backbone = BackboneOptions.from_args(args)
    out_dir = check_outputs(NAME, args.out_dir) if args.gallery else check_out_dir(args.out_dir)
    run_tracker(NAME, args)  # --log-to: opened before any work
    options = {"method": args.method, "cv": args.cv, "n_neighbors": args.n_neighbors}
    data = _read(
        args.input,
        per_class=args.per_class,
        max_images=args.max_images,
        random_state=args.random_state,
        groups=args.groups,
        **options,
    )
    names = _names(data)
    read = check_gallery_images(names, args.input) if args.gallery else None
    X, source, _ = embed_labeled(NAME, data, args.input, backbone)
    run_tracker(NAME, args, provenance={"embeddings": source})
    method = _method_words(len(X), data.groups.values, **options)
    announce(NAME, f"checking {len(X)} labels with {method}{data.groups.clause()}")
    check, suggested = _check_labels(
        X,
        data.labels,
        data.groups.values,
        **options,
        random_state=args.random_state,
        device=args.device,
        search=args.search,
    )
    rows = issue_rows(check, data.labels, suggested, names)
    flagged = int(check.label_issues_.sum())
    shown = rows[: min(args.show, flagged)]
    title = (
        f"{flagged} of {len(rows)} labels flagged, estimated noise rate "
        f"{check.noise_rate_:.3f}, by {method} on {len(rows)} images ({data.kind}"
        f"{data.groups.clause()}); {source}"
        + (f"; the {len(shown)} most suspect:" if shown else "")
    )
    summary = {
        "n_samples": len(rows),
        "n_flagged": flagged,
        "noise_rate": check.noise_rate_,
        "classes": check.classes_.tolist(),
        "transition": check.transition_matrix_.tolist(),
    }
    log_metrics(_metrics(summary))
    show_results(
        NAME,
        json_output=args.json,
        title=title,
        rows=rows,
        columns=["path", "label", "suggested_label", "label_quality"],
        table_rows=shown,
        csv_columns=CSV_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        summary=summary,
        empty=None if flagged else "no label flagged",  # --show 0: the title says it all
        **_gallery(rows[: min(args.gallery, flagged)], out_dir, read),
    )
    return 0


def _metrics(summary):
    """The tracked scalars: the counts, the noise rate and ``transition/<given>/<true>``."""
    metrics = {key: summary[key] for key in ("n_samples", "n_flagged", "noise_rate")}
    classes = summary["classes"]
    # the matrix's rows are the true classes: row[j] is P(given = classes[j] | true)
    for true, row in zip(classes, summary["transition"], strict=True):
        for given, p in zip(classes, row, strict=True):
            metrics[f"transition/{given}/{true}"] = p
    return metrics


def _gallery(rows, out_dir, read):
    """show_results' plot of the --gallery tiles (none when nothing is flagged or asked)."""
    if not rows:
        return {}

    def caption(row):
        return f"{row['label']} -> {row['suggested_label']}\nquality {row['label_quality']:.2f}"

    return {"plot": lambda: draw_gallery(rows, caption, read), "png_path": out_dir / PNG_NAME}


def _read(source, *, method, cv, n_neighbors, per_class, random_state, groups, max_images=None):
    """The labeled input, refused in one line before any embedding when it cannot be checked."""
    from ...cleaning import resolve_n_neighbors

    uses_folds = method != "knn"
    what = f"--method {method} with --cv {cv}" if uses_folds else "--method knn"
    data = labeled_input(
        source,
        min_per_class=cv if uses_folds else 1,
        what=what,
        per_class=per_class,
        random_state=random_state,
        groups=groups,
        max_images=max_images,
    )
    if method != "confident_learning":
        try:  # the library's own check, before any embedding
            resolve_n_neighbors(n_neighbors, len(data.labels), data.groups.values)
        except ValueError as exc:
            raise CommandError(f"--n-neighbors {n_neighbors}: {exc}") from None
    return data


def _method_words(n_samples, groups, *, method, cv, n_neighbors):
    from ...cleaning import resolve_n_neighbors

    words = []
    if method != "confident_learning":
        words.append(f"k={resolve_n_neighbors(n_neighbors, n_samples, groups)}")
    if method != "knn":
        words.append(f"{cv}-fold LinearHead")
    return f"{method} ({', '.join(words)})"


def _check_labels(X, y, groups, **options):
    """One fit of LabelIssueFilter (the flags, qualities and noise) and the relabeled ``y``;
    with ``groups``, a sample's neighbors and folds come from other groups only."""
    from ...cleaning import LabelIssueFilter

    check = LabelIssueFilter(action="relabel", **options)
    try:
        return check, check.fit_resample(X, y, groups=groups)[1]
    except ValueError as exc:  # too few samples outside a group, too few groups for --cv
        raise CommandError(str(exc)) from exc


def _names(data):
    """Each sample's name in the CSV: its path, or its row when the input lists none. A
    relative path that names a file here is made absolute, so that `skhisto review` (which
    reads relative paths from the CSV's folder) finds it from --out-dir."""
    import os

    paths = data.paths or []
    if len(paths) != len(data.labels) or not all(paths):
        return list(range(len(data.labels)))
    return [os.path.abspath(p) if not os.path.isabs(p) and os.path.exists(p) else p for p in paths]


def issue_rows(check, labels, suggested, names):
    """One row per sample, the flagged first, each group from the lowest label quality."""
    import numpy as np

    quality, issues = check.label_quality_, check.label_issues_
    order = np.lexsort((quality, ~issues))
    return [
        {
            "path": names[i],
            "label": labels[i].item(),
            "label_quality": float(quality[i]),
            "issue": bool(issues[i]),
            "suggested_label": suggested[i].item(),
        }
        for i in order
    ]
