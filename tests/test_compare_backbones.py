"""compare_backbones: the label-noise paper's comparison (issue 23, item 4) in one call."""

import matplotlib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold

from skhisto import FoundationEmbedder, LinearHead, MLPHead, UniformNoise
from skhisto.backbones import (
    BackboneInfo,
    WeightsUnavailableError,
    register_backbone,
    unregister_backbone,
)
from skhisto.embedding import forward_count
from skhisto.model_selection import compare_backbones, noise_robustness_curve
from skhisto.plotting import plot_noise_robustness

matplotlib.use("Agg")

#: Tiny timm models registered under two families of arXiv 2404.07605 (a few ms per image).
TINY = {"tiny-contrastive": "test_vit", "tiny-noncontrastive": "test_convnext"}
FAMILIES = {
    "tiny-contrastive": "contrastive",
    "tiny-noncontrastive": "non-contrastive",
    "resnet18": "supervised",
}
RANDOM_INIT = {"pretrained": False, "image_size": 32}
FAST = {"rates": [0.0, 0.4], "cv": 2}


@pytest.fixture
def tiny_backbones():
    """Two registered tiny backbones (contrastive, non-contrastive) and resnet18 (supervised)."""
    for name, architecture in TINY.items():
        register_backbone(
            BackboneInfo(name, architecture, 64, input_size=32, family=FAMILIES[name])
        )
    yield list(FAMILIES)
    for name in TINY:
        unregister_backbone(name)


@pytest.fixture(scope="module")
def images():
    """16 real LC25000 tiles (paths, 8 of each of two classes) and their labels; random
    32 px images where the shared data is missing."""
    from conftest import LC25000

    from skhisto.datasets import load_image_folder

    if LC25000.is_dir():
        data = load_image_folder(LC25000, max_per_class=8, random_state=0)
        keep = data.target < 2
        return [p for p, k in zip(data.paths, keep, strict=True) if k], data.target[keep]
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8), np.repeat([0, 1], 8)


def head():
    return LinearHead(max_epochs=3, random_state=0)


def test_each_image_is_embedded_once_per_backbone(tiny_backbones, images, tmp_path):
    X, y = images
    before = forward_count()
    table = compare_backbones(
        X,
        y,
        tiny_backbones,
        heads=[head(), MLPHead(max_epochs=2, random_state=0)],
        embedder_params=RANDOM_INIT,
        random_state=0,
        **FAST,
    )
    assert forward_count() - before == 3 * len(X)
    assert list(table.columns[:7]) == [
        "backbone",
        "family",
        "head",
        "loss",
        "rate",
        "fold",
        "score",
    ]
    assert len(table) == 3 * 2 * 2 * 2  # backbones x heads x rates x folds
    families = table.drop_duplicates("backbone").set_index("backbone")["family"].to_dict()
    assert families == FAMILIES
    assert table["backbone"].unique().tolist() == tiny_backbones  # in the order given
    assert set(table["head"]) == {"LinearHead", "MLPHead"} and set(table["loss"]) == {
        "cross_entropy"
    }
    # Through the cache, a second comparison embeds nothing.
    params = {**RANDOM_INIT, "cache": tmp_path / "cache"}
    kwargs = {"heads": [head()], "embedder_params": params, "random_state": 0, **FAST}
    compare_backbones(X, y, tiny_backbones, **kwargs)
    before = forward_count()
    again = compare_backbones(X, y, tiny_backbones, **kwargs)
    assert forward_count() == before
    assert again["score"].tolist() == table.loc[table["head"] == "LinearHead", "score"].tolist()


def test_the_same_folds_and_noise_for_every_backbone(images):
    # The same embeddings under two names score the same, fold by fold; each equals
    # noise_robustness_curve on those folds.
    X, y = images
    features = np.random.default_rng(0).normal(size=(len(y), 8)) + y[:, None]
    folds = StratifiedKFold(2, shuffle=True, random_state=3)
    table = compare_backbones(
        None,
        y,
        {"a": features, "b": features.copy()},
        heads=[head()],
        losses=["cross_entropy", "gce"],
        rates=[0.0, 0.4],
        noise=UniformNoise(random_state=3),
        cv=folds,
    )
    a, b = (table[table["backbone"] == name].reset_index(drop=True) for name in "ab")
    np.testing.assert_array_equal(a["score"], b["score"])
    np.testing.assert_array_equal(a["realized_rate"], b["realized_rate"])
    for loss in ("cross_entropy", "gce"):
        curve = noise_robustness_curve(
            LinearHead(max_epochs=3, random_state=0, loss=loss),
            features,
            y,
            [0.0, 0.4],
            noise=UniformNoise(random_state=3),
            cv=folds,
        )
        np.testing.assert_allclose(a.loc[a["loss"] == loss, "score"], curve["score"])
    assert set(table["family"]) == {"unknown"}  # names the registry does not know


@pytest.mark.filterwarnings("ignore:The groups parameter is ignored by KFold")
def test_groups_make_grouped_folds_for_every_backbone(images):
    X, y = images
    features = np.random.default_rng(1).normal(size=(len(y), 8)) + y[:, None]
    groups = np.arange(len(y)) // 2  # pairs of one class
    table = compare_backbones(
        None, y, {"a": features}, heads=[head()], groups=groups, random_state=0, **FAST
    )
    # The folds and noise of noise_robustness_curve(random_state=0): StratifiedGroupKFold.
    curve = noise_robustness_curve(
        head(), features, y, [0.0, 0.4], cv=2, groups=groups, random_state=0
    )
    np.testing.assert_allclose(table["score"], curve["score"])
    # A splitter that would split a group is refused before anything is embedded.
    groups = np.arange(len(y)) // 3  # KFold(2) cuts group 2 (samples 6, 7, 8)
    before = forward_count()
    with pytest.raises(ValueError, match="puts group"):
        compare_backbones(
            X,
            y,
            ["resnet18"],
            heads=[head()],
            groups=groups,
            cv=KFold(2),
            embedder_params=RANDOM_INIT,
        )
    assert forward_count() == before


def test_embedders_fitted_or_not_and_arrays(tiny_backbones, images):
    X, y = images
    fitted = FoundationEmbedder("tiny-contrastive", random_state=0, **RANDOM_INIT).fit(X)
    unfitted = FoundationEmbedder("tiny-noncontrastive", random_state=0, **RANDOM_INIT)
    precomputed = FoundationEmbedder("resnet18", random_state=0, **RANDOM_INIT).fit_transform(X)
    before = forward_count()
    table = compare_backbones(
        X,
        y,
        {"mine": fitted, "theirs": unfitted, "resnet18": precomputed},
        heads=[head()],
        random_state=0,
        **FAST,
    )
    assert forward_count() - before == 2 * len(X)  # the precomputed ones are not embedded again
    assert not hasattr(unfitted, "fingerprint_"), "an unfitted embedder is cloned, not fitted"
    families = table.drop_duplicates("backbone").set_index("backbone")["family"].to_dict()
    assert families == {
        "mine": "contrastive",
        "theirs": "non-contrastive",
        "resnet18": "supervised",
    }
    listed = compare_backbones(X, y, [fitted, unfitted], heads=[head()], random_state=0, **FAST)
    assert listed["backbone"].unique().tolist() == ["tiny-contrastive", "tiny-noncontrastive"]


def test_published_weights_unless_asked_otherwise(images):
    # No silent fall-back to a random initialization: offline without the weights, it raises.
    X, y = images
    register_backbone(BackboneInfo("tiny-hub", "test_vit", 64, input_size=32, hub_id="nobody/none"))
    before = forward_count()
    try:
        with pytest.raises(WeightsUnavailableError, match="tiny-hub"):
            compare_backbones(X, y, ["tiny-hub"], heads=[head()], **FAST)
    finally:
        unregister_backbone("tiny-hub")
    assert forward_count() == before


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backbones": []}, "backbones is empty"),
        ({"backbones": ["resnet18", "resnet18"]}, "'resnet18' twice"),
        ({"backbones": [np.zeros((16, 4))]}, "dict"),
        ({"backbones": {"a": np.zeros((15, 4))}}, r"shape \(15, 4\)"),
        ({"backbones": ["nope"]}, "Unknown backbone 'nope'"),
        ({"heads": [LogisticRegression()], "losses": ["gce"]}, "no 'loss' parameter"),
        ({"losses": ["focal"]}, "'loss' parameter of LinearHead"),
        ({"heads": [head(), head()]}, "two heads are named 'LinearHead'"),
        ({"embedder_params": {"backbone": "uni"}}, "may not set 'backbone'"),
        ({"noise": "nowhere"}, "'noise' parameter of compare_backbones"),
        ({"X": None}, "X is None"),
        ({"noise": "group"}, "got no groups"),
    ],
)
def test_bad_arguments_fail_before_any_embedding(kwargs, match, images):
    X, y = images
    arguments = {"X": X, "y": y, "backbones": ["resnet18"], "heads": [head()]}
    arguments.update({"embedder_params": RANDOM_INIT, **kwargs})
    before = forward_count()
    with pytest.raises(ValueError, match=match):
        compare_backbones(**arguments)
    assert forward_count() == before


def test_the_plot_has_a_color_per_backbone_and_its_family_in_the_legend(images):
    import matplotlib.pyplot as plt

    _, y = images
    rng = np.random.default_rng(0)
    embeddings = {name: rng.normal(size=(len(y), 4)) + y[:, None] for name in ("ctranspath", "uni")}
    table = compare_backbones(
        None, y, embeddings, heads=[head()], losses=["cross_entropy", "gce"], random_state=0, **FAST
    )
    ax = plot_noise_robustness(table)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "ctranspath (contrastive), cross_entropy",  # what varies: one head is not named
        "ctranspath (contrastive), gce",
        "uni (non-contrastive), cross_entropy",
        "uni (non-contrastive), gce",
        f"chance (1/K = {1 / len(set(y.tolist())):.2f})",  # dashed
    ]
    lines = ax.get_lines()
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert lines[0].get_linestyle() == lines[2].get_linestyle() != lines[1].get_linestyle()
    assert ax.get_ylabel() == "balanced accuracy (clean test labels)"
    plt.close("all")
    # One backbone and the losses fixed: the legend names the heads alone, as before.
    one = compare_backbones(
        None, y, {"uni": embeddings["uni"]}, heads=[head(), MLPHead(max_epochs=2)], **FAST
    )
    ax = plot_noise_robustness(one)
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["LinearHead", "MLPHead"]
    plt.close("all")
