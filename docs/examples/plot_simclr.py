"""
SimCLR pretraining on unlabeled patches
=======================================

When no pretrained weights fit your stain or scanner, :class:`~skhisto.SimCLREmbedder`
trains a contrastive encoder on your own unlabeled patches (NT-Xent loss, histology
augmentations) and then embeds like any frozen backbone. ``history_`` records the loss per
epoch; ``save_encoder`` writes weights that ``FoundationEmbedder(weights=...)`` loads.

Two epochs on 60 patches at 32 px keep the docs build short: real pretraining runs for
100+ epochs on thousands of patches (see the :doc:`/contrastive` guide).
"""

import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder, LinearHead, SimCLREmbedder
from skhisto.datasets import load_image_folder

data_dir = os.environ.get("SKHISTO_DATA", "../shared/data")
data = load_image_folder(f"{data_dir}/lc25000_lung", max_per_class=20, random_state=0)

# %%
# Pretrain (labels are not used)
# ------------------------------
simclr = SimCLREmbedder(
    "resnet18", image_size=32, batch_size=30, max_epochs=2, lr=1e-3, random_state=0
)
simclr.fit(data.paths)
for entry in simclr.history_:
    print(f"epoch {entry['epoch']}: NT-Xent loss {entry['loss']:.3f}")

# %%
# Use the encoder as a frozen backbone
# ------------------------------------
with tempfile.TemporaryDirectory() as tmp:
    weights = Path(tmp) / "encoder.safetensors"
    simclr.save_encoder(weights)
    embed = FoundationEmbedder("resnet18", weights=weights, image_size=32)
    X = embed.fit_transform(data.paths)
head = make_pipeline(StandardScaler(), LinearHead(max_epochs=30, random_state=0))
scores = cross_val_score(head, X, data.target, cv=3, scoring="balanced_accuracy")
print(f"embeddings {X.shape}, linear probe balanced accuracy {scores.mean():.3f}")

# %%
# The loss curve
# --------------
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([e["epoch"] for e in simclr.history_], [e["loss"] for e in simclr.history_], marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("NT-Xent loss")
fig.tight_layout()
