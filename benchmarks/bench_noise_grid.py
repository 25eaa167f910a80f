"""GridSearchCV over noise rates and heads through a cached embedding Pipeline.

The search is ``GridSearchCV(Pipeline([("embed", FoundationEmbedder(..., cache=dir)),
("clf", NoisyLabelClassifier(head, UniformNoise()))]))`` over 6 uniform noise
rates x {MLPHead, LinearHead} x 5 stratified folds on real LC25000 tiles. It is
timed against embedding once and looping over folds, rates and heads by hand,
with the same seeds, so the two must give identical scores. The backbone forward
count shows that the cache embeds each tile once over the whole search
(byte-identical tiles, which LC25000 has a few of, are embedded once too).

No pretrained weights can be downloaded here, so the backbone is a
random-init ResNet-18 (``pretrained=False, random_state=0``): the scores show
the degradation with noise, not the accuracy of a foundation model. LC25000 is
augmented from 250 originals per class, so its scores are optimistic; use them
for relative comparisons only.

    python benchmarks/bench_noise_grid.py            # 900 tiles, 64 px, 6 rates x 2 heads x 5 folds
    python benchmarks/bench_noise_grid.py --quick    # smoke run
"""

import argparse
import tempfile
import time

import numpy as np
from _common import add_common_arguments, lc25000_root, markdown_table, write_results
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skhisto import FoundationEmbedder, LinearHead, MLPHead, NoisyLabelClassifier, UniformNoise
from skhisto.datasets import load_image_folder
from skhisto.embedding import forward_count
from skhisto.utils import clear_caches, progress


def _heads(max_epochs):
    return [
        MLPHead(max_epochs=max_epochs, random_state=0),
        LinearHead(max_epochs=max_epochs, random_state=0),
    ]


def _measured(fn, *args):
    """``fn(*args)`` with its wall time, process CPU time and backbone forwards.

    The machine is shared, so CPU time (all work here is single-threaded with
    OMP_NUM_THREADS=1) is the fairer comparison; wall time is reported too.
    """
    clear_caches()  # each run builds its own backbone
    count, wall, cpu = forward_count(), time.perf_counter(), time.process_time()
    result = fn(*args)
    return (
        result,
        time.perf_counter() - wall,
        time.process_time() - cpu,
        forward_count() - count,
    )


def _mean_std(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def grid_search(paths, y, embedder, grid, folds):
    """The Pipeline way: the search embeds through the cache inside every fit and score."""
    pipe = Pipeline([("embed", embedder), ("clf", NoisyLabelClassifier(MLPHead(), UniformNoise()))])
    search = GridSearchCV(
        pipe, grid, cv=folds, scoring="balanced_accuracy", refit=False, error_score="raise"
    )
    search.fit(paths, y)
    results = search.cv_results_
    scores = {}
    for i, params in enumerate(results["params"]):
        key = (params["clf__noise__rate"], type(params["clf__estimator"]).__name__)
        scores[key] = [results[f"split{k}_test_score"][i] for k in range(len(folds))]
    return scores


def by_hand(paths, y, embedder, grid, folds):
    """Embed once, then loop over folds, rates and heads."""
    X = clone(embedder).fit_transform(paths)
    scores = {}
    combos = [(r, h) for r in grid["clf__noise__rate"] for h in grid["clf__estimator"]]
    for rate, head in progress(combos, total=len(combos), desc="by hand", verbose=True):
        fold_scores = []
        for train, test in folds:
            model = NoisyLabelClassifier(clone(head), UniformNoise(rate, random_state=0))
            model.fit(X[train], y[train])
            fold_scores.append(balanced_accuracy_score(y[test], model.predict(X[test])))
        scores[(rate, type(head).__name__)] = fold_scores
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=60)
    parser.add_argument("--name", default=None, help="results file name")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    rates = [0.0, 0.1, 0.2, 0.3, 0.4, 0.6]
    if args.quick:
        args.per_class, args.folds, args.max_epochs, rates = 10, 2, 2, [0.0, 0.4]

    data = load_image_folder(lc25000_root(args.data), max_per_class=args.per_class, random_state=0)
    paths, y = np.asarray(data.paths), np.asarray(data.target_names)[data.target]
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=0).split(paths, y))
    grid = {
        "clf__noise__rate": rates,
        "clf__noise__random_state": [0],
        "clf__estimator": _heads(args.max_epochs),
    }
    params = dict(
        backbone="resnet18",
        pretrained=False,
        image_size=args.image_size,
        random_state=0,
        verbose=False,
    )

    with tempfile.TemporaryDirectory() as cache:
        embedder = FoundationEmbedder(**params, cache=cache)
        search_scores, search_s, search_cpu, search_forwards = _measured(
            grid_search, paths, y, embedder, grid, folds
        )
    hand_grid = {**grid, "clf__estimator": _heads(args.max_epochs)}
    hand_scores, hand_s, hand_cpu, hand_forwards = _measured(
        by_hand, paths, y, FoundationEmbedder(**params), hand_grid, folds
    )

    max_diff = max(
        abs(a - b)
        for key in search_scores
        for a, b in zip(search_scores[key], hand_scores[key], strict=True)
    )
    rows = [
        [f"{rate:.1f}"]
        + [_mean_std(search_scores[(rate, head)]) for head in ("MLPHead", "LinearHead")]
        for rate in rates
    ]
    n_fits = len(rates) * 2 * args.folds
    title = (
        f"{len(paths)} LC25000 tiles ({args.per_class}/class), random-init ResNet-18 at "
        f"{args.image_size} px, {len(rates)} uniform rates x 2 heads x {args.folds} folds "
        f"= {n_fits} fits, heads max_epochs={args.max_epochs} with early stopping"
    )
    timing = markdown_table(
        ["run", "CPU time (s)", "wall time (s)", "backbone forwards"],
        [
            [
                "GridSearchCV over cached Pipeline",
                f"{search_cpu:.1f}",
                f"{search_s:.1f}",
                search_forwards,
            ],
            ["embed once + loop by hand", f"{hand_cpu:.1f}", f"{hand_s:.1f}", hand_forwards],
        ],
    )
    table = (
        f"## Noise-rate grid search through a cached embedding Pipeline\n\n{title}\n\n"
        "Balanced accuracy on clean test labels (mean ± std over folds):\n\n"
        + markdown_table(["noise rate", "MLPHead", "LinearHead"], rows)
        + "\n\n"
        + timing
        + f"\n\nPipeline / by-hand CPU time = {search_cpu / hand_cpu:.2f} "
        f"(wall time {search_s / hand_s:.2f}, on a machine shared with other jobs); "
        f"largest score difference between the two = {max_diff:.2e} (same seeds). "
        "Random-init backbone (no weights downloadable here) and augmented LC25000: "
        "relative comparisons only."
    )
    payload = {
        "config": {**vars(args), "rates": rates},
        "n_images": len(paths),
        "search_seconds": search_s,
        "by_hand_seconds": hand_s,
        "search_cpu_seconds": search_cpu,
        "by_hand_cpu_seconds": hand_cpu,
        "search_forwards": search_forwards,
        "by_hand_forwards": hand_forwards,
        "max_score_difference": max_diff,
        "scores": {f"{rate}/{head}": s for (rate, head), s in search_scores.items()},
    }
    write_results(args.name or "bench_noise_grid", payload, table, out=args.out, quick=args.quick)
    return payload


if __name__ == "__main__":
    main()
