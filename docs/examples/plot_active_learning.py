"""
Active learning curves
======================

When labels are scarce, which images should a pathologist label first?
:class:`~skhisto.ActiveLearner` runs pool-based rounds: fit on the labeled images, score on
a test set, ask the query strategy for the next batch, get its labels from the oracle (here
the known labels). :func:`~skhisto.plotting.plot_learning_curve` compares strategies.

Embeddings of a **randomly initialized** resnet18 (no downloads while the docs build) and a
logistic regression; with so few images the curves are noisy: compare shapes, not points.
"""

import os

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import (
    ActiveLearner,
    CoresetSampling,
    FoundationEmbedder,
    RandomSampling,
    UncertaintySampling,
)
from skhisto.datasets import load_image_folder
from skhisto.plotting import plot_learning_curve

data_dir = os.environ.get("SKHISTO_DATA", "../shared/data")
data = load_image_folder(f"{data_dir}/lc25000_lung", max_per_class=40, random_state=0)
X = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0).fit_transform(
    data.paths
)
X_pool, X_test, y_pool, y_test = train_test_split(
    X, data.target, test_size=0.3, stratify=data.target, random_state=0
)

# %%
# Three strategies, same budget
# -----------------------------
# Six images a round, six rounds, starting from the same random six.
strategies = {
    "random": RandomSampling(random_state=0),
    "entropy": UncertaintySampling("entropy"),
    "coreset": CoresetSampling(random_state=0),
}
runs = {}
for name, strategy in strategies.items():
    learner = ActiveLearner(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        strategy,
        batch_size=6,
        n_rounds=6,
        scoring="balanced_accuracy",
        random_state=0,
    )
    runs[name] = learner.fit(X_pool, y_pool, X_test=X_test, y_test=y_test)
    print(name, [round(entry["score"], 3) for entry in learner.history_])

# %%
# The learning curves
# -------------------
ax = plot_learning_curve(runs, title="LC25000, 84-image pool")
ax.set_ylabel("balanced accuracy (test)")
ax.figure.tight_layout()
