"""k-center greedy picks from a memory-mapped embedding set (bench_scale.py's coreset table).

A seeded n_rows x dim float32 ``.npy`` is written to a temporary folder and opened
read-only with ``np.load(mmap_mode="r")`` in a fresh spawned process, which times one
``k_center_greedy(X, n_picks)`` on the CPU. Memory: the peak resident set (which counts
the file's pages the search reads through the page cache, shared and reclaimable) and
the peak of anonymous memory (what the algorithm allocates itself), sampled every 10 ms.
"""

import multiprocessing
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from _common import _status_mb, peak_rss_mb, reset_peak_rss


def _write(path, n_rows, dim):
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, dim))
    rng = np.random.default_rng(0)
    for start in range(0, n_rows, 100_000):
        stop = min(start + 100_000, n_rows)
        X[start:stop] = rng.standard_normal((stop - start, dim), dtype=np.float32)
    X.flush()


def _anon_mb():
    return _status_mb("RssAnon")


def _pick(spec):
    from skhisto.active import k_center_greedy
    from skhisto.utils import resolve_device

    resolve_device("cpu")  # imports torch before the measurement: not the algorithm's memory
    X = np.load(spec["path"], mmap_mode="r")
    peak_anon, stop = [0.0], threading.Event()

    def sample():
        while not stop.is_set():
            peak_anon[0] = max(peak_anon[0], _anon_mb())
            time.sleep(0.01)

    anon_before = _anon_mb()
    reset_peak_rss()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    picks = k_center_greedy(X, spec["n_picks"], random_state=0, device="cpu", verbose=False)
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return {
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "anonymous_increase_mb": peak_anon[0] - anon_before,
        "distinct_picks": len(set(picks.tolist())),
    }


def measure(n_rows, dim, n_picks, quick):
    """Seconds and memory of one k-center selection from an n_rows x dim memmap."""
    with tempfile.TemporaryDirectory(prefix="skhisto-bench-coreset-") as folder:
        path = f"{folder}/X.npy"
        _write(path, n_rows, dim)
        spec = {"path": path, "n_picks": n_picks}
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            result = pool.submit(_pick, spec).result()
    figures = {"rows": n_rows, "dim": dim, "file_mb": n_rows * dim * 4 / 2**20, "picks": n_picks}
    figures.update(result)
    print(f"  {figures}", flush=True)
    return figures
