"""The backbone options of every command that embeds images (``embed``, ``noise-curve``, ...)."""

import os
from argparse import Namespace
from dataclasses import dataclass, replace
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
    (
        ("--stain",),
        {
            "choices": ("reinhard", "macenko", "vahadane"),
            "help": "normalise every image to the stain of --stain-reference before embedding "
            "(cached apart from raw embeddings)",
        },
    ),
    (
        ("--stain-reference",),
        {"metavar": "DIR", "help": "folder of reference tiles (any depth) that --stain fits"},
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


def add_backbone_arguments(parser, *, default=None, several=False, batch_flag="--batch-size"):
    """Add ``--backbone`` (required when ``default`` is None) and the embedder options.

    ``several``: ``--backbone`` takes one or more names (``args.backbone`` is then a list;
    :meth:`BackboneOptions.each_from_args` reads it), each embedded with the same options.
    ``batch_flag``: the embedding batch size's flag (``--embed-batch-size`` where the
    command's ``--batch-size`` is another; ``args.batch_size`` either way).
    """
    group = parser.add_argument_group("backbone")
    help_text = "a `skhisto backbones` name or a timm model"
    many = {}
    if several:
        help_text = "one or more `skhisto backbones` names or timm models, each embedded once"
        many = {"nargs": "+"}
        default = None if default is None else [default]
    if default is None:
        group.add_argument("--backbone", required=True, metavar="NAME", help=help_text, **many)
    else:
        shown = " ".join(default) if several else default
        group.add_argument(
            "--backbone",
            default=default,
            metavar="NAME",
            help=f"{help_text} (default: {shown})",
            **many,
        )
    for flags, keywords in OPTIONS:
        if flags == ("--batch-size",) and batch_flag != "--batch-size":
            flags = (batch_flag,)
            keywords = {**keywords, "dest": "embed_batch_size"}
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


def _stain_reference(stain, folder):
    """The image files of ``--stain-reference`` (sorted, any depth), checked with ``--stain``."""
    if stain is None:
        if folder is not None:
            raise CommandError("--stain-reference needs --stain reinhard, macenko or vahadane")
        return None
    if folder is None:
        raise CommandError(f"--stain {stain} needs --stain-reference DIR (reference tiles)")
    from ..io import IMAGE_EXTENSIONS

    root = Path(folder)
    if not root.is_dir():
        raise CommandError(f"--stain-reference {folder!r} is not a folder")
    paths = sorted(
        str(path)
        for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )
    if not paths:
        raise CommandError(f"--stain-reference {folder!r} holds no images {IMAGE_EXTENSIONS}")
    return tuple(paths)


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
    stain: str = None
    stain_reference: tuple = None

    @classmethod
    def from_args(cls, args):
        """The options ``add_backbone_arguments`` added, as parsed (the one reader of them)."""
        if args.cache and not args.use_cache:
            raise CommandError("--cache and --no-cache contradict each other; pass one")
        cache = None
        if args.use_cache:
            cache = Path(args.cache) if args.cache else default_cache_dir()
        values = {name: getattr(args, name) for name in EMBEDDER_PARAMS if name != "cache"}
        if hasattr(args, "embed_batch_size"):  # add_backbone_arguments(batch_flag=...)
            values["batch_size"] = args.embed_batch_size
        stain = getattr(args, "stain", None)
        reference = _stain_reference(stain, getattr(args, "stain_reference", None))
        return cls(
            args.backbone,
            cache=cache,
            random_state=args.random_state,
            stain=stain,
            stain_reference=reference,
            **values,
        )

    @classmethod
    def each_from_args(cls, args):
        """One :class:`BackboneOptions` per ``--backbone`` name (repeats dropped) of a command
        that takes several (``add_backbone_arguments(..., several=True)``)."""
        names = list(dict.fromkeys(args.backbone))
        first = cls.from_args(Namespace(**{**vars(args), "backbone": names[0]}))
        return [replace(first, backbone=name) for name in names]

    def make_embedder(self, **params):
        """The ``FoundationEmbedder`` the options describe (seeded by ``random_state``)."""
        from ..embedding import FoundationEmbedder

        options = {name: getattr(self, name) for name in EMBEDDER_PARAMS}
        if self.stain is not None:
            from ..stain import StainNormalizer

            options["stain"] = StainNormalizer(
                self.stain,
                reference=list(self.stain_reference),
                device=self.device,
                random_state=self.random_state,
            )
        return FoundationEmbedder(
            self.backbone, random_state=self.random_state, **{**options, **params}
        )

    def describe_weights(self):
        """What the backbone's weights are, in words: said next to every number it produces."""
        text = self.short_weights()
        if self.weights is None and not self.pretrained:
            text += ", not pretrained: pass --weights FILE for real weights"
        if self.stain is not None:
            text += (
                f"; {self.stain} stain normalisation ({len(self.stain_reference)} reference tiles)"
            )
        return text

    def short_weights(self):
        """The weights in a few words, for a plot's title."""
        if self.weights is not None:
            return f"weights from {self.weights}"
        if self.pretrained:
            return "pretrained weights"
        return f"random init (seed {self.random_state})"
