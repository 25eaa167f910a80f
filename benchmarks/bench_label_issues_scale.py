"""k-NN label-issue detection at scale: time and memory up to 100,000 x 1,536 embeddings.

Synthetic float32 embeddings of the width of UNI-2/Virchow-class models
(1,536): ``--n-classes`` Gaussian clusters whose means are drawn at random,
unit noise, and 20% of the labels flipped uniformly (skhisto's UniformNoise).
Every size runs ``find_label_issues(X, y, method="knn")`` in its own fresh
(spawned) process, which builds the seeded data and then times one call.
Memory: ``peak_rss_mb`` is the process's peak resident set (interpreter,
imports, the data and the call together); ``rss_increase_mb`` is that peak
minus the resident set just before the call, i.e. the detector's own
working memory. The neighbour search holds one block of at most 256 MiB of
similarities at a time, so the working memory grows with the input (a
standardised copy and the neighbour indices), not with its square.

    python benchmarks/bench_label_issues_scale.py              # 10k, 30k, 100k rows
    python benchmarks/bench_label_issues_scale.py --quick      # smoke run
"""

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _common import add_common_arguments, markdown_table, peak_rss_mb, rss_mb, write_results

FULL = dict(sizes=[10_000, 30_000, 100_000], n_features=1536, n_classes=9)
QUICK = dict(sizes=[500, 2_000], n_features=64, n_classes=4)
NOISE_RATE = 0.2


def make_embeddings(n, n_features, n_classes, seed=0):
    """Seeded clustered float32 embeddings, clean labels and 20% uniformly flipped ones."""
    from skhisto import UniformNoise

    rng = np.random.default_rng(seed)
    # Mean offsets of norm ~20 against unit noise: separable classes at any width.
    means = rng.standard_normal((n_classes, n_features)).astype(np.float32) * (20 / n_features**0.5)
    y = rng.integers(n_classes, size=n)
    X = rng.standard_normal((n, n_features), dtype=np.float32)
    X += means[y]
    noise = UniformNoise(NOISE_RATE, random_state=seed)
    _, y_noisy = noise.fit_resample(X, y)
    return X, y_noisy, noise.noise_mask_


def run_size(spec):
    """One measured detection (in a fresh process): seconds, memory, F1 against the flips."""
    from sklearn.metrics import f1_score

    from skhisto import find_label_issues

    X, y_noisy, flipped = make_embeddings(spec["n"], spec["n_features"], spec["n_classes"])
    rss_before = rss_mb()
    start = time.perf_counter()
    issues = find_label_issues(X, y_noisy, method="knn")
    seconds = time.perf_counter() - start
    return {
        **spec,
        "seconds": seconds,
        "input_mb": X.nbytes / 2**20,
        "peak_rss_mb": peak_rss_mb(),
        "rss_increase_mb": max(0.0, peak_rss_mb() - rss_before),
        "f1": float(f1_score(flipped, issues)),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    results = []
    context = multiprocessing.get_context("spawn")
    for n in config["sizes"]:
        spec = dict(n=n, n_features=config["n_features"], n_classes=config["n_classes"])
        print(f"{n} x {spec['n_features']} ...", flush=True)
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            results.append(pool.submit(run_size, spec).result())
        r = results[-1]
        print(
            f"  {r['seconds']:.1f} s, +{r['rss_increase_mb']:.0f} MB, F1 {r['f1']:.3f}", flush=True
        )
    rows = [
        (
            f"{r['n']:,} x {r['n_features']:,}",
            f"{r['input_mb']:.0f}",
            f"{r['seconds']:.1f}",
            f"{r['rss_increase_mb']:.0f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['f1']:.3f}",
        )
        for r in results
    ]
    header = ("embeddings", "input MB", "seconds", "working MB", "peak RSS MB", "F1")
    table = (
        "## k-NN label-issue detection at scale\n\n"
        f'`find_label_issues(method="knn")`, {config["n_classes"]} synthetic classes, '
        f"{NOISE_RATE:.0%} uniform noise, one fresh process per size; working MB is the "
        "peak resident set minus the resident set before the call.\n\n"
        + markdown_table(header, rows)
    )
    payload = {"config": config, "results": results}
    write_results("bench_label_issues_scale", payload, table, out=args.out, quick=args.quick)
    return payload


if __name__ == "__main__":
    main()
