"""``skhisto cache``: what the embedding cache holds, and compacting it."""

from .._backbone_options import default_cache_dir
from .._errors import CommandError
from .._outputs import format_table
from .._provenance import file_provenance, weights_words

NAME = "cache"
HELP = "show or compact the embedding cache"
DESCRIPTION = (
    "Show what the embedding cache holds (one row per backbone fingerprint), or compact it: "
    "merge its small shards and drop rows stored twice."
)
EPILOG = """\
examples:
  skhisto cache info
  skhisto cache compact --cache /shared/lab/skhisto-cache

info: one row per fingerprint (backbone, image size, precision, shards, rows, distinct entries,
MB on disk, weights: "random init" or "pretrained" and their digest); `skhisto info
CACHE/FINGERPRINT` shows one folder's provenance. compact: EmbeddingCache.compact() on every
fingerprint; safe while other processes read and write the cache, one process compacts at a
time. --cache defaults to $SKHISTO_CACHE, else ~/.cache/skhisto.
"""

COLUMNS = (
    "id",
    "backbone",
    "image_size",
    "precision",
    "shards",
    "rows",
    "entries",
    "mb",
    "weights",
)
HEADERS = (
    "fingerprint",
    "backbone",
    "image size",
    "precision",
    "shards",
    "rows",
    "entries",
    "MB",
    "weights",
)


def add_arguments(parser):
    parser.add_argument("action", choices=("info", "compact"), help="info or compact")
    parser.add_argument(
        "--cache", metavar="DIR", help=f"cache directory (default: {default_cache_dir()})"
    )


def _precision(value):
    # Stored as str(torch dtype) with None for fp32.
    return {None: "?", "None": "fp32"}.get(value, str(value).removeprefix("torch."))


def _row(cache):
    fingerprint = cache.fingerprint
    size = sum(p.stat().st_size for p in cache.directory.glob("shard-*")) / 2**20
    return {
        "id": cache.directory.name,
        "backbone": fingerprint.get("backbone", "?"),
        "weights": weights_words(file_provenance(cache.directory)),  # random init or pretrained
        "image_size": fingerprint.get("image_size", "?"),
        "precision": _precision(fingerprint.get("precision")),
        **cache.stats(),
        "mb": f"{size:,.1f}",
    }


def run(args):
    from pathlib import Path

    from ...embedding import list_caches

    root = Path(args.cache).expanduser() if args.cache else default_cache_dir()
    if not root.is_dir():
        raise CommandError(f"--cache {str(root)!r} is not a directory; nothing is cached there")
    caches = list_caches(root)
    if not caches:
        print(f"{root}: no embedding cache here")
        return 0
    if args.action == "compact":
        for cache in caches:
            before = cache.stats()
            after = cache.compact()
            print(
                f"{cache.directory.name}: {before['shards']} shards, {before['rows']} rows -> "
                f"{after['shards']} shards, {after['rows']} rows"
            )
    print(format_table([_row(c) for c in caches], COLUMNS, HEADERS))
    return 0
