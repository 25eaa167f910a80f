"""
Frozen embeddings and a head in one Pipeline
============================================

:class:`~skhisto.FoundationEmbedder` turns image paths into embeddings as a scikit-learn
transformer, so a backbone and a classification head compose in an ordinary
:class:`~sklearn.pipeline.Pipeline` and cross-validate like any estimator.

Here: 30 LC25000 lung patches per class (adenocarcinoma, benign, squamous cell carcinoma),
resnet18 at 64 px. The backbone is **randomly initialized** (``pretrained=False``: no
downloads while the docs build), so the accuracy below is a floor, not what a pathology
foundation model such as UNI or CTransPath gives (``FoundationEmbedder("uni")``).
"""

import os

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder, LinearHead
from skhisto.datasets import load_image_folder

data_dir = os.environ.get("SKHISTO_DATA", "../shared/data")
data = load_image_folder(f"{data_dir}/lc25000_lung", max_per_class=30, random_state=0)
print(f"{len(data.paths)} images, classes {list(data.target_names)}")

# %%
# The embedder and a linear probe
# -------------------------------
# ``FoundationEmbedder`` preprocesses each image as its backbone expects and returns
# float32 embeddings. ``LinearHead`` is a skorch linear probe with noise-robust losses.
embed = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0)
pipe = make_pipeline(embed, StandardScaler(), LinearHead(max_epochs=30, random_state=0))
scores = cross_val_score(pipe, data.paths, data.target, cv=3, scoring="balanced_accuracy")
print(f"balanced accuracy {scores.mean():.3f} ± {scores.std():.3f} (random-init backbone)")

# %%
# What the embeddings look like
# -----------------------------
# Even a random convolutional network separates the three tissue types partly: the first
# two principal components of the embeddings, coloured by class.
X = embed.fit_transform(data.paths)
points = PCA(n_components=2, random_state=0).fit_transform(StandardScaler().fit_transform(X))
fig, ax = plt.subplots(figsize=(5, 4))
for label, name in enumerate(data.target_names):
    ax.scatter(*points[data.target == label].T, s=12, label=name)
ax.set_xlabel("PC 1")
ax.set_ylabel("PC 2")
ax.set_title(f"resnet18 (random init) embeddings, dim {X.shape[1]}")
ax.legend(fontsize="small")
fig.tight_layout()
