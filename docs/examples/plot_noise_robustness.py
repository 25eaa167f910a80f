"""
Label-noise robustness curve
============================

How much does accuracy drop when a fraction of the training labels is wrong?
:class:`~skhisto.NoisyLabelClassifier` corrupts the labels of the training folds only,
so a :class:`~sklearn.model_selection.GridSearchCV` over the noise rate scores every
setting on **clean** test labels; :func:`~skhisto.plotting.plot_noise_robustness`
draws one line per head.

The images are embedded once, before the search, and the heads train on the embeddings
(in a full Pipeline, ``FoundationEmbedder(cache=...)`` gives the same saving). The backbone
is a **randomly initialized** resnet18 (no downloads while the docs build): the curve's
shape is the point here, not its level.
"""

import os

from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder, LinearHead, MLPHead, NoisyLabelClassifier, UniformNoise
from skhisto.datasets import load_image_folder
from skhisto.plotting import plot_noise_robustness

data_dir = os.environ.get("SKHISTO_DATA", "../shared/data")
data = load_image_folder(f"{data_dir}/lc25000_lung", max_per_class=40, random_state=0)
X = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0).fit_transform(
    data.paths
)
X = StandardScaler().fit_transform(X)

# %%
# Search over noise rates and heads
# ---------------------------------
# ``UniformNoise(rate)`` flips exactly ``round(rate * n)`` training labels to other classes.
clf = NoisyLabelClassifier(MLPHead(), UniformNoise(random_state=0))
grid = {
    "noise__rate": [0.0, 0.2, 0.4, 0.6],
    "estimator": [
        MLPHead(max_epochs=40, random_state=0),
        LinearHead(max_epochs=40, random_state=0),
    ],
}
cv = StratifiedKFold(3, shuffle=True, random_state=0)
search = GridSearchCV(clf, grid, cv=cv, scoring="balanced_accuracy").fit(X, data.target)
results = search.cv_results_
for params, score in zip(results["params"], results["mean_test_score"], strict=True):
    head = type(params["estimator"]).__name__
    print(f"{head:10s} noise {params['noise__rate']:.1f}: balanced accuracy {score:.3f}")

# %%
# The robustness plot
# -------------------
ax = plot_noise_robustness(results, title="LC25000, 120 images")
ax.set_ylabel("balanced accuracy (clean test labels)")
ax.figure.tight_layout()

# %%
# The same experiment without a search: :func:`skhisto.model_selection.noise_robustness_curve`
# returns one row per rate and fold (a DataFrame), and ``MLPHead(loss="gce")`` trains with a
# noise-robust loss.
