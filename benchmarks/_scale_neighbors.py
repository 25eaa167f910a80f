"""The neighbour engine at scale: recall of the index, and k-NN label issues on 10^6 rows.

``bench_scale.py`` sections ``neighbors`` and ``label_issues`` (issue 26, items 1-2).

- ``neighbors``: ``nearest_neighbors(X, 10)`` on n x 1,536 float32 embeddings of
  clusters on a 64-d subspace plus isotropic noise (embedding-like: low intrinsic
  dimension), exact vs the FAISS-trained IVF index (``method="faiss"``). Recall@10:
  the share of each query's exact 10 neighbours the index returns, on ``n_check``
  queries answered exactly; exact seconds for all n are projected from those queries
  (the time of 10 queries, paid once, plus the time per further query times n).
- ``label_issues``: ``find_label_issues(X, y, method="knn")`` on a float32 ``.npy``
  memmap of n x 1,536 (written block by block: 9 Gaussian clusters, unit noise, 20% of
  the labels flipped to another class uniformly, as ``bench_label_issues_scale.py``).
  F1 is against the flipped rows. Where exact search is feasible (``exact_sizes``) the
  same call with the exact search (the ``"auto"`` threshold raised) gives F1 exact; at
  larger sizes ``n_check`` queries are answered exactly and compared with the index:
  neighbour recall@k and whether the neighbours' majority label agrees. Those clusters
  are far apart, so both searches find every flip; ``overlapping_sizes`` adds a set whose
  classes overlap (``_write_overlapping``: the check's F1 near 0.9), where a neighbour
  the index misses can change a vote, searched both ways.

Each measurement runs in a fresh spawned process; peak MB is its peak resident set
(which counts the memmap's pages read through the page cache) and anon MB the
increase of its anonymous memory (what the search allocates itself).
"""

import multiprocessing
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _common import _status_mb, peak_rss_mb, reset_peak_rss

FULL = {
    "neighbors": dict(n=100_000, dim=1536, k=10, n_check=2_000),
    "label_issues": dict(
        sizes=[100_000, 1_000_000],
        dim=1536,
        exact_sizes=[100_000],
        n_check=1_000,
        overlapping_sizes=[100_000],
    ),
}
QUICK = {
    "neighbors": dict(n=6_000, dim=64, k=10, n_check=300),
    "label_issues": dict(
        sizes=[4_000, 8_000], dim=64, exact_sizes=[4_000], n_check=200, overlapping_sizes=[4_000]
    ),
}
N_CLASSES, NOISE_RATE = 9, 0.2


def _write_clusters(path, n, dim, seed=0):
    """Seeded clustered float32 rows in a .npy memmap; clean and 20%-flipped labels."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((N_CLASSES, dim)).astype(np.float32) * (20 / dim**0.5)
    y = rng.integers(N_CLASSES, size=n)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    for start in range(0, n, 50_000):
        stop = min(start + 50_000, n)
        X[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32)
        X[start:stop] += means[y[start:stop]]
    X.flush()
    return _flipped(rng, y)


def _flipped(rng, y):
    """``y`` with NOISE_RATE of its labels moved to another class, uniformly; the mask."""
    flipped = rng.random(len(y)) < NOISE_RATE
    y_noisy = np.where(flipped, (y + rng.integers(1, N_CLASSES, size=len(y))) % N_CLASSES, y)
    return y_noisy, flipped


def _low_rank(n, dim, rank=64, n_clusters=20, seed=0, spread=3.0, with_clusters=False):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, rank)).astype(np.float32) * spread
    clusters = rng.integers(n_clusters, size=n)
    latent = centers[clusters]
    latent += rng.standard_normal((n, rank), dtype=np.float32)
    W = rng.standard_normal((rank, dim)).astype(np.float32) / rank**0.5
    X = latent @ W + 0.1 * rng.standard_normal((n, dim), dtype=np.float32)
    return (X, clusters) if with_clusters else X


def _write_overlapping(path, n, dim, seed=0):
    """Low-rank clusters close enough to overlap (the label check's F1 near 0.9, not 1):
    20 clusters on a 64-d subspace, two or three to a class; 20% of the labels flipped."""
    X, clusters = _low_rank(n, dim, seed=seed, spread=0.5, with_clusters=True)
    np.save(path, X)
    return _flipped(np.random.default_rng(seed + 1), clusters % N_CLASSES)


#: The label check's data sets: ``_write_clusters`` (separated) and ``_write_overlapping``.
DATA = {"clusters": _write_clusters, "overlapping": _write_overlapping}


class _Memory:
    """Peak resident set and anonymous-memory increase over a block of code."""

    def __enter__(self):
        self.peak, self.stop = 0.0, threading.Event()
        self.before = _status_mb("RssAnon")
        reset_peak_rss()

        def sample():
            while not self.stop.is_set():
                self.peak = max(self.peak, _status_mb("RssAnon"))
                time.sleep(0.02)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.stop.set()
        self.thread.join()
        self.peak_rss_mb = peak_rss_mb()
        self.anon_mb = max(0.0, self.peak - self.before)


def _recall(found, exact):
    hits = [len(set(a) & set(b)) for a, b in zip(found, exact, strict=True)]
    return float(np.mean(hits) / exact.shape[1])


def _neighbors_job(spec):
    from skhisto.utils import nearest_neighbors

    X = _low_rank(spec["n"], spec["dim"])
    check = np.sort(np.random.default_rng(1).choice(spec["n"], spec["n_check"], replace=False))
    nearest_neighbors(X, spec["k"], queries=check[:10], method="exact", verbose=False)  # warm-up
    with _Memory() as fixed:  # standardizing and moving X: paid once whatever the queries
        nearest_neighbors(X, spec["k"], queries=check[:10], method="exact", verbose=False)
    with _Memory() as exact_run:
        exact = nearest_neighbors(X, spec["k"], queries=check, method="exact", verbose=False)[0]
    per_query = (exact_run.seconds - fixed.seconds) / (spec["n_check"] - 10)
    with _Memory() as index_run:
        found = nearest_neighbors(X, spec["k"], method="faiss", verbose=False)[0]
    return {
        "rows": spec["n"],
        "dim": spec["dim"],
        "k": spec["k"],
        f"recall@{spec['k']}": _recall(found[check], exact),
        "index seconds": index_run.seconds,
        "index peak RSS MB": index_run.peak_rss_mb,
        "index anon MB": index_run.anon_mb,
        "exact seconds (projected)": fixed.seconds + per_query * spec["n"],
        "exact anon MB": exact_run.anon_mb,
    }


def _label_job(spec):
    from sklearn.metrics import f1_score

    import skhisto.utils._neighbors as engine
    from skhisto import find_label_issues
    from skhisto.cleaning import resolve_n_neighbors
    from skhisto.utils import nearest_neighbors

    X = np.load(spec["path"], mmap_mode="r")
    y, flipped = np.load(spec["labels"]), np.load(spec["flipped"])
    if spec["exact"]:
        engine.EXACT_MAX_PAIRS = float("inf")  # the exact search at any size
    with _Memory() as run:
        issues = find_label_issues(X, y, method="knn")
    out = {
        "seconds": run.seconds,
        "peak_rss_mb": run.peak_rss_mb,
        "anon_mb": run.anon_mb,
        "f1": float(f1_score(flipped, issues)),
    }
    if spec.get("n_check"):  # exact answers for a few queries vs the index's
        k = resolve_n_neighbors("auto", len(y))
        check = np.sort(np.random.default_rng(1).choice(len(y), spec["n_check"], replace=False))
        exact = nearest_neighbors(X, k, queries=check, method="exact", verbose=False)[0]
        found = nearest_neighbors(X, k, queries=check, method="faiss", verbose=False)[0]
        majority = [
            np.array([np.bincount(y[r], minlength=N_CLASSES).argmax() for r in rows])
            for rows in (exact, found)
        ]
        out[f"recall@{k} (sampled)"] = _recall(found, exact)
        out["majority label agreement (sampled)"] = float(np.mean(majority[0] == majority[1]))
    return out


def _spawned(function, spec):
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, spec).result()


def run_neighbors(config, data, quick):
    """Recall@k of the index against exact search; time and memory of both."""
    figures = _spawned(_neighbors_job, config)
    print(f"  {figures}", flush=True)
    return figures


def run_label_issues(config, data, quick):
    """One row per size: seconds, memory, F1 (and F1 with exact search where feasible)."""
    rows = []
    sets = [("clusters", n) for n in config["sizes"]]
    sets += [("overlapping", n) for n in config.get("overlapping_sizes", [])]
    for data_name, n in sets:
        with tempfile.TemporaryDirectory(prefix="skhisto-bench-knn-") as folder:
            spec = {"path": f"{folder}/X.npy", "labels": f"{folder}/y.npy"}
            spec["flipped"] = f"{folder}/flipped.npy"
            y, flipped = DATA[data_name](spec["path"], n, config["dim"])
            np.save(spec["labels"], y)
            np.save(spec["flipped"], flipped)
            row = {"data": data_name, "rows": n, "dim": config["dim"]}
            row["file_mb"] = n * config["dim"] * 4 / 2**20
            exact = n in config["exact_sizes"] or data_name == "overlapping"
            found = _spawned(
                _label_job, {**spec, "exact": False, "n_check": 0 if exact else config["n_check"]}
            )
            row.update(found)
            if exact:
                reference = _spawned(_label_job, {**spec, "exact": True})
                row["exact seconds"] = reference["seconds"]
                row["exact peak_rss_mb"] = reference["peak_rss_mb"]
                row["f1 exact"] = reference["f1"]
                row["f1 difference"] = row["f1"] - reference["f1"]
        print(f"  {row}", flush=True)
        rows.append(row)
    return rows
