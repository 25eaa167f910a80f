"""MLPHead losses at 60% uniform label noise on real LC25000 embeddings.

Embeds LC25000 tiles once, then for each seed draws a stratified 70/30
train/test split, flips 60% of the training labels uniformly
(:class:`~skhisto.UniformNoise`, seeded), trains ``StandardScaler`` +
:class:`~skhisto.MLPHead` with each loss on the noisy labels and scores
balanced accuracy on the clean test labels. Two training regimes: the
default early stopping on a (noisy) stratified validation split, and a
fixed number of epochs without early stopping, where a loss has to resist
memorising the noise by itself. The acceptance figure is GCE against
cross-entropy (mean of 3 seeds); the other losses and the noise-free
cross-entropy are context.
With 3 classes, 60% uniform noise leaves 40% of each class's labels correct
against 30% for each wrong class, so the true class is still the plurality.

No pretrained weights can be downloaded here, so the backbone is a
random-init ResNet-18 (``pretrained=False, random_state=0``); LC25000 is
augmented from 250 originals per class. Read the results as a comparison of
losses on these embeddings, not as absolute accuracy.

    python benchmarks/bench_noise_losses.py           # 1,500 tiles, 64 px, 3 seeds
    python benchmarks/bench_noise_losses.py --no-scale  # on the raw embeddings
    python benchmarks/bench_noise_losses.py --quick   # smoke run
"""

import argparse
import time

import numpy as np
from _common import add_common_arguments, lc25000_root, markdown_table, write_results
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder, MLPHead, UniformNoise
from skhisto.datasets import load_image_folder
from skhisto.heads import LOSSES
from skhisto.utils import progress


def run(X, y, rate, loss, seed, head_params, scale=True):
    """Balanced accuracy on clean test labels of MLPHead(loss) trained at ``rate`` noise."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    _, y_noisy = UniformNoise(rate, random_state=seed).fit_resample(X_train, y_train)
    head = MLPHead(loss=loss, random_state=seed, **head_params)
    model = make_pipeline(StandardScaler(), head) if scale else head
    model.fit(X_train, y_noisy)
    return balanced_accuracy_score(y_test, model.predict(X_test)), head.n_iter_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.6)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-epochs", type=int, default=100, help="with early stopping")
    parser.add_argument("--fixed-epochs", type=int, default=30, help="without early stopping")
    parser.add_argument(
        "--no-scale", action="store_true", help="train on the raw embeddings (no StandardScaler)"
    )
    parser.add_argument("--name", default=None, help="results file name")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.per_class, args.seeds, args.max_epochs, args.fixed_epochs = 20, 1, 2, 2

    data = load_image_folder(lc25000_root(args.data), max_per_class=args.per_class, random_state=0)
    y = np.asarray(data.target_names)[data.target]
    start = time.perf_counter()
    X = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=args.image_size, random_state=0, verbose=False
    ).fit_transform(data.paths)
    embed_s = time.perf_counter() - start

    regimes = {
        "early stopping": {"max_epochs": args.max_epochs, "early_stopping": True},
        f"{args.fixed_epochs} epochs, no early stopping": {
            "max_epochs": args.fixed_epochs,
            "early_stopping": False,
        },
    }
    runs = [(args.rate, loss) for loss in LOSSES] + [(0.0, "cross_entropy")]
    jobs = [(regime, rate, loss) for regime in regimes for rate, loss in runs]
    results = {}
    for regime, rate, loss in progress(jobs, total=len(jobs), desc="losses", verbose=True):
        scores = [
            run(X, y, rate, loss, s, regimes[regime], scale=not args.no_scale)
            for s in range(args.seeds)
        ]
        results[(regime, rate, loss)] = {
            "balanced_accuracy": [s for s, _ in scores],
            "epochs": [e for _, e in scores],
        }

    def mean(regime, rate, loss):
        return float(np.mean(results[(regime, rate, loss)]["balanced_accuracy"]))

    def cell(regime, rate, loss):
        result = results[(regime, rate, loss)]
        per_seed = " / ".join(f"{s:.3f}" for s in result["balanced_accuracy"])
        return (
            f"**{mean(regime, rate, loss):.3f}** ({per_seed}; {np.mean(result['epochs']):.0f} ep.)"
        )

    rows = [[f"{rate:.1f}", loss] + [cell(r, rate, loss) for r in regimes] for rate, loss in runs]
    verdicts = []
    for regime in regimes:
        gce, ce = mean(regime, args.rate, "gce"), mean(regime, args.rate, "cross_entropy")
        verdicts.append(
            f"{regime}: GCE {gce:.3f} vs cross-entropy {ce:.3f} ({gce - ce:+.3f}, "
            f"GCE {'better' if gce > ce else 'not better'})"
        )
    title = (
        f"{len(y)} LC25000 tiles ({args.per_class}/class), random-init ResNet-18 at "
        f"{args.image_size} px (embedding took {embed_s:.0f} s), stratified 70/30 split per seed, "
        f"{'raw embeddings' if args.no_scale else 'StandardScaler'} + MLPHead (512-128-64, "
        f"Adam, lr 1e-3), {args.seeds} seeds"
    )
    table = (
        f"## MLPHead losses at {args.rate:.0%} uniform label noise\n\n{title}\n\n"
        "Balanced accuracy on clean test labels: **mean of seeds** (per seed; mean epochs run).\n\n"
        + markdown_table(["noise rate", "loss", *regimes], rows)
        + f"\n\nAt {args.rate:.0%} uniform noise, mean of {args.seeds} seeds: "
        + "; ".join(verdicts)
        + ". Random-init backbone (no weights downloadable here) and augmented LC25000: "
        "relative comparisons only."
    )
    payload = {
        "config": vars(args),
        "n_images": len(y),
        "embed_seconds": embed_s,
        "gce_minus_cross_entropy": {
            regime: mean(regime, args.rate, "gce") - mean(regime, args.rate, "cross_entropy")
            for regime in regimes
        },
        "results": {f"{reg}/{rate}/{loss}": r for (reg, rate, loss), r in results.items()},
    }
    name = args.name or "bench_noise_losses" + ("_unscaled" if args.no_scale else "")
    write_results(name, payload, table, out=args.out, quick=args.quick)
    return payload


if __name__ == "__main__":
    main()
