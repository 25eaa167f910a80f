"""What the experiment commands share: a labelled input checked before any work, the results shown.

``noise-curve`` and ``active`` read labelled images or a labelled embeddings file,
refuse too small a class before anything is embedded or trained, and end with the
same three outputs: the table on stdout (or JSON), a CSV and a PNG in ``--out-dir``.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ._backbone_options import announce, describe_weights, make_embedder, short_weights
from ._errors import CommandError
from ._inputs import read_input
from ._report import (
    EMBEDDING_FORMATS,
    check_out_dir,
    read_embeddings,
)


@dataclass
class LabelledInput:
    """Labels, and embeddings (an embeddings file, with the paths it lists) or image paths."""

    labels: object
    embeddings: object = None
    paths: list = None
    kind: str = "embeddings file"


def check_outputs(args):
    """The --out-dir, writable, and matplotlib for its PNG: checked before any work starts."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise CommandError(
            f"skhisto {args.command} draws a PNG with matplotlib; pip install 'skhisto[plot]'"
        )
    return check_out_dir(args.out_dir)


def add_labelled_input_argument(parser):
    """INPUT: labelled images or a labelled embeddings file (see ``labelled_input``)."""
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="labelled images (folder or CSV) or embeddings (.npz/.parquet)",
    )


def add_seed_argument(parser, seeds):
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help=f"seeds {seeds} (default: 0)",
    )


def add_choices(parser, flag, choices, text):
    """An option taking one or more of ``choices`` (all by default), each run and compared."""
    parser.add_argument(
        flag,
        nargs="+",
        choices=choices,
        default=list(choices),
        metavar="NAME",
        help=f"{text}: one or more of {', '.join(choices)} (default: all)",
    )


def is_embeddings_file(source):
    return Path(source).suffix.lower() in EMBEDDING_FORMATS


def labelled_input(args, *, min_per_class, what, images=True):
    """Read ``args.input``; a CommandError when it is unlabelled or a class is too small."""
    import numpy as np

    if not images and Path(args.input).is_dir() and not is_embeddings_file(args.input):
        raise CommandError(
            f"EMBEDDINGS {args.input!r} is a folder: embed it first with "
            f"`skhisto embed {args.input} --backbone NAME --out emb.npz`, then pass emb.npz"
        )
    if is_embeddings_file(args.input) or not images:
        X, labels, paths = read_embeddings(args.input)
        data = LabelledInput(labels, embeddings=X, paths=paths.tolist())
        hint = "write it with `skhisto embed` from class folders or a CSV with a 'label' column"
    else:
        per_class = getattr(args, "per_class", None)
        paths, labels, kind = read_input(
            args.input, max_per_class=per_class, random_state=args.random_state
        )
        data = LabelledInput(labels, paths=paths, kind=kind)
        hint = "pass class folders (<root>/<class>/<image>) or a CSV with a 'label' column"
    if data.labels is None or any(label == "" for label in data.labels):
        name = "INPUT" if images else "EMBEDDINGS"
        raise CommandError(f"{name} {args.input!r} has no labels (or some empty ones); {hint}")
    data.labels = np.asarray(data.labels)
    _check_classes(args.input, data.labels, min_per_class, what)
    return data


def _check_classes(source, labels, min_per_class, what):
    counts = Counter(labels.tolist())
    if len(counts) < 2:
        raise CommandError(f"INPUT {source!r} has one class {sorted(counts)}; it needs at least 2")
    label, count = min(counts.items(), key=lambda item: item[1])
    if count < min_per_class:
        raise CommandError(
            f"INPUT {source!r}: class {label!r} has {count} images, {what} needs at least "
            f"{min_per_class} per class"
        )


def embed_labelled(args, data):
    """The embeddings of ``data`` (read, or computed once through the cache) and their source,
    in words and in a few words (for a plot's title)."""
    if data.embeddings is not None:
        source = f"embeddings read from {args.input}"
        return data.embeddings, source, source
    embedder = make_embedder(args, verbose=True).fit(data.paths)
    weights = describe_weights(args)
    cache = embedder.cache or "no cache"
    announce(
        args.command,
        f"embedding {len(data.paths)} images with {args.backbone} ({weights}; {cache})",
    )
    X = embedder.transform(data.paths)
    backbone = f"backbone {args.backbone} at {embedder.image_size_} px"
    return X, f"{backbone}, {weights}", f"{backbone}, {short_weights(args)}"
