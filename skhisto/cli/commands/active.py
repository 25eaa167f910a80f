"""``skhisto active``: active-learning curves of query strategies on a labelled embeddings file."""

from ._backbone_options import announce
from ._errors import CommandError, checkpoint_errors_in_cli_words, fraction, positive_int
from ._labelled import add_choices, add_seed_argument, check_outputs, labelled_input
from ._report import add_json_argument, add_out_dir_argument, check_out_dir, show_results
from ._strategies import STRATEGY_NAMES, make_strategy

NAME = "active"
HELP = "active-learning curves: balanced accuracy against labels, per query strategy"
DESCRIPTION = (
    "Run ActiveLearner on a labelled embeddings file (its labels are the oracle) with each "
    "query strategy and score every round on a held-out, stratified test split."
)
EPILOG = """\
examples:
  skhisto embed ../shared/data/lc25000_lung --backbone resnet18 --no-pretrained --out emb.npz
  skhisto active emb.npz --strategy random coreset typiclust
  skhisto active emb.npz --strategy entropy --n-rounds 20 --checkpoint-dir ckpt --out-dir results

EMBEDDINGS is a labelled .npz, .parquet or .zarr written by `skhisto embed`. Each strategy
runs, with SEED = --random-state, on the same split
  X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=T, stratify=y,
                                                    random_state=SEED)
  ActiveLearner(ESTIMATOR, STRATEGY, batch_size=B, n_rounds=R, n_initial=N,
                scoring="balanced_accuracy", random_state=SEED
               ).fit(X_pool, y_pool, X_test=X_test, y_test=y_test)
where ESTIMATOR is LogisticRegression(max_iter=1000, random_state=SEED) (--estimator logistic)
or LinearHead(random_state=SEED) (--estimator linear), and STRATEGY is RandomSampling(SEED),
UncertaintySampling("entropy"|"margin"), CoresetSampling(SEED) or TypiClustSampling(SEED).

output: the table on stdout (labels, then one balanced-accuracy column per strategy; with
--json, one JSON object instead), and in --out-dir
  active.csv  one row per strategy and round: strategy, round, n_labeled, balanced_accuracy,
              fit_time, query_time (seconds; empty in the last round)
  active.png  the learning curves (skhisto.plotting.plot_learning_curve)
With --checkpoint-dir, each strategy's state is saved after every round as
active_<strategy>.npz there, and a rerun of the same command resumes from it.
"""

ESTIMATORS = ("logistic", "linear")
CSV_NAME, PNG_NAME = "active.csv", "active.png"
CSV_COLUMNS = ["strategy", "round", "n_labeled", "balanced_accuracy", "fit_time", "query_time"]


def add_arguments(parser):
    parser.add_argument("input", metavar="EMBEDDINGS", help="labelled .npz, .parquet or .zarr")
    add_choices(parser, "--strategy", STRATEGY_NAMES, "query strategies, one curve each")
    parser.add_argument(
        "--estimator",
        choices=ESTIMATORS,
        default="logistic",
        help="logistic: LogisticRegression, linear: LinearHead (default: logistic)",
    )
    parser.add_argument(
        "--test-size",
        type=fraction,
        default=0.25,
        metavar="T",
        help="held-out stratified fraction scored every round (default: 0.25)",
    )
    for flag, default, text in (
        ("--n-initial", 10, "random initial labels"),
        ("--batch-size", 10, "labels queried per round"),
        ("--n-rounds", 10, "query rounds"),
    ):
        help_text = f"{text} (default: {default})"
        parser.add_argument(flag, type=positive_int, default=default, metavar="N", help=help_text)
    parser.add_argument(
        "--checkpoint-dir", metavar="DIR", help="save every round there and resume from it"
    )
    add_json_argument(parser)
    add_seed_argument(parser, "the split, the initial labels, the strategies and the estimator")
    add_out_dir_argument(parser, "active")


def run(args):
    out_dir = check_outputs(args)
    checkpoints = _checkpoint_dir(args.checkpoint_dir)
    data = labelled_input(
        args, min_per_class=2, what="the stratified --test-size split", images=False
    )
    X_pool, X_test, y_pool, y_test = _split(args, data.embeddings, data.labels)
    needed = args.n_initial + args.n_rounds * args.batch_size
    if needed > len(X_pool):
        raise CommandError(
            f"--n-initial {args.n_initial} + --n-rounds {args.n_rounds} x --batch-size "
            f"{args.batch_size} = {needed} labels, but the pool has {len(X_pool)} samples"
        )
    learners = {}
    for name in dict.fromkeys(args.strategy):
        announce(NAME, f"{name}: {args.n_rounds} rounds of {args.batch_size} labels")
        checkpoint = checkpoints / f"active_{name}.npz" if checkpoints else None
        learner = build_learner(args, name, checkpoint)
        _announce_resume(name, checkpoint)
        with checkpoint_errors_in_cli_words():
            learners[name] = learner.fit(X_pool, y_pool, X_test=X_test, y_test=y_test)
    title = (
        f"Balanced accuracy on {len(X_test)} held-out samples against labels queried from a pool "
        f"of {len(X_pool)}, {_estimator_name(args)} on embeddings read from {args.input}"
    )
    show_results(
        args,
        title=title,
        rows=curve_rows(learners),
        columns=["n_labeled", *learners],
        table_rows=_wide(learners),
        csv_columns=CSV_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        plot=lambda: _plot(learners, args),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _announce_resume(strategy, checkpoint):
    """Say where a strategy resumes: the round its checkpoint file holds (read, never run)."""
    if checkpoint is None or not checkpoint.is_file():
        return
    from ..active._learner import _load_checkpoint
    from ..exceptions import CheckpointError

    try:
        where = f" (round {len(_load_checkpoint(checkpoint)['history']) - 1} done)"
    except CheckpointError:  # fit refuses it, in its own words
        where = ""
    announce(NAME, f"resuming {strategy} from {checkpoint}{where} if it is this run's")


def _checkpoint_dir(folder):
    return None if folder is None else check_out_dir(folder, "--checkpoint-dir")


def _split(args, X, y):
    from sklearn.model_selection import train_test_split

    try:
        return train_test_split(
            X, y, test_size=args.test_size, stratify=y, random_state=args.random_state
        )
    except ValueError as exc:
        raise CommandError(f"--test-size {args.test_size}: {exc}") from exc


def _estimator_name(args):
    return "LogisticRegression" if args.estimator == "logistic" else "LinearHead"


def build_learner(args, strategy, checkpoint=None):
    """The ActiveLearner of one strategy (see the --help epilog)."""
    from sklearn.linear_model import LogisticRegression

    from ..active import ActiveLearner
    from ..heads import LinearHead

    seed = args.random_state
    if args.estimator == "logistic":
        estimator = LogisticRegression(max_iter=1000, random_state=seed)
    else:
        estimator = LinearHead(random_state=seed)
    return ActiveLearner(
        estimator,
        make_strategy(strategy, seed),
        batch_size=args.batch_size,
        n_rounds=args.n_rounds,
        n_initial=args.n_initial,
        scoring="balanced_accuracy",
        checkpoint=checkpoint,
        verbose=True,
        random_state=seed,
    )


def curve_rows(learners):
    """One row per strategy and round (the CSV)."""
    return [
        {
            "strategy": name,
            "round": entry["round"],
            "n_labeled": entry["n_labeled"],
            "balanced_accuracy": entry["score"],
            "fit_time": entry["fit_time"],
            "query_time": entry["query_time"],
        }
        for name, learner in learners.items()
        for entry in learner.history_
    ]


def _wide(learners):
    """One row per labelled count, one column per strategy (the table on stdout)."""
    rows = {}
    for name, learner in learners.items():
        for entry in learner.history_:
            rows.setdefault(entry["n_labeled"], {"n_labeled": entry["n_labeled"]})[name] = entry[
                "score"
            ]
    return [{name: row.get(name) for name in ["n_labeled", *learners]} for row in rows.values()]


def _plot(learners, args):
    from ..plotting import plot_learning_curve

    title = f"{_estimator_name(args)}, embeddings from {args.input}"
    return plot_learning_curve(learners, title=title)
