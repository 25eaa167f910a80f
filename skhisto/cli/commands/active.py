"""``skhisto active``: active-learning curves of query strategies on a labeled embeddings file."""

from .._checkpoints import active_learner_round, announce_resume
from .._errors import CommandError, checkpoint_errors_in_cli_words
from .._groups import add_groups_argument, held_out_split
from .._labeled import labeled_input
from .._options import (
    RegisteredNames,
    add_choices,
    add_input_argument,
    add_json_argument,
    add_out_dir_argument,
    add_seed_argument,
    fraction,
    positive_int,
    query_strategy_names,
)
from .._outputs import announce, check_out_dir, check_outputs, show_results

NAME = "active"
HELP = "active-learning curves: balanced accuracy against labels, per query strategy"
DESCRIPTION = (
    "Run ActiveLearner on a labeled embeddings file (its labels are the oracle) with each "
    "query strategy and score every round on a held-out, stratified test split."
)
EPILOG = """\
examples:
  skhisto embed ../shared/data/lc25000_lung --backbone resnet18 --no-pretrained --out emb.npz
  skhisto active emb.npz --strategy random coreset typiclust
  skhisto active emb.npz --strategy entropy --n-rounds 20 --checkpoint-dir ckpt --out-dir results

EMBEDDINGS is a labeled .npz, .parquet or .zarr written by `skhisto embed`. Each strategy
runs, with SEED = --random-state, on the same split
  X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=T, stratify=y,
                                                    random_state=SEED)
  ActiveLearner(ESTIMATOR, STRATEGY, batch_size=B, n_rounds=R, n_initial=N,
                scoring="balanced_accuracy", random_state=SEED
               ).fit(X_pool, y_pool, X_test=X_test, y_test=y_test)
With groups (EMBEDDINGS' stored groups, or --groups), the split keeps each group whole: the
test groups are one fold of StratifiedGroupKFold(round(1 / T), shuffle=True,
random_state=SEED), so the test share is about T, and fit also gets groups= and
groups_test=, which refuse a group on both sides.
where ESTIMATOR is LogisticRegression(max_iter=1000, random_state=SEED) (--estimator logistic)
or LinearHead(random_state=SEED) (--estimator linear), and STRATEGY is
skhisto.active.make_query_strategy(NAME, random_state=SEED): RandomSampling(SEED),
UncertaintySampling("entropy"|"margin"), CoresetSampling(SEED), TypiClustSampling(SEED), or a
strategy added with register_query_strategy.

output: the table on stdout (labels, then one balanced-accuracy column per strategy; with
--json, one JSON object instead), and in --out-dir
  active.csv  one row per strategy and round: strategy, round, n_labeled, balanced_accuracy,
              fit_time, query_time (seconds; empty in the last round)
  active.png  the learning curves (skhisto.plotting.plot_learning_curve)
With --checkpoint-dir DIR, each strategy's state is saved after every round in
DIR/<strategy>/checkpoint.npz (ActiveLearner(..., checkpoint_dir=DIR/<strategy>)), and a rerun
of the same command resumes from it.
"""

#: --estimator names -> the estimator's class name.
ESTIMATORS = {"logistic": "LogisticRegression", "linear": "LinearHead"}
CSV_NAME, PNG_NAME = "active.csv", "active.png"
CSV_COLUMNS = ["strategy", "round", "n_labeled", "balanced_accuracy", "fit_time", "query_time"]


def add_arguments(parser):
    add_input_argument(parser, "EMBEDDINGS", "labeled .npz, .parquet or .zarr")
    strategies = RegisteredNames(query_strategy_names)
    add_choices(parser, "--strategy", strategies, "query strategies, one curve each")
    parser.add_argument(
        "--estimator",
        choices=tuple(ESTIMATORS),
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
    add_groups_argument(parser)
    add_json_argument(parser)
    add_seed_argument(parser, "the split, the initial labels, the strategies and the estimator")
    add_out_dir_argument(parser, "active")


def run(args):
    out_dir = check_outputs(NAME, args.out_dir)
    checkpoints = _checkpoint_dir(args.checkpoint_dir)
    data = labeled_input(
        args.input,
        min_per_class=2,
        what="the stratified --test-size split",
        images=False,
        groups=args.groups,
    )
    pool, test = _split(data.labels, data.groups.values, args.test_size, args.random_state)
    X_pool, X_test = data.embeddings[pool], data.embeddings[test]
    y_pool, y_test = data.labels[pool], data.labels[test]
    groups = (
        {}
        if data.groups.values is None
        else {
            "groups": data.groups.values[pool],
            "groups_test": data.groups.values[test],
        }
    )
    needed = args.n_initial + args.n_rounds * args.batch_size
    if needed > len(X_pool):
        raise CommandError(
            f"--n-initial {args.n_initial} + --n-rounds {args.n_rounds} x --batch-size "
            f"{args.batch_size} = {needed} labels, but the pool has {len(X_pool)} samples"
        )
    learners = {}
    for name in dict.fromkeys(args.strategy or query_strategy_names()):
        announce(NAME, f"{name}: {args.n_rounds} rounds of {args.batch_size} labels")
        checkpoint_dir = checkpoints / name if checkpoints else None
        learner = build_learner(
            name,
            estimator=args.estimator,
            batch_size=args.batch_size,
            n_rounds=args.n_rounds,
            n_initial=args.n_initial,
            random_state=args.random_state,
            checkpoint_dir=checkpoint_dir,
        )
        announce_resume(NAME, checkpoint_dir, active_learner_round, what=f"{name} ")
        with checkpoint_errors_in_cli_words():
            learners[name] = learner.fit(X_pool, y_pool, X_test=X_test, y_test=y_test, **groups)
    title = (
        f"Balanced accuracy on {len(X_test)} held-out samples against labels queried from a pool "
        f"of {len(X_pool)}{data.groups.clause()}, {ESTIMATORS[args.estimator]} on embeddings "
        f"read from {args.input}"
    )
    show_results(
        NAME,
        json_output=args.json,
        title=title,
        rows=curve_rows(learners),
        columns=["n_labeled", *learners],
        table_rows=_wide(learners),
        csv_columns=CSV_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        plot=lambda: _plot(learners, f"{ESTIMATORS[args.estimator]}, embeddings from {args.input}"),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _checkpoint_dir(folder):
    return None if folder is None else check_out_dir(folder, "--checkpoint-dir")


def _split(y, groups, test_size, random_state):
    try:
        return held_out_split(y, groups, test_size, random_state)
    except ValueError as exc:
        raise CommandError(f"--test-size {test_size}: {exc}") from exc


def build_learner(
    strategy, *, estimator, batch_size, n_rounds, n_initial, random_state, checkpoint_dir=None
):
    """The ActiveLearner of one strategy (see the --help epilog)."""
    from sklearn.linear_model import LogisticRegression

    from ...active import ActiveLearner, make_query_strategy
    from ...heads import LinearHead

    seed = random_state
    if estimator == "logistic":
        model = LogisticRegression(max_iter=1000, random_state=seed)
    else:
        model = LinearHead(random_state=seed)
    return ActiveLearner(
        model,
        make_query_strategy(strategy, random_state=seed),
        batch_size=batch_size,
        n_rounds=n_rounds,
        n_initial=n_initial,
        scoring="balanced_accuracy",
        checkpoint_dir=checkpoint_dir,
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
    """One row per labeled count, one column per strategy (the table on stdout)."""
    rows = {}
    for name, learner in learners.items():
        for entry in learner.history_:
            rows.setdefault(entry["n_labeled"], {"n_labeled": entry["n_labeled"]})[name] = entry[
                "score"
            ]
    return [{name: row.get(name) for name in ["n_labeled", *learners]} for row in rows.values()]


def _plot(learners, title):
    from ...plotting import plot_learning_curve

    return plot_learning_curve(learners, title=title)
