"""The SimCLR options shared by ``skhisto simclr`` and ``skhisto active-simclr``."""

import argparse
from pathlib import Path

from ._errors import CommandError, positive_float, positive_int


def encoder_file(text):
    """argparse type: where ``save_encoder`` writes (a .safetensors file)."""
    if Path(text).suffix.lower() != ".safetensors":
        raise argparse.ArgumentTypeError(f"must end in .safetensors, got {text!r}")
    return Path(text)


def add_simclr_arguments(parser, *, epochs, image_size, batch_size, batch_flag="--batch-size"):
    """Add the SimCLR training options; ``batch_flag`` names the images-per-step option."""
    group = parser.add_argument_group("SimCLR")
    group.add_argument(
        "--backbone", default="resnet18", metavar="NAME", help="timm encoder (default: resnet18)"
    )
    group.add_argument(
        "--weights",
        metavar="FILE",
        help="start from this .safetensors encoder (default: a random init seeded by "
        "--random-state)",
    )
    group.add_argument(
        "--epochs", type=positive_int, default=epochs, metavar="N", help=f"default: {epochs}"
    )
    group.add_argument(
        batch_flag,
        dest="simclr_batch_size",
        type=positive_int,
        default=batch_size,
        metavar="N",
        help=f"images per SimCLR step (two views each; default: {batch_size})",
    )
    group.add_argument(
        "--image-size",
        type=positive_int,
        default=image_size,
        metavar="N",
        help=f"resize to N x N (default: {image_size})",
    )
    group.add_argument(
        "--lr", type=positive_float, default=1e-3, metavar="X", help="Adam lr (default: 1e-3)"
    )
    group.add_argument(
        "--temperature",
        type=positive_float,
        default=0.1,
        metavar="T",
        help="NT-Xent temperature (default: 0.1)",
    )
    group.add_argument(
        "--device", default="auto", metavar="D", help="cpu, cuda, ... (default: auto)"
    )
    group.add_argument(
        "--random-state", type=int, default=0, metavar="N", help="seed of everything (default: 0)"
    )
    group.add_argument(
        "--max-images",
        type=positive_int,
        metavar="N",
        help="train on a seeded random subsample of N images (default: all)",
    )
    group.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="checkpoint there; the same command again resumes the run",
    )
    return group


#: SimCLREmbedder parameter -> the option (argparse dest) that sets it.
SIMCLR_PARAMS = {
    "weights": "weights",
    "max_epochs": "epochs",
    "batch_size": "simclr_batch_size",
    "image_size": "image_size",
    "lr": "lr",
    "temperature": "temperature",
    "device": "device",
    "random_state": "random_state",
}


def make_simclr(args, **params):
    """The ``SimCLREmbedder`` the options describe."""
    from ..contrastive import SimCLREmbedder

    options = {param: getattr(args, dest) for param, dest in SIMCLR_PARAMS.items()}
    return SimCLREmbedder(args.backbone, **{**options, **params})


def check_simclr_arguments(args):
    """Refuse an unknown backbone, a missing --weights or a too small image before any work."""
    from ..backbones import check_image_size, get_backbone_info

    if args.weights is not None and not Path(args.weights).is_file():
        raise CommandError(f"--weights {args.weights!r} does not exist")
    check_image_size(get_backbone_info(args.backbone), args.image_size)  # their errors name it


def subsample(paths, labels, max_images, random_state):
    """A seeded random subsample of at most ``max_images`` images, in their original order."""
    import numpy as np

    if max_images is None or max_images >= len(paths):
        return paths, labels
    keep = np.sort(np.random.default_rng(random_state).choice(len(paths), max_images, False))
    labels = None if labels is None else [labels[i] for i in keep]
    return [paths[i] for i in keep], labels


def announce_resume(command, checkpoint_dir, name, where):
    """Say that a run resumes from ``checkpoint_dir/name`` and, when the file reads, where:
    ``where(checkpoint)`` words its position (``epoch 3 of 5``)."""
    from ..contrastive import load_checkpoint
    from ..exceptions import CheckpointError
    from ._backbone_options import announce

    path = None if checkpoint_dir is None else Path(checkpoint_dir) / name
    if path is None or not path.is_file():
        return
    try:
        position = f" after {where(load_checkpoint(path))}"
    except (CheckpointError, KeyError, TypeError):  # fit refuses it, in its own words
        position = ""
    announce(command, f"resuming from {path}{position} if it is this run's")


def describe_start(args):
    """Where training starts, in words: said next to every number the encoder produces."""
    if args.weights is None:
        return f"random init (seed {args.random_state})"
    return f"weights from {args.weights}"
