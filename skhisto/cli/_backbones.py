"""``skhisto backbones``: the backbone registry as a table, CSV or JSON."""

import json

from ._report import csv_text, format_table

COLUMNS = ("name", "family", "embed_dim", "input_size", "gated", "hub_id")
HEADERS = ("name", "family", "embed dim", "input size", "gated", "hub id")

EPILOG = """\
examples:
  skhisto backbones
  skhisto backbones --format csv > backbones.csv

Any other timm model name is accepted by `skhisto embed --backbone` too.
"""


NAME = "backbones"
HELP = "list the registered backbones"
DESCRIPTION = (
    "List the registered backbones: name, pretraining family, embedding dimension, input size, "
    "whether the weights are gated, and their Hugging Face hub id."
)


def add_arguments(parser):
    formats = ("table", "csv", "json")
    parser.add_argument("--format", choices=formats, default="table", help="default: table")


def run(args):
    from ..backbones import list_backbones

    rows = [{key: row[key] for key in COLUMNS} for row in list_backbones(as_frame=False)]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        print(csv_text(rows, COLUMNS), end="")
    else:
        print(format_table(rows, COLUMNS, HEADERS))
    return 0
