"""``skhisto simclr``: SimCLR pretraining of a timm encoder on the images of INPUT."""

from .._checkpoints import announce_resume, simclr_epoch
from .._errors import checkpoint_errors_in_cli_words
from .._options import add_input_argument, add_json_argument, add_out_dir_argument
from .._outputs import announce, check_out_dir, check_out_file, show_results
from .._simclr_options import SimCLROptions, add_simclr_arguments, encoder_file
from .._tracking_options import add_tracking_arguments, logged_epochs, run_tracker

NAME = "simclr"
HELP = "pretrain an encoder with SimCLR on unlabeled images"
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
`skhisto embed --weights FILE` load it), the loss per epoch on stdout (--json: as JSON), in
<out-dir>/simclr.csv (epoch, loss, time, n_images) and as a curve in <out-dir>/simclr.png. With
--checkpoint-dir a checkpoint is written after every epoch; a killed run started again with the
same command resumes after the last finished epoch (another command line against the same folder
is refused).
"""
COLUMNS = ("epoch", "loss", "time", "n_images")


def add_arguments(parser):
    add_input_argument(parser, "INPUT", "image folder, class folders or CSV")
    parser.add_argument(
        "--out",
        required=True,
        type=encoder_file,
        metavar="FILE",
        help="where the encoder is written (.safetensors)",
    )
    add_out_dir_argument(parser, default="results")
    add_simclr_arguments(parser, epochs=10, image_size=224, batch_size=128)
    add_json_argument(parser)
    add_tracking_arguments(parser, "the loss of every epoch as it ends")


def run(args):
    options = SimCLROptions.from_args(args)
    out_dir = check_out_dir(args.out_dir)
    check_out_file(args.out, ".safetensors")
    options.check()
    listing = options.read(args.input)
    paths, kind = listing.paths, listing.kind
    model = options.make_simclr(checkpoint_dir=options.checkpoint_dir, verbose=True)
    start = options.describe_start()
    announce(NAME, f"{len(paths)} images ({kind}), {args.backbone} from {start}")
    provenance = {"backbone": args.backbone, "weights": start, "n_images": len(paths)}
    run_tracker(NAME, args, provenance=provenance)
    announce_resume(NAME, options.checkpoint_dir, simclr_epoch)
    with checkpoint_errors_in_cli_words(), logged_epochs():
        model.fit(paths)
    model.save_encoder(args.out)
    announce(NAME, f"wrote the encoder to {args.out}")
    show_results(
        NAME,
        json_output=args.json,
        title=f"SimCLR loss of {args.backbone} trained from {start}",
        rows=model.history_,
        columns=COLUMNS,
        csv_columns=COLUMNS,
        csv_path=out_dir / "simclr.csv",
        plot=lambda: _plot(model.history_, args.backbone),
        png_path=out_dir / "simclr.png",
    )
    return 0


def _plot(rows, backbone):
    from ...plotting import plot_learning_curve

    return plot_learning_curve(rows, x="epoch", y="loss", title=f"SimCLR loss ({backbone})")
