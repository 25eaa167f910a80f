"""LC25000 embeddings for bench_label_issues.py: the reproduction's SimCLR and random init.

The SimCLR encoder is the one reproduce_noise_resilience.py trains: same unlabeled
images, same parameters, resumed from its checkpoint under ``--cache`` (trained
once if absent). The labeled pool is drawn from the LC25000 tiles outside that
reproduction's splits, so the encoder never saw these images.
"""

import json
import time

import numpy as np
from _repro import split_paths
from reproduce_noise_resilience import CLASSES, SCALES, cached, fit_simclr, split_sizes

from skhisto import FoundationEmbedder
from skhisto.datasets import load_image_folder
from skhisto.io import load_images


def labeled_pool(root, splits, per_class):
    """``per_class`` tiles of each class outside the reproduction's ``splits`` (seeded)."""
    used = {str(p) for paths, _ in splits.values() for p in paths}
    data = load_image_folder(root, classes=CLASSES, random_state=0)
    rng = np.random.default_rng(0)
    chosen = []
    for label in range(len(CLASSES)):
        free = [i for i in np.flatnonzero(data.target == label) if str(data.paths[i]) not in used]
        chosen.extend(rng.choice(free, per_class, replace=False))
    chosen = np.sort(np.asarray(chosen))
    return data.paths[chosen], data.target[chosen]


def embeddings(root, scale, per_class, image_size, cache):
    """``({name: X}, y, seconds)``: both embeddings of the same pool, cached under ``cache``."""
    cfg = SCALES[scale]
    key = json.dumps(
        {"scale": scale, "per_class": per_class, "image_size": image_size, "data": str(root)},
        sort_keys=True,
    )

    def compute():
        splits = split_paths(root, split_sizes(cfg), random_state=0)
        paths, y = labeled_pool(root, splits, per_class)
        start = time.perf_counter()
        unlabeled = load_images(splits["unlabeled"][0], cfg["image_size"])
        simclr = fit_simclr(unlabeled, cfg, cache).set_params(verbose=False)
        X_simclr = simclr.transform(load_images(paths, cfg["image_size"]))
        simclr_s = time.perf_counter() - start
        start = time.perf_counter()
        X_random = FoundationEmbedder(
            "resnet18", pretrained=False, image_size=image_size, random_state=0, verbose=False
        ).fit_transform(paths)
        return {
            "simclr": X_simclr,
            "random": X_random,
            "y": y,
            "simclr_seconds": np.array(simclr_s),
            "random_seconds": np.array(time.perf_counter() - start),
        }

    saved = cached(cache, f"label-issues-{key}", compute)
    names = {
        "simclr": f"SimCLR resnet18 ({cfg['image_size']} px, reproduction's encoder)",
        "random": f"random-init resnet18 ({image_size} px)",
    }
    X = {names[k]: saved[k] for k in names}
    seconds = {names[k]: float(saved[f"{k}_seconds"]) for k in names}
    return X, saved["y"], seconds
