"""Shared by the paper-reproduction scripts: their arguments, splits and result names."""

import numpy as np
from _common import add_common_arguments, write_results

from skhisto.datasets import load_image_folder
from skhisto.io import load_images


def split_counts(root, counts, *, image_size, random_state):
    """Disjoint per-class draws: ``counts`` maps split name -> {class: n}; images decoded once."""
    return {
        split: (load_images(paths, image_size), labels)
        for split, (paths, labels) in split_paths(root, counts, random_state=random_state).items()
    }


def split_paths(root, counts, *, random_state):
    """The files and class names :func:`split_counts` draws, without decoding them."""
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
    for split, idx in chosen.items():
        idx = rng.permutation(np.asarray(idx, dtype=int))
        out[split] = (data.paths[idx], np.asarray(data.target_names)[data.target[idx]])
    return out


def base_parser(doc):
    """Arguments every reproduction script takes: --scale and the common ones."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--scale", choices=["cpu", "paper"], default="cpu")
    return add_common_arguments(parser)


def command(script, args):
    """The command line that reproduces a result file."""
    return f"python benchmarks/{script}" + (" --quick" if args.quick else f" --scale {args.scale}")


def publish(stem, args, payload, text, plot):
    """Write the results with the one writer: markdown and plot to docs/results.

    ``<stem>`` at CPU scale, ``<stem>_paper`` at paper scale, ``<stem>_quick`` (to
    ``--out`` only) for a smoke run.
    """
    name = stem if args.scale == "cpu" else f"{stem}_{args.scale}"
    write_results(name, payload, text, out=args.out, quick=args.quick, docs=True, plot=plot)
