"""The data audit (skhisto.cleaning.audit_dataset) against cleanlab's Datalab, on LC25000.

LC25000 is 250 originals per class augmented twenty times (rotations, flips and
shifts), so real near-duplicates are there. On a seeded draw of tiles:

* ground truth that needs no model: tiles whose 24 px grey thumbnails match up
  to a rotation or flip (mean absolute difference < 0.01) are copies; 3 blank
  (background), 3 blurred and 3 pen-marked tiles are planted (the outliers a
  pathologist removes); 5 % of the labels are flipped; the tiles fall into 30
  random "patients" and a grouped 70/30 train/test split;
* embeddings: a random-init ResNet-18 (no weights can be downloaded here),
  averaged over the 8 rotations and flips of each tile so that a rotated copy
  embeds where its original does;
* our audit (groups and split given) and Datalab's ``find_issues(features=X)``
  on the same embeddings and labels: per issue type the counts, their overlap
  (Jaccard) and the recall of the ground truth; wall time of each; and our
  audit's time on 20,000 x 768 synthetic embeddings.

Datalab runs when ``from cleanlab import Datalab`` works (``pip install
'cleanlab[datalab]'``, e.g. in a separate venv); otherwise its columns are empty.

    python benchmarks/bench_audit.py          # 200 tiles/class (docs/results)
    python benchmarks/bench_audit.py --quick  # smoke run
"""

import argparse
import time

import numpy as np
from _common import add_common_arguments, lc25000_root, markdown_table, write_results
from PIL import Image, ImageDraw, ImageFilter
from sklearn.model_selection import GroupShuffleSplit

from skhisto import FoundationEmbedder
from skhisto.cleaning import audit_dataset
from skhisto.datasets import load_image_folder
from skhisto.io import load_images

NAME = "bench_audit"
COPY_DISTANCE = 0.01  # mean absolute grey difference of two 24 px thumbnails (0-1 scale)
N_GROUPS = 30
FLIP_RATE = 0.05
PLANTED = ("background", "blur", "pen")


def dihedral(images):
    """The 8 rotations and flips of ``images`` (..., H, W[, C]), stacked first."""
    out = []
    for k in range(4):
        rotated = np.rot90(images, k, axes=(1, 2))
        out += [rotated, rotated[:, :, ::-1]]
    return out


def planted_tiles(images, rng):
    """Background, blurred and pen-marked tiles (3 each), made from random real tiles."""
    size = images.shape[1]
    tiles, kinds = [], []
    for _ in range(3):  # background: near-white glass with a little noise
        tiles.append(np.clip(rng.normal(240, 4, (size, size, 3)), 0, 255).astype(np.uint8))
        kinds.append("background")
    for i in rng.choice(len(images), 6, replace=False)[:3]:
        blurred = Image.fromarray(images[i]).filter(ImageFilter.GaussianBlur(size / 20))
        tiles.append(np.asarray(blurred))
        kinds.append("blur")
    for i in rng.choice(len(images), 3, replace=False):
        marked = Image.fromarray(images[i].copy())
        draw = ImageDraw.Draw(marked)
        y0 = rng.integers(size // 4, 3 * size // 4)
        draw.line([(0, y0), (size, y0 + size // 3)], fill=(20, 90, 40), width=size // 5)
        tiles.append(np.asarray(marked))
        kinds.append("pen")
    return np.stack(tiles), kinds


def copies(images):
    """Pairs (i < j) of tiles equal up to a rotation or flip, by 24 px grey thumbnails."""
    grey = np.stack(
        [np.asarray(Image.fromarray(im).convert("L").resize((24, 24))) for im in images]
    ).astype(np.float32)
    grey /= 255
    flat = grey.reshape(len(grey), -1)
    best = np.full((len(grey), len(grey)), np.inf, dtype=np.float32)
    for variant in dihedral(grey):
        v = np.ascontiguousarray(variant).reshape(len(grey), -1)
        for start in range(0, len(grey), 256):
            d = np.abs(flat[start : start + 256, None, :] - v[None, :, :]).mean(-1)
            best[start : start + 256] = np.minimum(best[start : start + 256], d)
    np.fill_diagonal(best, np.inf)
    i, j = np.nonzero(np.triu(best < COPY_DISTANCE, 1))
    return list(zip(i.tolist(), j.tolist(), strict=True))


def embed(images, image_size):
    """Random-init ResNet-18 embeddings averaged over the 8 rotations and flips."""
    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=image_size, random_state=0, verbose=False
    ).fit(images[:1])
    return np.mean([embedder.transform(np.ascontiguousarray(v)) for v in dihedral(images)], axis=0)


def datalab(X, y):
    """Datalab's flags per issue type and its seconds, or None when it is not installed."""
    try:
        from cleanlab import Datalab

        lab = Datalab({"label": np.asarray(y)}, label_name="label", verbosity=0)
    except ImportError as exc:
        return None, str(exc).splitlines()[0]
    start = time.perf_counter()
    lab.find_issues(features=np.asarray(X, dtype=np.float32))
    seconds = time.perf_counter() - start
    issues = lab.get_issues()
    flags = {
        name[3:-6]: np.flatnonzero(issues[name].to_numpy())
        for name in issues.columns
        if name.startswith("is_") and name.endswith("_issue")
    }
    summary = lab.get_issue_summary().set_index("issue_type")["num_issues"].to_dict()
    return {"flags": flags, "seconds": seconds, "summary": summary}, None


def jaccard(a, b):
    a, b = set(map(int, a)), set(map(int, b))
    return len(a & b) / len(a | b) if a | b else 1.0


def recall(found, truth):
    truth = set(map(int, truth))
    return len(truth & set(map(int, found))) / len(truth) if truth else None


def scale_timing(n, d, with_labels):
    """Seconds of audit_dataset on ``n`` x ``d`` synthetic clustered embeddings."""
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(20, d))
    y = rng.integers(0, 20, n)
    X = (centers[y] + rng.normal(scale=2.0, size=(n, d))).astype(np.float32)
    groups = rng.integers(0, 200, n)
    start = time.perf_counter()
    audit_dataset(X, y if with_labels else None, groups=groups)
    return time.perf_counter() - start


def measure(args):
    root = lc25000_root(args.data)
    data = load_image_folder(root, max_per_class=args.per_class, random_state=0)
    rng = np.random.default_rng(0)
    real = load_images(data.paths, args.image_size)
    extra, kinds = planted_tiles(real, rng)
    images = np.concatenate([real, extra])
    names = np.asarray(data.target_names)
    y_true = np.concatenate([names[data.target], rng.choice(names, len(extra))])
    n_real = len(real)
    planted = np.arange(n_real, len(images))

    flips = rng.choice(n_real, round(FLIP_RATE * n_real), replace=False)
    y = y_true.copy()
    for i in flips:
        y[i] = rng.choice([c for c in names if c != y_true[i]])
    groups = rng.integers(0, N_GROUPS, len(images)).astype(str)
    train, _ = next(GroupShuffleSplit(1, test_size=0.3, random_state=0).split(images, y, groups))
    split = np.full(len(images), "test", dtype=object)
    split[train] = "train"

    start = time.perf_counter()
    pairs = copies(images)
    truth_seconds = time.perf_counter() - start
    start = time.perf_counter()
    X = embed(images, args.image_size)
    embed_seconds = time.perf_counter() - start

    start = time.perf_counter()
    audit = audit_dataset(X, y, groups=groups, split=split, random_state=0)
    ours_seconds = time.perf_counter() - start
    issues = audit.issues
    ours = {
        name: np.flatnonzero(issues[name].to_numpy())
        for name in ("near_duplicate", "leakage", "outlier", "class_outlier", "label_issue")
    }
    theirs, missing = datalab(X, y)

    in_copy = sorted({i for pair in pairs for i in pair})
    leaked = sorted({i for a, b in pairs if groups[a] != groups[b] for i in (a, b)})
    pair_found = np.mean(
        [issues.loc[a, "near_duplicate"] and issues.loc[b, "near_duplicate"] for a, b in pairs]
    )
    truth = {
        "near_duplicate": in_copy,
        "outlier": planted.tolist(),
        "label_issue": flips.tolist(),
        "leakage": leaked,
    }
    # Datalab's names for the same issue types; it has no leakage or class_outlier.
    counterpart = {"near_duplicate": "near_duplicate", "outlier": "outlier", "label_issue": "label"}
    rows = {}
    for name, flagged in ours.items():
        other = theirs["flags"].get(counterpart.get(name)) if theirs else None
        rows[name] = {
            "ours": len(flagged),
            "datalab": None if other is None else len(other),
            "both": None if other is None else len(set(flagged) & set(other)),
            "jaccard": None if other is None else jaccard(flagged, other),
            "truth": len(truth[name]) if name in truth else None,
            "recall_ours": recall(flagged, truth[name]) if name in truth else None,
            "recall_datalab": (
                recall(other, truth[name]) if other is not None and name in truth else None
            ),
        }
    planted_found = {
        kind: int(np.isin(planted[np.array(kinds) == kind], ours["outlier"]).sum())
        for kind in PLANTED
    }
    scale = {
        f"{n}x{d}{' labeled' if labeled else ''}": scale_timing(n, d, labeled)
        for n, d, labeled in args.scale
    }
    return {
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "command": "python benchmarks/bench_audit.py" + (" --quick" if args.quick else ""),
        "n_samples": len(images),
        "n_copy_pairs": len(pairs),
        "copy_pairs_both_flagged": float(pair_found) if pairs else None,
        "planted_outliers_found": planted_found,
        "thresholds": {k: v for k, v in audit.thresholds.items() if k != "class_outlier_fence"},
        "summary": audit.get_issue_summary().to_dict(orient="records"),
        "balance_issues": audit.balance_issues.to_dict(orient="records"),
        "issue_types": rows,
        "datalab_summary": theirs["summary"] if theirs else None,
        "datalab_missing": missing,
        "seconds": {
            "ground_truth": truth_seconds,
            "embed": embed_seconds,
            "ours": ours_seconds,
            "datalab": theirs["seconds"] if theirs else None,
            "ours_scale": scale,
        },
    }


def report(payload):
    def cell(value):
        if value is None:
            return "-"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    header = ["issue type", "ours", "Datalab", "both", "Jaccard", "truth", "recall ours"]
    header.append("recall Datalab")
    table = [
        [name, *(cell(row[k]) for k in list(row))] for name, row in payload["issue_types"].items()
    ]
    seconds = payload["seconds"]
    lines = [
        f"# Data audit vs cleanlab Datalab ({payload['n_samples']} LC25000 tiles + planted)",
        "",
        f"`{payload['command']}`; random-init ResNet-18 embeddings averaged over the 8 "
        "rotations/flips; 30 random groups, grouped 70/30 split, 5 % flipped labels.",
        "",
        markdown_table(header, table),
        "",
        f"Copies (pixel-equal up to rotation/flip): {payload['n_copy_pairs']} pairs, "
        f"{cell(payload['copy_pairs_both_flagged'])} of them with both tiles flagged. "
        f"Planted outliers flagged: {payload['planted_outliers_found']} (of 3 each).",
        "",
        f"Seconds: our audit {seconds['ours']:.2f}, Datalab {cell(seconds['datalab'])}, "
        f"embedding {seconds['embed']:.1f}. Our audit at scale: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in seconds["ours_scale"].items())
        + ".",
    ]
    if payload["datalab_missing"]:
        lines += ["", f"Datalab not run: {payload['datalab_missing']}"]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=200, help="tiles per class")
    parser.add_argument("--image-size", type=int, default=64, help="random-init backbone's px")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    args.scale = [(20000, 768, False), (20000, 768, True)]
    if args.quick:
        args.per_class, args.image_size, args.scale = 30, 32, [(2000, 64, True)]
    return args


def main(argv=None):
    args = parse_args(argv)
    payload = measure(args)
    write_results(NAME, payload, report(payload), out=args.out, quick=args.quick, docs=True)


if __name__ == "__main__":
    main()
