"""Regenerate docs/backbones.md from the registry: python docs/make_backbone_table.py"""

from pathlib import Path

from skhisto.backbones import list_backbones

HEADER = ["name", "architecture", "dim", "input", "mean", "std", "family", "weights", "gated"]


def render():
    lines = [
        "# Registered backbones",
        "",
        "Generated from `skhisto.backbones.list_backbones()` by `docs/make_backbone_table.py`.",
        "Any other timm model name is accepted too. `family` follows arXiv 2404.07605's grouping.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for row in list_backbones():
        source = row["hub_id"] or row["url"] or "local file (`weights=`)"
        cells = [
            row["name"],
            row["architecture"],
            row["embed_dim"],
            row["input_size"],
            ", ".join(f"{v:.3g}" for v in row["mean"]),
            ", ".join(f"{v:.3g}" for v in row["std"]),
            row["family"],
            source,
            "yes" if row["gated"] else "",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    (Path(__file__).parent / "backbones.md").write_text(render())
