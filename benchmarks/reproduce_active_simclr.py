"""Reproduce "Data efficient contrastive learning in histopathology using active sampling"
(Reasat & Smith) on LC25000: lung_scc (made a minority, about 1:4) against the rest.

A SimCLR baseline trained on the whole unlabeled pool is compared with ActiveSimCLR
(Algorithm 2) under uncertainty (entropy), coreset (k-center greedy) and random sampling:
F1 of the minority class of a linear proxy trained on a small labeled set, against the
number of images SimCLR was trained on, and the time each needs to reach the baseline's F1.

LC25000 is augmented from 250 originals per class, so near-duplicates cross the split:
read relative differences only.

    python benchmarks/reproduce_active_simclr.py               # CPU scale (~15-25 min here)
    python benchmarks/reproduce_active_simclr.py --quick       # smoke run
    python benchmarks/reproduce_active_simclr.py --scale paper # 224 px, budget 1000, GPU
    python benchmarks/reproduce_active_simclr.py --scale paper \
        --data /data/NCT-CRC-HE-100K --positive TUM            # the paper's own task
"""

import time
from pathlib import Path

import numpy as np
from _common import lc25000_root, machine
from _repro import base_parser, command, publish, split_counts
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import (
    ActiveSimCLR,
    CoresetSampling,
    LinearHead,
    RandomSampling,
    SimCLREmbedder,
    UncertaintySampling,
)

SCALES = {
    "quick": dict(
        image_size=32,
        pool=60,
        labeled=30,
        test=30,
        budget=20,
        n_rounds=2,
        round_epochs=1,
        baseline_epochs=2,
        eval_every=1,
        candidate_size=30,
        proxy_epochs=10,
        batch_size=32,
        lr=1e-3,
        seeds=[0],
    ),
    "cpu": dict(
        image_size=32,
        pool=1000,
        labeled=200,
        test=400,
        budget=100,
        n_rounds=8,
        round_epochs=3,
        baseline_epochs=10,
        eval_every=1,
        candidate_size=500,
        proxy_epochs=40,
        batch_size=128,
        lr=1e-3,
        seeds=[0, 1, 2],
    ),
    # The paper: 224 px, budget 1000, 20 rounds of 100 epochs, 100-epoch baseline, 10,000
    # candidates, 1,000 labeled images, lr 1e-4, batch 128, three runs. On LC25000 the pool is
    # smaller than 20 budgets, so rounds stop when it is used up.
    "paper": dict(
        image_size=224,
        pool=7500,
        labeled=1000,
        test=1500,
        budget=1000,
        n_rounds=20,
        round_epochs=100,
        baseline_epochs=100,
        eval_every=10,
        candidate_size=10000,
        proxy_epochs=40,
        batch_size=128,
        lr=1e-4,
        seeds=[0, 1, 2],
    ),
}
MINORITY_FRACTION = 0.2  # positives are 1 in 5 images (1:4), as TUM vs NON-TUM in the paper


def class_counts(names, positive, total):
    """Per-class counts for ``total`` images with ``positive`` a 1:4 minority."""
    negatives = [n for n in names if n != positive]
    n_pos = round(total * MINORITY_FRACTION)
    per_neg = (total - n_pos) // len(negatives)
    return {positive: n_pos, **dict.fromkeys(negatives, per_neg)}


def proxy(cfg, seed):
    # The paper's proxy: one linear layer (lr 1e-3, 40 epochs); embeddings are standardised.
    return make_pipeline(
        StandardScaler(),
        LinearHead(max_epochs=cfg["proxy_epochs"], lr=1e-3, random_state=seed, device="auto"),
    )


def simclr(cfg, seed, epochs):
    return SimCLREmbedder(
        "resnet18",
        image_size=cfg["image_size"],
        max_epochs=epochs,
        lr=cfg["lr"],
        batch_size=cfg["batch_size"],
        temperature=0.1,
        random_state=seed,
    )


def run_baseline(data, cfg, seed):
    """SimCLR on the whole pool; the proxy's F1 is measured every ``eval_every`` epochs."""
    pool, (XL, yL), (XT, yT) = data
    model = simclr(cfg, seed, cfg["eval_every"])
    curve, elapsed = [], 0.0
    for _ in range(cfg["baseline_epochs"] // cfg["eval_every"]):
        start = time.perf_counter()
        model.fit(pool)
        model.set_params(warm_start=True)
        clf = proxy(cfg, seed).fit(model.transform(XL), yL)
        elapsed += time.perf_counter() - start
        f1 = f1_score(yT, clf.predict(model.transform(XT)))
        curve.append(dict(epoch=model.n_epochs_, n_images=len(pool), f1=float(f1), time=elapsed))
        print(f"  baseline epoch {model.n_epochs_}: F1 {f1:.3f} ({elapsed:.0f} s)", flush=True)
    return curve


def run_active(data, cfg, seed, strategy):
    pool, (XL, yL), (XT, yT) = data
    active = ActiveSimCLR(
        simclr(cfg, seed, cfg["round_epochs"]),
        strategy,
        proxy(cfg, seed),
        batch_size=cfg["budget"],
        n_rounds=min(cfg["n_rounds"], len(pool) // cfg["budget"]),
        n_candidates=cfg["candidate_size"],
        scoring="f1",
        random_state=seed,
    ).fit(pool, X_labeled=XL, y_labeled=yL, X_test=XT, y_test=yT)
    for r in active.history_:
        print(
            f"  {type(strategy).__name__} round {r['round']}: {r['n_images']} images, "
            f"F1 {r['score']:.3f} ({r['time']:.0f} s)",
            flush=True,
        )
    return [dict(r, f1=r["score"]) for r in active.history_]


def time_to_reach(curve, target):
    """First point of ``curve`` whose F1 reaches ``target`` (None if never)."""
    return next((p for p in curve if p["f1"] >= target), None)


def markdown(results, cfg, meta):
    base = results["baseline"]
    best = max(base, key=lambda p: p["f1"])
    lines = [
        "# Active sampling for contrastive learning (LC25000: lung_scc vs rest)",
        "",
        f"Scale `{meta['scale']}`: {cfg['image_size']} px, resnet18 SimCLR from random init "
        f"(lr {cfg['lr']}, batch {cfg['batch_size']}, temperature 0.1). Pool of {cfg['pool']} "
        f"unlabeled images ({MINORITY_FRACTION:.0%} lung_scc), labeled set of {cfg['labeled']}, "
        f"test set of {cfg['test']} (same class mix). Baseline: {cfg['baseline_epochs']} epochs "
        f"on the whole pool. Active: {cfg['budget']} images per round, {cfg['round_epochs']} "
        f"epochs per round continuing the previous weights, candidates drawn "
        f"{cfg['candidate_size']}"
        f" at a time; proxy: standardised embeddings + LinearHead. F1 of lung_scc, seeds "
        f"{cfg['seeds']} (mean). Times are wall-clock seconds on a shared "
        f"{meta['machine']['cpu_count']}-core CPU (train + proxy + query; test scoring "
        "excluded). LC25000 holds near-duplicates across splits: compare rows, not absolutes.",
        "",
        f"Baseline best F1: **{best['f1']:.3f}** after {best['epoch']} epochs on {best['n_images']}"
        f" images, {best['time']:.0f} s.",
        "",
        "| method | F1 per round (images used) | best F1 | images to reach baseline F1 "
        "| time to reach (s) | time vs baseline |",
        "|---|---|---|---|---|---|",
    ]
    for name, curve in results.items():
        if name == "baseline":
            steps = ", ".join(f"{p['f1']:.3f} ({p['epoch']} ep)" for p in curve)
        else:
            steps = ", ".join(f"{p['f1']:.3f} ({p['n_images']})" for p in curve)
        hit = time_to_reach(curve, best["f1"])
        top = max(p["f1"] for p in curve)
        if hit is None:
            reach = ("not reached", "–", "–")
        else:
            reach = (
                str(hit["n_images"]),
                f"{hit['time']:.0f}",
                f"{hit['time'] / best['time']:.0%}",
            )
        lines.append(f"| {name} | {steps} | {top:.3f} | " + " | ".join(reach) + " |")
    lines += [
        "",
        "F1 and times are means over seeds (per-seed curves in the JSON). On this shared CPU, "
        "runs of one seed differ by up to ~0.06 F1 with the thread count alone, and wall "
        "times change with the machine's load, so read small gaps as noise.",
        "",
        f"Produced by `{meta['command']}` in {meta['wall_time'] / 60:.1f} min.",
        "",
    ]
    return "\n".join(lines)


def mean_curves(per_seed):
    """Average the per-seed curves point by point (same rounds/epochs in every seed)."""
    out = []
    for points in zip(*per_seed, strict=True):
        p = dict(points[0])
        for key in ("f1", "time"):
            p[key] = float(np.mean([q[key] for q in points]))
        out.append(p)
    return out


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    base = results["baseline"]
    best = max(p["f1"] for p in base)
    ax.axhline(
        best,
        color="k",
        linestyle="--",
        label=f"baseline, full pool ({base[-1]['n_images']} images)",
    )
    for name, curve in results.items():
        if name != "baseline":
            ax.plot(
                [p["n_images"] for p in curve], [p["f1"] for p in curve], marker="o", label=name
            )
    ax.set(
        xlabel="images used to train SimCLR",
        ylabel="F1 (lung_scc)",
        title="ActiveSimCLR on LC25000",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = base_parser(__doc__)
    parser.add_argument("--positive", default="lung_scc", help="the minority class")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else args.scale
    cfg = SCALES[scale]
    root = lc25000_root(args.data)
    names = sorted(p.name for p in Path(root).iterdir() if p.is_dir())
    if args.positive not in names:
        raise SystemExit(f"--positive {args.positive!r} is not a class folder of {root}: {names}")
    start = time.perf_counter()
    counts = {k: class_counts(names, args.positive, cfg[k]) for k in ("pool", "labeled", "test")}
    results = {}
    per_seed = {}
    for seed in cfg["seeds"]:
        split = split_counts(root, counts, image_size=cfg["image_size"], random_state=seed)
        binary = {k: (v[0], (v[1] == args.positive).astype(int)) for k, v in split.items()}
        data = (binary["pool"][0], binary["labeled"], binary["test"])
        print(f"seed {seed}: baseline", flush=True)
        per_seed.setdefault("baseline", []).append(run_baseline(data, cfg, seed))
        for name, strategy in (
            ("uncertainty", UncertaintySampling(method="entropy")),
            ("coreset", CoresetSampling(random_state=seed)),
            ("random", RandomSampling(random_state=seed)),
        ):
            print(f"seed {seed}: {name}", flush=True)
            per_seed.setdefault(name, []).append(run_active(data, cfg, seed, strategy))
    results = {name: mean_curves(curves) for name, curves in per_seed.items()}
    meta = dict(
        scale=scale,
        config=cfg,
        positive=args.positive,
        machine=machine(),
        wall_time=time.perf_counter() - start,
        command=command("reproduce_active_simclr.py", args),
    )
    payload = dict(meta, results=results, per_seed=per_seed)
    publish(
        "active_simclr", args, payload, markdown(results, cfg, meta), lambda p: plot(results, p)
    )


if __name__ == "__main__":
    main()
