"""Throughput of FoundationEmbedder.transform against the bare backbone forward pass.

Measures, in one run and on the same backbone, batch size and device:
  * bare ``model(x)`` on pre-normalised float tensors already in memory;
  * ``FoundationEmbedder.transform`` on uint8 arrays (conversion, resize, normalise);
  * ``transform`` on JPEG paths (decoding included);
  * a cold cached pass on the paths and the warm second pass.
The bare and array runs are interleaved and repeated, and medians reported, so that
background load affects both alike.

    python benchmarks/bench_embed.py                 # resnet18, 224 px, batch 64
    python benchmarks/bench_embed.py --quick         # smoke run
"""

import argparse
import statistics
import tempfile
import time

import torch
from _common import add_common_arguments, lc25000_root, markdown_table, write_results

from skhisto import FoundationEmbedder
from skhisto.backbones import create_backbone
from skhisto.datasets import load_image_folder
from skhisto.embedding import normalize_batch
from skhisto.utils import iter_slices, prepare_model, resolve_device


def timed(fn):
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--n-images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--name", default=None, help="results file name")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_images, args.batch_size, args.image_size, args.repeats = 32, 16, 64, 1

    data = load_image_folder(
        lc25000_root(args.data),
        max_per_class=-(-args.n_images // 3),
        random_state=0,
        load_images=True,
    )
    paths, images = list(data.paths[: args.n_images]), data.images[: args.n_images]
    n = len(paths)
    params = dict(
        backbone=args.backbone,
        pretrained=False,
        random_state=0,
        image_size=args.image_size,
        batch_size=args.batch_size,
        device=args.device,
        verbose=False,
    )
    embedder = FoundationEmbedder(**params).fit(images)
    device = resolve_device(args.device)
    # The same architecture and input size as the embedder's, built through the public API.
    model = create_backbone(
        args.backbone, pretrained=False, random_state=0, image_size=args.image_size
    )[0]
    model = prepare_model(model, device)
    info = embedder.backbone_info_
    tensors = [
        normalize_batch(
            torch.from_numpy(images[s]).to(device), args.image_size, info.mean, info.std
        )
        for s in iter_slices(n, args.batch_size)
    ]

    def bare():
        with torch.inference_mode():
            for x in tensors:
                model(x)

    embedder.transform(images[: args.batch_size])  # warm-up (allocator, kernels)
    bare()
    bare_t, array_t = [], []
    for _ in range(args.repeats):
        bare_t.append(timed(bare))
        array_t.append(timed(lambda: embedder.transform(images)))
    path_t = [timed(lambda: embedder.transform(paths)) for _ in range(args.repeats)]

    with tempfile.TemporaryDirectory() as cache:
        cached = FoundationEmbedder(**params, cache=cache).fit(paths)
        cold = timed(lambda: cached.transform(paths))
        warm = statistics.median(timed(lambda: cached.transform(paths)) for _ in range(3))

    bare_ips = n / statistics.median(bare_t)
    array_ips = n / statistics.median(array_t)
    path_ips = n / statistics.median(path_t)
    rows = [
        ["bare model(x), pre-normalised tensors", f"{bare_ips:.1f}", "1.00"],
        ["transform(uint8 array)", f"{array_ips:.1f}", f"{array_ips / bare_ips:.2f}"],
        ["transform(JPEG paths)", f"{path_ips:.1f}", f"{path_ips / bare_ips:.2f}"],
        ["cached: first pass (paths)", f"{n / cold:.1f}", f"{n / cold / bare_ips:.2f}"],
        ["cached: second pass (paths)", f"{n / warm:.1f}", f"{n / warm / bare_ips:.2f}"],
    ]
    title = (
        f"{args.backbone}, {args.image_size} px, batch {args.batch_size}, {n} LC25000 images, "
        f"device {device}, median of {args.repeats}"
    )
    table = (
        f"## FoundationEmbedder throughput\n\n{title}\n\n"
        + markdown_table(["run", "images/s", "x bare forward"], rows)
        + f"\n\narray / bare = {array_ips / bare_ips:.3f} (target >= 0.9); "
        f"cached second pass is {cold / warm:.1f}x faster than the first (target >= 20)"
    )
    payload = {
        "config": vars(args),
        "images_per_s": {"bare": bare_ips, "array": array_ips, "paths": path_ips},
        "ratio_array_over_bare": array_ips / bare_ips,
        "ratio_paths_over_bare": path_ips / bare_ips,
        "cache_cold_s": cold,
        "cache_warm_s": warm,
        "cache_speedup": cold / warm,
        "raw_seconds": {"bare": bare_t, "array": array_t, "paths": path_t},
    }
    name = args.name or f"bench_embed_{device.type}"
    write_results(name, payload, table, out=args.out, quick=args.quick)
    return payload


if __name__ == "__main__":
    main()
