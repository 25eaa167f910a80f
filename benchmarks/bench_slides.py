"""Whole-slide throughput: patches from a slide vs the same patches as JPEG files; tiler speed.

A slide is assembled from LC25000 tumour tiles (``skhisto.datasets.make_slide``: a tiled
pyramidal TIFF at 0.25 mpp with JPEG tiles as scanners write them, deflate without
imagecodecs, read through OpenSlide), tiled at 0.5 mpp,
and its patches are also saved as JPEG files (quality 95). Measured, interleaved and
repeated (medians):
  * reading alone: regions decoded from the slide vs JPEG files decoded, in patches/s;
  * ``FoundationEmbedder.transform`` on the patch table vs on the JPEG paths (no cache),
    in patches/s, and their ratio (goal: >= 0.9, reading from the slide is not the bottleneck);
  * ``SlideTiler.tile`` on slides of growing size, in seconds per gigapixel of level 0;
  * a slide's content identity (``slide_identity``): the first read of a multi-gigabyte file
    (SHA-256 of every byte, from the page cache) and a later process's look-up in the cache's
    ``digests/`` folder (one ``stat`` and a small JSON file).

    python benchmarks/bench_slides.py            # resnet18 at 224 px, about 5 minutes on 2 CPUs
    python benchmarks/bench_slides.py --quick    # smoke run
"""

import argparse
import importlib.util
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import add_common_arguments, lc25000_root, markdown_table, write_results
from PIL import Image

from skhisto import FoundationEmbedder, SlideTiler
from skhisto.datasets import make_slide
from skhisto.io import read_image
from skhisto.slides import check_patch_table

FULL = dict(
    cells=(24, 24), tiler_sides=(16, 32, 64), image_size=224, repeats=5, workers=2, identity_gib=2
)
QUICK = dict(
    cells=(6, 6), tiler_sides=(8, 16), image_size=64, repeats=1, workers=0, identity_gib=0.0625
)


def _compression():
    """JPEG tiles, as scanners write them, when imagecodecs can write them; else deflate."""
    return "jpeg" if importlib.util.find_spec("imagecodecs") else "deflate"


def _slide(folder, tiles, cells, name="slide.tif", n_levels=5):
    rows, cols = cells
    layout = np.arange(rows * cols).reshape(rows, cols) % len(tiles)
    layout[: rows // 4, : cols // 4] = -1  # some glass, as on any slide
    return make_slide(
        folder / name,
        tiles,
        layout,
        mpp=0.25,
        n_levels=n_levels,
        compression=_compression(),
        random_state=0,
    )


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _read_all(table):
    regions = check_patch_table(table)  # slides opened afresh, as in a new worker
    return [regions.read(i) for i in range(len(regions))]


def measure_patches(folder, tiles, config, backbone, batch_size):
    slide = _slide(folder, tiles, config["cells"])
    table = SlideTiler(patch_size=224, mpp=0.5).tile(slide)
    regions = check_patch_table(table)
    jpegs = []
    for i in range(len(table)):
        jpegs.append(str(folder / f"patch-{i:05d}.jpg"))
        Image.fromarray(regions.read(i)).save(jpegs[-1], quality=95)
    n, repeats = len(table), config["repeats"]
    embedder = FoundationEmbedder(
        backbone,
        pretrained=False,
        image_size=config["image_size"],
        batch_size=batch_size,
        num_workers=config["workers"],
        random_state=0,
        verbose=False,
    ).fit(table)
    embedder.transform(jpegs[:batch_size])  # the model is built once, outside the timings
    timings = {"read slide": [], "read jpeg": [], "embed slide": [], "embed jpeg": []}
    for _ in range(repeats):  # interleaved: background load hits both alike
        timings["read slide"].append(_median_time(lambda: _read_all(table), 1))
        timings["read jpeg"].append(_median_time(lambda: [read_image(p) for p in jpegs], 1))
        timings["embed slide"].append(_median_time(lambda: embedder.transform(table), 1))
        timings["embed jpeg"].append(_median_time(lambda: embedder.transform(jpegs), 1))
    rates = {k: n / statistics.median(v) for k, v in timings.items()}
    return {
        "patches": n,
        "patch_size": 224,
        "mpp": 0.5,
        "image_size": config["image_size"],
        "num_workers": config["workers"],
        "slide_compression": _compression(),
        "patches_per_second": rates,
        "read_ratio": rates["read slide"] / rates["read jpeg"],
        "embed_ratio": rates["embed slide"] / rates["embed jpeg"],
    }


def measure_tiler(folder, tiles, sides, repeats):
    rows = []
    for side in sides:
        slide = _slide(folder, tiles, (side, side), name=f"tiler-{side}.tif", n_levels=6)
        seconds = _median_time(lambda s=slide: SlideTiler(mpp=0.5).tile(s), max(repeats, 3))
        gigapixels = (side * 224) ** 2 / 1e9
        rows.append(
            {
                "side_px": side * 224,
                "gigapixels": gigapixels,
                "seconds": seconds,
                "seconds_per_gigapixel": seconds / gigapixels,
            }
        )
        Path(slide).unlink()
    return rows


def measure_identity(folder, gib, repeats):
    """Seconds to identify a ``gib`` GiB slide: first read, then a later process's look-up."""
    from skhisto.slides import slide_identity
    from skhisto.utils import _digests, clear_caches

    slide, digests = folder / "big.svs", folder / "digests"
    block = np.random.default_rng(0).bytes(1 << 24)
    with open(slide, "wb") as f:
        for _ in range(int(gib * 64)):
            f.write(block)
    _digests._RACY_NS = 0  # the file was just written; remember it all the same

    def first():
        clear_caches()
        for entry in digests.glob("*.json"):
            entry.unlink()
        slide_identity(slide, digest_dir=digests)

    def later():
        clear_caches()
        slide_identity(slide, digest_dir=digests)

    first_s = _median_time(first, max(repeats, 3))
    later_s = _median_time(later, max(repeats, 3) * 10)
    slide.unlink()
    return {"gib": gib, "first_read_s": first_s, "gib_per_s": gib / first_s, "later_s": later_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=32)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    root = lc25000_root(args.data)
    tiles = sorted(str(p) for p in (root / "lung_scc").iterdir())[:16]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        patches = measure_patches(folder, tiles, config, args.backbone, args.batch_size)
        tiler = measure_tiler(folder, tiles, config["tiler_sides"], config["repeats"])
        identity = measure_identity(folder, config["identity_gib"], config["repeats"])
    payload = {
        "config": config,
        "backbone": args.backbone,
        "patches": patches,
        "tiler": tiler,
        "identity": identity,
    }
    rates = patches["patches_per_second"]
    lines = [
        "# Whole-slide benchmarks",
        "",
        "Written by `python benchmarks/bench_slides.py`; the machine and every figure are in "
        "`benchmarks/results/bench_slides.json`. What they mean: {doc}`/guide/slides`.",
        "",
        f"{patches['patches']} patches of 224 px at 0.5 mpp from a slide made of LC25000 tiles "
        f"(0.25 mpp, {patches['slide_compression']} tiles, a tiled TIFF read through "
        "OpenSlide) and the same "
        f"patches as JPEG files; {args.backbone} (random init) at {config['image_size']} px, "
        f"batch {args.batch_size}, {config['workers']} DataLoader workers, no cache. Medians "
        "of interleaved repeats.",
        "",
        markdown_table(
            ["step", "from the slide (patches/s)", "from JPEG files (patches/s)", "ratio"],
            [
                [
                    "read (decode only)",
                    f"{rates['read slide']:.0f}",
                    f"{rates['read jpeg']:.0f}",
                    f"{patches['read_ratio']:.2f}",
                ],
                [
                    "FoundationEmbedder.transform",
                    f"{rates['embed slide']:.1f}",
                    f"{rates['embed jpeg']:.1f}",
                    f"{patches['embed_ratio']:.2f}",
                ],
            ],
        ),
        "",
        "## Tiler",
        "",
        "SlideTiler(mpp=0.5).tile on square slides (6-level pyramids): one thumbnail per slide.",
        "",
        markdown_table(
            ["level-0 side (px)", "gigapixels", "seconds", "seconds per gigapixel"],
            [
                [
                    r["side_px"],
                    f"{r['gigapixels']:.3f}",
                    f"{r['seconds']:.3f}",
                    f"{r['seconds_per_gigapixel']:.2f}",
                ]
                for r in tiler
            ],
        ),
        "",
        "## Slide identity",
        "",
        f"slide_identity on a {identity['gib']:g} GiB file: the first read hashes every byte "
        f"(SHA-256, from the page cache) in {identity['first_read_s']:.2f} s "
        f"({identity['gib_per_s']:.2f} GiB/s); a later process finds the digest in the "
        f"cache's digests/ folder in {identity['later_s'] * 1e3:.2f} ms.",
    ]
    write_results(
        "bench_slides", payload, "\n".join(lines), out=args.out, quick=args.quick, docs=True
    )
    return payload


if __name__ == "__main__":
    main()
