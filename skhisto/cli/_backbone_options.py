"""The backbone options of every command that embeds images (``embed``, ``noise-curve``, ...)."""

import os
from dataclasses import dataclass
from pathlib import Path

from ._errors import CommandError
from ._options import non_negative_int, positive_int

RANDOM_INIT = "random initialization instead of the published weights (seeded by --random-state)"

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


@dataclass(frozen=True)
class BackboneOptions:
    """What the backbone options say: the embedder to build, and its weights in words."""

    backbone: str
    weights: str = None
    pretrained: bool = True
    cache: Path = None
    image_size: int = None
    batch_size: int = 64
    device: str = "auto"
    num_workers: int = 0
    random_state: int = 0

    @classmethod
    def from_args(cls, args):
        """The options ``add_backbone_arguments`` added, as parsed (the one reader of them)."""
        if args.cache and not args.use_cache:
            raise CommandError("--cache and --no-cache contradict each other; pass one")
        cache = None
        if args.use_cache:
            cache = Path(args.cache) if args.cache else default_cache_dir()
        values = {name: getattr(args, name) for name in EMBEDDER_PARAMS if name != "cache"}
        return cls(args.backbone, cache=cache, random_state=args.random_state, **values)

    def make_embedder(self, **params):
        """The ``FoundationEmbedder`` the options describe (seeded by ``random_state``)."""
        from ..embedding import FoundationEmbedder

        options = {name: getattr(self, name) for name in EMBEDDER_PARAMS}
        return FoundationEmbedder(
            self.backbone, random_state=self.random_state, **{**options, **params}
        )

    def describe_weights(self):
        """What the backbone's weights are, in words: said next to every number it produces."""
        if self.weights is None and not self.pretrained:
            return f"{self.short_weights()}, not pretrained: pass --weights FILE for real weights"
        return self.short_weights()

    def short_weights(self):
        """The weights in a few words, for a plot's title."""
        if self.weights is not None:
            return f"weights from {self.weights}"
        if self.pretrained:
            return "pretrained weights"
        return f"random init (seed {self.random_state})"
