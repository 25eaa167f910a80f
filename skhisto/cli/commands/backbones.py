"""``skhisto backbones``: the backbone registry as a table, CSV or JSON; checking a checkpoint."""

import json

from .._errors import CommandError
from .._outputs import csv_text, format_table

COLUMNS = ("name", "family", "embed_dim", "input_size", "mpp", "gated", "hub_id")
HEADERS = ("name", "family", "embed dim", "input size", "trained at (um/px)", "gated", "hub id")

EPILOG = """\
examples:
  skhisto backbones
  skhisto backbones --format csv > backbones.csv
  skhisto backbones --check uni --weights pytorch_model.bin

Any other timm model name is accepted by `skhisto embed --backbone` too. --check loads the
checkpoint exactly as an embedding run will (every key and shape must fit the published
recipe) and reports it in seconds, before a long job.
"""


NAME = "backbones"
HELP = "list the registered backbones, or check a checkpoint against one"
DESCRIPTION = (
    "List the registered backbones: name, pretraining family, embedding dimension, input size, "
    "the resolution each was trained at, whether the weights are gated, and their Hugging Face "
    "hub id. With --check NAME --weights PATH, load a checkpoint into that backbone and report "
    "its conformance: keys, shapes, embedding size and a fingerprint."
)


def add_arguments(parser):
    formats = ("table", "csv", "json")
    parser.add_argument("--format", choices=formats, default="table", help="default: table")
    parser.add_argument(
        "--check", metavar="NAME", help="check the checkpoint given by --weights against NAME"
    )
    parser.add_argument(
        "--weights", metavar="PATH", help="with --check: a weights file or checkpoint folder"
    )


def _mpp(value):
    if value is None:
        return None  # shown as "-": the authors do not say
    low, high = value
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def run(args):
    if args.check is not None or args.weights is not None:
        return _check(args)
    from ...backbones import list_backbones

    rows = [{key: row[key] for key in COLUMNS} for row in list_backbones(as_frame=False)]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        row["mpp"] = _mpp(row["mpp"])
    if args.format == "csv":
        print(csv_text(rows, COLUMNS), end="")
    else:
        print(format_table(rows, COLUMNS, HEADERS))
    return 0


def _check(args):
    if args.check is None or args.weights is None:
        try:  # a usage error: one line, exit status 2, as argparse's own
            args.parser.error("--check NAME and --weights PATH go together")
        except SystemExit as exc:
            return exc.code
    from ...backbones import check_checkpoint

    report = check_checkpoint(args.check, args.weights)
    if report["embed_dim"] != report["expected_dim"]:
        raise CommandError(
            f"{args.weights} loads into {args.check!r}, but embeds to {report['embed_dim']} "
            f"values where the registry says {report['expected_dim']}."
        )
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0
    ignored = report["ignored"]
    left_out = f"; {len(ignored)} head keys left out ({', '.join(ignored[:4])})" if ignored else ""
    lines = [
        ("backbone", f"{report['backbone']} ({report['architecture']})"),
        ("weights", f"{report['weights']} ({report['digest'][:23]}...)"),
        ("keys", f"{report['tensors']} tensors loaded, every key and shape as published{left_out}"),
        ("embedding", f"{report['embed_dim']} values, fingerprint {report['fingerprint']}"),
        ("conformance", f"OK in {report['seconds']:g} s"),
    ]
    width = max(len(name) for name, _ in lines)
    for name, text in lines:
        print(f"{name:<{width}}  {text}")
    return 0
