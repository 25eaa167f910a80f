"""Embedding on a Dask LocalCluster (two single-threaded workers) against one process.

Both write the same chunked Zarr store with ``embed_dataset``: in this process with two
torch threads, and as one task per chunk on a ``LocalCluster(n_workers=2,
threads_per_worker=1)``. The cluster's start-up, with each worker importing torch and
skhisto, is timed apart: it is paid once per session, not per store.
"""

import tempfile
import time

import numpy as np

CHUNK = 128


def _embedder():
    from skhisto import FoundationEmbedder

    return FoundationEmbedder("resnet18", pretrained=False, random_state=0)


def _warm_up():
    import skhisto.embedding._foundation  # noqa: F401  (torch, timm, skhisto)


def measure(n_images, data_root, quick):
    """Seconds, images/s both ways, their ratio and the largest difference of the outputs."""
    import torch
    from distributed import Client, LocalCluster

    from skhisto.datasets import load_image_folder
    from skhisto.embedding import embed_dataset

    paths = load_image_folder(data_root, max_per_class=-(-n_images // 3), random_state=0).paths
    paths = paths[:n_images]
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="skhisto-bench-dask-") as out:
        start = time.perf_counter()
        local = embed_dataset(paths, _embedder(), f"{out}/local.zarr", chunk_size=CHUNK)
        local_seconds = time.perf_counter() - start
        start = time.perf_counter()
        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            client.run(_warm_up)  # each worker imports torch and skhisto, once per session
            startup = time.perf_counter() - start
            start = time.perf_counter()
            remote = embed_dataset(
                paths, _embedder(), f"{out}/dask.zarr", client=client, chunk_size=CHUNK
            )
            dask_seconds = time.perf_counter() - start
        difference = float(np.abs(local["embeddings"][:] - remote["embeddings"][:]).max())
    figures = {
        "images": len(paths),
        "one process (2 threads) seconds": local_seconds,
        "one process images/s": len(paths) / local_seconds,
        "Dask cluster start-up seconds": startup,
        "Dask (2 workers x 1 thread) seconds": dask_seconds,
        "Dask images/s": len(paths) / dask_seconds,
        "throughput ratio Dask / one process": local_seconds / dask_seconds,
        "largest difference of the outputs": difference,
    }
    print(f"  {figures}", flush=True)
    return figures
