"""Regenerate docs/backbones.md from the registry: python docs/make_backbone_table.py"""

from pathlib import Path

from skhisto.backbones import list_backbones

HEADER = [
    "name",
    "architecture",
    "dim",
    "input",
    "trained at (µm/px)",
    "mean",
    "std",
    "family",
    "weights",
    "gated",
]

CONFORMANCE = """
## Recipes and conformance

Every entry's recipe (architecture arguments or `config.json`, pooling rule, preprocessing) was
read in the source below, and every entry is conformance-tested (`tests/test_conformance.py`):
the test builds the model with the authors' own arguments, independently of the registry, saves
a randomly initialized checkpoint in the layout the authors publish (a timm state dict, a Hub
`save_pretrained` folder or its single `model.safetensors`, a torchvision ResNet without `fc`,
TransPath's timm-0.5.4 `{"model": ...}` file, PathoDuet's flat `checkpoint_HE.pth`), loads it
through `FoundationEmbedder(name, weights=...)` and requires the embedding to equal the
published forward (class token; class token + mean of the patch tokens without registers;
PathoDuet's mean of the patch tokens behind its pretext and class tokens) within 1e-5. Large
models run at depth 2 there, and at full size their keys and shapes are compared on the meta
device. A new entry cannot be added to the package without such a test (a test checks that
every built-in entry has one).

"""

LOADING = """
## Loading your own checkpoint safely

- Files are read as `.safetensors`, or with `torch.load(weights_only=True)`: a checkpoint that
  pickles code or objects is refused, never unpickled. Built-in entries run no code from the Hub:
  transformers models are built from the configuration recorded in the registry.
- Loading is exact. Wrapper prefixes (`module.`, `backbone.`, `model.`, `encoder.`) are stripped
  and an entry's `checkpoint_filter` converts older layouts; then every key of the file must be
  a key of the architecture with the same shape, and every key of the architecture must be in the
  file. Missing, unexpected, reshaped keys, and tensors timm would resample to fit (a patch-8
  file into a patch-16 model, a 257-position table into a 197-position one), raise
  `WeightsError` naming the keys and shapes. Only classifier, projection and pooler heads
  (`fc.`, `head.`, `heads.`, `head_dist.`, `classifier.`, `pooler.`), which a headless backbone
  does not use, are left out.
- `weights=` takes a file (`.safetensors`, `.pth`, `.bin`), or for transformers entries a
  `save_pretrained` folder or its single weights file. A folder's `config.json` must agree with
  the recorded recipe: a folder holding another model is refused, naming the fields.
- `image_size=` other than the model's input size resamples a ViT's position table, with a
  warning naming the grids; nothing is resampled at the native size.
- Embedding patches of slides far (more than 1.5x) from the resolution a model was trained at
  warns; the column above gives each model's (blank where its authors do not say).
- Before a long job, `skhisto backbones --check NAME --weights PATH` (or
  `skhisto.backbones.check_checkpoint`) loads the file exactly as the run will and reports the
  tensors loaded, the embedding size and a fingerprint, in seconds:

```console
$ skhisto backbones --check resnet18 --weights r18.safetensors
backbone     resnet18 (resnet18)
weights      r18.safetensors (sha256:228d1e911b2033d5...)
keys         120 tensors loaded, every key and shape as published
embedding    512 values, fingerprint 5b414913600b966f
conformance  OK in 0.44 s
```

(a randomly initialized ResNet-18 saved by skhisto; a file that does not fit exits with status 1
and one line naming the keys.)
"""

OWN = """
## Your own backbones

`skhisto.backbones.register_backbone(BackboneInfo(...))` adds a model under a name of your
choice; every embedder then accepts that name, with the entry's own normalization and input size.
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
  unless the entry opts in; no built-in entry does.
- `config`: for `loader="transformers"`, the published `config.json` values; with them a single
  weights file loads without the Hub, and no Hub code runs.
- `mpp` and `source`: the resolution the model was trained at and where its recipe comes from.

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
    rows = list_backbones(as_frame=False)
    for row in rows:
        source = row["hub_id"] or row["url"] or "local file (`weights=`)"
        cells = [
            row["name"],
            row["architecture"],
            row["embed_dim"],
            row["input_size"],
            _mpp(row["mpp"]),
            ", ".join(f"{v:.3g}" for v in row["mean"]),
            ", ".join(f"{v:.3g}" for v in row["std"]),
            row["family"],
            source,
            "yes" if row["gated"] else "",
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [CONFORMANCE, "| name | recipe source | conformance-tested |", "|---|---|---|"]
    lines += [f"| {row['name']} | {row['source']} | yes |" for row in rows]
    return "\n".join(lines) + "\n" + LOADING + OWN


def _mpp(value):
    if value is None:
        return ""
    low, high = value
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


if __name__ == "__main__":
    (Path(__file__).parent / "backbones.md").write_text(render())
