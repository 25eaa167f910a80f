"""A fresh process's first cache look-up against the size of the cache (issue 26, item 3).

bench_scale.py's ``cache_index`` section. For each size a cache is filled with that many
synthetic entries (``dim``-wide: the index does not depend on the width, and 10^7 entries
then fit on a laptop's disk) in shards of 65,536 rows, as ``compact()`` leaves them;
``compact()`` writes the persisted index (timed), and ``delta_shards`` shards of 1,024 rows
are written after it, as a day of transforms would. Then a fresh spawned process opens the
cache and looks up ``n_query`` keys, two ways:

- ``dataset``: the keys of one dataset embedded in one job (a run of ``n_query`` rows of
  one shard), as a first ``transform`` of a cohort's dataset asks them: the headline.
- ``scattered``: keys drawn from every shard, the deltas' included: the worst case, where
  the look-up reads a block of rows from every shard (a cost of where the rows are, not of
  the index: ``shards read`` says how many).

``first lookup s`` is that first look-up, opening the cache included (the median of
``repeats`` processes, the sizes interleaved so that a busy machine's load falls on all;
its CPU time beside it, which a busy machine's preemptions do not inflate),
and ``peak MB`` the process's peak resident set during it, over its RSS before
(interpreter, numpy, skhisto imported). The same process is timed once more with the
persisted index switched off: every shard's keys read and sorted, as every process did
before. The files are in the page cache in both cases (just written): cold-disk reads
add the same few page reads a shard read at every size.

    python benchmarks/bench_scale.py --only cache_index           # FULL below
    python benchmarks/bench_scale.py --only cache_index --quick   # QUICK below
"""

import contextlib
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import peak_rss_mb, reset_peak_rss, rss_mb

#: The configuration bench_scale.py passes to :func:`run` (``FULL["cache_index"]``).
FULL = dict(sizes=[10_000, 1_000_000, 10_000_000], n_query=1_000, dim=16, delta_shards=4, repeats=7)
#: ``QUICK["cache_index"]``: a smoke run of seconds.
QUICK = dict(sizes=[2_000, 50_000], n_query=200, dim=16, delta_shards=2, repeats=1)
TITLE = "A fresh process's first cache look-up, with the persisted index (compact())"

FINGERPRINT = {"backbone": "bench-cache-index"}
SHARD_ROWS = 65_536
DELTA_ROWS = 1_024
QUERY_SETS = ("dataset", "scattered")


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
    picks, runs = [], []
    for first in range(0, n_entries, SHARD_ROWS):
        keys = _random_keys(rng, min(SHARD_ROWS, n_entries - first))
        cache.store(keys, rng.standard_normal((len(keys), dim), dtype=np.float32))
        picks.append(keys[rng.integers(0, len(keys), n_query)])
        at = rng.integers(0, max(len(keys) - n_query, 0) + 1)
        runs.append(keys[at : at + n_query])
    fill_seconds = time.perf_counter() - start
    start = time.perf_counter()
    cache.compact(shard_rows=SHARD_ROWS)
    index_seconds = time.perf_counter() - start
    for _ in range(delta_shards):
        keys = _random_keys(rng, DELTA_ROWS)
        cache.store(keys, rng.standard_normal((len(keys), dim), dtype=np.float32))
        picks.append(keys[rng.integers(0, len(keys), n_query)])
    pool = np.unique(np.concatenate(picks))
    queries = {
        "dataset": runs[rng.integers(0, len(runs))],
        "scattered": rng.choice(pool, min(n_query, len(pool)), replace=False),
    }
    index_mb = sum(p.stat().st_size for p in Path(cache.directory).glob("index-*")) / 2**20
    return fill_seconds, index_seconds, index_mb, queries


def _first_lookup(spec):
    """In a fresh process: open the cache and look ``spec["queries"]`` up once."""
    import skhisto.embedding._cache  # noqa: F401  (imports are not the look-up)
    from skhisto.embedding import EmbeddingCache, _shards

    if not spec["persisted"]:
        EmbeddingCache._load_persisted = lambda self: None  # every shard read, as before
    opened = set()
    read = _shards.Shard.read_unverified

    def counting(shard, rows):
        opened.add(shard.name)
        return read(shard, rows)

    _shards.Shard.read_unverified = counting
    queries = np.load(spec["queries"])
    baseline = rss_mb()
    reset_peak_rss()
    start, cpu = time.perf_counter(), time.process_time()
    cache = EmbeddingCache(spec["root"], FINGERPRINT)
    found, rows = cache.lookup(queries)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mb": peak_rss_mb() - baseline,
        "found": int(found.sum()),
        "in_memory_entries": len(cache._index.keys),
        "shards_read": len(opened),
    }


def _in_fresh_process(spec):
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(_first_lookup, spec).result()


def _median(runs):
    """The median run, and the median CPU time (steadier than wall time on a busy machine)."""
    median = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {**median, "cpu_seconds": float(np.median([r["cpu_seconds"] for r in runs]))}


def measure(sizes, n_query, dim, delta_shards, repeats):
    """One row of figures per cache size and query set; sizes interleaved in each repeat."""
    with contextlib.ExitStack() as stack:
        filled = {}
        for n_entries in sizes:
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="skhisto-bench-index-"))
            fill_seconds, index_seconds, index_mb, queries = fill(
                root, n_entries, dim, delta_shards, n_query
            )
            specs = {}
            for name, keys in queries.items():
                np.save(Path(root) / f"{name}.npy", keys)
                specs[name] = {"root": root, "queries": str(Path(root) / f"{name}.npy")}
            filled[n_entries] = (fill_seconds, index_seconds, index_mb, specs)
            print(f"  filled {n_entries:,} entries in {fill_seconds + index_seconds:.1f} s")
        runs = {(n, name): [] for n in sizes for name in QUERY_SETS}
        for _ in range(repeats):
            for n_entries in sizes:
                for name in QUERY_SETS:
                    spec = {**filled[n_entries][3][name], "persisted": True}
                    runs[n_entries, name].append(_in_fresh_process(spec))
        rows = []
        for n_entries in sizes:
            fill_seconds, index_seconds, index_mb, specs = filled[n_entries]
            for name in QUERY_SETS:
                on = _median(runs[n_entries, name])
                off = _in_fresh_process({**specs[name], "persisted": False})
                assert on["found"] == off["found"] == n_query, (on, off)
                row = {
                    "entries": n_entries,
                    "queries": name,
                    "n_query": n_query,
                    "fill_seconds": fill_seconds,
                    "index_write_seconds": index_seconds,
                    "index_mb": index_mb,
                    "first_lookup_seconds": on["seconds"],
                    "first_lookup_cpu_seconds": on["cpu_seconds"],
                    "first_lookup_peak_mb": on["peak_mb"],
                    "shards_read": on["shards_read"],
                    "in_memory_entries": on["in_memory_entries"],
                    "without_index_seconds": off["seconds"],
                    "without_index_peak_mb": off["peak_mb"],
                }
                print(f"  {n_entries:>11,} entries, {name}: {row}", flush=True)
                rows.append(row)
    return rows


def _size(n):
    return f"{n:.0e}".replace("+0", "").replace("+", "")


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
        size, name = _size(r["entries"]), r["queries"]
        figures[f"{name}: first look-up s, {size} entries"] = r["first_lookup_seconds"]
        figures[f"{name}: first look-up CPU s, {size}"] = r["first_lookup_cpu_seconds"]
        figures[f"{name}: first look-up peak MB, {size}"] = r["first_lookup_peak_mb"]
        figures[f"{name}: shards read, {size}"] = r["shards_read"]
        figures[f"{name}, without the index: first look-up s, {size}"] = r["without_index_seconds"]
        figures[f"{name}, without the index: peak MB, {size}"] = r["without_index_peak_mb"]
    for r in rows[:: len(QUERY_SETS)]:
        size = _size(r["entries"])
        figures[f"compact() index write s, {size}"] = r["index_write_seconds"]
        figures[f"index files MB, {size}"] = r["index_mb"]
    for name in QUERY_SETS:
        mine = [r for r in rows if r["queries"] == name]
        for r in mine[1:]:
            goal = " (goal <= 1.5)" if name == "dataset" else ""
            key = f"{name}: ratio first look-up {_size(r['entries'])} / {mine[0]['entries']:,}"
            figures[key + goal] = r["first_lookup_seconds"] / mine[0]["first_lookup_seconds"]
            figures[key + ", CPU time" + goal] = (
                r["first_lookup_cpu_seconds"] / mine[0]["first_lookup_cpu_seconds"]
            )
    figures["queries"] = rows[0]["n_query"]
    figures["in-memory entries (shards written since compact)"] = rows[0]["in_memory_entries"]
    return figures
