"""``skhisto active``: active-learning curves of query strategies on a labeled embeddings file."""

from pathlib import Path

from .._backbone_options import BackboneOptions, add_backbone_arguments
from .._checkpoints import active_learner_round, announce_resume
from .._embeddings import read_embeddings_with_columns
from .._errors import CommandError, checkpoint_errors_in_cli_words
from .._groups import add_groups_argument, held_out_split, pick_groups
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
    fraction,
    positive_int,
    query_strategy_names,
)
from .._outputs import announce, check_out_dir, check_outputs, show_results
from .._provenance import check_folder_embeddings
from .._seeds import (
    add_seeds_argument,
    plus_minus,
    run_seeds,
    seed_folder,
    seeds_words,
    show_seed_results,
)
from .._tracking_options import add_tracking_arguments, log_results, run_tracker

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
  skhisto active ../shared/data/lc25000_lung --per-class 40 --no-pretrained --image-size 64
  skhisto active emb.npz --strategy entropy --n-rounds 20 --checkpoint-dir ckpt --out-dir results

EMBEDDINGS is a labeled .npz, .parquet or .zarr written by `skhisto embed` (its rows drawn by
--per-class of each label, then --max-images: a Zarr store reads only those), or labeled
images (class folders or a CSV with 'path' and 'label', drawn with --per-class of each class
and --max-images), then
  X = FoundationEmbedder(BACKBONE, ..., random_state=SEED).fit_transform(paths)
through the cache (--backbone and the embedding options; --embed-batch-size is its batch
size, --batch-size the labels per round). Each strategy
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
With --seeds S1 S2 ..., the whole run (draw, split, initial labels, strategies, estimator) is
repeated with each seed as SEED (checkpoints in DIR/seed_<S>/<strategy>); the table shows,
per labeled count and strategy, the mean ± std across seeds of the balanced accuracy, as
  summarize_seeds(table, by=["strategy", "round", "n_labeled"], score="balanced_accuracy")
of the per-seed table; active.csv has a 'seed' column first and every seed's rows,
active_seeds.csv the mean and std (n_seeds), and active.png a band of one std per strategy.

a pathologist as the oracle (--annotate DIR, one strategy, default typiclust):
  skhisto active emb.npz --annotate al --strategy coreset   # writes al/queries.csv
  skhisto review al/queries.csv --out-dir al   # label them: saved in al/queries.decisions.csv
  skhisto active emb.npz --annotate al --strategy coreset   # reads them, writes the next batch
  ... until the rounds are done: then active.csv and active.png as above (with n_relabeled
  and n_unusable per round).
Each call runs ActiveLearner(..., checkpoint_dir=DIR).fit(X_pool, oracle) with the oracle
oracle_from_decisions(DIR/queries.decisions.csv, paths of X_pool, queries=DIR/queries.csv):
it stops at the first batch still to label and writes it as DIR/queries.csv (path, label
empty, score = the model's probability of its predicted class, rank, round, predicted, group)
and DIR/queries.json ({"classes": [...], "round": r, "strategy": NAME, "n_queries": n}; round
0 is the initial set, round r the batch first trained on in round r). Reviewed batches are
kept as DIR/rounds/round_<r>.queries.csv and .decisions.csv. Decisions: keep (the shown
label), relabel (to new_label), unusable (never trained on nor queried again), skip (asked
again). With labels in EMBEDDINGS, the held-out split is drawn as above and scored with them
(the pool's labels are hidden, the reviewer gives them); without labels every row is in the
pool, nothing is scored (balanced_accuracy empty) and --classes names the classes.
"""

#: --estimator names -> the estimator's class name.
ESTIMATORS = {"logistic": "LogisticRegression", "linear": "LinearHead"}
CSV_NAME, PNG_NAME = "active.csv", "active.png"
#: --n-rounds when not given and the pool holds them (else as many as it holds).
DEFAULT_ROUNDS = 10
CSV_COLUMNS = ["strategy", "round", "n_labeled", "balanced_accuracy", "fit_time", "query_time"]


def add_arguments(parser):
    add_input_argument(
        parser,
        "EMBEDDINGS",
        "labeled .npz, .parquet or .zarr, or labeled images (class folders or a CSV), "
        "embedded once through the cache with --backbone",
    )
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
    ):
        help_text = f"{text} (default: {default})"
        parser.add_argument(flag, type=positive_int, default=default, metavar="N", help=help_text)
    parser.add_argument(
        "--n-rounds",
        type=positive_int,
        metavar="N",
        help=f"query rounds (default: {DEFAULT_ROUNDS}, fewer when the pool holds fewer labels: "
        "as many as --n-initial + N x --batch-size fit in it)",
    )
    parser.add_argument(
        "--checkpoint-dir", metavar="DIR", help="save every round there and resume from it"
    )
    parser.add_argument(
        "--annotate",
        metavar="DIR",
        help="a pathologist is the oracle: write the next batch to label as DIR/queries.csv "
        "(for `skhisto review`), read its decisions on the next call (see below)",
    )
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="with --annotate: the classes the reviewer labels with (default: EMBEDDINGS' labels)",
    )
    add_groups_argument(parser)
    add_json_argument(parser)
    add_seed_argument(parser, "the split, the initial labels, the strategies and the estimator")
    add_seeds_argument(parser, CSV_NAME, "each strategy's score per round")
    add_out_dir_argument(parser, "active")
    add_per_class_argument(parser)
    add_max_images_argument(parser)
    add_backbone_arguments(parser, default="resnet18", batch_flag="--embed-batch-size")
    add_tracking_arguments(parser, "each strategy's balanced accuracy per round")


def run(args):
    if args.annotate is not None and args.log_to is not None:
        raise CommandError("--log-to tracks a simulated run; --annotate runs none to track")
    if args.annotate is not None:
        return _annotate(args)
    if args.classes:
        raise CommandError("--classes names the reviewer's classes: it goes with --annotate DIR")
    out_dir = check_outputs(NAME, args.out_dir)
    checkpoints = _checkpoint_dir(args.checkpoint_dir)
    run_tracker(NAME, args)  # --log-to: opened before any work
    seeds, runs = run_seeds(NAME, args, lambda seed: _one_run(args, checkpoints, seed))
    _log_rounds(args, seeds or [args.random_state], runs)
    if seeds:
        return _show_seeds(args, seeds, runs, out_dir)
    learners, what, source = runs[0]
    show_results(
        NAME,
        json_output=args.json,
        title=f"Balanced accuracy {what}",
        rows=curve_rows(learners),
        columns=["n_labeled", *learners],
        table_rows=_wide(_points(learners), learners),
        csv_columns=CSV_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        plot=lambda: _plot(learners, f"{ESTIMATORS[args.estimator]}, {source}"),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _one_run(args, checkpoints, seed):
    """The fitted learner of each strategy of one run seeded with ``seed`` (the draw, the
    split, the initial labels, the strategies and the estimator), what they were scored on
    (words after "Balanced accuracy") and the embeddings' source."""
    data = labeled_input(
        args.input,
        min_per_class=2,
        what="the stratified --test-size split",
        groups=args.groups,
        per_class=args.per_class,
        max_images=args.max_images,
        random_state=seed,
    )
    # images: embedded once, through the cache; a file: its embeddings, and their provenance
    # in the title (--backbone or --image-size other than the file's are warned about)
    data.embeddings, source, _ = embed_labeled(
        NAME, data, args.input, BackboneOptions.from_args(args)
    )
    pool, test = _split(data.labels, data.groups.values, args.test_size, seed)
    X_pool, X_test = data.embeddings[pool], data.embeddings[test]
    y_pool, y_test = data.labels[pool], data.labels[test]
    groups = _fit_groups(data.groups.values, pool, test)
    _check_budget(args, len(X_pool))
    learners = {}
    for name in dict.fromkeys(args.strategy or query_strategy_names()):
        announce(NAME, f"{name}: {args.n_rounds} rounds of {args.batch_size} labels")
        folder = seed_folder(checkpoints, seed, args.seeds)
        checkpoint_dir = folder / name if folder else None
        learner = _learner_of(args, name, checkpoint_dir, seed)
        announce_resume(NAME, checkpoint_dir, active_learner_round, what=f"{name} ")
        with checkpoint_errors_in_cli_words():
            learners[name] = learner.fit(X_pool, y_pool, X_test=X_test, y_test=y_test, **groups)
    what = (
        f"on {len(X_test)} held-out samples against labels queried from a pool of "
        f"{len(X_pool)}{data.groups.clause()}, {ESTIMATORS[args.estimator]} on {source}"
    )
    return learners, what, source


def _show_seeds(args, seeds, runs, out_dir):
    """Every --seeds run's curves (active.csv, a ``seed`` column) and the mean and std across
    seeds of each strategy's score per round (active_seeds.csv; the table, the plot's band)."""
    learners, what, source = runs[0]
    names = list(learners)
    seeds_text = seeds_words(seeds)

    def table(summary):
        cells = (
            (row["strategy"], row["n_labeled"], plus_minus(*_mean_std(row))) for row in summary
        )
        return _wide(cells, names)

    show_seed_results(
        NAME,
        args,
        seeds,
        [curve_rows(run[0]) for run in runs],
        by=["strategy", "round", "n_labeled"],
        score="balanced_accuracy",
        csv_columns=CSV_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        table=table,
        title=f"Balanced accuracy (mean ± std over {seeds_text}) {what}",
        columns=["n_labeled", *names],
        plot=lambda: _plot(
            {name: [run[0][name] for run in runs] for name in names},
            f"{ESTIMATORS[args.estimator]}, {source}, mean and std over {seeds_text}",
        ),
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _mean_std(row):
    return row["balanced_accuracy_mean"], row["balanced_accuracy_std"]


def _checkpoint_dir(folder):
    return None if folder is None else check_out_dir(folder, "--checkpoint-dir")


def _split(y, groups, test_size, random_state):
    try:
        return held_out_split(y, groups, test_size, random_state)
    except ValueError as exc:
        raise CommandError(f"--test-size {test_size}: {exc}") from exc


def _fit_groups(values, pool, test):
    """ActiveLearner.fit's ``groups`` (of the pool) and ``groups_test`` (of ``test``, unless
    None); nothing without groups."""
    if values is None:
        return {}
    if test is None:
        return {"groups": values[pool]}
    return {"groups": values[pool], "groups_test": values[test]}


def _check_budget(args, n_pool):
    """Refuse rounds that would ask for more labels than the pool holds; without --n-rounds,
    as many rounds as the pool holds, at most DEFAULT_ROUNDS (said when fewer)."""
    if args.n_rounds is None:
        fit = (n_pool - args.n_initial) // args.batch_size
        args.n_rounds = min(DEFAULT_ROUNDS, fit)
        if 1 <= fit < DEFAULT_ROUNDS:
            announce(
                NAME,
                f"--n-rounds {fit}: a pool of {n_pool} samples holds --n-initial "
                f"{args.n_initial} + {fit} x --batch-size {args.batch_size} labels, not "
                f"{DEFAULT_ROUNDS} rounds",
            )
        if fit < 1:
            args.n_rounds = 1  # refused below, in the words of an explicit --n-rounds 1
    needed = args.n_initial + args.n_rounds * args.batch_size
    if needed > n_pool:
        raise CommandError(
            f"--n-initial {args.n_initial} + --n-rounds {args.n_rounds} x --batch-size "
            f"{args.batch_size} = {needed} labels, but the pool has {n_pool} samples"
        )


def _learner_of(args, strategy, checkpoint_dir, seed):
    """:func:`build_learner` with the command line's options, seeded with ``seed``."""
    return build_learner(
        strategy,
        estimator=args.estimator,
        batch_size=args.batch_size,
        n_rounds=args.n_rounds,
        n_initial=args.n_initial,
        random_state=seed,
        checkpoint_dir=checkpoint_dir,
    )


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


def _points(learners):
    """(strategy, labeled count, score) of every round of every learner."""
    for name, learner in learners.items():
        for entry in learner.history_:
            yield name, entry["n_labeled"], entry["score"]


def _wide(cells, names):
    """One row per labeled count, one column per strategy (of ``names``): the table on
    stdout of ``cells``, (strategy, labeled count, cell) each."""
    rows = {}
    for name, n_labeled, cell in cells:
        rows.setdefault(n_labeled, {"n_labeled": n_labeled})[name] = cell
    return [{name: row.get(name) for name in ["n_labeled", *names]} for row in rows.values()]


def _plot(learners, title):
    from ...plotting import plot_learning_curve

    return plot_learning_curve(learners, title=title)


#: What --annotate writes in DIR: the batch to label, its hints, the review page's decisions.
QUERIES, QUERIES_JSON, DECISIONS = "queries.csv", "queries.json", "queries.decisions.csv"
ANNOTATE_COLUMNS = [*CSV_COLUMNS[:4], "n_relabeled", "n_unusable", *CSV_COLUMNS[4:]]


def _annotate(args):
    """One step of the loop with a reviewer: read DIR's decisions, fit, write the next batch."""
    import numpy as np

    from ...active import HumanOracle, oracle_from_decisions

    names = list(dict.fromkeys(args.strategy or ["typiclust"]))
    if len(names) > 1:
        raise CommandError(
            f"--annotate runs one strategy (the reviewer labels its batches), got --strategy "
            f"{' '.join(names)}; pass one"
        )
    if args.checkpoint_dir is not None:
        raise CommandError("--annotate DIR keeps its checkpoint in DIR: drop --checkpoint-dir")
    if args.seeds:
        raise CommandError(
            "--seeds repeats a scored run; --annotate DIR is one run a reviewer labels: drop "
            "--seeds (--random-state seeds it)"
        )
    out_dir = check_outputs(NAME, args.out_dir)
    folder = check_out_dir(args.annotate, "--annotate")
    draw = {
        "per_class": args.per_class,
        "max_images": args.max_images,
        "random_state": args.random_state,
    }
    X, labels, paths, columns = read_embeddings_with_columns(args.input, **draw)
    check_folder_embeddings(folder, args.input)  # the rounds before used the same backbone
    if labels is not None:
        data = labeled_input(
            args.input,
            min_per_class=2,
            what="the stratified --test-size split",
            images=False,
            groups=args.groups,
            **draw,
        )
        groups = data.groups
        pool, test = _split(data.labels, groups.values, args.test_size, args.random_state)
        test_set = {"X_test": X[test], "y_test": data.labels[test]}
        classes = args.classes or sorted(set(data.labels.tolist()))
    else:
        groups = pick_groups(args.groups, columns=columns, paths=paths.tolist(), source=args.input)
        pool, test_set = np.arange(len(X)), {}
        if not args.classes:
            raise CommandError(
                f"EMBEDDINGS {args.input!r} has no labels: name the reviewer's classes with "
                "--classes NAME [NAME ...]"
            )
        classes = args.classes
    pool_paths = paths[pool].astype(str)
    if len(set(pool_paths.tolist())) != len(pool_paths):
        raise CommandError(f"EMBEDDINGS {args.input!r} names an image twice: paths must be unique")
    fit_groups = _fit_groups(groups.values, pool, test if test_set else None)
    _check_budget(args, len(pool))
    keys = np.array([_query_path(p) for p in pool_paths.tolist()])
    queries, decisions = folder / QUERIES, folder / DECISIONS
    if decisions.exists():
        if not queries.exists():
            raise CommandError(f"{str(decisions)!r} has no {QUERIES} beside it to check it against")
        try:
            oracle = oracle_from_decisions(
                decisions, keys, classes=classes, input_digest=_queries_digest(queries)
            )
        except ValueError as exc:
            raise CommandError(" ".join(str(exc).split())) from None
    else:
        oracle = HumanOracle(np.full(len(pool), ""), pending=np.ones(len(pool), dtype=bool))
    name = names[0]
    learner = _learner_of(args, name, folder, args.random_state)
    if (folder / "checkpoint.npz").exists():
        announce(NAME, f"continuing the run saved in {str(folder / 'checkpoint.npz')!r}")
    with checkpoint_errors_in_cli_words():
        learner.fit(X[pool], oracle, **test_set, **fit_groups)
    if learner.pending_.size:
        return _ask_review(learner, X[pool], keys, oracle, folder, classes, name, fit_groups)
    _archive(folder)
    learners = {name: learner}
    scored = f"on {len(test)} held-out samples " if test_set else "(nothing held out: unscored) "
    title = (
        f"Balanced accuracy {scored}against labels a reviewer gave ({name}) from a pool of "
        f"{len(pool)}{groups.clause()}, {ESTIMATORS[args.estimator]} on embeddings read from "
        f"{args.input}"
    )
    rows = [
        dict(row, n_relabeled=entry.get("n_relabeled"), n_unusable=entry.get("n_unusable"))
        for row, entry in zip(curve_rows(learners), learner.history_, strict=True)
    ]
    show_results(
        NAME,
        json_output=args.json,
        title=title,
        rows=rows,
        columns=["round", "n_labeled", "n_relabeled", "n_unusable", "balanced_accuracy"],
        csv_columns=ANNOTATE_COLUMNS,
        csv_path=out_dir / CSV_NAME,
        plot=(lambda: _plot(learners, f"{ESTIMATORS[args.estimator]}, reviewer's labels"))
        if test_set
        else None,
        png_path=out_dir / PNG_NAME,
    )
    return 0


def _ask_review(learner, X, paths, oracle, folder, classes, strategy, groups):
    """Write the batch the learner waits for (unless DIR/queries.csv is it) and say what next."""
    import json

    from ...utils import atomic_write

    batch = learner.pending_
    queries = folder / QUERIES
    initial = learner.labeled_indices_.size == 0
    round_ = 0 if initial else len(learner.history_) + 1
    current = _listed_paths(queries)
    if current is not None and set(current) == set(paths[batch].tolist()):
        waiting = int(oracle.pending[batch].sum())
        announce(
            NAME, f"{waiting} of the {len(batch)} queries of {str(queries)!r} are not labelled yet"
        )
    else:
        _archive(folder)
        rows = _query_rows(learner, X, paths, batch, round_, groups)
        with atomic_write(queries, "w") as f:
            write_csv_rows(f, rows)
        hints = {"classes": list(classes), "round": round_, "strategy": strategy}
        with atomic_write(folder / QUERIES_JSON, "w") as f:
            json.dump({**hints, "n_queries": len(batch)}, f, indent=2)
        what = "the initial set" if initial else f"the batch of round {round_}"
        announce(NAME, f"wrote {len(batch)} queries ({what}) to {str(queries)!r}")
    # --out-dir: review saves its decisions in review/ by default; this loop reads them in DIR
    print(f"skhisto review {queries} --out-dir {folder}")
    return 0


def _query_rows(learner, X, paths, batch, round_, groups):
    """The queries CSV's rows: the batch in the strategy's order, the model's guess beside."""
    predicted, score = [""] * len(batch), [""] * len(batch)
    model = getattr(learner, "estimator_", None)
    if learner.labeled_indices_.size and model is not None and hasattr(model, "predict_proba"):
        proba = model.predict_proba(X[batch])
        predicted = [str(c) for c in model.classes_[proba.argmax(axis=1)].tolist()]
        score = [f"{p:.6g}" for p in proba.max(axis=1).tolist()]
    rows = []
    for rank, i in enumerate(batch.tolist()):
        row = {"path": paths[i], "label": "", "score": score[rank], "rank": rank + 1}
        row.update({"round": round_, "predicted": predicted[rank]})
        if "groups" in groups:
            row["group"] = groups["groups"][i]
        rows.append(row)
    return rows


def write_csv_rows(f, rows):
    import csv

    writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _query_path(path):
    """A pool path as queries.csv lists it: absolute when it names a file here, so that
    `skhisto review` (which reads relative paths from the CSV's folder) finds it."""
    import os

    return os.path.abspath(path) if not os.path.isabs(path) and os.path.exists(path) else path


def _queries_digest(queries):
    """The :func:`skhisto.io.listing_digest` of DIR/queries.csv, as `skhisto review` takes it."""
    import csv

    from ...io import listing_digest

    with open(queries, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return listing_digest([r["path"].strip() for r in rows], [r["label"] or "" for r in rows])


def _listed_paths(queries):
    """The paths a queries CSV lists, or None when there is none."""
    import csv

    if not Path(queries).is_file():
        return None
    with open(queries, newline="", encoding="utf-8") as f:
        return [row["path"] for row in csv.DictReader(f)]


def _archive(folder):
    """Move the reviewed batch (queries, hints, decisions) to DIR/rounds/round_<r>.*."""
    import json
    import os

    queries = folder / QUERIES
    if not queries.exists():
        return
    hints = folder / QUERIES_JSON
    round_ = json.loads(hints.read_text())["round"] if hints.exists() else "unknown"
    rounds = folder / "rounds"
    rounds.mkdir(exist_ok=True)
    for name, suffix in ((DECISIONS, "decisions.csv"), (QUERIES_JSON, "json"), (QUERIES, "csv")):
        if (folder / name).exists():
            target = (
                rounds / f"round_{round_}.{'queries.' if suffix != 'decisions.csv' else ''}{suffix}"
            )
            os.replace(folder / name, target)


def _log_rounds(args, seeds, runs):
    """--log-to: the embeddings' source, and each strategy's score per round of every seed."""
    if run_tracker(NAME, args, provenance={"embeddings": runs[0][2]}) is None:
        return
    rows = [
        {**row, "seed": seed}
        for seed, (learners, _, _) in zip(seeds, runs, strict=True)
        for row in curve_rows(learners)
    ]
    log_results(
        rows, keys=["seed", "strategy"], step="round", metrics=["balanced_accuracy", "n_labeled"]
    )
