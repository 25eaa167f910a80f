"""MLPHead losses at 60% uniform label noise on real LC25000 embeddings.

Embeds LC25000 tiles once, then for each seed draws a stratified 70/30
train/test split, flips 60% of the training labels uniformly
(:class:`~skhisto.UniformNoise`, seeded), trains :class:`~skhisto.MLPHead`
with each loss on the noisy labels and scores balanced accuracy on the
clean test labels. The acceptance figure is GCE against cross-entropy (mean
of 3 seeds); the other losses and the noise-free cross-entropy are context.
With 3 classes, 60% uniform noise leaves 40% of each class's labels correct
against 30% for each wrong class, so the true class is still the plurality.

No pretrained weights can be downloaded here, so the backbone is a
random-init ResNet-18 (``pretrained=False, random_state=0``); LC25000 is
augmented from 250 originals per class. Read the results as a comparison of
losses on these embeddings, not as absolute accuracy.

    python benchmarks/bench_noise_losses.py           # 1,500 tiles, 64 px, 3 seeds
    python benchmarks/bench_noise_losses.py --quick   # smoke run
"""

import argparse
import time

import numpy as np
from _common import data_root, markdown_table, write_results
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from skhisto import FoundationEmbedder, MLPHead, UniformNoise
from skhisto.datasets import load_image_folder
from skhisto.heads import LOSSES
from skhisto.utils import progress


def run(X, y, rate, loss, seed, max_epochs):
    """Balanced accuracy on clean test labels of MLPHead(loss) trained at ``rate`` noise."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    _, y_noisy = UniformNoise(rate, random_state=seed).fit_resample(X_train, y_train)
    head = MLPHead(loss=loss, max_epochs=max_epochs, random_state=seed).fit(X_train, y_noisy)
    return balanced_accuracy_score(y_test, head.predict(X_test)), head.n_iter_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--data", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args(argv)
    if args.quick:
        args.per_class, args.seeds, args.max_epochs = 20, 1, 2

    data = load_image_folder(
        data_root(args.data) / "lc25000_lung", max_per_class=args.per_class, random_state=0
    )
    y = np.asarray(data.target_names)[data.target]
    start = time.perf_counter()
    X = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=args.image_size, random_state=0, verbose=False
    ).fit_transform(data.paths)
    embed_s = time.perf_counter() - start

    runs = [(args.rate, loss) for loss in LOSSES] + [(0.0, "cross_entropy")]
    results = {}
    for rate, loss in progress(runs, total=len(runs), desc="losses", verbose=True):
        scores = [run(X, y, rate, loss, seed, args.max_epochs) for seed in range(args.seeds)]
        results[(rate, loss)] = {
            "balanced_accuracy": [s for s, _ in scores],
            "epochs": [e for _, e in scores],
        }

    def mean(rate, loss):
        return float(np.mean(results[(rate, loss)]["balanced_accuracy"]))

    rows = [
        [
            f"{rate:.1f}",
            loss,
            f"{mean(rate, loss):.3f}",
            " / ".join(f"{s:.3f}" for s in results[(rate, loss)]["balanced_accuracy"]),
            f"{np.mean(results[(rate, loss)]['epochs']):.0f}",
        ]
        for rate, loss in runs
    ]
    gce, ce = mean(args.rate, "gce"), mean(args.rate, "cross_entropy")
    verdict = "better than" if gce > ce else "not better than"
    title = (
        f"{len(y)} LC25000 tiles ({args.per_class}/class), random-init ResNet-18 at "
        f"{args.image_size} px (embedding took {embed_s:.0f} s), stratified 70/30 split per seed, "
        f"MLPHead (512-128-64) with early stopping, max_epochs={args.max_epochs}, "
        f"{args.seeds} seeds"
    )
    table = (
        f"## MLPHead losses at {args.rate:.0%} uniform label noise\n\n{title}\n\n"
        + markdown_table(
            ["noise rate", "loss", "balanced acc. (mean)", "per seed", "epochs (mean)"], rows
        )
        + f"\n\nAt {args.rate:.0%} uniform noise, GCE ({gce:.3f}) is {verdict} cross-entropy "
        f"({ce:.3f}) by {gce - ce:+.3f} balanced accuracy (mean of {args.seeds} seeds). "
        "Random-init backbone (no weights downloadable here) and augmented LC25000: "
        "relative comparisons only."
    )
    payload = {
        "config": vars(args),
        "n_images": len(y),
        "embed_seconds": embed_s,
        "gce_minus_cross_entropy": gce - ce,
        "results": {f"{rate}/{loss}": r for (rate, loss), r in results.items()},
    }
    name = args.name or ("bench_noise_losses_quick" if args.quick else "bench_noise_losses")
    write_results(name, payload, table)
    return payload


if __name__ == "__main__":
    main()
