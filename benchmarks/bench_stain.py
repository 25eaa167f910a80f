"""Stain shift: heads trained on one stain, tested on another, with and without stain tools.

Real tiles (LC25000 lung, three classes) are the *source site*. The *shifted
site* is the same kind of tissue restained in HED space (:func:`shift_site`):
each tile is unmixed into Ruifrok & Johnston's haematoxylin, eosin and DAB,
haematoxylin is scaled by 1.4 and eosin by 0.6, and the stains are mixed back
with other (bluer haematoxylin, pinker eosin) stain vectors, plus a small per-tile
jitter, as another lab's protocol and scanner leave on every slide. Train and
test tiles are disjoint draws, and every condition is scored on the source site's test
tiles and on their restained copies; the tiles are embedded by resnet18 (random init:
no weights can be downloaded here, so the absolute accuracies are low and only
the comparisons mean anything) at ``image_size`` px and classified by a
``LinearHead`` and an ``MLPHead`` (standardised embeddings). Conditions:

  * none: raw embeddings;
  * reinhard / macenko / vahadane: ``FoundationEmbedder(stain=StainNormalizer(...))``
    with the normaliser fitted on ``n_reference`` source training tiles, for train and test;
  * HED jitter: the training set plus ``n_views`` ``HEDJitter`` views of it (sigma, bias
    as in ``JITTERS``, a light and a strong setting), test tiles raw.

It also times the normalisers against torchstain (per image, as its API takes
one) on one batch of 224 px tiles, and checks their agreement; TIAToolbox's
time comes from ``benchmarks/stain_tiatoolbox.py`` when its JSON is given.

    python benchmarks/bench_stain.py            # 15 minutes on 2 busy CPUs (7.5 CPU-minutes)
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
from skhisto.stain._color import rgb_to_lab  # the same CIELAB as Reinhard's

FULL = dict(per_class=80, image_size=64, n_reference=8, n_views=2, seeds=(0, 1, 2), speed=32)
QUICK = dict(per_class=6, image_size=32, n_reference=2, n_views=1, seeds=(0,), speed=2)
JITTERS = {
    "HED jitter": dict(sigma=0.1, bias=0.05),
    "HED jitter (strong)": dict(sigma=0.4, bias=0.1),
}
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

    # Each condition: training embeddings and labels, source-site and shifted-site test embeddings.
    conditions = {}
    raw = embedder().fit(train)
    raw_tests = (raw.transform(test), raw.transform(shifted))
    conditions["none"] = (raw.transform(train), y_train, *raw_tests)
    for method in METHODS:
        normalizer = StainNormalizer(method, reference=reference, random_state=seed)
        normed = embedder(normalizer).fit(train)
        X_train = normed.transform(train)
        conditions[method] = (X_train, y_train, normed.transform(test), normed.transform(shifted))
    for name, jitter in JITTERS.items():
        views = [train] + [
            HEDJitter(**jitter, random_state=seed * 10 + v).fit_transform(train)
            for v in range(config["n_views"])
        ]
        X_train = np.concatenate([raw.transform(v) for v in views])
        conditions[name] = (X_train, np.tile(y_train, len(views)), *raw_tests)
    rows = []
    for head_name in ("LinearHead", "MLPHead"):
        for condition, (X_train, y_fit, X_source, X_shifted) in conditions.items():
            model = heads(seed)[head_name].fit(X_train, y_fit)
            source = balanced_accuracy_score(y_test, model.predict(X_source))
            score = balanced_accuracy_score(y_test, model.predict(X_shifted))
            rows.append(
                dict(
                    seed=seed, head=head_name, condition=condition, shifted=score, in_domain=source
                )
            )
    return rows


def _tissue_lab(images):
    """CIELAB of the tissue pixels (optical density >= 0.15 in every channel) of uint8 images."""
    x = torch.from_numpy(images).float().reshape(-1, 3)
    tissue = (-torch.log((x + 1) / 240.0) >= 0.15).all(dim=1)
    return rgb_to_lab(x[tissue][None])[0].numpy()


def real_sites(data_root, seed=0):
    """Colour distance of two real colorectal sites to the Macenko-normalised NCT-CRC-HE-100K.

    The reference is the NCT-CRC-HE-100K sample (one tile per tissue class, Macenko-normalised
    by its authors); the sites are the CRC-VAL-HE-7K sample (TCGA tiles, 224 px) and the Kather 2016
    sample (150 px). The distance is the CIELAB difference (Delta E 1976) between the mean
    colour of a site's tissue pixels and the reference's, before and after each normaliser
    (fitted on the reference); it also counts the tiles that passed through unchanged.
    """
    root = data_root / "kather_samples"
    if not root.is_dir():
        return None

    def tiles(name):
        files = sorted(p for p in (root / name).glob("*/*") if p.suffix in (".png", ".tif"))
        return load_images([p for p in files if p.parent.name != "BACK"])  # tissue only

    reference = tiles("nct_crc_he_100k")
    target = _tissue_lab(reference).mean(axis=0)
    results = {}
    for site in ("crc_val_he_7k", "kather2016"):
        images = tiles(site)
        entry = {"tiles": len(images), "none": _delta_e(images, target)}
        for method in METHODS:
            normalizer = StainNormalizer(method, device="cpu", random_state=seed).fit(reference)
            out = normalizer.transform(images)
            entry[method] = _delta_e(out, target)
            entry[f"{method}_passed"] = int(normalizer.passed_through_.sum())
        results[site] = entry
    return results


def _delta_e(images, target):
    return float(np.linalg.norm(_tissue_lab(images).mean(axis=0) - target))


def _best_of(repeat, work):
    """``work()``'s result and its fastest time of ``repeat`` runs (the machine is shared)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return result, min(times)


def speed(root, n, repeat=3):
    """Seconds per batch of ``n`` 224 px tiles (CPU, best of ``repeat``); agreement with
    torchstain."""
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
        out, seconds = _best_of(repeat, lambda ours=ours: ours.transform(batch))
        entry = {"skhisto_s": seconds}
        if method in theirs:
            normalizer = theirs[method]
            normalizer.fit(torch.from_numpy(reference).permute(2, 0, 1))
            if method == "macenko":
                expected, seconds = _best_of(
                    repeat, lambda n=normalizer: [n.normalize(x, stains=False)[0] for x in chw]
                )
            else:
                expected, seconds = _best_of(
                    repeat, lambda n=normalizer: [n.normalize(x) for x in chw]
                )
            entry["torchstain_s"] = seconds
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
    sites = real_sites(root.parent)
    if args.tiatoolbox:
        with open(args.tiatoolbox) as f:
            timing["vahadane"].update(json.load(f))
    seconds = time.perf_counter() - start
    table = _table(rows, timing, sites, config, seconds)
    payload = {
        "config": config,
        "jitter": JITTERS,
        "rows": rows,
        "speed": timing,
        "real_sites": sites,
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


CONDITIONS = ("none", *METHODS, *JITTERS)


def _summary(rows, head, condition, key="shifted"):
    values = np.array([r[key] for r in rows if r["head"] == head and r["condition"] == condition])
    return values.mean(), values.std()


def _sites_table(sites):
    if not sites:
        return ["(the Kather samples were not found: no real-site section)"]
    header = ["site", "tiles", "none", *METHODS]
    rows = []
    for site, entry in sites.items():
        rows.append(
            [site, entry["tiles"], f"{entry['none']:.1f}"]
            + [f"{entry[m]:.1f} ({entry[f'{m}_passed']} passed)" for m in METHODS]
        )
    return [
        "## Real second sites (Kather colorectal samples)",
        "",
        "Delta E (CIELAB 1976) between the mean tissue colour of each site and that of the "
        "NCT-CRC-HE-100K sample (Macenko-normalised by its authors; its 8 tissue tiles, not "
        "BACK), before and after normalising the site to it (`real_sites` in the script). "
        "Too few tiles for accuracies: this measures whether the normalisers bring real "
        "tiles of other sites towards the reference's colour (lower is closer).",
        "",
        markdown_table(header, rows),
        "",
    ]


def _table(rows, timing, sites, config, seconds):
    summary = []
    for head in ("LinearHead", "MLPHead"):
        for condition in CONDITIONS:
            source, source_std = _summary(rows, head, condition, "in_domain")
            shifted, shifted_std = _summary(rows, head, condition)
            summary.append(
                [
                    head,
                    condition,
                    f"{source:.3f} ± {source_std:.3f}",
                    f"{shifted:.3f} ± {shifted_std:.3f}",
                    f"{shifted - source:+.3f}",
                ]
            )
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
    jitters = "; ".join(
        f"{name}: sigma {j['sigma']}, bias {j['bias']}" for name, j in JITTERS.items()
    )
    return "\n".join(
        [
            "# Stain shift: normalisation and augmentation",
            "",
            f"LC25000 lung tiles, {config['per_class']} training and {config['per_class']} test "
            "tiles per class (disjoint draws) per seed; the test tiles restained as a second site "
            "(`shift_site`: HED concentrations x(1.4, 0.6), other stain vectors). resnet18 "
            f"(random init, so only the comparisons mean anything) at {config['image_size']} px; "
            f"normalisers fitted on {config['n_reference']} source training tiles, applied to "
            f"training and test tiles; HED jitter adds {config['n_views']} jittered views of the "
            f"training set ({jitters}). Balanced accuracy on source-site and shifted-site test "
            f"tiles, mean ± std over seeds {list(config['seeds'])}; chance is 0.333. Measured by "
            f"`python benchmarks/bench_stain.py` in {seconds:.0f} s (2 busy CPUs).",
            "",
            markdown_table(
                ["head", "condition", "source site", "shifted site", "shift effect"], summary
            ),
            "",
            "![Balanced accuracy under stain shift](bench_stain.png)",
            "",
            "How to read it: a normaliser maps every tile, of either site, to the reference's "
            "stain, one tile at a time (here after the resize to the embedder's input), so it "
            "removes stain differences between classes as well as between sites. A random-init "
            "resnet18 leans on colour, so the source-site column shows what that costs and the "
            "shift effect what is left of the shift. HED jitter keeps the colours and trains the "
            "head on stain variation of the jitter's size (the strong setting spans the shift, "
            "x0.6 to x1.4). A pretrained pathology backbone, which reads morphology more than "
            "colour, may weigh these differently; weights cannot be downloaded here.",
            "",
            *_sites_table(sites),
            f"## Speed and agreement ({n} LC25000 tiles of 224 px, one CPU batch, best of 3)",
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

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    width = 0.38
    x = np.arange(len(CONDITIONS))
    for ax, head in zip(axes, ("LinearHead", "MLPHead"), strict=True):
        for i, (key, label) in enumerate((("in_domain", "source site"), ("shifted", "shifted"))):
            stats = [_summary(rows, head, c, key) for c in CONDITIONS]
            ax.bar(
                x + (i - 0.5) * width,
                [m for m, _ in stats],
                width,
                yerr=[s for _, s in stats],
                label=label,
                capsize=3,
            )
        ax.axhline(1 / 3, color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set_xticks(x, CONDITIONS, rotation=25, ha="right", fontsize=8)
        ax.set_title(head)
    axes[0].set_ylabel("balanced accuracy")
    axes[0].legend(fontsize=8)
    fig.suptitle("Heads trained on the source stain, tested on the source and a shifted stain")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
