"""``skhisto noise-curve``: balanced accuracy per training label-noise rate and head.

The images are embedded once (through the embedding cache), then
``GridSearchCV(NoisyLabelClassifier(head, UniformNoise()))`` searches the noise
rates and heads with stratified folds; noise is injected into the training folds
only, so every score is on clean test labels.
"""

import argparse

from ._backbone_options import add_backbone_arguments, announce, short_weights
from ._errors import CommandError, positive_int
from ._labelled import (
    add_choices,
    add_labelled_input_argument,
    add_seed_argument,
    check_outputs,
    embed_labelled,
    labelled_input,
)
from ._report import add_json_argument, add_out_dir_argument, show_results

NAME = "noise-curve"
HELP = "the label-noise experiment: balanced accuracy per noise rate and head"
DESCRIPTION = (
    "Embed labelled images once, train each head on labels corrupted at each noise rate and "
    "score it on clean test labels (stratified K-fold GridSearchCV)."
)
EPILOG = """\
examples:
  skhisto noise-curve ../shared/data/lc25000_lung --no-pretrained
  skhisto noise-curve ../shared/data/lc25000_lung --backbone uni --rates 0 0.1 0.3 0.5
  skhisto noise-curve emb.npz --heads linear --noise asymmetric --cv 3 --out-dir results

INPUT is labelled images (class folders, or a CSV with 'path' and 'label' columns, as
`skhisto embed` reads them) or a .npz/.parquet written by `skhisto embed`. Class folders are
subsampled to --per-class images per class (a seeded draw, as
load_image_folder(INPUT, max_per_class=N, random_state=SEED)); other inputs are used whole.

The search is, with SEED = --random-state and HEAD in MLPHead, LinearHead:
  GridSearchCV(NoisyLabelClassifier(HEAD(max_epochs=E, random_state=SEED),
                                    UniformNoise(random_state=SEED)),
               {"noise__rate": RATES, "estimator": HEADS},
               cv=StratifiedKFold(K, shuffle=True, random_state=SEED),
               scoring="balanced_accuracy")
on the embeddings of FoundationEmbedder(NAME, ..., random_state=SEED).

output: the table on stdout (with --json, one JSON object instead), and in --out-dir
  noise_curve.csv  one row per rate and head: rate, head, noise, balanced_accuracy_mean,
                   balanced_accuracy_std (over folds), fold_1 ... fold_K, n_images,
                   backbone, weights
  noise_curve.png  the plot of skhisto.plotting.plot_noise_robustness
Embeddings are cached (see --no-cache): a second run skips embedding.
"""

HEADS = ("mlp", "linear")
NOISES = ("uniform", "asymmetric")
CSV_NAME, PNG_NAME = "noise_curve.csv", "noise_curve.png"


def noise_rate(text):
    """argparse type: a noise rate in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a noise rate must be a number in [0, 1), got {text!r}")
    return value


def at_least_two(text):
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {text!r}")
    return value


def add_arguments(parser):
    add_labelled_input_argument(parser)
    parser.add_argument(
        "--rates",
        nargs="+",
        type=noise_rate,
        default=[0.0, 0.2, 0.4, 0.6],
        metavar="R",
        help="training label-noise rates in [0, 1) (default: 0 0.2 0.4 0.6)",
    )
    add_choices(parser, "--heads", HEADS, "heads (mlp: MLPHead 512-128-64, linear: LinearHead)")
    parser.add_argument(
        "--noise",
        choices=NOISES,
        default="uniform",
        help="uniform: a flipped label goes to any other class; asymmetric: each class flips to "
        "the next in sorted order, so past 0.5 the partner is the majority label (default: "
        "uniform)",
    )
    parser.add_argument(
        "--cv", type=at_least_two, default=5, metavar="K", help="stratified folds (default: 5)"
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
    from ..model_selection._noise_curve import _checked_rates

    out_dir = check_outputs(args)
    try:
        rates = _checked_rates(args.rates).tolist()
    except ValueError as exc:
        raise CommandError(f"--rates: {exc}") from exc
    heads = list(dict.fromkeys(args.heads))
    data = labelled_input(args, min_per_class=args.cv, what=f"--cv {args.cv}")
    X, source, short_source = embed_labelled(args, data)
    search = build_search(args, rates, heads)
    n_fits = len(rates) * len(heads) * args.cv
    counts = f"{len(rates)} rates x {len(heads)} head{'s' * (len(heads) > 1)} x {args.cv} folds"
    announce(NAME, f"{n_fits} fits: {counts}")
    fit_with_progress(search, X, data.labels, n_fits)
    from_file = data.embeddings is not None
    context = {
        "n_images": len(X),
        "backbone": "" if from_file else args.backbone,
        "weights": f"embeddings read from {args.input}" if from_file else short_weights(args),
    }
    rows = result_rows(search, args, context)
    title = (
        f"Balanced accuracy on clean test labels (mean and std over {args.cv} folds) of heads "
        f"trained with {args.noise} label noise; {len(X)} images ({data.kind}); {source}"
    )
    columns = ["rate", "head", "balanced_accuracy_mean", "balanced_accuracy_std"]
    folds = [f"fold_{k + 1}" for k in range(args.cv)]
    show_results(
        args,
        title=title,
        rows=rows,
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
        plot=lambda: _plot(search, f"{len(X)} images, {short_source}"),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def build_search(args, rates, heads):
    """The GridSearchCV the command runs (see the --help epilog)."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ..heads import LinearHead, MLPHead
    from ..noise import AsymmetricNoise, NoisyLabelClassifier, UniformNoise

    seed = args.random_state
    classes = {"mlp": MLPHead, "linear": LinearHead}
    estimators = [
        classes[name](max_epochs=args.max_epochs, device=args.device, random_state=seed)
        for name in heads
    ]
    noise = {"uniform": UniformNoise, "asymmetric": AsymmetricNoise}[args.noise](random_state=seed)
    return GridSearchCV(
        NoisyLabelClassifier(estimators[0], noise),
        {"noise__rate": rates, "estimator": estimators},
        cv=StratifiedKFold(args.cv, shuffle=True, random_state=seed),
        scoring="balanced_accuracy",
        refit=False,
        error_score="raise",
    )


class _TickingScorer:
    """``scoring`` that advances a progress bar: the search calls it once per fit."""

    def __init__(self, scoring, bar):
        from sklearn.metrics import get_scorer

        self.scorer, self.bar = get_scorer(scoring), bar

    def __call__(self, estimator, X, y):
        score = self.scorer(estimator, X, y)
        self.bar.update()
        return score


def fit_with_progress(search, X, y, n_fits):
    """Fit ``search`` with a bar over its fits; ``search.scoring`` is left as it was."""
    from ..utils import progress

    scoring = search.scoring
    with progress(None, total=n_fits, desc="grid search fits", verbose=True) as bar:
        search.set_params(scoring=_TickingScorer(scoring, bar))
        try:
            search.fit(X, y)
        finally:
            search.set_params(scoring=scoring)
    return search


def result_rows(search, args, context):
    """One row per rate and head, ordered by rate then head, with the fold scores."""
    import numpy as np

    results = search.cv_results_
    rows = []
    for i, params in enumerate(results["params"]):
        scores = [float(results[f"split{k}_test_score"][i]) for k in range(args.cv)]
        row = {
            "rate": float(params["noise__rate"]),
            "head": type(params["estimator"]).__name__,
            "noise": args.noise,
            "balanced_accuracy_mean": float(np.mean(scores)),
            "balanced_accuracy_std": float(np.std(scores)),
            **context,
        }
        rows.append({**row, **{f"fold_{k + 1}": s for k, s in enumerate(scores)}})
    order = {name: i for i, name in enumerate(("MLPHead", "LinearHead"))}
    return sorted(rows, key=lambda row: (row["rate"], order[row["head"]]))


def _plot(search, title_text):
    from ..plotting import plot_noise_robustness

    ax = plot_noise_robustness(search)
    ax.set_title(title_text, fontsize="small", wrap=True)
    return ax
