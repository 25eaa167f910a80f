"""The README's Pipeline example: frozen embeddings + a head, grid-searched on LC25000."""

import os

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skhisto import FoundationEmbedder
from skhisto.datasets import load_image_folder

data_dir = os.environ.get("SKHISTO_DATA", "../shared/data")
data = load_image_folder(f"{data_dir}/lc25000_lung", max_per_class=100, random_state=0)

embed = FoundationEmbedder(
    "resnet18",  # or "ctranspath", "uni", ... with weights="path/to/checkpoint"
    pretrained=False,  # no downloads here: a seeded random init
    image_size=96,
    random_state=0,
    cache="~/.cache/skhisto",  # every image is embedded once, across runs and folds
)
pipe = Pipeline([("embed", embed), ("clf", LogisticRegression(max_iter=1000))])
search = GridSearchCV(pipe, {"clf__C": [0.01, 0.1, 1.0]}, cv=3, scoring="balanced_accuracy")
search.fit(data.paths, data.target)
print(f"best C={search.best_params_['clf__C']}, balanced accuracy {search.best_score_:.3f}")
