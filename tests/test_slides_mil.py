"""Slides to slide labels: ABMIL on bags of patch embeddings from slides made here.

Each slide is a 4 x 4 grid of LC25000 tiles at 0.25 mpp: benign lung everywhere, and in the
positive slides three cells of squamous cell carcinoma, the tissue type that carries the label.
Tiled at 0.25 mpp, one patch is one cell, so which patches carry the label is known exactly.
"""

import matplotlib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skhisto import ABMILHead, FoundationEmbedder, MeanPoolHead, SlideTiler, make_bags
from skhisto.datasets import make_slide
from skhisto.plotting import plot_attention_heatmap

N_SLIDES, N_TRAIN, N_TUMOUR_CELLS = 20, 12, 3


@pytest.fixture(scope="module")
def cohort(lc25000_dir, tmp_path_factory):
    """Slides, their labels, tumour cells, patch table and bags of patch embeddings."""
    folder = tmp_path_factory.mktemp("cohort")
    benign = sorted(str(p) for p in (lc25000_dir / "lung_n").iterdir())[:12]
    tumour = sorted(str(p) for p in (lc25000_dir / "lung_scc").iterdir())[:12]
    rng = np.random.default_rng(0)
    slides, labels, tumour_cells = [], [], {}
    for i in range(N_SLIDES):
        layout = rng.integers(0, len(benign), (4, 4))
        if i % 2:
            cells = rng.choice(16, N_TUMOUR_CELLS, replace=False)
            layout.flat[cells] = len(benign) + rng.integers(0, len(tumour), N_TUMOUR_CELLS)
        path = str(folder / f"slide-{i:02d}.tif")
        make_slide(path, benign + tumour, layout, mpp=0.25, n_levels=2, random_state=i)
        slides.append(path)
        labels.append("tumour" if i % 2 else "benign")
        tumour_cells[path] = layout >= len(benign)
    table = SlideTiler(patch_size=224, mpp=0.25, min_tissue=0.25).tile(slides)
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0)
    bags, keys = make_bags(embedder.fit_transform(table), table["slide"])
    assert list(keys) == slides and all(len(bag) == 16 for bag in bags)
    return {"table": table, "bags": bags, "y": np.array(labels), "tumour": tumour_cells}


def _is_tumour(cohort, slide):
    rows = cohort["table"][cohort["table"]["slide"] == slide]
    return cohort["tumour"][slide][rows["y"] // 224, rows["x"] // 224]


def test_abmil_learns_the_label_and_attends_to_the_tissue_that_carries_it(cohort):
    bags, y = cohort["bags"], cohort["y"]
    train, test = slice(0, N_TRAIN), slice(N_TRAIN, None)
    head = ABMILHead(random_state=0).fit(bags[train], y[train])
    assert head.score(bags[test], y[test]) == 1.0
    slides = list(dict.fromkeys(cohort["table"]["slide"]))[test]
    for slide, weights, label in zip(slides, head.attention(bags[test]), y[test], strict=True):
        assert weights.shape == (16,) and weights.sum() == pytest.approx(1.0)
        if label == "tumour":
            tumour = _is_tumour(cohort, slide)
            assert roc_auc_score(tumour, weights) > 0.95
            assert tumour[np.argsort(weights)[-N_TUMOUR_CELLS:]].all()  # the top 3 patches


def test_mean_pooling_baseline_runs_on_the_same_bags(cohort):
    bags, y = cohort["bags"], cohort["y"]
    head = MeanPoolHead(random_state=0).fit(bags[:N_TRAIN], y[:N_TRAIN])
    assert head.predict(bags[N_TRAIN:]).shape == (N_SLIDES - N_TRAIN,)


def test_attention_heat_map_lands_on_the_tumour_cells(cohort):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bags, y = cohort["bags"], cohort["y"]
    head = ABMILHead(random_state=0).fit(bags[:N_TRAIN], y[:N_TRAIN])
    slide = list(dict.fromkeys(cohort["table"]["slide"]))[-1]  # a tumour slide
    rows = cohort["table"][cohort["table"]["slide"] == slide]
    weights = head.attention(bags[-1:])[0]
    ax = plot_attention_heatmap(slide, rows, weights, thumbnail_size=64)
    heat = ax.images[1].get_array()
    cell = heat.shape[0] // 4
    hottest = np.unravel_index(np.nanargmax(heat), heat.shape)
    assert cohort["tumour"][slide][hottest[0] // cell, hottest[1] // cell]
    with pytest.raises(ValueError, match="one score per patch"):
        plot_attention_heatmap(slide, rows, weights[:-1])
    with pytest.raises(ValueError, match="patches of other slides"):
        plot_attention_heatmap(slide, cohort["table"], np.ones(len(cohort["table"])))
    plt.close("all")
