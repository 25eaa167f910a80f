"""Leakage: what a patch-level split does to scores when patches come in patients.

Real tiles (LC25000 lung) are dealt into synthetic patients: each patient gets
``--per-patient`` tiles of one class and its own stain (per-channel gains and a
brightness shift, as a scanner, a lab or a staining batch leaves on every slide
of a patient). The tiles are embedded once (resnet18, random init: no weights can
be downloaded here) and scored by ``noise_robustness_curve`` at noise rate 0 with
5 folds, either on patches (StratifiedKFold: a patient's tiles on both sides) or
grouped by patient (StratifiedGroupKFold), for two labelings:

  * tissue: the true class of each tile;
  * random per patient: one random class per patient, copied to its tiles, which
    no image content predicts; any score above chance is memory of the patient.

    python benchmarks/bench_leakage.py            # 27 minutes on 2 busy CPUs (LinearHead folds)
    python benchmarks/bench_leakage.py --quick    # smoke run
"""

import argparse
import time

import numpy as np
from _common import add_common_arguments, lc25000_root, markdown_table, write_results
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder
from skhisto.datasets import load_image_folder
from skhisto.heads import LinearHead
from skhisto.io import load_images
from skhisto.model_selection import noise_robustness_curve

FULL = dict(patients_per_class=20, per_patient=8, image_size=112, cv=5, seeds=(0, 1, 2))
QUICK = dict(patients_per_class=6, per_patient=4, image_size=32, cv=3, seeds=(0,))


def patients(root, *, patients_per_class, per_patient, random_state):
    """Tiles, tissue labels and patient ids: each patient one class and its own stain."""
    rng = np.random.default_rng(random_state)
    data = load_image_folder(
        root, max_per_class=patients_per_class * per_patient, shuffle=False, random_state=0
    )
    images = load_images(data.paths)
    groups = np.empty(len(images), dtype=object)
    stained = np.empty_like(images)
    for label in range(len(data.target_names)):
        rows = rng.permutation(np.flatnonzero(data.target == label))
        for p, members in enumerate(np.array_split(rows, patients_per_class)):
            gains = rng.uniform(0.8, 1.2, size=3) * rng.uniform(0.9, 1.1)
            stained[members] = np.clip(images[members] * gains, 0, 255).astype(np.uint8)
            groups[members] = f"{data.target_names[label]}-{p}"
    return stained, data.target, groups.astype(str), data.target_names


def heads(seed):
    return {
        "LinearHead": make_pipeline(StandardScaler(), LinearHead(random_state=seed)),
        "5-NN": make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
    }


def score(estimator, X, y, groups, cv, seed):
    curve = noise_robustness_curve(
        estimator,
        X,
        y,
        [0.0],
        cv=cv,
        groups=groups,
        scoring="balanced_accuracy",
        random_state=seed,
    )
    return float(curve["score"].mean())


def main(argv=None):
    parser = add_common_arguments(argparse.ArgumentParser(description=__doc__.split("\n")[0]))
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    root = lc25000_root(args.data)
    rows = []
    start = time.perf_counter()
    for seed in config["seeds"]:
        images, tissue, groups, names = patients(
            root,
            patients_per_class=config["patients_per_class"],
            per_patient=config["per_patient"],
            random_state=seed,
        )
        embedder = FoundationEmbedder(
            "resnet18",
            pretrained=False,
            image_size=config["image_size"],
            cache=None,
            random_state=0,
        )
        X = embedder.fit_transform(images)
        rng = np.random.default_rng(seed + 100)
        ids = np.unique(groups)
        random_of = dict(zip(ids, rng.integers(0, len(names), len(ids)), strict=True))
        labelings = {
            "tissue": tissue,
            "random per patient": np.array([random_of[g] for g in groups]),
        }
        for labeling, y in labelings.items():
            for head, estimator in heads(seed).items():
                patch = score(estimator, X, y, None, config["cv"], seed)
                grouped = score(estimator, X, y, groups, config["cv"], seed)
                rows.append(
                    dict(seed=seed, labels=labeling, head=head, patch=patch, grouped=grouped)
                )
    seconds = time.perf_counter() - start
    table = _table(rows, config, len(names), seconds)
    payload = {"config": config, "rows": rows, "seconds": seconds, "chance": 1 / len(names)}
    write_results("bench_leakage", payload, table, out=args.out, quick=args.quick, docs=True)
    return payload


def _table(rows, config, n_classes, seconds):
    summary = []
    for labels in ("tissue", "random per patient"):
        for head in ("LinearHead", "5-NN"):
            part = [r for r in rows if r["labels"] == labels and r["head"] == head]
            patch = np.array([r["patch"] for r in part])
            grouped = np.array([r["grouped"] for r in part])
            summary.append(
                [
                    labels,
                    head,
                    f"{patch.mean():.3f} ± {patch.std():.3f}",
                    f"{grouped.mean():.3f} ± {grouped.std():.3f}",
                    f"{(patch - grouped).mean():+.3f}",
                ]
            )
    n_patients = config["patients_per_class"] * n_classes
    header = ["labels", "head", "patch-level CV", "grouped CV (by patient)", "optimism"]
    return "\n".join(
        [
            "# Leakage: patch-level against patient-grouped cross-validation",
            "",
            f"LC25000 lung tiles dealt into {n_patients} synthetic patients of "
            f"{config['per_patient']} tiles (one class and one stain per patient); resnet18 "
            f"(random init) embeddings at {config['image_size']} px; balanced accuracy over "
            f"{config['cv']} folds at noise rate 0, mean ± std over seeds "
            f"{list(config['seeds'])}; chance is {1 / n_classes:.3f}. "
            f"Measured by `python benchmarks/bench_leakage.py` in {seconds:.0f} s.",
            "",
            markdown_table(header, summary),
            "",
            "With random labels per patient no image content predicts the label: the "
            "patch-level score above chance is the patient remembered from its other tiles "
            "(its stain and tissue), which a grouped split removes. With tissue labels the "
            "gap is the optimism a patch-level split adds to a real result.",
        ]
    )


if __name__ == "__main__":
    main()
