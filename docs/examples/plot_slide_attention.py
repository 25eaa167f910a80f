"""
From slides to slide labels, with attention heat maps
=====================================================

Whole-slide images in the same scikit-learn objects as patches: tile the tissue
(:class:`~skhisto.SlideTiler`), embed the patches straight from the slides
(:class:`~skhisto.FoundationEmbedder` takes the patch table), group them into one bag per
slide (:func:`~skhisto.make_bags`) and learn the slide label with gated attention
(:class:`~skhisto.ABMILHead`), whose weights are the heat map.

The slides are made here (:func:`~skhisto.datasets.make_slide`): 4 x 4 cells of benign
LC25000 lung tiles at 0.25 mpp, and in the "tumor" slides three cells of squamous cell
carcinoma, so where the label comes from is known. The backbone is randomly initialized
(no downloads while the docs build); with a pathology foundation model the same lines apply.
"""

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from sklearn.model_selection import cross_val_score

from skhisto import ABMILHead, FoundationEmbedder, MeanPoolHead, SlideTiler, make_bags
from skhisto.datasets import make_slide
from skhisto.plotting import plot_attention_heatmap

data_dir = Path(os.environ.get("SKHISTO_DATA", "../shared/data")) / "lc25000_lung"
benign = sorted(str(p) for p in (data_dir / "lung_n").iterdir())[:12]
tumor = sorted(str(p) for p in (data_dir / "lung_scc").iterdir())[:12]
folder = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
slides, labels, tumor_cells = [], [], {}
for i in range(16):
    layout = rng.integers(0, len(benign), (4, 4))
    if i % 2:
        layout.flat[rng.choice(16, 3, replace=False)] = len(benign) + rng.integers(0, 12, 3)
    path = make_slide(folder / f"slide-{i:02d}.tif", benign + tumor, layout, n_levels=2)
    slides.append(path)
    labels.append("tumor" if i % 2 else "benign")
    tumor_cells[path] = layout >= len(benign)

# %%
# Tile, embed, bag
# ----------------
# One patch per 224 px cell at 0.25 mpp; the table says where each patch is.
table = SlideTiler(patch_size=224, mpp=0.25, min_tissue=0.25).tile(slides)
embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0)
X = embedder.fit_transform(table)
bags, names = make_bags(X, table["slide"])
y = np.array(labels)
print(table.head(3))
print(f"{len(table)} patches in {len(bags)} bags of {len(bags[0])}")

# %%
# Attention against mean pooling
# ------------------------------
# Three tumor patches among sixteen: the mean dilutes them, attention finds them.
for head in (ABMILHead(random_state=0), MeanPoolHead(random_state=0)):
    scores = cross_val_score(head, bags, y, cv=4)
    print(f"{type(head).__name__}: accuracy {scores.mean():.2f}")

# %%
# Where the head looks
# --------------------
# The attention weights of a held-out tumor slide over its thumbnail; the cells the
# slide was built with as tumor are outlined.
head = ABMILHead(random_state=0).fit(bags[:-2], y[:-2])
slide = names[-1]
weights = head.attention(bags[-1:])[0]
ax = plot_attention_heatmap(slide, table[table["slide"] == slide], weights, thumbnail_size=256)
cell = 256 / 4
for row, col in zip(*np.nonzero(tumor_cells[slide]), strict=True):
    ax.add_patch(Rectangle((col * cell, row * cell), cell, cell, fill=False, color="cyan", lw=2))
ax.set_title("ABMIL attention (tumor cells outlined)")
plt.show()
