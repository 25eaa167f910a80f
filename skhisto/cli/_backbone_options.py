"""The backbone options of every command that embeds images (``embed``, ``noise-curve``, ...)."""

import sys

from ._errors import positive_int

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
)

#: The FoundationEmbedder parameters the options set, under the same names.
EMBEDDER_PARAMS = ("weights", "pretrained", "device", "batch_size", "image_size", "cache")


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
    return group


def make_embedder(args, **params):
    """The ``FoundationEmbedder`` the options describe (seeded by ``args.random_state``)."""
    from ..embedding import FoundationEmbedder

    options = {name: getattr(args, name) for name in EMBEDDER_PARAMS}
    return FoundationEmbedder(
        args.backbone, random_state=args.random_state, **{**options, **params}
    )


def describe_weights(args):
    """What the backbone's weights are, in words: said next to every number it produces."""
    if args.weights is not None:
        return f"weights from {args.weights}"
    if args.pretrained:
        return "pretrained weights"
    seed = args.random_state
    return f"random init (seed {seed}), not pretrained: pass --weights FILE for real weights"


def announce(command, message):
    """A progress line on stderr, so stdout keeps only the results."""
    print(f"skhisto {command}: {message}", file=sys.stderr, flush=True)
