"""A fresh process's first cache look-up against the size of the cache (issue 26, item 3).

bench_scale.py's ``cache_index`` section. For each size a cache is filled with that many
synthetic entries (``dim``-wide: the index does not depend on the width, and 10^7 entries
then fit on a laptop's disk) in shards of 65,536 rows, as ``compact()`` leaves them;
``compact()`` writes the persisted index (timed), and ``delta_shards`` shards of 1,024 rows
are written after it, as a day of transforms would. Then, ``repeats`` times, a fresh
spawned process opens the cache and looks up ``n_query`` keys drawn from every shard
(the deltas' included): ``first lookup s`` is that first look-up, opening the cache
included, and ``peak MB`` the process's peak resident set during it, over its RSS before
(interpreter, numpy, skhisto imported). The same process is timed once more with the
persisted index switched off: every shard's keys read and sorted, as every process did
before. The files are in the page cache in both cases (just written): cold-disk reads
add the same few thousand page reads at every size.

    python benchmarks/bench_scale.py --only cache_index           # FULL below
    python benchmarks/bench_scale.py --only cache_index --quick   # QUICK below
"""

import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import peak_rss_mb, reset_peak_rss, rss_mb

#: The configuration bench_scale.py passes to :func:`run` (``FULL["cache_index"]``).
FULL = dict(sizes=[10_000, 1_000_000, 10_000_000], n_query=1_000, dim=16, delta_shards=4, repeats=3)
#: ``QUICK["cache_index"]``: a smoke run of seconds.
QUICK = dict(sizes=[2_000, 50_000], n_query=200, dim=16, delta_shards=2, repeats=1)
TITLE = "A fresh process's first cache look-up, with the persisted index (compact())"

FINGERPRINT = {"backbone": "bench-cache-index"}
SHARD_ROWS = 65_536
DELTA_ROWS = 1_024


def _random_keys(rng, n):
    """``n`` keys like content hashes: 32 random hex digits."""
    digits = np.frombuffer(b"0123456789abcdef", dtype="S1")
    nibbles = rng.integers(0, 16, (n, 32), dtype=np.uint8)
    return np.ascontiguousarray(digits[nibbles]).view("S32").ravel()


def fill(root, n_entries, dim, delta_shards, n_query):
    """Fill, compact (writes the index), write the deltas; returns timings and the queries."""
    from skhisto.embedding import EmbeddingCache

    rng = np.random.default_rng(0)
    cache = EmbeddingCache(root, FINGERPRINT)
    start = time.perf_counter()
    picks = []
    for first in range(0, n_entries, SHARD_ROWS):
        keys = _random_keys(rng, min(SHARD_ROWS, n_entries - first))
        cache.store(keys, rng.standard_normal((len(keys), dim), dtype=np.float32))
        picks.append(keys[rng.integers(0, len(keys), n_query)])
    fill_seconds = time.perf_counter() - start
    start = time.perf_counter()
    cache.compact(shard_rows=SHARD_ROWS)
    index_seconds = time.perf_counter() - start
    for _ in range(delta_shards):
        keys = _random_keys(rng, DELTA_ROWS)
        cache.store(keys, rng.standard_normal((len(keys), dim), dtype=np.float32))
        picks.append(keys[rng.integers(0, len(keys), n_query)])
    pool = np.unique(np.concatenate(picks))
    queries = rng.choice(pool, min(n_query, len(pool)), replace=False)
    index_mb = sum(p.stat().st_size for p in Path(cache.directory).glob("index-*")) / 2**20
    return fill_seconds, index_seconds, index_mb, queries


def _first_lookup(spec):
    """In a fresh process: open the cache and look ``spec["queries"]`` up once."""
    import skhisto.embedding._cache  # noqa: F401  (imports are not the look-up)
    from skhisto.embedding import EmbeddingCache

    if not spec["persisted"]:
        EmbeddingCache._load_persisted = lambda self: None  # every shard read, as before
    queries = np.load(spec["queries"])
    baseline = rss_mb()
    reset_peak_rss()
    start = time.perf_counter()
    cache = EmbeddingCache(spec["root"], FINGERPRINT)
    found, rows = cache.lookup(queries)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_mb": peak_rss_mb() - baseline,
        "found": int(found.sum()),
        "in_memory_entries": len(cache._index.keys),
    }


def _in_fresh_processes(spec, repeats):
    context = multiprocessing.get_context("spawn")
    runs = []
    for _ in range(repeats):
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            runs.append(pool.submit(_first_lookup, spec).result())
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return median


def measure(sizes, n_query, dim, delta_shards, repeats):
    """One row of figures per cache size."""
    rows = []
    for n_entries in sizes:
        with tempfile.TemporaryDirectory(prefix="skhisto-bench-index-") as root:
            fill_seconds, index_seconds, index_mb, queries = fill(
                root, n_entries, dim, delta_shards, n_query
            )
            np.save(Path(root) / "queries.npy", queries)
            spec = {"root": root, "queries": str(Path(root) / "queries.npy"), "persisted": True}
            on = _in_fresh_processes(spec, repeats)
            off = _in_fresh_processes({**spec, "persisted": False}, 1)
            assert on["found"] == off["found"] == len(queries), (on, off)
            row = {
                "entries": n_entries,
                "n_query": len(queries),
                "fill_seconds": fill_seconds,
                "index_write_seconds": index_seconds,
                "index_mb": index_mb,
                "first_lookup_seconds": on["seconds"],
                "first_lookup_peak_mb": on["peak_mb"],
                "in_memory_entries": on["in_memory_entries"],
                "without_index_seconds": off["seconds"],
                "without_index_peak_mb": off["peak_mb"],
            }
            print(f"  {n_entries:>11,} entries: {row}", flush=True)
            rows.append(row)
    return rows


def run(config, data, quick):
    """bench_scale.py's section: flat figures (``data`` and ``quick`` are not needed)."""
    rows = measure(
        config["sizes"],
        config["n_query"],
        config["dim"],
        config["delta_shards"],
        config["repeats"],
    )
    figures = {}
    for r in rows:
        size = f"{r['entries']:.0e}".replace("+0", "").replace("+", "")
        figures[f"first look-up s, {size} entries"] = r["first_lookup_seconds"]
        figures[f"first look-up peak MB, {size}"] = r["first_lookup_peak_mb"]
        figures[f"without the index: first look-up s, {size}"] = r["without_index_seconds"]
        figures[f"without the index: peak MB, {size}"] = r["without_index_peak_mb"]
        figures[f"compact() index write s, {size}"] = r["index_write_seconds"]
        figures[f"index files MB, {size}"] = r["index_mb"]
    first = rows[0]
    for r in rows[1:]:
        size = f"{r['entries']:.0e}".replace("+0", "").replace("+", "")
        figures[f"ratio first look-up {size} / {first['entries']:,} (goal <= 1.5)"] = (
            r["first_lookup_seconds"] / first["first_lookup_seconds"]
        )
    figures["queries"] = first["n_query"]
    figures["in-memory entries (shards written since compact)"] = first["in_memory_entries"]
    return figures
