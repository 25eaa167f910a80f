"""``skhisto noise-curve``: balanced accuracy per training label-noise rate and head.

The images are embedded once (through the embedding cache), then
:func:`~skhisto.model_selection.noise_robustness_curve` scores each head on
stratified folds; noise is injected into the training folds only, so every score
is on clean test labels.
"""

from .._backbone_options import BackboneOptions, add_backbone_arguments
from .._errors import CommandError
from .._labeled import embed_labeled, labeled_input
from .._options import (
    RegisteredNames,
    add_choices,
    add_input_argument,
    add_json_argument,
    add_out_dir_argument,
    add_seed_argument,
    int_at_least,
    noise_model_names,
    noise_rate,
    positive_int,
)
from .._outputs import announce, check_outputs, show_results

NAME = "noise-curve"
HELP = "the label-noise experiment: balanced accuracy per noise rate and head"
DESCRIPTION = (
    "Embed labeled images once, train each head on labels corrupted at each noise rate and "
    "score it on clean test labels (stratified K-fold noise_robustness_curve)."
)
EPILOG = """\
examples:
  skhisto noise-curve ../shared/data/lc25000_lung --no-pretrained
  skhisto noise-curve ../shared/data/lc25000_lung --backbone uni --rates 0 0.1 0.3 0.5
  skhisto noise-curve emb.npz --heads linear --noise asymmetric --cv 3 --out-dir results

INPUT is labeled images (class folders, or a CSV with 'path' and 'label' columns, as
`skhisto embed` reads them) or a .npz/.parquet written by `skhisto embed`. Class folders are
subsampled to --per-class images per class (a seeded draw, as
load_image_folder(INPUT, max_per_class=N, random_state=SEED)); other inputs are used whole.

Each head's rows are, with SEED = --random-state, HEAD in MLPHead, LinearHead and NOISE the
--noise model (get_noise_model(NAME): UniformNoise, AsymmetricNoise, ...):
  noise_robustness_curve(HEAD(max_epochs=E, random_state=SEED), X, y, RATES,
                         noise=NOISE(random_state=SEED),
                         cv=StratifiedKFold(K, shuffle=True, random_state=SEED),
                         scoring="balanced_accuracy")
on the embeddings X of FoundationEmbedder(NAME, ..., random_state=SEED) (the same as
GridSearchCV over {"noise__rate": RATES, "estimator": HEADS} with those folds).

output: the table on stdout (with --json, one JSON object instead), and in --out-dir
  noise_curve.csv  one row per rate and head: rate, head, noise, balanced_accuracy_mean,
                   balanced_accuracy_std (over folds), fold_1 ... fold_K, n_images,
                   backbone, weights
  noise_curve.png  the plot of skhisto.plotting.plot_noise_robustness
Embeddings are cached (see --no-cache): a second run skips embedding.
"""

#: --heads names -> skhisto head class names, in table order.
HEADS = {"mlp": "MLPHead", "linear": "LinearHead"}
CSV_NAME, PNG_NAME = "noise_curve.csv", "noise_curve.png"
#: argparse type of --cv: stratified folds.
FOLDS = int_at_least(2, "at least 2 folds")


def add_arguments(parser):
    add_input_argument(
        parser, "INPUT", "labeled images (folder or CSV) or embeddings (.npz/.parquet)"
    )
    parser.add_argument(
        "--rates",
        nargs="+",
        type=noise_rate,
        default=[0.0, 0.2, 0.4, 0.6],
        metavar="R",
        help="training label-noise rates in [0, 1) (default: 0 0.2 0.4 0.6)",
    )
    heads = "heads (mlp: MLPHead 512-128-64, linear: LinearHead)"
    add_choices(parser, "--heads", tuple(HEADS), heads)
    parser.add_argument(
        "--noise",
        choices=RegisteredNames(noise_model_names),
        default="uniform",
        metavar="NAME",
        help="a noise model of skhisto.noise.list_noise_models(): %(choices)s. uniform: a "
        "flipped label goes to any other class; asymmetric: each class flips to the next in "
        "sorted order, so past 0.5 the partner is the majority label (default: uniform)",
    )
    parser.add_argument(
        "--cv", type=FOLDS, default=5, metavar="K", help="stratified folds (default: 5)"
    )
    parser.add_argument(
        "--per-class",
        type=positive_int,
        default=100,
        metavar="N",
        help="images drawn per class folder (default: 100)",
    )
    parser.add_argument(
        "--max-epochs",
        type=positive_int,
        default=50,
        metavar="E",
        help="the heads' max_epochs, with early stopping (default: 50)",
    )
    add_json_argument(parser)
    add_seed_argument(parser, "the draw, the folds, the noise, the heads and a random init")
    add_out_dir_argument(parser, "noise-curve")
    add_backbone_arguments(parser, default="resnet18")


def run(args):
    from ...noise import check_noise_rates

    backbone = BackboneOptions.from_args(args)
    out_dir = check_outputs(NAME, args.out_dir)
    try:
        rates = check_noise_rates(args.rates).tolist()
    except ValueError as exc:
        raise CommandError(f"--rates: {exc}") from exc
    heads = list(dict.fromkeys(args.heads or HEADS))
    data = labeled_input(
        args.input,
        min_per_class=args.cv,
        what=f"--cv {args.cv}",
        per_class=args.per_class,
        random_state=args.random_state,
    )
    X, source, short_source = embed_labeled(NAME, data, args.input, backbone)
    n_fits = len(rates) * len(heads) * args.cv
    counts = f"{len(rates)} rates x {len(heads)} head{'s' * (len(heads) > 1)} x {args.cv} folds"
    announce(NAME, f"{n_fits} fits: {counts}")
    curve = curve_per_head(
        X,
        data.labels,
        rates,
        heads,
        noise=args.noise,
        cv=args.cv,
        max_epochs=args.max_epochs,
        device=args.device,
        random_state=args.random_state,
    )
    from_file = data.embeddings is not None
    context = {
        "noise": args.noise,
        "n_images": len(X),
        "backbone": "" if from_file else args.backbone,
        "weights": f"embeddings read from {args.input}" if from_file else backbone.short_weights(),
    }
    title = (
        f"Balanced accuracy on clean test labels (mean and std over {args.cv} folds) of heads "
        f"trained with {args.noise} label noise; {len(X)} images ({data.kind}); {source}"
    )
    columns = ["rate", "head", "balanced_accuracy_mean", "balanced_accuracy_std"]
    folds = [f"fold_{k + 1}" for k in range(args.cv)]
    show_results(
        NAME,
        json_output=args.json,
        title=title,
        rows=result_rows(curve, context),
        columns=columns,
        csv_columns=[
            "rate",
            "head",
            "noise",
            *columns[2:],
            *folds,
            "n_images",
            "backbone",
            "weights",
        ],
        csv_path=out_dir / CSV_NAME,
        plot=lambda: _plot(curve, f"{len(X)} images, {short_source}"),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def curve_per_head(X, y, rates, heads, *, noise, cv, max_epochs, device, random_state):
    """The table of ``noise_robustness_curve`` for each head (see the --help epilog)."""
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold

    from ... import heads as head_classes
    from ...model_selection import noise_robustness_curve
    from ...noise import get_noise_model

    seed = random_state
    folds = StratifiedKFold(cv, shuffle=True, random_state=seed)
    tables = []
    for name in heads:
        head = getattr(head_classes, HEADS[name])
        tables.append(
            noise_robustness_curve(
                head(max_epochs=max_epochs, device=device, random_state=seed),
                X,
                y,
                rates,
                noise=get_noise_model(noise)(random_state=seed),
                cv=folds,
                scoring="balanced_accuracy",
                verbose=True,
            )
        )
    return pd.concat(tables, ignore_index=True)


def result_rows(curve, context):
    """One row per rate and head, ordered by rate then head, with the fold scores."""
    import numpy as np

    order = {name: i for i, name in enumerate(HEADS.values())}
    rows = []
    for (rate, head), part in curve.groupby(["rate", "estimator"], sort=False):
        scores = part.sort_values("fold")["score"].astype(float).tolist()
        row = {
            "rate": float(rate),
            "head": head,
            "balanced_accuracy_mean": float(np.mean(scores)),
            "balanced_accuracy_std": float(np.std(scores)),
            **context,
        }
        rows.append({**row, **{f"fold_{k + 1}": s for k, s in enumerate(scores)}})
    return sorted(rows, key=lambda row: (row["rate"], order[row["head"]]))


def _plot(curve, title_text):
    from ...plotting import plot_noise_robustness

    ax = plot_noise_robustness(curve)
    ax.set_title(title_text, fontsize="small", wrap=True)
    return ax
