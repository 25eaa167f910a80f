"""The SimCLR options shared by ``skhisto simclr`` and ``skhisto active-simclr``."""

from dataclasses import dataclass
from pathlib import Path

from ._errors import CommandError
from ._options import (
    add_max_images_argument,
    add_per_class_argument,
    file_ending,
    positive_float,
    positive_int,
    seed,
)

#: argparse type: where ``save_encoder`` writes (a .safetensors file).
encoder_file = file_ending(".safetensors")


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
        "--random-state", type=seed, default=0, metavar="N", help="seed of everything (default: 0)"
    )
    add_per_class_argument(group, classes="class folders, or a CSV's labels")
    add_max_images_argument(group, of="images of INPUT")
    group.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="checkpoint there; the same command again resumes the run",
    )
    return group


@dataclass(frozen=True)
class SimCLROptions:
    """What the SimCLR options say: the ``SimCLREmbedder`` to train, and where it starts."""

    backbone: str = "resnet18"
    weights: str = None
    max_epochs: int = 10
    batch_size: int = 128
    image_size: int = 224
    lr: float = 1e-3
    temperature: float = 0.1
    device: str = "auto"
    random_state: int = 0
    max_images: int = None
    checkpoint_dir: str = None
    per_class: int = None

    @classmethod
    def from_args(cls, args):
        """The options ``add_simclr_arguments`` added, as parsed (the one reader of them)."""
        return cls(
            args.backbone,
            weights=args.weights,
            max_epochs=args.epochs,
            batch_size=args.simclr_batch_size,
            image_size=args.image_size,
            lr=args.lr,
            temperature=args.temperature,
            device=args.device,
            random_state=args.random_state,
            max_images=args.max_images,
            checkpoint_dir=args.checkpoint_dir,
            per_class=args.per_class,
        )

    def make_simclr(self, **params):
        """The ``SimCLREmbedder`` the options describe."""
        from ..contrastive import SimCLREmbedder

        names = ("weights", "max_epochs", "batch_size", "image_size", "lr", "temperature")
        options = {name: getattr(self, name) for name in (*names, "device", "random_state")}
        return SimCLREmbedder(self.backbone, **{**options, **params})

    def check(self):
        """Refuse an unknown backbone, a missing --weights or a too small image before any work."""
        from ..backbones import check_image_size, get_backbone_info

        if self.weights is not None and not Path(self.weights).is_file():
            raise CommandError(f"--weights {self.weights!r} does not exist")
        check_image_size(get_backbone_info(self.backbone), self.image_size)  # errors name it

    def describe_start(self):
        """Where training starts, in words: said next to every number the encoder produces."""
        if self.weights is None:
            return f"random init (seed {self.random_state})"
        return f"weights from {self.weights}"

    def read(self, source):
        """The :class:`~skhisto.cli._inputs.Listing` of ``source`` the options draw: --per-class
        of each class folder, then --max-images, seeded by --random-state."""
        from ._inputs import read_input

        return read_input(
            source,
            max_per_class=self.per_class,
            random_state=self.random_state,
            max_images=self.max_images,
        )
