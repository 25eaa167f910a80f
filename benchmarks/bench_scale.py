"""Scale-out: cache look-ups against cache size, parallel grid searches, Dask embedding, coreset.

Four sections, each its own module (``--only`` picks some):

- ``cache`` (``_scale_cache.py``): transforming 10,000 cached images from caches of 10^4,
  10^5 and 10^6 entries; goal flat, at most 2x from 10^4 to 10^6, memory not growing
  with the cache.
- ``grid`` (``_scale_grid.py``): GridSearchCV with ``n_jobs=1`` and ``n_jobs=2`` over a
  cached pipeline on an empty cache, 300 LC25000 images: each image embedded once.
- ``dask`` (``_scale_dask.py``): 2,000 LC25000 images embedded by a Dask LocalCluster of
  two single-threaded workers and by one process with two threads; outputs identical,
  throughput ratio at least 0.8.
- ``coreset`` (``_scale_coreset.py``): 1,000 k-center picks from a 1,000,000 x 512 memmap;
  time and peak RSS.
- ``projection`` (``_scale_projection.py``): CPU seconds per image of each backbone family,
  and the time and storage 10 million patches would take.
- ``neighbors`` and ``label_issues`` (``_scale_neighbors.py``): recall@10 of the approximate
  neighbour index against exact search at 10^5 x 1,536 (time, memory); k-NN label issues on
  10^5 and 10^6 x 1,536 memmaps (time, peak memory, F1 against exact search).
- Sections whose module holds its own ``FULL``/``QUICK`` and ``run(config, data, quick)``
  (:data:`MODULE_SECTIONS`): ``cache_index`` (``_scale_cache_index.py``), ``heads``
  (``_scale_heads.py``), ``recall_real`` (``_scale_recall.py``: the index's recall and the
  label check's F1 on LC25000 embeddings against the share of rows scanned).

    python benchmarks/bench_scale.py                  # everything (about 15 minutes on 2 cores)
    python benchmarks/bench_scale.py --only cache     # one section
    python benchmarks/bench_scale.py --quick          # smoke run
"""

import argparse
import importlib
import json
from pathlib import Path

import _scale_neighbors
from _common import RESULTS, add_common_arguments, lc25000_root, markdown_table, write_results

FULL = {
    "cache": dict(
        sizes=[10_000, 100_000, 1_000_000],
        n_query=10_000,
        compact_sizes=[10_000, 100_000, 1_000_000],
    ),
    "grid": dict(n_images=300),
    "dask": dict(n_images=2_000),
    "coreset": dict(n_rows=1_000_000, dim=512, n_picks=1_000),
    "projection": dict(n_images=16),
}
QUICK = {
    "cache": dict(sizes=[2_000, 10_000], n_query=1_000, compact_sizes=[2_000, 10_000]),
    "grid": dict(n_images=60),
    "dask": dict(n_images=64),
    "coreset": dict(n_rows=20_000, dim=64, n_picks=50),
    "projection": dict(n_images=4),
}
FULL.update(_scale_neighbors.FULL)
QUICK.update(_scale_neighbors.QUICK)
#: Sections run by a module's ``run(config, data, quick)``, configured by its FULL and QUICK.
MODULE_SECTIONS = {
    "neighbors": "_scale_neighbors",
    "label_issues": "_scale_neighbors",
    "cache_index": "_scale_cache_index",
    "heads": "_scale_heads",
    "recall_real": "_scale_recall",
}
_HERE = Path(__file__).resolve().parent
for _name, _module in MODULE_SECTIONS.items():
    if _module != "_scale_neighbors" and (_HERE / f"{_module}.py").exists():
        _loaded = importlib.import_module(_module)
        FULL[_name], QUICK[_name] = _loaded.FULL, _loaded.QUICK
SECTIONS = tuple(FULL)


def _cache_table(rows):
    header = (
        "entries",
        "shards",
        "disk MB",
        "first transform s",
        "later transform s",
        "RSS before MB",
        "first peak MB",
        "later peak MB",
    )
    body = [
        (
            f"{r['entries']:,}",
            f"{r['shards']:,}",
            f"{r['disk_mb']:,.0f}",
            f"{r['cold_seconds']:.3f}",
            f"{r['warm_seconds']:.3f}",
            f"{r['baseline_mb']:.0f}",
            f"{r['cold_peak_mb']:.0f}",
            f"{r['warm_peak_mb']:.0f}",
        )
        for r in rows
    ]
    first, last = rows[0], rows[-1]
    ratio = last["warm_seconds"] / first["warm_seconds"]
    lines = [
        "## Cache look-ups against the size of the cache\n",
        f"Transforming {rows[0]['n_query']:,} cached images (512-d, shards of 1,024 rows) in a "
        "fresh process: the first transform builds the process's key index, later ones (every "
        "other CV fold and candidate) only look up. Peak MB is the process's peak resident set "
        "during that transform.\n",
        markdown_table(header, body),
        f"\nLater transforms: {ratio:.2f}x from {first['entries']:,} to {last['entries']:,} "
        "entries (goal: at most 2x).",
    ]
    compacted = [r for r in rows if "compacted_cold_seconds" in r]
    if compacted:
        lines += ["", *_compacted_lines(compacted)]
    return "\n".join(lines)


def _compacted_lines(rows):
    """The same transforms after ``compact()``: the persisted index at every size."""
    header = ("entries", "compact() s", "shards after", "first transform s", "first peak MB")
    body = [
        (
            f"{r['entries']:,}",
            f"{r['compact_seconds']:.1f}",
            f"{r['compacted_shards']:,}",
            f"{r['compacted_cold_seconds']:.3f}",
            f"{r['compacted_cold_peak_mb']:.0f}",
        )
        for r in rows
    ]
    first, last = rows[0], rows[-1]
    ratio = last["compacted_cold_seconds"] / first["compacted_cold_seconds"]
    return [
        "After `compact()` (which writes the persisted index), in a fresh process again: the "
        "first transform reads the index, not every shard's keys.\n",
        markdown_table(header, body),
        f"\nFirst transform with the persisted index: {ratio:.2f}x from {first['entries']:,} "
        f"to {last['entries']:,} entries (goal: at most 1.5x).",
    ]


def _projection_table(rows):
    header = (
        "backbone",
        "dim",
        "CPU s / image",
        "CPU hours, 10M patches",
        "store GB, 10M",
        "cache GB, 10M",
    )
    body = [
        (
            r["backbone"],
            r["dim"],
            f"{r['cpu_seconds_per_image']:.3f}",
            f"{r['cpu_hours_10m']:,.0f}",
            f"{r['store_gb_10m']:,.1f}",
            f"{r['cache_gb_10m']:,.1f}",
        )
        for r in rows
    ]
    return (
        "## Projection: 10 million patches per backbone\n\n"
        f"Seconds per 224 x 224 image measured on this machine's CPU ({rows[0]['cpu_threads']} "
        "torch threads, random weights of the same architecture, batches of 8); hours scale "
        "down with the number of workers (one per node or per GPU). Storage is float32 "
        "embeddings (the Zarr store); the cache adds 40 bytes an entry on disk and the "
        f"same in each process's index ({rows[0]['index_mb_10m']:,.0f} MB for 10M).\n\n"
        + markdown_table(header, body)
    )


def _figures_table(title, figures):
    rows = [(key, f"{value:,.3f}" if isinstance(value, float) else value) for key, value in figures]
    return f"## {title}\n\n" + markdown_table(("figure", "value"), rows)


def _label_issues_table(rows):
    header = (
        "data",
        "embeddings",
        "seconds",
        "peak RSS MB",
        "anon MB",
        "F1",
        "F1 exact",
        "exact s",
    )
    body = [
        (
            r.get("data", "clusters"),
            f"{r['rows']:,} x {r['dim']:,}",
            f"{r['seconds']:.1f}",
            f"{r['peak_rss_mb']:,.0f}",
            f"{r['anon_mb']:,.0f}",
            f"{r['f1']:.4f}",
            f"{r['f1 exact']:.4f}" if "f1 exact" in r else "-",
            f"{r['exact seconds']:.1f}" if "exact seconds" in r else "-",
        )
        for r in rows
    ]
    notes = []
    for r in rows:
        sampled = [(key, value) for key, value in r.items() if "(sampled)" in key]
        if sampled:
            words = ", ".join(f"{key} {value:.3f}" for key, value in sampled)
            notes.append(f"At {r['rows']:,} rows, queries answered exactly vs the index: {words}.")
    largest = max(rows, key=lambda r: r["rows"])
    seconds_10m = largest["seconds"] * (10**7 / largest["rows"]) ** 1.5
    notes.append(
        f"Projection to 10^7 x {largest['dim']:,}: about {seconds_10m / 60:,.0f} minutes (the "
        "index's search grows as n^1.5: sqrt(n) cells, each query scanning 16 of them) and "
        f"{10**7 * 256 * 4 / 2**30:.1f} GiB for the projected rows, plus the label check's "
        "candidates (3k = 150 neighbours a row, 16 bytes each: "
        f"{10**7 * 150 * 16 / 2**30:.0f} GiB)."
    )
    return (
        "## k-NN label issues on memory-mapped embeddings\n\n"
        '`find_label_issues(X, y, method="knn")` on a float32 memmap, 9 classes, 20% of the '
        "labels flipped; F1 against the flipped rows; F1 exact: the same call with exact "
        "search. Data `clusters`: 9 Gaussian clusters far apart (every flip is found either "
        "way); `overlapping`: 20 clusters on a 64-d subspace close enough to overlap, where a "
        "neighbour the index misses can change a vote. Peak RSS counts the memmap's pages; "
        "anon MB is what the call allocated.\n\n"
        + markdown_table(header, body)
        + "\n\n"
        + "\n".join(notes)
    )


def run_section(name, config, data, quick):
    """Figures of one section (a list of rows for ``cache``, a dict otherwise)."""
    if name == "neighbors":
        return _scale_neighbors.run_neighbors(config, data, quick)
    if name == "label_issues":
        return _scale_neighbors.run_label_issues(config, data, quick)
    if name in MODULE_SECTIONS:
        return importlib.import_module(MODULE_SECTIONS[name]).run(config, data, quick)
    if name == "cache":
        import _scale_cache

        return _scale_cache.measure(config["sizes"], config["n_query"], config["compact_sizes"])
    if name == "grid":
        import _scale_grid

        return _scale_grid.measure(config["n_images"], lc25000_root(data), quick)
    if name == "dask":
        import _scale_dask

        return _scale_dask.measure(config["n_images"], lc25000_root(data), quick)
    if name == "coreset":
        import _scale_coreset

        return _scale_coreset.measure(config["n_rows"], config["dim"], config["n_picks"], quick)
    import _scale_projection

    return _scale_projection.measure(config["n_images"], quick)


HEADING = """# Scale-out benchmarks

Written by `python benchmarks/bench_scale.py` (one section: `--only cache`, `grid`, `dask`,
`coreset`, `projection`, `neighbors`, `label_issues`, `cache_index`, `heads` or
`recall_real`; the others keep their last figures) on the machine in
`benchmarks/results/bench_scale.json`. What they mean: {doc}`/scaling`."""

TITLES = {
    "grid": "GridSearchCV over a cached pipeline on an empty cache, n_jobs=1 vs n_jobs=2",
    "dask": "Embedding on a Dask LocalCluster (2 workers x 1 thread) vs one process (2 threads)",
    "coreset": "k-center greedy picks from a memory-mapped embedding set",
    "neighbors": "Approximate neighbour index vs exact search (recall@10, time, memory)",
    "cache_index": "A fresh process's first cache look-up with the persisted index",
    "heads": "Heads against the bare torch loop, and their thread policy",
    "recall_real": "The neighbour index on LC25000 embeddings: recall and F1 by share scanned",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser)
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}"
    )
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown sections {unknown}; choose from {SECTIONS}")
    configs = QUICK if args.quick else FULL
    payload = _previous(args.out, args.quick)  # sections not rerun keep their last figures
    for name in only:
        print(f"[{name}] {configs[name]}", flush=True)
        payload[name] = {
            "config": configs[name],
            "results": run_section(name, configs[name], args.data, args.quick),
        }
    tables = []
    for name in SECTIONS:
        if name not in payload:
            continue
        results = payload[name]["results"]
        if name == "cache":
            tables.append(_cache_table(results))
        elif name == "projection":
            tables.append(_projection_table(results))
        elif name == "label_issues":
            tables.append(_label_issues_table(results))
        else:
            tables.append(_figures_table(TITLES[name], list(results.items())))
    text = "\n\n".join([HEADING, *tables])
    write_results("bench_scale", payload, text, out=args.out, quick=args.quick, docs=True)
    return payload


def _previous(out, quick):
    path = (out or RESULTS) / ("bench_scale_quick.json" if quick else "bench_scale.json")
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    return {name: previous[name] for name in SECTIONS if name in previous}


if __name__ == "__main__":
    main()
