"""``skhisto active-simclr``: ActiveSimCLR on a labeled image set, scored by a linear probe."""

from dataclasses import replace

from .._checkpoints import active_simclr_round, announce_resume
from .._errors import CommandError, checkpoint_errors_in_cli_words
from .._groups import add_groups_argument, held_out_split, pick_groups
from .._options import (
    RegisteredNames,
    add_input_argument,
    add_json_argument,
    add_out_dir_argument,
    fraction,
    positive_int,
    query_strategy_names,
)
from .._outputs import announce, check_out_dir, check_out_file, show_results
from .._seeds import add_seeds_argument, run_seeds, seed_folder, seeds_words, show_seed_results
from .._simclr_options import SimCLROptions, add_simclr_arguments, encoder_file
from .._tracking_options import add_tracking_arguments, log_results, logged_epochs, run_tracker

NAME = "active-simclr"
HELP = "the Active SimCLR experiment: SimCLR on actively sampled subsets"
DESCRIPTION = (
    "Run ActiveSimCLR (Reasat & Smith, Algorithm 2) on the labeled images of INPUT: each round "
    "trains SimCLR on the images selected so far, fits a linear probe on the labeled set's "
    "embeddings, scores it on a held-out test split, and lets --strategy pick the next images."
)
EPILOG = """\
examples:
  skhisto active-simclr ../shared/data/lc25000_lung --strategy coreset --max-images 60
  skhisto active-simclr ../shared/data/lc25000_lung --per-class 20 --seeds 0 1 2
  skhisto active-simclr ../shared/data/lc25000_lung --strategy entropy --max-images 2000 \\
      --batch-size 200 --n-rounds 5 --epochs 3 --checkpoint-dir ckpt --out encoder.safetensors

INPUT is a folder of class folders or a CSV with 'path' and 'label' columns. A stratified
--test-size split is held out for scoring; the rest is the unlabeled pool SimCLR draws from
and (all of it, or --n-labeled images) the labeled set the probe (standardized embeddings +
LinearHead) is trained on. With groups (a CSV's 'group', 'patient' or 'slide' column, or
--groups) the test split holds whole groups: one fold of StratifiedGroupKFold(round(1 / T)),
so its share is about --test-size T, and no patient's images are both scored and trained on.

output: per round (round, n_images SimCLR trained on, score, fit_time, query_time, time in
seconds) on stdout and in <out-dir>/active_simclr.csv, the learning curve in
<out-dir>/active_simclr.png, and with --out the last round's encoder (.safetensors). With
--checkpoint-dir the run is saved after every round; the same command again resumes after the
last finished round (another command line against the same folder is refused).
--per-class N draws N images of each class (folder, or a CSV's label), then --max-images M of
those (a seeded draw, in INPUT's order). With --seeds S1 S2 ..., the whole run (draw, split,
SimCLR, strategy, probe) is repeated with each seed as --random-state (checkpoints in
<checkpoint-dir>/seed_<S>): the table is, per round, the mean and std across seeds of the
probe's score, as
summarize_seeds(table, by=["round", "n_images"]); active_simclr.csv has a 'seed' column first
and every seed's rows, active_simclr_seeds.csv the mean and std (n_seeds), the plot a band.
"""
#: The ActiveSimCLR parameters set by the options of the same names.
LEARNER_PARAMS = (
    "batch_size",
    "n_rounds",
    "n_candidates",
    "scoring",
    "random_state",
    "checkpoint_dir",
)
COLUMNS = ("round", "n_images", "score", "fit_time", "query_time", "time")
CSV_NAME, PNG_NAME = "active_simclr.csv", "active_simclr.png"


def add_arguments(parser):
    add_input_argument(parser, "INPUT", "class folders or a CSV with labels")
    group = parser.add_argument_group("active sampling")
    group.add_argument(
        "--strategy",
        choices=RegisteredNames(query_strategy_names),
        default="entropy",
        metavar="NAME",
        help="one of %(choices)s (default: entropy)",
    )
    for flag, default, help_text in (
        ("--batch-size", 10, "images added per round (and the first random subset)"),
        ("--n-rounds", 3, "rounds of SimCLR training"),
        ("--n-candidates", 100, "random candidates the strategy chooses from each round"),
    ):
        group.add_argument(
            flag,
            type=positive_int,
            default=default,
            metavar="N",
            help=f"{help_text} (default: {default})",
        )
    group.add_argument(
        "--test-size",
        type=fraction,
        default=0.25,
        metavar="F",
        help="held-out fraction (default: 0.25)",
    )
    group.add_argument(
        "--n-labeled", type=positive_int, metavar="N", help="labeled images (default: all)"
    )
    group.add_argument(
        "--scoring", default="balanced_accuracy", help="sklearn scorer (default: balanced_accuracy)"
    )
    group.add_argument(
        "--probe-epochs", type=positive_int, default=40, metavar="N", help="default: 40"
    )
    parser.add_argument("--out", type=encoder_file, metavar="FILE", help="write the encoder here")
    add_out_dir_argument(parser, default="results")
    add_simclr_arguments(
        parser, epochs=1, image_size=64, batch_size=32, batch_flag="--simclr-batch-size"
    )
    add_seeds_argument(parser, CSV_NAME, "the probe's score per round")
    add_tracking_arguments(parser, "SimCLR's loss per epoch, then the probe's score per round")
    add_groups_argument(parser)
    add_json_argument(parser)


def _split(labels, groups, test_size, n_labeled, random_state):
    """Indices of the labeled set, the test split and the pool (the non-test images); with
    ``groups``, no group is both in the test split and in the pool."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    try:
        pool, test = held_out_split(labels, groups, test_size, random_state)
        labeled = pool
        if n_labeled is not None and n_labeled < len(pool):
            strata = [labels[i] for i in pool]
            labeled, _ = train_test_split(
                pool, train_size=n_labeled, stratify=strata, random_state=random_state
            )
    except ValueError as exc:  # too few images of a class (or groups) to stratify
        raise CommandError(f"cannot split the {len(labels)} images of INPUT: {exc}") from exc
    return np.sort(labeled), np.sort(test), np.sort(pool)


def _read_labeled(source, simclr, groups):
    """The paths, labels, kind and groups of the images the options draw (--per-class,
    --max-images)."""
    listing = simclr.read(source)
    paths, labels, kind = listing.paths, listing.labels, listing.kind
    if labels is None or any(label == "" for label in labels):
        raise CommandError(
            f"INPUT {source!r} ({kind}) has no labels for every image; pass class folders "
            "or a CSV with a 'label' column"
        )
    found = pick_groups(groups, columns=listing.columns, paths=paths, source=source)
    return paths, labels, kind, found


def _make_learner(simclr, strategy, probe_epochs, **params):
    """ActiveSimCLR of the ``simclr`` options, ``strategy`` and a linear probe; ``params``
    are its other parameters (``LEARNER_PARAMS``)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ... import ActiveSimCLR, LinearHead
    from ...active import make_query_strategy

    # Unseeded: ActiveSimCLR seeds it (inside the pipeline too) from --random-state, per round.
    probe = LinearHead(max_epochs=probe_epochs, lr=1e-3, device=simclr.device)
    return ActiveSimCLR(
        simclr.make_simclr(verbose=True),
        make_query_strategy(strategy, random_state=simclr.random_state),
        make_pipeline(StandardScaler(), probe),
        verbose=True,
        **params,
    )


def run(args):
    options = SimCLROptions.from_args(args)
    out_dir = check_out_dir(args.out_dir)
    if args.out is not None:
        check_out_file(args.out, ".safetensors")
        if args.seeds:
            raise CommandError(
                "--out writes one run's encoder and --seeds makes several: drop --out, or "
                "--seeds (--random-state seeds the run)"
            )
    options.check()
    provenance = {"backbone": args.backbone, "weights": options.describe_start()}
    run_tracker(NAME, args, provenance=provenance)  # --log-to: opened before any work
    seeds, runs = run_seeds(NAME, args, lambda seed: _one_run(args, options, seed))
    learner, test_words = runs[0]
    log_results(
        [
            {**record, "seed": seed}
            for seed, (fitted, _) in zip(seeds or [args.random_state], runs, strict=True)
            for record in fitted.history_
        ],
        keys=["seed"],
        step="round",
        metrics=["score", "n_images"],
    )
    start = options.describe_start()
    if seeds and options.weights is None:
        start = "random init"  # the title ends with the seeds, as active's and noise-curve's
    encoder = f"{args.backbone} trained by SimCLR from {start}"
    scoring = args.scoring.replace("_", " ")  # a scorer's name in words, as on the plot
    title = f"{scoring[:1].upper()}{scoring[1:]} of a linear probe on {encoder}, {test_words}"
    if seeds:
        return _show_seeds(args, seeds, runs, out_dir, title)
    if args.out is not None:
        learner.simclr_.save_encoder(args.out)
        announce(NAME, f"wrote the encoder to {args.out}")
    show_results(
        NAME,
        json_output=args.json,
        title=title,
        rows=learner.history_,
        columns=COLUMNS,
        csv_columns=COLUMNS,
        csv_path=out_dir / CSV_NAME,
        plot=lambda: _plot({args.strategy: learner}, args),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _one_run(args, options, seed):
    """The fitted ActiveSimCLR of one run seeded with ``seed`` (the draw, the split, SimCLR,
    the strategy and the probe), and its test split in words."""
    checkpoint_dir = seed_folder(options.checkpoint_dir, seed, args.seeds)
    simclr = replace(options, random_state=seed, checkpoint_dir=checkpoint_dir)
    paths, labels, kind, groups = _read_labeled(args.input, simclr, args.groups)
    labeled, test, pool = _split(labels, groups.values, args.test_size, args.n_labeled, seed)
    params = {name: getattr(args, name) for name in LEARNER_PARAMS}
    params.update(random_state=seed, checkpoint_dir=checkpoint_dir)
    learner = _make_learner(simclr, args.strategy, args.probe_epochs, **params)
    start = simclr.describe_start()
    announce(
        NAME,
        f"{len(paths)} images ({kind}{groups.clause()}): pool {len(pool)}, labeled "
        f"{len(labeled)}, test {len(test)}; {args.strategy} picks {args.batch_size} per round "
        f"for {args.n_rounds} rounds; {args.backbone} SimCLR from {start}",
    )
    announce_resume(NAME, checkpoint_dir, active_simclr_round)

    def take(index, values):
        return [values[i] for i in index]

    with checkpoint_errors_in_cli_words(), logged_epochs(f"seed={seed}"):
        learner.fit(
            take(pool, paths),
            X_labeled=take(labeled, paths),
            y_labeled=take(labeled, labels),
            X_test=take(test, paths),
            y_test=take(test, labels),
        )
    return learner, f"{len(test)} test images"


def _show_seeds(args, seeds, runs, out_dir, title):
    """Every --seeds run's rounds (active_simclr.csv, a ``seed`` column) and the mean and std
    across seeds of the probe's score per round (active_simclr_seeds.csv; the table, the
    plot's band)."""
    seeds_text = seeds_words(seeds)
    show_seed_results(
        NAME,
        args,
        seeds,
        [learner.history_ for learner, _ in runs],
        by=["round", "n_images"],
        score="score",
        csv_columns=COLUMNS,
        csv_path=out_dir / CSV_NAME,
        title=f"{title} (mean and std over {seeds_text})",
        columns=["round", "n_images", "score_mean", "score_std", "n_seeds"],
        plot=lambda: _plot({args.strategy: [learner for learner, _ in runs]}, args),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _plot(learners, args):
    """The learning curve of ``learners`` ({strategy: learner, or one per seed})."""
    from ...plotting import plot_learning_curve

    ax = plot_learning_curve(learners, title=f"Active SimCLR ({args.backbone})")
    ax.set_ylabel(args.scoring.replace("_", " "))
    return ax
