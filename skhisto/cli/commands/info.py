"""``skhisto info``: what an embeddings file holds and how it was made (its provenance)."""

import json
import os
from pathlib import Path

from .._embeddings import is_embeddings_file, read_embeddings_with_columns
from .._errors import CommandError
from .._provenance import UNKNOWN, file_provenance, weights_words

NAME = "info"
HELP = "show an embeddings file's rows, labels and provenance (backbone, weights, ...)"
DESCRIPTION = (
    "Show what an embeddings file written by `skhisto embed` (.npz, .parquet, .zarr) or a "
    "folder of the embedding cache holds, and how it was made: backbone, weights (pretrained "
    "or a random init), image size, preprocessing, the skhisto version and the date."
)
EPILOG = """\
examples:
  skhisto info emb.npz
  skhisto info emb.npz tiles.parquet tiles.zarr
  skhisto info ~/.cache/skhisto/0123456789abcdef01234567 --json

The provenance is read as
  from skhisto.embedding import read_provenance
  read_provenance(FILE)    # a dict, or None for a file written before skhisto 0.1.0
and written by `skhisto embed` and embed_dataset (embedding_provenance(embedder)): JSON text
in a .npz's `provenance` array, a .parquet's schema metadata (key skhisto.provenance), a
.zarr store's attributes, or a cache folder's provenance.json beside its fingerprint.json.
Every command that reads an embeddings file prints its provenance on one line, and refuses a
second file made with another backbone, other weights or another image size.

output: for each FILE, its rows and width, labels (classes and counts), groups, then the
provenance fields (backbone, pretrained, weights, weights source, image size, preprocessing,
precision, cache fingerprint, skhisto version, created); --json prints one JSON object per
FILE in a list instead.
"""


def add_arguments(parser):
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help=".npz, .parquet, .zarr, or a cache folder"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _contents(source):
    """Rows, width, classes and groups of an embeddings file (or a cache folder's entries)."""
    from collections import Counter

    path = Path(source)
    if not is_embeddings_file(source):
        from ...embedding import list_caches

        caches = [c for c in list_caches(path.parent) if c.directory.name == path.name]
        inside = list_caches(path) if not caches and path.is_dir() else []
        if inside:  # the cache itself: each backbone has a folder of its own
            raise CommandError(
                f"{source!r} is the embedding cache; show one of its {len(inside)} backbone "
                f"folders (skhisto info {inside[0].directory}), or list them with "
                f"skhisto cache info --cache {source}"
            )
        if not caches:
            raise CommandError(
                f"{source!r} is not an embeddings file (.npz, .parquet, .zarr) or a folder of "
                "the embedding cache (one holding fingerprint.json)"
            )
        return {"kind": "embedding cache folder", "entries": caches[0].stats()["entries"]}
    X, labels, _, columns = read_embeddings_with_columns(source, provenance=False)
    contents = {
        "kind": f"{path.suffix.lower()} embeddings file",
        "rows": int(X.shape[0]),
        "dim": int(X.shape[1]),
        "classes": None if labels is None else dict(sorted(Counter(labels.tolist()).items())),
    }
    if "group" in columns:
        contents["groups"] = len(set(columns["group"].tolist()))
    if "slide" in columns:
        contents["slides"] = len(set(columns["slide"].tolist()))
    return contents


def _text(source, contents, record):
    lines = [("kind", contents["kind"])]
    if "rows" in contents:
        lines.append(("rows", f"{contents['rows']} x {contents['dim']} (float32)"))
        classes = contents["classes"]
        labels = (
            "none"
            if classes is None
            else f"{len(classes)} classes: " + ", ".join(f"{k} {v}" for k, v in classes.items())
        )
        lines.append(("labels", labels))
        for name in ("groups", "slides"):
            if name in contents:
                lines.append((name, str(contents[name])))
    else:
        lines.append(("entries", str(contents["entries"])))
    if record is None:
        lines.append(("provenance", UNKNOWN))
    else:
        pre = record.get("preprocessing") or {}
        stain = pre.get("stain")
        size = record.get("image_size")
        lines += [
            (
                "backbone",
                f"{record.get('backbone')} (architecture {record.get('architecture')}, "
                f"family {record.get('family') or '?'})",
            ),
            ("pretrained", "yes" if record.get("pretrained") else f"no: {weights_words(record)}"),
            ("weights", str(record.get("weights"))),
            ("weights source", str(record.get("weights_source") or "-")),
            ("image size", f"{size} px" if size else "?"),
            (
                "preprocessing",
                f"resized to {size} x {size} (antialiased bilinear), mean {pre.get('mean')}, "
                f"std {pre.get('std')}, "
                + (f"stain-normalised ({stain.get('method')})" if stain else "no stain normaliser"),
            ),
            ("precision", str(record.get("precision") or "?")),
            ("fingerprint", f"{record.get('fingerprint')} (its cache folder)"),
            ("skhisto", str(record.get("skhisto_version") or "? (before provenance)")),
            ("created", str(record.get("created") or "?")),
        ]
    width = max(len(name) for name, _ in lines)
    body = "\n".join(f"  {name:<{width}}  {text}" for name, text in lines)
    return f"{source}\n{body}"


def run(args):
    reports = []
    for source in args.files:
        if not os.path.exists(source):
            raise CommandError(f"{source!r} does not exist")
        contents = _contents(source)
        reports.append((source, contents, file_provenance(source)))
    if args.json:
        payload = [{"file": s, **c, "provenance": r} for s, c, r in reports]
        print(json.dumps(payload, indent=2))
        return 0
    print("\n\n".join(_text(*report) for report in reports))
    return 0
