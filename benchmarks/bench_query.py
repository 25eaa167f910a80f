"""Active-sampling benchmark: query speed and memory against scikit-activeml, and learning curves.

Part ``timing``: coreset (k-center greedy) and entropy selection of ``--batch-size``
samples among ``--n-candidates`` unlabeled float32 vectors (plus ``--n-labeled``
labeled ones), skhisto against scikit-activeml (``skactiveml.pool.CoreSet`` and
``UncertaintySampling``) on identical inputs, checking the selections agree.

How it is measured: every (library, strategy) runs in its own fresh process
(spawned), which builds the same seeded data and then times one ``query`` call
with ``time.perf_counter``. Memory: ``peak_rss_mb`` is the process's peak
resident set (``resource.getrusage().ru_maxrss``: interpreter, imports, the data
and the query together); ``rss_increase_mb`` is that peak minus the resident set
just before the query; ``traced_peak_mb`` is the peak of Python/numpy heap
allocations during a second, traced run of the query (``tracemalloc``; numpy
reports its buffers to it), i.e. the query's own working memory excluding the
input. On a GPU ``torch.cuda.max_memory_allocated`` is reported as well.

Part ``curves``: pool-based learning curves on LC25000 embeddings for random,
entropy, coreset and TypiClust sampling (a few seeds), test macro-F1 after
every round. LC25000 is augmented from 250 originals per class, so its scores
are optimistic: compare strategies with it, do not read them as absolute.

Usage::

    python benchmarks/bench_query.py              # both parts, full size
    python benchmarks/bench_query.py --quick      # smoke run (tiny sizes)
    python benchmarks/bench_query.py --part timing --skactiveml-max-batch 200

Results go to ``benchmarks/results/bench_query{,_quick}.{json,md}`` (and a png).
"""

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # _common, also when loaded from a file path

from _common import (  # noqa: E402
    add_common_arguments,
    lc25000_root,
    peak_rss_mb,
    result_stem,
    rss_mb,
    write_results,
)

FULL = dict(n_candidates=100_000, n_labeled=1_000, n_features=512, batch_size=1_000, n_clusters=50)
QUICK = dict(n_candidates=3_000, n_labeled=50, n_features=64, batch_size=50, n_clusters=10)
CURVES_FULL = dict(per_class=500, batch_size=15, n_rounds=12, seeds=(0, 1, 2))
CURVES_QUICK = dict(per_class=25, batch_size=6, n_rounds=2, seeds=(0,))
N_CLASSES = 5


# --- timing -------------------------------------------------------------------------------


def make_pool(n_candidates, n_labeled, n_features, n_clusters, seed=0):
    """Seeded Gaussian-mixture float32 pool; the first ``n_labeled`` rows are labeled."""
    rng = np.random.RandomState(seed)
    n = n_candidates + n_labeled
    means = (rng.randn(n_clusters, n_features) * 2).astype(np.float32)
    component = rng.randint(n_clusters, size=n)
    X = np.empty((n, n_features), dtype=np.float32)
    for start in range(0, n, 10_000):  # in blocks, so no float64 copy of the pool
        stop = min(n, start + 10_000)
        noise = rng.randn(stop - start, n_features).astype(np.float32)
        X[start:stop] = means[component[start:stop]] + noise
    y = np.full(n, -1)
    y[:n_labeled] = component[:n_labeled] % N_CLASSES
    return X, y


def _make_query(library, strategy, X, y, batch_size):
    """A zero-argument function running one query, and anything it needs prepared."""
    from sklearn.linear_model import LogisticRegression

    if strategy == "entropy":
        from skactiveml.classifier import SklearnClassifier

        clf = SklearnClassifier(
            LogisticRegression(max_iter=300),
            classes=np.arange(N_CLASSES),
            missing_label=-1,
            random_state=0,
        ).fit(X, y)
    if library == "skhisto":
        from skhisto import CoresetSampling, UncertaintySampling

        if strategy == "coreset":
            return lambda: CoresetSampling(random_state=0).query(X, y, batch_size=batch_size)
        fitted = clf.estimator_
        return lambda: UncertaintySampling("entropy").query(X, y, fitted, batch_size=batch_size)
    from skactiveml.pool import CoreSet, UncertaintySampling

    if strategy == "coreset":
        return lambda: CoreSet(missing_label=-1, random_state=0).query(X, y, batch_size=batch_size)
    qs = UncertaintySampling(method="entropy", missing_label=-1, random_state=0)
    return lambda: qs.query(X, y, clf, fit_clf=False, batch_size=batch_size)


def run_query(spec):
    """One measured query (run in a fresh process): time, memory, selection."""
    import torch

    torch.set_num_threads(spec["threads"])
    X, y = make_pool(**spec["pool"])
    query = _make_query(spec["library"], spec["strategy"], X, y, spec["batch_size"])
    rss_before = rss_mb()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start, cpu_start = time.perf_counter(), time.process_time()
    picks = np.asarray(query())
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    result = {
        "library": spec["library"],
        "strategy": spec["strategy"],
        "batch_size": spec["batch_size"],
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "rss_increase_mb": max(0.0, peak_rss_mb() - rss_before),
        "picks": picks.tolist(),
    }
    if torch.cuda.is_available():
        result["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if spec["traced"]:
        tracemalloc.start()
        query()
        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return result


def _run(spec, isolated):
    if not isolated:
        import torch

        # In-process runs (--quick, tests) must not leave their thread count behind:
        # later torch work in the same process would compute with a different count.
        threads = torch.get_num_threads()
        try:
            return run_query(spec)
        finally:
            torch.set_num_threads(threads)
    context = multiprocessing.get_context("spawn")  # a fresh process: clean peak-RSS figures
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_query, spec).result()


def timing(args, sizes):
    threads = os.cpu_count() or 1
    specs = []
    for strategy in ("coreset", "entropy"):
        for library in ("skhisto", "skactiveml"):
            specs.append(
                dict(
                    library=library,
                    strategy=strategy,
                    pool={k: sizes[k] for k in ("n_candidates", "n_labeled", "n_features")}
                    | {"n_clusters": sizes["n_clusters"]},
                    batch_size=sizes["batch_size"],
                    threads=threads,
                    traced=library == "skhisto",
                )
            )
    results = {}
    for spec in specs:
        key = f"{spec['library']}/{spec['strategy']}"
        cap = args.skactiveml_max_batch
        if spec["library"] == "skactiveml" and spec["strategy"] == "coreset" and cap:
            if cap < spec["batch_size"]:
                results[key] = _extrapolated(spec, cap, not args.quick)
                _print_row(key, results[key])
                continue
        results[key] = _run(spec, isolated=not args.quick)
        _print_row(key, results[key])
    summary = _compare(results, sizes["batch_size"])
    for result in results.values():
        del result["picks"]  # compared above; the indices themselves are not worth keeping
    return {"sizes": sizes, "threads": threads, "results": results, "summary": summary}


def _extrapolated(spec, cap, isolated):
    """Time skactiveml's CoreSet at two smaller batches and extrapolate linearly."""
    small = dict(spec, batch_size=max(1, cap // 5), traced=False)
    large = dict(spec, batch_size=cap, traced=False)
    t_small, t_large = _run(small, isolated), _run(large, isolated)
    per_pick = (t_large["seconds"] - t_small["seconds"]) / (cap - small["batch_size"])
    result = dict(t_large)
    result["measured_batch_size"] = cap
    result["measured_seconds"] = t_large["seconds"]
    result["seconds"] = t_large["seconds"] + per_pick * (spec["batch_size"] - cap)
    cpu_per_pick = (t_large["cpu_seconds"] - t_small["cpu_seconds"]) / (cap - small["batch_size"])
    result["cpu_seconds"] = t_large["cpu_seconds"] + cpu_per_pick * (spec["batch_size"] - cap)
    result["extrapolated"] = True
    result["batch_size"] = spec["batch_size"]
    return result


def _print_row(key, result):
    note = ""
    if result.get("extrapolated"):
        note = f"  (EXTRAPOLATED from a measured batch of {result['measured_batch_size']})"
    traced = result.get("traced_peak_mb")
    traced = f"{traced:8.0f}" if traced is not None else "       -"
    print(
        f"{key:22s} {result['seconds']:9.2f} s (CPU {result['cpu_seconds']:7.2f} s)"
        f"  peak RSS {result['peak_rss_mb']:7.0f} MB"
        f"  +{result['rss_increase_mb']:6.0f} MB  traced {traced} MB{note}",
        flush=True,
    )


def _compare(results, batch_size):
    summary = {}
    for strategy in ("coreset", "entropy"):
        ours = results[f"skhisto/{strategy}"]
        theirs = results[f"skactiveml/{strategy}"]
        k = min(len(ours["picks"]), len(theirs["picks"]))
        a, b = np.array(ours["picks"][:k]), np.array(theirs["picks"][:k])
        mismatch = np.flatnonzero(a != b)
        summary[strategy] = {
            "speedup": theirs["seconds"] / ours["seconds"],
            "cpu_speedup": theirs["cpu_seconds"] / ours["cpu_seconds"],
            "compared_picks": int(k),
            "identical_order": bool(mismatch.size == 0),
            "identical_prefix": int(mismatch[0]) if mismatch.size else int(k),
            "positions_differing": int(mismatch.size),
            "same_set": bool(set(a.tolist()) == set(b.tolist())),
            "skactiveml_extrapolated": bool(theirs.get("extrapolated", False)),
        }
        print(
            f"{strategy}: skhisto is {summary[strategy]['speedup']:.1f}x faster "
            f"({summary[strategy]['cpu_speedup']:.1f}x in CPU time) than "
            f"scikit-activeml{' (extrapolated)' if theirs.get('extrapolated') else ''}; "
            f"selections identical on the first {summary[strategy]['identical_prefix']}/{k} "
            f"picks, {mismatch.size} positions differ (same set: {summary[strategy]['same_set']})",
            flush=True,
        )
    return summary


# --- learning curves ----------------------------------------------------------------------


def curves(args, sizes):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skhisto import (
        ActiveLearner,
        CoresetSampling,
        FoundationEmbedder,
        RandomSampling,
        TypiClustSampling,
        UncertaintySampling,
    )
    from skhisto.datasets import load_image_folder

    data = load_image_folder(
        lc25000_root(args.data), max_per_class=sizes["per_class"], random_state=0
    )
    embedder = FoundationEmbedder(
        "resnet18",
        pretrained=False,
        image_size=64,
        random_state=0,
        cache=str(args.cache),
        verbose=False,
    )
    start = time.perf_counter()
    features = embedder.fit_transform(data.paths)
    embed_seconds = time.perf_counter() - start
    X, X_test, y, y_test = train_test_split(
        features, data.target, test_size=0.3, stratify=data.target, random_state=0
    )
    strategies = {
        "random": lambda seed: RandomSampling(random_state=seed),
        "entropy": lambda seed: UncertaintySampling("entropy"),
        "coreset": lambda seed: CoresetSampling(random_state=seed),
        "typiclust": lambda seed: TypiClustSampling(random_state=seed),
    }
    runs = {}
    for name, make in strategies.items():
        runs[name] = []
        for seed in sizes["seeds"]:
            learner = ActiveLearner(
                make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
                make(seed),
                batch_size=sizes["batch_size"],
                n_rounds=sizes["n_rounds"],
                scoring="f1_macro",
                random_state=seed,
            ).fit(X, y, X_test=X_test, y_test=y_test)
            runs[name].append(learner.history_)
        scores = np.array([[h["score"] for h in run] for run in runs[name]])
        print(f"{name:10s} macro-F1 by round: {np.round(scores.mean(axis=0), 3).tolist()}")
    return {
        "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in sizes.items()},
        "embedder": " ".join(repr(clone(embedder).set_params(cache=None)).split()),
        "embed_seconds": embed_seconds,
        "n_pool": len(X),
        "n_test": len(X_test),
        "runs": runs,
    }


def _plot(curve_results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        from skhisto.plotting import plot_learning_curve
    except ImportError:
        return None
    ax = plot_learning_curve(
        curve_results["runs"], title="LC25000 (resnet18, random weights, 64 px)"
    )
    ax.set_ylabel("test macro-F1")
    ax.figure.savefig(path, dpi=120, bbox_inches="tight")
    return path.name


# --- report -------------------------------------------------------------------------------


def markdown(report):
    lines = [f"# bench_query{' (quick)' if report['quick'] else ''}", ""]
    if "timing" in report:
        t = report["timing"]
        s = t["sizes"]
        lines += [
            f"## Query: {s['batch_size']} of {s['n_candidates']:,} x {s['n_features']} float32 "
            f"candidates, {s['n_labeled']:,} labeled",
            "",
            f"Measured on {t.get('machine', '?')}: wall-clock timings vary with the other "
            "jobs' load; CPU seconds (process time, summed over threads) vary less. "
            "Each row is a fresh process; peak RSS is the whole process's maximum resident set "
            "(ru_maxrss: interpreter, imports, the data and the query), RSS increase is that "
            "peak minus the resident set just before the query, traced peak is tracemalloc's "
            "peak of Python/numpy allocations during a second run of the query.",
            "",
            "| library / strategy | seconds | CPU seconds | peak RSS (MB) | RSS increase (MB) "
            "| traced peak (MB) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for key, r in t["results"].items():
            seconds = f"{r['seconds']:.2f}" + (" (extrapolated)" if r.get("extrapolated") else "")
            traced = f"{r['traced_peak_mb']:.0f}" if "traced_peak_mb" in r else "-"
            lines.append(
                f"| {key} | {seconds} | {r.get('cpu_seconds', float('nan')):.2f} "
                f"| {r['peak_rss_mb']:.0f} | {r['rss_increase_mb']:.0f} "
                f"| {traced} |"
            )
        lines += [
            "",
            "| strategy | speed-up vs scikit-activeml (wall / CPU) | identical leading picks "
            "| positions differing | same set |",
            "|---|---:|---:|---:|---|",
        ]
        for strategy, r in t["summary"].items():
            lines.append(
                f"| {strategy} | {r['speedup']:.1f}x / {r.get('cpu_speedup', float('nan')):.1f}x "
                f"| {r['identical_prefix']}/"
                f"{r['compared_picks']} | {r.get('positions_differing', '?')} | {r['same_set']} |"
            )
        lines += [
            "",
            "skhisto computes distances in float32 (expanded form), scikit-activeml in float64: "
            "two candidates whose distances differ by ~1e-7 relative can be picked in swapped "
            "order; the greedy is otherwise the same algorithm.",
            "",
        ]
    if "curves" in report:
        c = report["curves"]
        rounds = len(next(iter(c["runs"].values()))[0])
        header = [str(h["n_labeled"]) for h in next(iter(c["runs"].values()))[0]]
        lines += [
            f"## Learning curves: LC25000, {c['n_pool']} pool / {c['n_test']} test, "
            f"seeds {c['sizes']['seeds']}",
            "",
            f"Measured on {c.get('machine', '?')}. "
            f"Test macro-F1 (mean over seeds) by number of labels; embeddings {c['embedder']}. "
            "LC25000 is augmented from 250 originals per class: compare strategies, "
            "do not read the scores as absolute.",
            "",
            "| strategy | " + " | ".join(header) + " | mean query s |",
            "|---|" + "---:|" * (rounds + 1),
        ]
        for name, runs in c["runs"].items():
            scores = np.array([[h["score"] for h in run] for run in runs]).mean(axis=0)
            query = np.mean([h["query_time"] for run in runs for h in run[:-1]])
            lines.append(
                f"| {name} | " + " | ".join(f"{v:.3f}" for v in scores) + f" | {query:.3f} |"
            )
        if report.get("plot"):
            lines += ["", f"![learning curves]({report['plot']})"]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--part", choices=["timing", "curves", "all"], default="all")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "bench_query")
    parser.add_argument(
        "--skactiveml-max-batch",
        type=int,
        default=None,
        help="time scikit-activeml's CoreSet on at most this many picks and extrapolate",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    report = {
        "quick": quick,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {_device_name()}, "
        f"load average {os.getloadavg()[0]:.1f} at start (shared machine)",
    }
    if args.part in ("timing", "all"):
        report["timing"] = timing(args, QUICK if quick else FULL) | {"machine": report["machine"]}
    if args.part in ("curves", "all"):
        report["curves"] = curves(args, CURVES_QUICK if quick else CURVES_FULL)
        report["curves"]["machine"] = report["machine"]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = result_stem("bench_query", quick)
    if "curves" in report:
        report["plot"] = _plot(report["curves"], args.out / f"{stem}_curves.png")
    previous = args.out / f"{stem}.json"
    if args.part != "all" and previous.exists():  # keep the other part's figures
        report = json.loads(previous.read_text()) | report
    write_results("bench_query", report, markdown(report), out=args.out, quick=quick)
    return report


def _device_name():
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"


if __name__ == "__main__":
    main()
