"""Regenerate docs/backbones.md from the registry: python docs/make_backbone_table.py"""

from pathlib import Path

from skhisto.backbones import list_backbones

HEADER = [
    "name",
    "architecture",
    "dim",
    "input",
    "mean",
    "std",
    "family",
    "weights",
    "gated",
    "remote code",
]

OWN = """
## Your own backbones

`skhisto.backbones.register_backbone(BackboneInfo(...))` adds a model under a name of your
choice; every embedder then accepts that name, with the entry's own normalisation and input size.
`architecture` is a `timm.create_model` name (models registered with timm's `@register_model`
included) or, with `loader="transformers"`, a Hugging Face model. Bad fields raise a `ValueError`
naming each of them; a name already taken raises unless `replace=True` (a replaced built-in entry
comes back on `unregister_backbone(name)`).

- `checkpoint_filter`: how a checkpoint's state dict is converted before loading, either a
  callable `(state_dict, model) -> state_dict` (a module-level function, so that fitted embedders
  pickle) or the name of a timm model module whose `checkpoint_filter_fn` remaps older layouts
  (`"vision_transformer"`, `"swin_transformer"`). The built-in entries name theirs; timm names
  passed through use their module's. A callable filter is part of the embedding fingerprint.
- `trust_remote_code`: run the code shipped in a Hub repository (`loader="transformers"`). Off
  unless the entry opts in; only the entries marked in the "remote code" column above do.

```python
from skhisto import FoundationEmbedder
from skhisto.backbones import BackboneInfo, register_backbone

register_backbone(
    BackboneInfo(
        "my-vit",
        "vit_small_patch16_224",
        384,
        mean=(0.7, 0.55, 0.7),
        std=(0.2, 0.25, 0.2),
        checkpoint_filter="vision_transformer",
    )
)
FoundationEmbedder("my-vit", weights="my_vit.safetensors")
```
"""


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
    for row in list_backbones(as_frame=False):
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
            "yes" if row["trust_remote_code"] else "",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n" + OWN


if __name__ == "__main__":
    (Path(__file__).parent / "backbones.md").write_text(render())
