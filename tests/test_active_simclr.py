"""ActiveSimCLR: Algorithm 2 rounds on real LC25000 patches, history and round-level resume."""

import os
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from skhisto import ActiveSimCLR, CoresetSampling, SimCLREmbedder, UncertaintySampling
from skhisto.exceptions import CheckpointError, CheckpointMismatchError
from skhisto.io import load_images
from skhisto.utils import CHECKPOINT_FILE, load_checkpoint

SIMCLR = SimCLREmbedder(
    image_size=32, batch_size=8, max_epochs=1, lr=1e-3, device="cpu", verbose=False
)


@pytest.fixture(scope="module")
def shuffled(lc25000_small):
    """The 300 real patches at 32 px and their three classes, in a fixed random order."""
    images = load_images(list(lc25000_small.paths), 32)
    order = np.random.default_rng(0).permutation(len(images))
    return images[order], np.asarray(lc25000_small.target)[order]


@pytest.fixture(scope="module")
def data(shuffled, lc25000_small):
    """Pool of 30, labeled 16 and test 16 real patches; task: lung_scc (1) vs rest (0)."""
    images, target = shuffled
    y = (target == lc25000_small.target_names.index("lung_scc")).astype(int)
    return images[:30], images[30:46], y[30:46], images[46:62], y[46:62]


def _active(**kwargs):
    params = dict(
        simclr=SIMCLR,
        query_strategy=UncertaintySampling(),
        proxy=LogisticRegression(max_iter=500),
        batch_size=8,
        n_rounds=3,
        n_candidates=12,
        random_state=0,
        verbose=False,
    )
    return ActiveSimCLR(**{**params, **kwargs})


def _fit(est, data):
    pool, XL, yL, XT, yT = data
    return est.fit(pool, X_labeled=XL, y_labeled=yL, X_test=XT, y_test=yT)


@pytest.fixture(scope="module")
def fitted(data):
    return _fit(_active(), data)


@pytest.mark.slow
def test_rounds_grow_the_subset_and_record_history(fitted, data):
    assert [r["n_images"] for r in fitted.history_] == [8, 16, 24]
    assert len(fitted.selected_) == 24 and len(set(fitted.selected_)) == 24
    assert all(0 <= r["score"] <= 1 for r in fitted.history_)
    assert all(r["fit_time"] > 0 and r["proxy_time"] > 0 for r in fitted.history_)
    assert fitted.history_[-1]["query_time"] is None  # nothing is queried after the last round
    times = [r["time"] for r in fitted.history_]
    assert times == sorted(times)
    # SimCLR continued from the previous round's weights: one epoch per round.
    assert fitted.simclr_.n_epochs_ == 3
    assert [r["n_images"] for r in fitted.simclr_.history_] == [8, 16, 24]
    assert fitted.transform(data[1]).shape == (16, 512)
    assert fitted.get_feature_names_out()[0] == "activesimclr0"


@pytest.mark.slow
def test_strategy_sees_proxy_and_candidates(data):
    calls = []

    class Recording(CoresetSampling):
        def query(self, X, y, estimator=None, **kwargs):
            calls.append((X.shape, int((y == self.missing_label).sum()), estimator))
            return super().query(X, y, estimator, **kwargs)

    est = _fit(_active(query_strategy=Recording(), n_rounds=2), data)
    ((shape, n_missing, proxy),) = calls
    assert shape == (16 + 12, 512) and n_missing == 12
    assert hasattr(proxy, "coef_")  # the proxy was already trained on the labeled embeddings
    assert len(set(est.selected_)) == 16


@pytest.mark.slow
def test_killed_run_resumes_after_last_finished_round(fitted, data, tmp_path, monkeypatch):
    original = ActiveSimCLR._round

    def dies_in_round_two(self, t, *args):
        if t == 1:
            raise KeyboardInterrupt("simulated kill")
        return original(self, t, *args)

    monkeypatch.setattr(ActiveSimCLR, "_round", dies_in_round_two)
    with pytest.raises(KeyboardInterrupt):
        _fit(_active(checkpoint_dir=tmp_path), data)
    saved = load_checkpoint(tmp_path / CHECKPOINT_FILE)
    assert saved["round"] == 1
    monkeypatch.setattr(ActiveSimCLR, "_round", original)

    resumed = _fit(_active(checkpoint_dir=tmp_path), data)
    assert resumed.history_[0] == saved["history"][0]  # round 0 was not rerun
    assert len(resumed.history_) == 3
    np.testing.assert_array_equal(resumed.selected_, fitted.selected_)
    assert [r["score"] for r in resumed.history_] == [r["score"] for r in fitted.history_]


@pytest.mark.slow
def test_clone_get_params_and_pickle(fitted, data):
    assert clone(fitted).get_params()["batch_size"] == 8
    assert fitted.get_params()["simclr__image_size"] == 32
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(data[1]), fitted.transform(data[1]))


def test_bad_input_names_the_problem(data):
    pool, XL, yL, XT, yT = data
    with pytest.raises(ValueError, match="batch_size=40 images x n_rounds=3 exceed the pool of 30"):
        _active(batch_size=40).fit(pool, X_labeled=XL, y_labeled=yL)
    with pytest.raises(ValueError, match="y_labeled has 3 labels"):
        _active().fit(pool, X_labeled=XL, y_labeled=yL[:3])
    with pytest.raises(ValueError, match="at least two classes"):
        _active().fit(pool, X_labeled=XL, y_labeled=np.zeros(16, dtype=int))
    with pytest.raises(ValueError, match="both X_test and y_test"):
        _active().fit(pool, X_labeled=XL, y_labeled=yL, X_test=XT)


@pytest.mark.slow
def test_defaults_use_linear_head_proxy_and_entropy_sampling(data):
    pool, XL, yL, _, _ = data
    est = ActiveSimCLR(SIMCLR, batch_size=8, n_rounds=2, n_candidates=10, random_state=0)
    est.fit(pool, X_labeled=XL, y_labeled=yL)
    assert type(est.proxy_).__name__ == "LinearHead"
    assert est.history_[0]["score"] is None and est.history_[0]["query_time"] > 0
    assert len(set(est.selected_)) == 16


@pytest.fixture(scope="module")
def round_zero_checkpoint(data, tmp_path_factory):
    """Bytes of the round checkpoint a run killed in round 1 leaves (and its folder)."""
    directory = tmp_path_factory.mktemp("killed")
    pool, XL, yL, _, _ = data
    original = ActiveSimCLR._round

    def dies_in_round_one(self, t, *args):
        if t == 1:
            raise KeyboardInterrupt("simulated kill")
        return original(self, t, *args)

    ActiveSimCLR._round = dies_in_round_one
    try:
        with pytest.raises(KeyboardInterrupt):
            _active(checkpoint_dir=directory).fit(pool, X_labeled=XL, y_labeled=yL)
    finally:
        ActiveSimCLR._round = original
    return directory


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(n_rounds=2), "n_rounds=3 there, 2 now"),
        (dict(proxy=LogisticRegression(C=0.5, max_iter=500)), "proxy__C=1.0 there, 0.5 now"),
        (dict(simclr=clone(SIMCLR).set_params(lr=0.01)), "simclr__lr=0.001 there, 0.01 now"),
        ("other labels", "data: not the same"),
    ],
)
def test_checkpoint_of_another_run_is_refused_and_left_untouched(
    data, round_zero_checkpoint, tmp_path, change, match
):
    pool, XL, yL, _, _ = data
    path = tmp_path / CHECKPOINT_FILE
    path.write_bytes((round_zero_checkpoint / CHECKPOINT_FILE).read_bytes())
    saved = path.read_bytes()
    kwargs = {} if change == "other labels" else change
    y = 1 - yL if change == "other labels" else yL
    est = _active(checkpoint_dir=tmp_path, **kwargs)
    with pytest.raises(CheckpointMismatchError, match=f"belongs to another run.*{match}"):
        est.fit(pool, X_labeled=XL, y_labeled=y)
    assert path.read_bytes() == saved and not hasattr(est, "simclr_")


@pytest.mark.slow
def test_round_simclr_checkpoints_are_cleaned_up(round_zero_checkpoint):
    # Round 0 finished: its SimCLR checkpoint is superseded by the round checkpoint.
    assert sorted(os.listdir(round_zero_checkpoint)) == [CHECKPOINT_FILE, "simclr"]
    assert os.listdir(round_zero_checkpoint / "simclr") == []


def test_corrupt_round_checkpoint_is_named(data, tmp_path):
    pool, XL, yL, _, _ = data
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=f"Checkpoint '{tmp_path / CHECKPOINT_FILE}'"):
        _active(checkpoint_dir=tmp_path).fit(pool, X_labeled=XL, y_labeled=yL)


def test_unwritable_checkpoint_dir_is_refused_before_training(data, tmp_path, monkeypatch):
    pool, XL, yL, _, _ = data
    monkeypatch.setattr(SimCLREmbedder, "fit", lambda *a, **k: pytest.fail("training started"))
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match=r"checkpoint_dir= directory '.*file/ckpt'"):
        _active(checkpoint_dir=tmp_path / "file" / "ckpt").fit(pool, X_labeled=XL, y_labeled=yL)


@pytest.mark.parametrize(
    ("kwargs", "labels", "match"),
    [
        (dict(batch_size=12), None, "batch_size=12 images x n_rounds=3 exceed the pool of 30"),
        (dict(n_candidates=4), None, "n_candidates=4 is smaller than batch_size=8"),
        ({}, "nan", r"y_labeled has 1 missing labels \(None or NaN\), at indices \[3\]"),
        (
            {},
            "mixed",
            r"ActiveSimCLR: y_labeled mixes label types: index 2 holds 'tumour' \(str\) "
            r"but index 0 holds 0 \(int\)",
        ),
        ({}, "2-D", r"y_labeled must be 1-D; got shape \(16, 1\)"),
        ({}, "test length", "X_test has 16 images but y_test has 3 labels"),
        (
            {},
            "test type",
            r"ActiveSimCLR: y_test mixes label types: index 0 holds '\d' \(str\) "
            r"but y_labeled has int labels",
        ),
    ],
)
def test_bad_sizes_and_labels_are_refused_before_training(data, monkeypatch, kwargs, labels, match):
    pool, XL, yL, XT, yT = data
    monkeypatch.setattr(SimCLREmbedder, "fit", lambda *a, **k: pytest.fail("training started"))
    y, y_test = yL, None
    if labels == "nan":
        y = np.where(np.arange(16) == 3, np.nan, yL.astype(float))
    elif labels == "mixed":
        y = ["tumour" if v else 0 for v in yL]
    elif labels == "2-D":
        y = yL[:, None]
    elif labels == "test length":
        y_test = yT[:3]
    elif labels == "test type":
        y_test = yT.astype(str)
    test = {} if y_test is None else dict(X_test=XT, y_test=y_test)
    with pytest.raises(ValueError, match=match):
        _active(**kwargs).fit(pool, X_labeled=XL, y_labeled=y, **test)


def test_test_labels_unseen_in_training_are_warned_about(data, monkeypatch):
    pool, XL, yL, XT, yT = data
    monkeypatch.setattr(SimCLREmbedder, "fit", lambda *a, **k: pytest.fail("training started"))
    y_test = np.where(np.arange(16) < 2, 7, yT)
    with pytest.warns(UserWarning, match=r"y_test has labels \[7\] absent from y_labeled"):
        with pytest.raises(pytest.fail.Exception, match="training started"):
            _active().fit(pool, X_labeled=XL, y_labeled=yL, X_test=XT, y_test=y_test)


def test_default_scoring_works_for_three_classes(shuffled):
    images, y = shuffled
    pool, XL, yL, XT, yT = images[:30], images[30:46], y[30:46], images[46:62], y[46:62]
    assert len(np.unique(yL)) == 3
    est = _active(n_rounds=1, n_candidates=None).fit(
        pool, X_labeled=XL, y_labeled=yL, X_test=XT, y_test=yT
    )
    # None scores with the proxy's own score: accuracy, defined for any number of classes.
    expected = accuracy_score(yT, est.proxy_.predict(est.transform(XT)))
    assert est.history_[0]["score"] == expected


def test_scoring_that_cannot_score_the_labels_is_refused_before_training(shuffled, monkeypatch):
    images, y = shuffled
    pool, XL, yL, XT, yT = images[:30], images[30:46], y[30:46], images[46:62], y[46:62]
    monkeypatch.setattr(SimCLREmbedder, "fit", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(ValueError, match=r"scoring='f1' cannot score these labels \(3 classes\)"):
        _active(scoring="f1").fit(pool, X_labeled=XL, y_labeled=yL, X_test=XT, y_test=yT)
    with pytest.raises(ValueError, match=r"'scoring' parameter.*Got 'no_such_score' instead"):
        _active(scoring="no_such_score").fit(pool, X_labeled=XL, y_labeled=yL)


@pytest.mark.slow  # trains on real patches
def test_plot_learning_curve_draws_score_against_images_used(fitted):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skhisto.plotting import plot_learning_curve

    ax = plot_learning_curve(fitted)
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [8, 16, 24])
    assert ax.get_xlabel() == "images used"


@pytest.mark.slow
def test_an_unseeded_pipeline_proxy_is_seeded_by_random_state(data):
    """A proxy inside a Pipeline draws from random_state as a bare one does: runs repeat."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skhisto import LinearHead

    def run():
        proxy = make_pipeline(StandardScaler(), LinearHead(max_epochs=5))
        est = _fit(_active(proxy=proxy, n_rounds=2), data)
        return est.proxy_[-1].random_state, [entry["score"] for entry in est.history_]

    (seed, scores), (_, again) = run(), run()
    assert seed is not None and scores == again
