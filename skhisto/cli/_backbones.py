"""``skhisto backbones``: the backbone registry as a table, CSV or JSON."""

import csv
import json
import sys

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
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        print(_table(rows))
    return 0


def _table(rows):
    def cell(value):
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)

    cells = [HEADERS, *([cell(row[key]) for key in COLUMNS] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )
