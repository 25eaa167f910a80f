"""``skhisto noise-curve``: balanced accuracy per training label-noise rate, backbone and head.

The images are embedded once per backbone (through the embedding cache), then
:func:`~skhisto.model_selection.compare_backbones` scores each head (and loss) on the
same folds, grouped when the images have groups; noise is injected into the training
folds only, so every score is on clean test labels.
"""

from .._backbone_options import BackboneOptions, add_backbone_arguments
from .._embeddings import is_embeddings_file
from .._errors import CommandError
from .._groups import add_groups_argument
from .._labeled import embed_labeled, labeled_input
from .._options import (
    RegisteredNames,
    add_choices,
    add_input_argument,
    add_json_argument,
    add_max_images_argument,
    add_out_dir_argument,
    add_per_class_argument,
    add_seed_argument,
    int_at_least,
    noise_model_names,
    noise_rate,
    positive_int,
)
from .._outputs import announce, check_outputs, show_results
from .._provenance import file_context
from .._seeds import add_seeds_argument, run_seeds, seeds_csv_name, seeds_words, show_seed_results
from .._tracking_options import add_tracking_arguments, head_params, log_results, run_tracker

NAME = "noise-curve"
HELP = "the label-noise experiment: balanced accuracy per noise rate, backbone and head"
DESCRIPTION = (
    "Embed labeled images once per backbone, train each head on labels corrupted at each noise "
    "rate and score it on clean test labels, on the same stratified (grouped) folds for all "
    "(compare_backbones)."
)
EPILOG = """\
examples:
  skhisto noise-curve ../shared/data/lc25000_lung --no-pretrained
  skhisto noise-curve ../shared/data/lc25000_lung --backbone uni --rates 0 0.1 0.3 0.5
  skhisto noise-curve tiles.csv --backbone ctranspath phikon uni --losses ce gce
  skhisto noise-curve emb.npz --heads linear --noise asymmetric --cv 3 --out-dir results
  skhisto noise-curve ../shared/data/lc25000_lung --config noise.yaml --seeds 0 1 2

INPUT is labeled images (class folders, or a CSV with 'path' and 'label' columns, as
`skhisto embed` reads them) or a .npz/.parquet/.zarr written by `skhisto embed`. Class folders
are subsampled to --per-class images per class (default 100; a seeded draw, as
load_image_folder(INPUT, max_per_class=N, random_state=SEED)), a CSV's or an embeddings file's
rows to --per-class of each label when it is given (the same draw: of a file of whole class
folders, the same images); --max-images M then keeps a seeded draw of M rows of any input (in
INPUT's order).
Groups (patient, slide) come from INPUT's 'group', 'patient' or 'slide' column, the groups
`skhisto embed` stored, or --groups; then no fold splits a group.

With SEED = --random-state, NAME each --backbone, HEAD in MLPHead, LinearHead, LOSS each
--losses name (ce: cross_entropy, gce, sce, nce+rce, mae, bootstrap) and NOISE the --noise
model (get_noise_model(NAME): UniformNoise, AsymmetricNoise, GroupNoise, ...), the table is
  X[NAME] = FoundationEmbedder(NAME, ..., random_state=SEED).fit_transform(images)
  compare_backbones(None, y, X, heads=[HEAD(max_epochs=E, random_state=SEED), ...],
                    losses=[LOSS, ...] (None: the heads' cross_entropy), rates=RATES,
                    noise=NOISE(random_state=SEED),
                    cv=StratifiedKFold(K, shuffle=True, random_state=SEED)
                       (StratifiedGroupKFold with groups), groups=GROUPS,
                    scoring="balanced_accuracy", random_state=SEED)
i.e. for each backbone, head and loss, noise_robustness_curve(HEAD, X[NAME], y, RATES, ...) on
those folds (the same as GridSearchCV over {"noise__rate": RATES, "estimator": HEADS}).

With --seeds S1 S2 ..., the whole run (draw, folds, noise, heads) is repeated with each seed
as SEED, and the table printed is, per rate, backbone, head and loss, the mean and std across
seeds of each seed's fold mean:
  table = repeat_over_seeds(compare_backbones, [S1, S2, ...], None, y, X, heads=..., ...)
  summarize_seeds(table, by=["rate", "backbone", "head", "loss"])
--config FILE.yaml reads these options from YAML (keys: the option names, rates: [0, 0.4]);
options on the command line win, and the resolved options are written as
noise-curve.config.yaml.
--log-to tensorboard|mlflow logs the run (pip install 'skhisto[tracking]'):
  tracker = make_tracker(BACKEND, log_dir=DIR)   # the options and provenance as params
  HEAD(..., net_params={"callbacks": [tracker.callback(f"seed={SEED}")]})   # every epoch
  tracker.log_table(table, keys=[...], step="rate_percent")   # the results

output: the table on stdout (with --json, one JSON object instead), and in --out-dir
  noise_curve.csv  one row per rate, backbone, head and loss: rate, head, loss, noise,
                   balanced_accuracy_mean, balanced_accuracy_std (over folds),
                   fold_1 ... fold_K, n_images, n_groups (grouped folds only), backbone,
                   family (the registry's: contrastive, non-contrastive, supervised),
                   weights
  noise_curve.png  the plot of skhisto.plotting.plot_noise_robustness: a color per
                   backbone (its family in the legend), a line style per head and loss,
                   a dashed line at chance level
  noise-curve.config.yaml  the resolved options (pass it back as --config to repeat
                   the run)
  with --seeds: noise_curve.csv has a 'seed' column first and every seed's rows, and
  noise_curve_seeds.csv the mean and std across seeds (n_seeds), as the table printed
Embeddings are cached (see --no-cache): a second run, or another with more backbones, skips
what was embedded.
"""

#: --heads names -> skhisto head class names, in table order.
HEADS = {"mlp": "MLPHead", "linear": "LinearHead"}
#: --losses names -> the heads' loss names (skhisto.heads.LOSSES), in table order.
LOSSES = {
    "ce": "cross_entropy",
    "gce": "gce",
    "sce": "sce",
    "nce+rce": "nce+rce",
    "mae": "mae",
    "bootstrap": "bootstrap",
}
CSV_NAME, PNG_NAME = "noise_curve.csv", "noise_curve.png"
#: With --seeds: the mean and std across seeds of each rate, backbone, head and loss.
SEEDS_CSV_NAME = seeds_csv_name(CSV_NAME)
#: --per-class of class folders when not given (an embeddings file is read whole).
PER_CLASS = 100
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
        "--losses",
        nargs="+",
        choices=tuple(LOSSES),
        metavar="NAME",
        help="train each head once per loss, one or more of %(choices)s (ce: cross_entropy; "
        "the others as skhisto.heads names them: generalized and symmetric CE, ...) (default: "
        "the heads' cross_entropy)",
    )
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
        "--cv",
        type=FOLDS,
        default=5,
        metavar="K",
        help="stratified folds, grouped when the images have groups (default: 5)",
    )
    add_per_class_argument(
        parser, default_text=f"{PER_CLASS} of class folders, every row of an embeddings file"
    )
    add_max_images_argument(parser)
    parser.add_argument(
        "--max-epochs",
        type=positive_int,
        default=50,
        metavar="E",
        help="the heads' max_epochs, with early stopping (default: 50)",
    )
    add_groups_argument(parser)
    add_json_argument(parser)
    add_seed_argument(parser, "the draw, the folds, the noise, the heads and a random init")
    add_seeds_argument(parser, CSV_NAME)
    add_out_dir_argument(parser, "noise-curve")
    add_backbone_arguments(parser, default="resnet18", several=True)
    add_tracking_arguments(parser, "every head fit's losses per epoch, then the table")


def run(args):
    from ...noise import check_noise_rates

    backbones = BackboneOptions.each_from_args(args)
    out_dir = check_outputs(NAME, args.out_dir)
    run_tracker(NAME, args)  # --log-to: opened before any work
    try:
        rates = check_noise_rates(args.rates).tolist()
    except ValueError as exc:
        raise CommandError(f"--rates: {exc}") from exc
    heads = list(dict.fromkeys(args.heads or HEADS))
    losses = [LOSSES[name] for name in dict.fromkeys(args.losses)] if args.losses else None
    seeds, runs = run_seeds(
        NAME, args, lambda seed: _one_run(args, backbones, rates, heads, losses, seed)
    )
    rows, curve, text = runs[0]
    _log_results(seeds or [args.random_state], runs)
    if seeds:
        return _show_seeds(args, seeds, runs, out_dir, losses, len(backbones) > 1)
    columns = ["rate", "head", "balanced_accuracy_mean", "balanced_accuracy_std"]
    if losses:
        columns.insert(2, "loss")
    if len(backbones) > 1:
        columns.insert(1, "backbone")
    show_results(
        NAME,
        json_output=args.json,
        title=text["title"],
        rows=rows,
        columns=columns,
        csv_columns=csv_columns(args.cv, text["grouped"]),
        csv_path=out_dir / CSV_NAME,
        plot=lambda: _plot(curve, text["plot"]),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _per_class(value, source):
    """--per-class, or its default: PER_CLASS images of each class folder, and every row of
    a CSV or an embeddings file (drawn by its labels only when asked)."""
    import os

    if value is not None or is_embeddings_file(source) or not os.path.isdir(source):
        return value
    with os.scandir(source) as entries:  # a flat folder has no classes to draw from
        folders = any(e.is_dir() and not e.name.startswith(".") for e in entries)
    return PER_CLASS if folders else None


def csv_columns(cv, grouped):
    """The columns of noise_curve.csv (after a ``seed`` column with --seeds)."""
    return [
        "rate",
        "head",
        "loss",
        "noise",
        "balanced_accuracy_mean",
        "balanced_accuracy_std",
        *[f"fold_{k + 1}" for k in range(cv)],
        "n_images",
        *(["n_groups"] if grouped else []),
        "backbone",
        "family",
        "weights",
    ]


def _one_run(args, backbones, rates, heads, losses, seed):
    """(rows, the compare_backbones table, texts) of one run seeded with ``seed``: the draw,
    the folds, the noise and the heads."""
    data = labeled_input(
        args.input,
        min_per_class=args.cv,
        what=f"--cv {args.cv}",
        per_class=_per_class(args.per_class, args.input),
        random_state=seed,
        groups=args.groups,
        max_images=args.max_images,
    )
    from_file = data.embeddings is not None
    if from_file and len(backbones) > 1:
        raise CommandError(
            f"INPUT {args.input!r} holds one backbone's embeddings; pass the images (folder or "
            "CSV) to compare --backbone " + " ".join(b.backbone for b in backbones)
        )
    groups = data.groups.values if data.groups is not None else None
    folds = cv_folds(args.cv, data.labels, groups, args.noise, seed)
    if not from_file:
        for backbone in backbones:  # every name and its weights resolve before any embedding
            backbone.make_embedder().fit(data.paths)
    embedded, sources, contexts = {}, [], {}
    for backbone in backbones:
        X, source, short_source = embed_labeled(NAME, data, args.input, backbone)
        embedded[backbone.backbone] = X
        sources.append((source, short_source))
        contexts[backbone.backbone] = {
            "backbone": backbone.backbone,
            "weights": backbone.short_weights(),
        }
        if from_file:  # the backbone and weights the file's provenance names, if any
            contexts[backbone.backbone] = file_context(data.provenance, args.input)
    run_tracker(NAME, args, provenance=contexts)
    n_images = len(data.labels)
    announce(NAME, fits_text(len(backbones), rates, heads, losses, args.cv, data.groups))
    curve = compare_heads(
        embedded,
        data.labels,
        rates,
        heads,
        losses=losses,
        noise=args.noise,
        cv=folds,
        groups=groups,
        max_epochs=args.max_epochs,
        device=args.device,
        random_state=seed,
    )
    context = {"noise": args.noise, "n_images": n_images}
    if groups is not None:
        context["n_groups"] = len(set(groups.tolist()))
    rows = result_rows(curve, context, contexts, order=(list(HEADS.values()), losses))
    source = joined([words for words, _ in sources], backbones[0].describe_weights())
    short = joined([words for _, words in sources], backbones[0].short_weights())
    folds_text = f"{args.cv} folds"
    if groups is not None:
        folds_text = f"{args.cv} grouped folds, {data.groups.describe()}"
    what = f"heads trained with {args.noise} label noise; {n_images} images ({data.kind}); {source}"
    text = {
        "title": f"Balanced accuracy on clean test labels (mean and std over {folds_text}) of "
        + what,
        "what": what,
        "folds": folds_text,
        "plot": f"{n_images} images, {short}",
        "grouped": groups is not None,
    }
    return rows, curve, text


def _show_seeds(args, seeds, runs, out_dir, losses, several_backbones):
    """The table of each --seeds run (noise_curve.csv, a ``seed`` column) and the mean and std
    across seeds of each setting's fold mean (noise_curve_seeds.csv, on stdout, the plot)."""
    import pandas as pd

    columns = ["rate", "head", "balanced_accuracy_mean", "balanced_accuracy_std", "n_seeds"]
    if losses:
        columns.insert(2, "loss")
    if several_backbones:
        columns.insert(1, "backbone")
    text = runs[0][2]
    seeds_text = seeds_words(seeds)
    title = (
        f"Balanced accuracy on clean test labels (mean and std over {seeds_text} of each "
        f"seed's mean over {text['folds']}) of {text['what']}"
    )
    curve = pd.concat(
        [part.assign(seed=seed) for seed, (_, part, _) in zip(seeds, runs, strict=True)],
        ignore_index=True,
    )
    keys = ["seed", "rate", "backbone", "family", "head", "loss", "noise"]
    per_seed = curve.groupby(keys, sort=False, dropna=False)["score"].mean().reset_index()
    show_seed_results(
        NAME,
        args,
        seeds,
        [rows for rows, _, _ in runs],
        by=["rate", "backbone", "head", "loss"],
        score="balanced_accuracy_mean",
        names=("balanced_accuracy_mean", "balanced_accuracy_std"),
        csv_columns=csv_columns(args.cv, text["grouped"]),
        csv_path=out_dir / CSV_NAME,
        title=title,
        columns=columns,
        plot=lambda: _plot(per_seed, f"{text['plot']}, mean and std over {seeds_text}"),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def cv_folds(cv, y, groups, noise, seed):
    """The folds of every backbone and head, drawn before anything is embedded: ``cv``
    stratified folds (grouped with ``groups``) shuffled with ``seed``, as the epilog says."""
    import numpy as np

    from ...noise import GroupNoise, get_noise_model
    from ...utils import grouped_folds

    if groups is None and issubclass(get_noise_model(noise), GroupNoise):
        raise CommandError(
            f"--noise {noise} flips whole groups, and there are none (INPUT names none, or "
            "--no-groups): give INPUT a 'group', 'patient' or 'slide' column, or pass "
            "--groups COLUMN|REGEX"
        )
    try:
        return grouped_folds(cv, np.zeros((len(y), 1)), y, groups, random_state=seed)
    except ValueError as exc:
        raise CommandError(f"--cv {cv}: {exc}") from None


def fits_text(n_backbones, rates, heads, losses, cv, groups):
    """``8 fits: 2 rates x 2 heads x 2 folds`` (backbones and losses named when several)."""
    parts = [f"{len(rates)} rates", f"{len(heads)} head{'s' * (len(heads) > 1)}"]
    if n_backbones > 1:
        parts.insert(0, f"{n_backbones} backbones")
    if losses:
        parts.append(f"{len(losses)} loss{'es' * (len(losses) > 1)}")
    parts.append(f"{cv} folds")
    n_fits = n_backbones * len(rates) * len(heads) * len(losses or [None]) * cv
    grouped = (
        f"; folds grouped by {groups.describe()}" if groups and groups.values is not None else ""
    )
    return f"{n_fits} fits: {' x '.join(parts)}{grouped}"


def compare_heads(
    X, y, rates, heads, *, losses, noise, cv, groups, max_epochs, device, random_state
):
    """The table of ``compare_backbones`` on the embeddings ``X`` of each backbone (see the
    --help epilog)."""
    from ... import heads as head_classes
    from ...model_selection import compare_backbones
    from ...noise import get_noise_model

    seed = random_state
    return compare_backbones(
        None,
        y,
        X,
        heads=[
            getattr(head_classes, HEADS[name])(
                max_epochs=max_epochs,
                device=device,
                random_state=seed,
                **head_params(f"seed={seed}"),
            )
            for name in heads
        ],
        losses=losses,
        rates=rates,
        noise=get_noise_model(noise)(random_state=seed),
        cv=cv,
        groups=groups,
        scoring="balanced_accuracy",
        random_state=seed,
        verbose=True,
    )


def result_rows(curve, context, backbones, order):
    """One row per rate, backbone, head and loss, in that order, with the fold scores.

    ``context``: the columns of every row; ``backbones``: those of each backbone's rows;
    ``order``: the head class names and loss names in table order.
    """
    import numpy as np

    head_order, loss_order = order
    rank = {
        "backbone": {name: i for i, name in enumerate(backbones)},
        "head": {name: i for i, name in enumerate(head_order)},
        "loss": {name: i for i, name in enumerate(loss_order or [])},
    }
    rows = []
    keys = ["rate", "backbone", "family", "head", "loss"]
    for (rate, backbone, family, head, loss), part in curve.groupby(keys, sort=False):
        scores = part.sort_values("fold")["score"].astype(float).tolist()
        row = {
            "rate": float(rate),
            "head": head,
            "loss": loss,
            "balanced_accuracy_mean": float(np.mean(scores)),
            "balanced_accuracy_std": float(np.std(scores)),
            **context,
            "family": family,
            **backbones[backbone],
            "_backbone": backbone,
        }
        rows.append({**row, **{f"fold_{k + 1}": s for k, s in enumerate(scores)}})
    rows.sort(
        key=lambda row: (
            row["rate"],
            rank["backbone"][row["_backbone"]],
            rank["head"].get(row["head"], len(head_order)),
            rank["loss"].get(row["loss"], 0),
        )
    )
    return [{k: v for k, v in row.items() if k != "_backbone"} for row in rows]


def joined(sources, weights):
    """The backbones' sources in words, their common weights said once: "backbones resnet18 at
    224 px, uni at 224 px, pretrained weights" (one source as it is)."""
    suffix = f", {weights}"
    if len(sources) == 1 or not all(words.endswith(suffix) for words in sources):
        return "; ".join(sources)
    names = [words.removeprefix("backbone ").removesuffix(suffix) for words in sources]
    return f"backbones {', '.join(names)}{suffix}"


def _plot(curve, title_text):
    from ...plotting import plot_noise_robustness

    ax = plot_noise_robustness(curve)
    ax.set_title(title_text, fontsize="small", wrap=True)
    return ax


def _log_results(seeds, runs):
    """--log-to: each seed's mean and std over folds per backbone, head and loss, a point per
    noise rate in percent."""
    rows = [
        {**row, "seed": seed, "rate_percent": round(100 * row["rate"])}
        for seed, (part, _, _) in zip(seeds, runs, strict=True)
        for row in part
    ]
    log_results(
        rows,
        keys=["seed", "backbone", "head", "loss"],
        step="rate_percent",
        metrics=["balanced_accuracy_mean", "balanced_accuracy_std"],
    )
