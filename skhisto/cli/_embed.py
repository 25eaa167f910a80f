"""``skhisto embed``: embed images with a backbone and write them as .npz or .parquet."""

import argparse
import importlib.util
import os
from pathlib import Path

from ._backbone_options import add_backbone_arguments, announce, describe_weights, make_embedder
from ._errors import CommandError
from ._inputs import read_input
from ._report import EMBEDDING_FORMATS, check_out_file

EPILOG = """\
examples:
  skhisto embed ../shared/data/lc25000_lung --backbone resnet18 --no-pretrained --out emb.npz
  skhisto embed tiles.csv --backbone uni --out tiles.parquet

INPUT is a folder of class folders (<root>/<class>/<image>; labels are the class names), a flat
folder of images (no labels), or a CSV with a 'path' column and an optional 'label' column
(relative paths are read from the CSV's folder).

output: a .npz holds the arrays `embeddings` (float32, one row per image), `paths` (the files
read, str) and `labels` (str; empty strings when INPUT has no labels). A .parquet (needs pandas
and pyarrow) holds the columns `path`, `label`, then one float32 column per dimension, named
<backbone>_0, <backbone>_1, ... Rows are those of the Python API:
  FoundationEmbedder(NAME, weights=FILE, pretrained=..., image_size=N,
                     random_state=N).fit_transform(paths)
The file is written atomically: an interrupted run leaves no partial file, and the images it
embedded are in the cache (~/.cache/skhisto or $SKHISTO_CACHE; --no-cache turns it off), so
the same command again starts where it stopped.
"""


NAME = "embed"
HELP = "embed images with a backbone into a .npz or .parquet file"
DESCRIPTION = (
    "Embed every image of INPUT with a frozen backbone and write one row per image, with its "
    "path and label."
)


def _output_file(text):
    if Path(text).suffix.lower() not in EMBEDDING_FORMATS:
        raise argparse.ArgumentTypeError(f"must end in .npz or .parquet, got {text!r}")
    return Path(text)


def add_arguments(parser):
    parser.add_argument("input", metavar="INPUT", help="image folder, class folders or CSV")
    parser.add_argument(
        "--out", required=True, metavar="FILE", type=_output_file, help="output .npz or .parquet"
    )
    seed_help = "seed of a random init (default: 0)"
    parser.add_argument("--random-state", type=int, default=0, metavar="N", help=seed_help)
    add_backbone_arguments(parser)


def _check_output(out):
    """Refuse an output that cannot be written before any image is embedded."""
    if out.suffix.lower() == ".parquet":
        missing = [m for m in ("pandas", "pyarrow") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(
                f"--out {str(out)!r}: writing .parquet needs pandas and pyarrow; "
                f"pip install {' '.join(missing)}, or write .npz"
            )
    check_out_file(out, ".npz or .parquet")


def run(args):
    _check_output(args.out)
    paths, labels, kind = read_input(args.input)
    embedder = make_embedder(args, verbose=True).fit(paths)
    weights = describe_weights(args)
    announce("embed", f"{len(paths)} images ({kind}) with {args.backbone}, {weights}")
    embeddings = embedder.transform(paths)
    labels = labels if labels is not None else [""] * len(paths)
    if args.out.suffix.lower() == ".npz":
        _write_npz(args.out, embeddings, paths, labels)
    else:
        _write_parquet(args.out, embeddings, paths, labels, embedder.get_feature_names_out())
    print(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} embeddings to {args.out}")
    return 0


def _write_npz(out, embeddings, paths, labels):
    import numpy as np

    from ..utils import atomic_write

    with atomic_write(out) as f:
        np.savez(
            f,
            embeddings=embeddings,
            paths=np.asarray(paths, dtype=str),
            labels=np.asarray(labels, dtype=str),
        )


def _write_parquet(out, embeddings, paths, labels, columns):
    import pandas as pd

    from ..utils import atomic_write

    table = pd.DataFrame(embeddings, columns=list(columns))
    table.insert(0, "label", labels)
    table.insert(0, "path", [os.fspath(p) for p in paths])
    with atomic_write(out) as f:
        table.to_parquet(f, index=False)
