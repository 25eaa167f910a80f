"""Cache look-ups against the size of the cache (bench_scale.py's first table).

For each size a cache is filled with that many synthetic 512-d entries in
shards of 1,024 rows (what a FoundationEmbedder writes), 10,000 of them the
embeddings of real images (seeded random 32x32 uint8 arrays) spread over the
shards at random. A fresh spawned process then transforms those 10,000
images with ``FoundationEmbedder(cache=...)`` twice: ``cold`` is the first
transform of the process (it builds the key index), ``warm`` the second (the
case of every later CV fold and grid-search candidate). No image goes
through the backbone: both are pure look-ups. Each cache (``compact_sizes``) is
then compacted, which writes the persisted index, and a fresh process transforms
again (the median of three processes): its first transform reads the index
instead of every shard's keys (issue 26, item 3: the same cost at every size).
Memory: the process's RSS before the first transform (interpreter, torch, the query images), and its
peak RSS during each transform (the peak mark is reset in between), which
adds the index, the keys and the rows returned.
"""

import importlib
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _common import peak_rss_mb, reset_peak_rss, rss_mb

SHARD_ROWS = 1024
IMAGE_SIZE = 32


def _images(n):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)


def _embedder(cache):
    from skhisto import FoundationEmbedder

    return FoundationEmbedder(
        "resnet18", pretrained=False, image_size=IMAGE_SIZE, random_state=0, cache=cache
    )


def _random_keys(rng, n):
    """``n`` keys like content hashes: 32 random hex digits."""
    digits = np.frombuffer(b"0123456789abcdef", dtype="S1")
    nibbles = rng.integers(0, 16, (n, 32), dtype=np.uint8)
    return np.ascontiguousarray(digits[nibbles]).view("S32").ravel()


def fill(root, n_entries, n_query):
    """Write ``n_entries`` entries, the ``n_query`` images' among them; returns seconds."""
    from skhisto.embedding import EmbeddingCache
    from skhisto.embedding._keys import array_keys

    start = time.perf_counter()
    embedder = _embedder(root).fit(_images(1))
    cache = EmbeddingCache(root, embedder.fingerprint_)
    rng = np.random.default_rng(1)
    filler = _random_keys(rng, n_entries - n_query)
    keys = np.concatenate([array_keys(_images(n_query)), filler])
    keys = keys[rng.permutation(len(keys))]
    for start_row in range(0, len(keys), SHARD_ROWS):
        block = keys[start_row : start_row + SHARD_ROWS]
        cache.store(block, rng.standard_normal((len(block), 512), dtype=np.float32))
    return time.perf_counter() - start


def _transform_twice(spec):
    """In a fresh process: cold and warm look-up of the query images (seconds, MB)."""
    for module in ("skhisto.embedding._foundation", "skhisto.io"):
        importlib.import_module(module)  # imports are not the cache's memory
    from skhisto.embedding import forward_count

    images = _images(spec["n_query"])
    embedder = _embedder(spec["root"]).fit(images[:1])
    result = {"baseline_mb": rss_mb()}  # interpreter, torch, the query images
    for run in ("cold", "warm"):
        reset_peak_rss()
        start = time.perf_counter()
        embedder.transform(images)
        result[f"{run}_seconds"] = time.perf_counter() - start
        result[f"{run}_peak_mb"] = peak_rss_mb()
    assert forward_count() == 0, "a cached image went through the backbone"
    return result


def _compact(root):
    from skhisto.embedding import EmbeddingCache

    embedder = _embedder(root).fit(_images(1))
    start = time.perf_counter()
    stats = EmbeddingCache(root, embedder.fingerprint_).compact()
    return time.perf_counter() - start, stats


# Fresh processes timed after compact(): the median one is kept (a busy machine's noise).
_COMPACTED_REPEATS = 3


def _median_of(repeats, context, spec):
    runs = []
    for _ in range(repeats):
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            runs.append(pool.submit(_transform_twice, spec).result())
    return sorted(runs, key=lambda run: run["cold_seconds"])[len(runs) // 2]


def measure(sizes, n_query, compact_sizes=()):
    """Rows of the look-up table, one per cache size."""
    rows = []
    context = multiprocessing.get_context("spawn")
    for n_entries in sizes:
        with tempfile.TemporaryDirectory(prefix="skhisto-bench-cache-") as root:
            fill_seconds = fill(root, n_entries, n_query)
            disk_mb = sum(p.stat().st_size for p in Path(root).rglob("shard-*")) / 2**20
            spec = {"root": root, "n_query": n_query}
            with ProcessPoolExecutor(1, mp_context=context) as pool:
                row = pool.submit(_transform_twice, spec).result()
            row = {
                "entries": n_entries,
                "n_query": n_query,
                "shards": -(-n_entries // SHARD_ROWS),
                **row,
            }
            row.update(disk_mb=disk_mb, fill_seconds=fill_seconds)
            if n_entries in compact_sizes:
                seconds, stats = _compact(root)
                after = _median_of(_COMPACTED_REPEATS, context, spec)
                row.update(
                    compact_seconds=seconds,
                    compacted_shards=stats["shards"],
                    compacted_cold_seconds=after["cold_seconds"],
                    compacted_cold_peak_mb=after["cold_peak_mb"],
                    compacted_warm_seconds=after["warm_seconds"],
                )
            print(f"  {n_entries:>9,} entries: {row}", flush=True)
            rows.append(row)
    return rows
