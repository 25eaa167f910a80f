"""Per-image embedding cost of each backbone family, and what 10 million patches would take.

Each backbone is built with random weights (the published ones cannot be
downloaded here; the architecture, hence the cost, is the same) and embeds
``n_images`` 224 x 224 images on this machine's CPU after one warm-up batch.
Storage is what ``embed_dataset`` and the cache keep per embedding: float32
values (4 x dim bytes) plus, in the cache, 40 bytes of key and digest.
"""

import time

import numpy as np

#: Registry names spanning the registered architectures: ResNet-18/50, Swin-T
#: (CTransPath), ViT-B/16 (Kaiko; Phikon is the same size), ViT-L/16 (UNI),
#: ViT-H/14 (Virchow2), ViT-g/14 (UNI2-h).
BACKBONES = ("resnet18", "retccl", "ctranspath", "kaiko-vitb16", "uni", "virchow2", "uni2-h")
QUICK_BACKBONES = ("resnet18", "kaiko-vitb16")
PATCHES = 10_000_000


def _seconds_per_image(name, n_images, batch_size=8):
    import torch

    from skhisto import FoundationEmbedder

    images = np.random.default_rng(0).integers(0, 256, (n_images, 224, 224, 3), dtype=np.uint8)
    embedder = FoundationEmbedder(
        name, pretrained=False, random_state=0, device="cpu", batch_size=batch_size
    ).fit(images)
    embedder.transform(images[:batch_size])  # builds the model, warms the kernels
    start = time.perf_counter()
    embedder.transform(images)
    seconds = (time.perf_counter() - start) / n_images
    return seconds, embedder.n_features_out_, torch.get_num_threads()


def measure(n_images, quick):
    """One row per backbone: dim, CPU s/image, projected hours and GB for 10M patches."""
    rows = []
    for name in QUICK_BACKBONES if quick else BACKBONES:
        seconds, dim, threads = _seconds_per_image(name, n_images)
        row = {
            "backbone": name,
            "dim": dim,
            "cpu_threads": threads,
            "cpu_seconds_per_image": seconds,
            "cpu_hours_10m": seconds * PATCHES / 3600,
            "store_gb_10m": PATCHES * dim * 4 / 1e9,
            "cache_gb_10m": PATCHES * (dim * 4 + 40) / 1e9,
            "index_mb_10m": PATCHES * 40 / 1e6,
        }
        print(f"  {name}: {row}", flush=True)
        rows.append(row)
    return rows
