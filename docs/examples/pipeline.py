"""The README's Example: label noise against two heads on frozen embeddings of LC25000 patches.

GridSearchCV over training noise rates and heads, scored on clean test labels, and the
robustness plot. The backbone is a seeded random init (no downloads here), so the numbers are a
demo of the plumbing; pass ``weights=`` or a pretrained foundation model for real ones.
"""

import os

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skhisto import FoundationEmbedder, LinearHead, MLPHead, NoisyLabelClassifier, UniformNoise
from skhisto.datasets import load_image_folder
from skhisto.plotting import plot_noise_robustness

data_dir = os.environ.get("SKHISTO_DATA", "../shared/data")
data = load_image_folder(f"{data_dir}/lc25000_lung", max_per_class=60, random_state=0)
embed = FoundationEmbedder(
    "resnet18",  # or "ctranspath", "uni", ... with weights="path/to/checkpoint"
    pretrained=False,  # no downloads here: a seeded random init, so the numbers are a demo
    image_size=64,
    random_state=0,
    cache="~/.cache/skhisto",  # every image is embedded once, across runs and folds
)
noisy = NoisyLabelClassifier(MLPHead(random_state=0), UniformNoise(random_state=0))
pipe = Pipeline([("embed", embed), ("clf", noisy)])  # noise only while fitting
heads = [MLPHead(random_state=0), LinearHead(random_state=0)]
grid = {"clf__noise__rate": [0, 0.2, 0.4, 0.6], "clf__estimator": heads}
search = GridSearchCV(pipe, grid, cv=3, scoring="balanced_accuracy")
search.fit(data.paths, data.target)  # scored on clean test labels
plot_noise_robustness(search).figure.savefig("noise_robustness.png")
print(
    f"best {search.best_params_}, balanced accuracy {search.best_score_:.3f} (random-init backbone)"
)
