"""Shared plumbing of the paper-reproduction scripts: data location, splits, result files."""

import json

import numpy as np
from _common import RESULTS, ROOT, write_text
from _common import data_root as shared_data_root

from skhisto.datasets import load_image_folder
from skhisto.io import load_images

DOCS = ROOT / "docs" / "results"


def data_root(arg):
    """The LC25000 lung folder (or any ImageFolder root) from ``--data`` or the shared data."""
    root = shared_data_root(arg)
    return root / "lc25000_lung" if (root / "lc25000_lung").is_dir() else root


def split_counts(root, counts, *, image_size, random_state):
    """Disjoint per-class draws: ``counts`` maps split name -> {class: n}; images decoded once."""
    need = {}
    for per_class in counts.values():
        for name, n in per_class.items():
            need[name] = need.get(name, 0) + n
    data = load_image_folder(
        root, classes=sorted(need), max_per_class=max(need.values()), random_state=random_state
    )
    rng = np.random.default_rng(random_state)
    chosen = {split: [] for split in counts}
    for label, name in enumerate(data.target_names):
        idx = rng.permutation(np.flatnonzero(data.target == label))
        start = 0
        for split, per_class in counts.items():
            n = per_class.get(name, 0)
            chosen[split].extend(idx[start : start + n])
            start += n
    out = {}
    paths = data.paths
    for split, idx in chosen.items():
        idx = rng.permutation(np.asarray(idx, dtype=int))
        images = load_images(paths[idx], image_size)
        out[split] = (images, np.asarray(data.target_names)[data.target[idx]])
    return out


def write_json(name, payload):
    RESULTS.mkdir(parents=True, exist_ok=True)
    return write_text(RESULTS / name, json.dumps(payload, indent=2, default=float) + "\n")


def write_markdown(name, text):
    DOCS.mkdir(parents=True, exist_ok=True)
    return write_text(DOCS / name, text)


def base_parser(doc):
    """Arguments every reproduction script takes: --scale, --quick, --data."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, writes nothing")
    parser.add_argument("--data", default=None, help="ImageFolder root or the shared data root")
    return parser


def command(script, args):
    """The command line that reproduces a result file."""
    return f"python benchmarks/{script}" + (" --quick" if args.quick else f" --scale {args.scale}")


def publish(stem, scale, payload, text, plot):
    """JSON to benchmarks/results, markdown and plot to docs/results (not for smoke runs)."""
    if scale != "quick":
        suffix = "" if scale == "cpu" else f"_{scale}"
        write_json(f"{stem}{suffix}.json", payload)
        write_markdown(f"{stem}{suffix}.md", text)
        plot(DOCS / f"{stem}{suffix}.png")
    print(text)
