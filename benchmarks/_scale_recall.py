"""The neighbour index on real embeddings: recall and label-check F1 by the share scanned.

bench_scale.py's ``recall_real`` section (issue 26, item 1: the index's recall against exact
search, measured and stated). LC25000's class folders are embedded by a random-init
ResNet-18 (no weights can be downloaded here) and 20% of the labels flipped, seeded. The
IVF index (``method="faiss"``, sqrt(n) cells) is then searched with ``nprobe`` cells a query,
which sets the share of the rows each query scans: the index scans 16 of sqrt(n) cells, so
5% of 10^5 rows and 1.6% of 10^6. A small ``nprobe`` on these 12,000 rows scans the share a
large cohort's search does. For each ``nprobe``: recall@50 against exact search, and the
k-NN label check's F1 against the flipped labels with that search, beside exact search's.

    python benchmarks/bench_scale.py --only recall_real
"""

import time
from unittest import mock

import numpy as np

#: ``bench_scale.py``'s configuration of this section.
FULL = dict(per_class=None, image_size=64, nprobes=[2, 5, 16, 32], k=50, noise=0.2)
QUICK = dict(per_class=100, image_size=32, nprobes=[2, 8], k=10, noise=0.2)


def _embeddings(data, per_class, image_size):
    from _common import lc25000_root

    from skhisto import FoundationEmbedder
    from skhisto.datasets import load_image_folder

    dataset = load_image_folder(lc25000_root(data))
    paths, y = np.asarray(dataset.paths), np.asarray(dataset.target)
    if per_class:
        rng = np.random.default_rng(0)
        keep = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
        )
        paths, y = paths[np.sort(keep)], y[np.sort(keep)]
    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=image_size, random_state=0, verbose=False
    )
    return embedder.fit_transform(paths), y


def _with_nprobe(nprobe):
    """The engine's default ``nprobe`` for one block: find_label_issues takes no ``nprobe``."""
    from skhisto.utils import _neighbors

    defaults = _neighbors.nearest_neighbors.__wrapped__.__kwdefaults__
    return mock.patch.dict(defaults, {"nprobe": nprobe})


def run(config, data, quick):
    """Flat figures: per ``nprobe``, the share scanned, recall@k and the label check's F1."""
    from _scale_neighbors import _recall
    from sklearn.metrics import f1_score

    from skhisto import find_label_issues
    from skhisto.utils import _neighbors, nearest_neighbors

    start = time.perf_counter()
    X, y = _embeddings(data, config["per_class"], config["image_size"])
    figures = {"rows": len(X), "dim": X.shape[1], "embedding seconds": time.perf_counter() - start}
    rng = np.random.default_rng(1)
    n_classes = int(y.max()) + 1
    flipped = rng.random(len(y)) < config["noise"]
    noisy = np.where(flipped, (y + rng.integers(1, n_classes, size=len(y))) % n_classes, y)
    k = config["k"]
    exact = nearest_neighbors(X, k, method="exact", verbose=False)[0]
    with mock.patch.object(_neighbors, "EXACT_MAX_PAIRS", float("inf")):
        figures["label check F1, exact search"] = float(
            f1_score(flipped, find_label_issues(X, noisy, method="knn"))
        )
    nlist = _neighbors.n_cells(len(X))
    figures["index cells"] = nlist
    for nprobe in config["nprobes"]:
        found = nearest_neighbors(X, k, method="faiss", nprobe=nprobe, verbose=False)[0]
        with _with_nprobe(nprobe), mock.patch.object(_neighbors, "EXACT_MAX_PAIRS", 0):
            issues = find_label_issues(X, noisy, method="knn")
        tag = f"nprobe {nprobe} ({min(nprobe, nlist) / nlist:.1%} of the rows)"
        figures[f"{tag}: recall@{k}"] = _recall(found, exact)
        figures[f"{tag}: label check F1"] = float(f1_score(flipped, issues))
        print(f"  {tag}: {figures[f'{tag}: recall@{k}']:.3f}", flush=True)
    return figures
