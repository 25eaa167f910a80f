"""The backbone options of every command that embeds images (``embed``, ``noise-curve``, ...)."""

import os
import sys
from pathlib import Path

from ._errors import CommandError, non_negative_int, positive_int

RANDOM_INIT = "random initialisation instead of the published weights (seeded by --random-state)"

# (flags, argparse keywords) of each option, in --help order; {backbone} is the command's default.
OPTIONS = (
    (("--weights",), {"metavar": "FILE", "help": "local weights file to load"}),
    (("--no-pretrained",), {"dest": "pretrained", "action": "store_false", "help": RANDOM_INIT}),
    (("--cache",), {"metavar": "DIR", "help": "embedding cache directory"}),
    (
        ("--image-size",),
        {"type": positive_int, "metavar": "N", "help": "resize to N x N (default: the backbone's)"},
    ),
    (
        ("--batch-size",),
        {"type": positive_int, "default": 64, "metavar": "N", "help": "default: 64"},
    ),
    (("--device",), {"default": "auto", "metavar": "D", "help": "cpu, cuda, ... (default: auto)"}),
    (
        ("--num-workers",),
        {
            "type": non_negative_int,
            "default": 0,
            "metavar": "N",
            "help": "DataLoader processes decoding images or reading slide regions (default: 0)",
        },
    ),
)

#: The FoundationEmbedder parameters the options set, under the same names.
EMBEDDER_PARAMS = (
    "weights",
    "pretrained",
    "device",
    "batch_size",
    "image_size",
    "cache",
    "num_workers",
)


def add_backbone_arguments(parser, *, default=None):
    """Add ``--backbone`` (required when ``default`` is None) and the embedder options."""
    group = parser.add_argument_group("backbone")
    help_text = "a `skhisto backbones` name or a timm model"
    if default is None:
        group.add_argument("--backbone", required=True, metavar="NAME", help=help_text)
    else:
        group.add_argument(
            "--backbone", default=default, metavar="NAME", help=f"{help_text} (default: {default})"
        )
    for flags, keywords in OPTIONS:
        group.add_argument(*flags, **keywords)
    add_default_cache(group)
    return group


def default_cache_dir():
    """The user's embedding cache: ``$SKHISTO_CACHE``, else ``<XDG cache>/skhisto``.

    The folder the README's Python examples use, so the command line and the
    API share their embeddings (each backbone fingerprint has its own subfolder).
    """
    if os.environ.get("SKHISTO_CACHE"):
        return Path(os.environ["SKHISTO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "skhisto"


def add_default_cache(group):
    """Make the cache on by default (``--cache`` picks the folder, ``--no-cache`` turns it off)."""
    group.add_argument(
        "--no-cache",
        dest="use_cache",
        action="store_false",
        help=f"embed without a cache (default: --cache {default_cache_dir()}, or $SKHISTO_CACHE)",
    )


def cache_dir(args):
    """The cache folder the options name: ``--cache``, the user's default, or None."""
    if not args.use_cache:
        if args.cache:
            raise CommandError("--cache and --no-cache contradict each other; pass one")
        return None
    return Path(args.cache) if args.cache else default_cache_dir()


def make_embedder(args, **params):
    """The ``FoundationEmbedder`` the options describe (seeded by ``args.random_state``)."""
    from ..embedding import FoundationEmbedder

    options = {name: getattr(args, name) for name in EMBEDDER_PARAMS}
    options["cache"] = cache_dir(args)
    return FoundationEmbedder(
        args.backbone, random_state=args.random_state, **{**options, **params}
    )


def describe_weights(args):
    """What the backbone's weights are, in words: said next to every number it produces."""
    if args.weights is None and not args.pretrained:
        return f"{short_weights(args)}, not pretrained: pass --weights FILE for real weights"
    return short_weights(args)


def short_weights(args):
    """The weights in a few words, for a plot's title."""
    if args.weights is not None:
        return f"weights from {args.weights}"
    return "pretrained weights" if args.pretrained else f"random init (seed {args.random_state})"


def announce(command, message):
    """A progress line on stderr, so stdout keeps only the results."""
    print(f"skhisto {command}: {message}", file=sys.stderr, flush=True)
