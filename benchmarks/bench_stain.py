"""Stain shift: heads trained on one stain, tested on another, with and without stain tools.

Real tiles (LC25000 lung, three classes) are the *source site*. The *shifted
site* is the same kind of tissue restained in HED space (:func:`shift_site`):
each tile is unmixed into Ruifrok & Johnston's haematoxylin, eosin and DAB,
haematoxylin is scaled by 1.4 and eosin by 0.6, and the stains are mixed back
with other (bluer haematoxylin, pinker eosin) stain vectors, plus a small per-tile
jitter, as another lab's protocol and scanner leave on every slide. Train and
test tiles are disjoint draws; the tiles are embedded by resnet18 (random init:
no weights can be downloaded here, so the absolute accuracies are low and only
the comparisons mean anything) at ``image_size`` px and classified by a
``LinearHead`` and an ``MLPHead`` (standardised embeddings). Conditions:

  * none: raw embeddings (and the in-domain score on source test tiles);
  * reinhard / macenko / vahadane: ``FoundationEmbedder(stain=StainNormalizer(...))``
    with the normaliser fitted on ``n_reference`` source training tiles, for train and test;
  * HED jitter: the training set plus ``n_views`` ``HEDJitter`` views of it (sigma, bias
    as in ``JITTER``), test tiles raw.

It also times the normalisers against torchstain (per image, as its API takes
one) on one batch of 224 px tiles, and checks their agreement; TIAToolbox's
time comes from ``benchmarks/stain_tiatoolbox.py`` when its JSON is given.

    python benchmarks/bench_stain.py            # about 6 minutes on 2 busy CPUs
    python benchmarks/bench_stain.py --quick    # smoke run
"""

import argparse
import json
import time

import numpy as np
import torch
from _common import add_common_arguments, lc25000_root, markdown_table, write_results
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder
from skhisto.datasets import load_image_folder
from skhisto.heads import LinearHead, MLPHead
from skhisto.io import load_images
from skhisto.stain import HEDJitter, StainNormalizer

FULL = dict(per_class=80, image_size=64, n_reference=8, n_views=2, seeds=(0, 1, 2), speed=32)
QUICK = dict(per_class=6, image_size=32, n_reference=2, n_views=1, seeds=(0,), speed=2)
JITTER = dict(sigma=0.1, bias=0.05)
METHODS = ("reinhard", "macenko", "vahadane")

# Ruifrok & Johnston's H, E, DAB optical densities, and the shifted site's H and E.
_SOURCE = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]])
_TARGET = np.array([[0.55, 0.80, 0.24], [0.20, 0.90, 0.38], [0.27, 0.57, 0.78]])
_AMOUNTS = np.array([1.4, 0.6, 1.0])


def _unit(rows):
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def shift_site(images, random_state=0):
    """The shifted site's tiles: HED concentrations rescaled, remixed with other stain vectors."""
    rng = np.random.default_rng(random_state)
    od = -np.log(np.maximum(images.astype(float), 1.0) / 255.0)
    amounts = od @ np.linalg.inv(_unit(_SOURCE))
    jitter = rng.uniform(0.95, 1.05, (len(images), 1, 1, 3))
    od = (amounts * _AMOUNTS * jitter) @ _unit(_TARGET)
    return np.clip(np.round(255.0 * np.exp(-od)), 0, 255).astype(np.uint8)


def heads(seed):
    return {
        "LinearHead": make_pipeline(StandardScaler(), LinearHead(random_state=seed)),
        "MLPHead": make_pipeline(StandardScaler(), MLPHead(random_state=seed)),
    }


def split(root, per_class, seed):
    """Disjoint train and test tiles (``per_class`` of each class each), decoded at 224 px."""
    data = load_image_folder(root, max_per_class=2 * per_class, random_state=seed)
    rng = np.random.default_rng(seed)
    train = np.zeros(len(data.target), dtype=bool)
    for label in np.unique(data.target):
        rows = rng.permutation(np.flatnonzero(data.target == label))
        train[rows[:per_class]] = True
    images = load_images(data.paths)
    return images[train], data.target[train], images[~train], data.target[~train]


def run_seed(root, config, seed):
    train, y_train, test, y_test = split(root, config["per_class"], seed)
    shifted = shift_site(test, random_state=seed)
    reference = train[np.random.default_rng(seed).choice(len(train), config["n_reference"])]

    def embedder(stain=None):
        return FoundationEmbedder(
            "resnet18",
            pretrained=False,
            image_size=config["image_size"],
            random_state=0,
            stain=stain,
            verbose=False,
        )

    conditions = {}
    raw = embedder().fit(train)
    conditions["none"] = (raw.transform(train), y_train, raw.transform(shifted))
    in_domain = raw.transform(test)
    for method in METHODS:
        normalizer = StainNormalizer(method, reference=reference, random_state=seed)
        normed = embedder(normalizer).fit(train)
        X_train, X_test = normed.transform(train), normed.transform(shifted)
        conditions[method] = (X_train, y_train, X_test)
    views = [train] + [
        HEDJitter(**JITTER, random_state=seed * 10 + v).fit_transform(train)
        for v in range(config["n_views"])
    ]
    conditions["HED jitter"] = (
        np.concatenate([raw.transform(v) for v in views]),
        np.tile(y_train, len(views)),
        conditions["none"][2],
    )
    rows = []
    for head_name in ("LinearHead", "MLPHead"):
        model = heads(seed)[head_name].fit(conditions["none"][0], y_train)
        source = balanced_accuracy_score(y_test, model.predict(in_domain))
        for condition, (X_train, y_fit, X_test) in conditions.items():
            model = heads(seed)[head_name].fit(X_train, y_fit)
            score = balanced_accuracy_score(y_test, model.predict(X_test))
            rows.append(
                dict(
                    seed=seed, head=head_name, condition=condition, shifted=score, in_domain=source
                )
            )
    return rows


def speed(root, n):
    """Seconds per batch of ``n`` 224 px tiles (CPU), and agreement with torchstain."""
    import torchstain

    files = sorted(root.glob("*/*.jpeg"))  # the tiles benchmarks/stain_tiatoolbox.py picks
    images = load_images(files[:: len(files) // (n + 1)][: n + 1])
    reference, batch = images[0], images[1:]
    chw = [torch.from_numpy(i).permute(2, 0, 1) for i in batch]
    theirs = {
        "reinhard": torchstain.normalizers.ReinhardNormalizer(backend="torch"),
        "macenko": torchstain.normalizers.MacenkoNormalizer(backend="torch"),
    }
    results = {}
    for method in METHODS:
        ours = StainNormalizer(method, device="cpu", random_state=0).fit(reference[None])
        start = time.perf_counter()
        out = ours.transform(batch)
        entry = {"skhisto_s": time.perf_counter() - start}
        if method in theirs:
            theirs[method].fit(torch.from_numpy(reference).permute(2, 0, 1))
            start = time.perf_counter()
            if method == "macenko":
                expected = [theirs[method].normalize(x, stains=False)[0] for x in chw]
            else:
                expected = [theirs[method].normalize(x) for x in chw]
            entry["torchstain_s"] = time.perf_counter() - start
            diff = np.abs(out.astype(int) - np.stack([e.numpy() for e in expected]))
            entry["max_diff"], entry["mean_diff"] = int(diff.max()), float(diff.mean())
        results[method] = entry
    return results


def main(argv=None):
    parser = add_common_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    parser.add_argument(
        "--tiatoolbox",
        default=None,
        help="timing JSON of benchmarks/stain_tiatoolbox.py --json, run on the same tiles "
        "(--n 33 --step 363 for the 32 tiles of the full run)",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    root = lc25000_root(args.data)
    start = time.perf_counter()
    rows = [row for seed in config["seeds"] for row in run_seed(root, config, seed)]
    timing = speed(root, config["speed"])
    if args.tiatoolbox:
        with open(args.tiatoolbox) as f:
            timing["vahadane"].update(json.load(f))
    seconds = time.perf_counter() - start
    table = _table(rows, timing, config, seconds)
    payload = {
        "config": config,
        "jitter": JITTER,
        "rows": rows,
        "speed": timing,
        "seconds": seconds,
    }
    write_results(
        "bench_stain",
        payload,
        table,
        out=args.out,
        quick=args.quick,
        docs=True,
        plot=lambda path: _plot(rows, path),
    )
    return payload


CONDITIONS = ("none", *METHODS, "HED jitter")


def _summary(rows, head, condition, key="shifted"):
    values = np.array([r[key] for r in rows if r["head"] == head and r["condition"] == condition])
    return values.mean(), values.std()


def _table(rows, timing, config, seconds):
    summary = []
    for head in ("LinearHead", "MLPHead"):
        mean, std = _summary(rows, head, "none", "in_domain")
        summary.append([head, "in-domain (source test tiles, no shift)", f"{mean:.3f} ± {std:.3f}"])
        for condition in CONDITIONS:
            mean, std = _summary(rows, head, condition)
            summary.append([head, condition, f"{mean:.3f} ± {std:.3f}"])
    speed_rows = []
    for method, entry in timing.items():
        speed_rows.append(
            [
                method,
                f"{entry['skhisto_s']:.2f}",
                f"{entry['torchstain_s']:.2f}" if "torchstain_s" in entry else "-",
                f"{entry['tiatoolbox_s']:.2f}" if "tiatoolbox_s" in entry else "-",
                f"{entry['max_diff']} / {entry['mean_diff']:.2f}" if "max_diff" in entry else "-",
            ]
        )
    n = config["speed"]
    return "\n".join(
        [
            "# Stain shift: normalisation and augmentation",
            "",
            f"LC25000 lung tiles, {config['per_class']} training and {config['per_class']} test "
            "tiles per class (disjoint draws) per seed; the test tiles restained as a second site "
            "(`shift_site`: HED concentrations x(1.4, 0.6), other stain vectors). resnet18 "
            f"(random init, so only the comparisons mean anything) at {config['image_size']} px; "
            f"normalisers fitted on {config['n_reference']} source training tiles; HED jitter adds "
            f"{config['n_views']} jittered views (sigma {JITTER['sigma']}, bias {JITTER['bias']}) "
            f"of the training set. Balanced accuracy on the shifted test tiles, mean ± std over "
            f"seeds {list(config['seeds'])}; chance is 0.333. Measured by "
            f"`python benchmarks/bench_stain.py` in {seconds:.0f} s (2 busy CPUs).",
            "",
            markdown_table(["head", "condition", "balanced accuracy"], summary),
            "",
            "![Balanced accuracy under stain shift](bench_stain.png)",
            "",
            f"## Speed and agreement ({n} LC25000 tiles of 224 px, one CPU batch)",
            "",
            markdown_table(
                [
                    "method",
                    "skhisto (s)",
                    "torchstain (s)",
                    "TIAToolbox (s)",
                    "max / mean abs. diff. to torchstain (uint8)",
                ],
                speed_rows,
            ),
            "",
            "torchstain normalises one image per call; skhisto normalises the batch at once "
            "(on the GPU when there is one). The differences are rounding: skhisto rounds to "
            "uint8 where torchstain truncates.",
        ]
    )


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.38
    x = np.arange(len(CONDITIONS))
    for i, head in enumerate(("LinearHead", "MLPHead")):
        stats = [_summary(rows, head, c) for c in CONDITIONS]
        ax.bar(
            x + (i - 0.5) * width,
            [m for m, _ in stats],
            width,
            yerr=[s for _, s in stats],
            label=head,
            capsize=3,
        )
        in_domain = _summary(rows, head, "none", "in_domain")[0]
        ax.axhline(in_domain, color=f"C{i}", linestyle="--", linewidth=1)
    ax.axhline(1 / 3, color="grey", linestyle=":", linewidth=1, label="chance")
    ax.set_xticks(x, CONDITIONS)
    ax.set_ylabel("balanced accuracy (shifted site)")
    ax.set_title("Heads trained on one stain, tested on another (dashed: no shift)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
