"""``skhisto simclr``: SimCLR pretraining of a timm encoder on the images of INPUT."""

from ._backbone_options import announce
from ._inputs import read_input
from ._report import (
    add_out_dir_argument,
    check_out_dir,
    check_out_file,
    format_table,
    save_figure,
    write_csv,
)
from ._simclr_options import (
    add_simclr_arguments,
    announce_resume,
    check_simclr_arguments,
    checkpoint_errors_in_cli_words,
    describe_start,
    encoder_file,
    make_simclr,
    subsample,
)

NAME = "simclr"
HELP = "pretrain an encoder with SimCLR on unlabelled images"
DESCRIPTION = (
    "Train a timm encoder contrastively (SimCLR, NT-Xent) on the images of INPUT (labels are "
    "ignored) and write it as .safetensors."
)
EPILOG = """\
examples:
  skhisto simclr ../shared/data/lc25000_lung --out encoder.safetensors --image-size 64 \\
      --epochs 5 --max-images 500 --checkpoint-dir ckpt
  skhisto embed ../shared/data/lc25000_lung --backbone resnet18 --weights encoder.safetensors \\
      --image-size 64 --out emb.npz

INPUT is a folder of class folders, a flat folder of images, or a CSV with a 'path' column.

output: the encoder (--out, a timm state dict: FoundationEmbedder(BACKBONE, weights=FILE) and
`skhisto embed --weights FILE` load it), the loss per epoch on stdout, in <out-dir>/simclr.csv
(epoch, loss, time, n_images) and as a curve in <out-dir>/simclr.png. With --checkpoint-dir a
checkpoint is written after every epoch; a killed run started again with the same command
resumes after the last finished epoch (another command line against the same folder is refused).
"""
COLUMNS = ("epoch", "loss", "time", "n_images")


def add_arguments(parser):
    parser.add_argument("input", metavar="INPUT", help="image folder, class folders or CSV")
    parser.add_argument(
        "--out",
        required=True,
        type=encoder_file,
        metavar="FILE",
        help="where the encoder is written (.safetensors)",
    )
    add_out_dir_argument(parser, default="results")
    add_simclr_arguments(parser, epochs=10, image_size=224, batch_size=128)


def run(args):
    from ..contrastive._simclr import CHECKPOINT_NAME

    out_dir = check_out_dir(args.out_dir)
    check_out_file(args.out, ".safetensors")
    check_simclr_arguments(args)
    paths, _, kind = read_input(args.input)
    paths, _ = subsample(paths, None, args.max_images, args.random_state)
    model = make_simclr(args, checkpoint_dir=args.checkpoint_dir, verbose=True)
    start = describe_start(args)
    announce(NAME, f"{len(paths)} images ({kind}), {args.backbone} from {start}")
    announce_resume(NAME, args.checkpoint_dir, CHECKPOINT_NAME)
    with checkpoint_errors_in_cli_words():
        model.fit(paths)
    model.save_encoder(args.out)
    rows = model.history_
    print(format_table(rows, COLUMNS))
    write_csv(out_dir / "simclr.csv", rows, COLUMNS)
    _plot(rows, out_dir / "simclr.png", args.backbone)
    print(f"SimCLR loss of {args.backbone} trained from {start}")
    print(f"wrote the encoder to {args.out} and simclr.csv, simclr.png to {out_dir}")
    return 0


def _plot(rows, path, backbone):
    from ..plotting import plot_learning_curve

    ax = plot_learning_curve(rows, x="epoch", y="loss", title=f"SimCLR loss ({backbone})")
    save_figure(ax, path)
