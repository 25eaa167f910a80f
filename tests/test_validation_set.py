"""Early stopping the paper's way: a user validation set, last or best weights, any decrease.

``BaseHead.fit(X, y, X_val=, y_val=)``, ``restore_best_weights``, ``tol`` and
``NoisyLabelClassifier(validation_fraction=)``, which holds out clean labels.
"""

import math

import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError

from skhisto import LinearHead, MLPHead, NoisyLabelClassifier, UniformNoise


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=400, n_features=8, n_informative=4, flip_y=0.2, random_state=0
    )
    return X.astype(np.float32), y


def _sizes(head, kind):
    """Samples per epoch that trained (kind="train") or were validated (kind="valid")."""
    return {
        sum(b[f"{kind}_batch_size"] for b in e["batches"] if f"{kind}_batch_size" in b)
        for e in head.net_.history
    }


def _stop_epoch(losses, patience, tol):
    """Epoch at which skorch's rule (valid_loss < best * (1 - tol)) stops, or None."""
    best, misses = math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        best, misses = (loss, 0) if loss < best * (1 - tol) else (best, misses + 1)
        if misses == patience:
            return epoch
    return None


def test_defaults_keep_skorch_early_stopping_rule(data):
    X, y = data
    head = LinearHead(max_epochs=3, early_stopping=True, random_state=0).fit(X, y)
    stopper = dict(head.net_.callbacks_)["early_stopping"]
    assert (stopper.threshold, stopper.threshold_mode, stopper.load_best) == (1e-4, "rel", True)
    assert head.get_params()["tol"] == 1e-4 and head.get_params()["restore_best_weights"]


@pytest.mark.parametrize("restore", [True, False])
def test_restore_best_weights_chooses_best_or_last_epoch(data, restore):
    X, y = data
    # A large learning rate on noisy labels overfits: the validation loss rises after its best.
    head = MLPHead(
        lr=0.05,
        patience=3,
        max_epochs=60,
        early_stopping=True,
        restore_best_weights=restore,
        random_state=0,
    )
    head.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    losses = [e["valid_loss"] for e in head.net_.history]
    assert head.n_iter_ < 60 and min(losses) < losses[-1] - 1e-3
    final = log_loss(y[300:], head.predict_proba(X[300:]))
    expected = min(losses) if restore else losses[-1]
    assert final == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("tol", [0.0, 1e-4, 0.05])
def test_tol_is_the_relative_improvement_an_epoch_needs(data, tol):
    X, y = data
    head = LinearHead(
        lr=1e-3, patience=2, max_epochs=15, tol=tol, early_stopping=True, random_state=0
    )
    head.fit(X, y)
    losses = [e["valid_loss"] for e in head.net_.history]
    assert head.n_iter_ == (_stop_epoch(losses, patience=2, tol=tol) or 15)
    if tol == 0.05:  # slow steady decreases are too small to count: stops after patience + 1
        assert head.n_iter_ == 3
    if tol == 0.0:  # every one of them counts
        assert head.n_iter_ > 3


def test_X_val_is_monitored_and_all_of_X_trains(data):
    X, y = data
    head = LinearHead(max_epochs=2, random_state=0).fit(
        X[:300], y[:300], X_val=X[300:], y_val=y[300:]
    )
    assert _sizes(head, "train") == {300} and _sizes(head, "valid") == {100}


def test_auto_early_stopping_uses_a_given_validation_set_of_any_size(data):
    X, y = data
    # 10 % of 40 samples is below the 50 that "auto" holds out; a given set is used anyway.
    head = LinearHead(max_epochs=2, random_state=0).fit(
        X[:40], y[:40], X_val=X[40:45], y_val=y[40:45]
    )
    assert "early_stopping" in dict(head.net_.callbacks_)
    assert _sizes(head, "train") == {40} and _sizes(head, "valid") == {5}


def test_X_val_routes_through_sklearn_and_imblearn_pipelines(data):
    X, y = data
    head = MLPHead(max_epochs=2, random_state=0)
    routes = {"mlphead__X_val": X[300:], "mlphead__y_val": y[300:]}
    pipe = Pipeline([("identity", FunctionTransformer()), ("mlphead", head)]).fit(
        X[:300], y[:300], **routes
    )
    assert _sizes(pipe[-1], "valid") == {100} and _sizes(pipe[-1], "train") == {300}
    noisy = ImbPipeline([("noise", UniformNoise(0.2, random_state=0)), ("mlphead", clone(head))])
    noisy.fit(X[:300], y[:300], **routes)
    assert _sizes(noisy[-1], "valid") == {100} and _sizes(noisy[-1], "train") == {300}


BAD_VALIDATION = {
    "X_val only": ({}, {"X_val": "X"}, r"LinearHead.fit got X_val without y_val; pass both"),
    "y_val only": ({}, {"y_val": "y"}, r"LinearHead.fit got y_val without X_val"),
    "early_stopping False": (
        {"early_stopping": False},
        {"X_val": "X", "y_val": "y"},
        r"LinearHead\(early_stopping=False\) was given X_val and y_val, which only serve early",
    ),
    "X_val width": ({}, {"X_val": "narrow", "y_val": "y"}, r"X_val has 3 features, but X has 8"),
    "y_val unknown labels": (
        {},
        {"X_val": "X", "y_val": "unknown"},
        r"y_val holds labels \[5, 7\] that are not classes of y \[0, 1\]",
    ),
    "y_val length": ({}, {"X_val": "X", "y_val": "short"}, r"inconsistent numbers of samples"),
    "X_val NaN": ({}, {"X_val": "nan", "y_val": "y"}, r"Input X_val contains NaN"),
    "y_val missing": ({}, {"X_val": "X", "y_val": "missing"}, r"LinearHead: y_val has 1 missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALIDATION))
def test_bad_validation_sets_raise_errors_naming_them(data, case):
    X, y = data
    params, given, match = BAD_VALIDATION[case]
    values = {
        "X": X[:20],
        "y": y[:20],
        "narrow": X[:20, :3],
        "unknown": np.r_[y[:18], 5, 7],
        "short": y[:10],
        "nan": np.full((20, 8), np.nan),
        "missing": [*y[:19].tolist(), None],
    }
    head = LinearHead(max_epochs=1, random_state=0, **params)
    with pytest.raises(ValueError, match=match):
        head.fit(X[20:], y[20:], **{k: values[v] for k, v in given.items()})


@pytest.mark.parametrize("params", [{"tol": -0.1}, {"tol": 1.0}, {"restore_best_weights": "no"}])
def test_bad_protocol_parameters_are_named(data, params):
    X, y = data
    with pytest.raises(InvalidParameterError, match=next(iter(params))):
        LinearHead(max_epochs=1, **params).fit(X, y)


def test_new_parameters_survive_clone():
    head = MLPHead(restore_best_weights=False, tol=0.0)
    assert clone(head).get_params() == head.get_params()


class Spy(ClassifierMixin, BaseEstimator):
    """Records what NoisyLabelClassifier passes to fit."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, X_val=None, y_val=None, sample_weight=None):
        self.seen_ = dict(X=X, y=y, X_val=X_val, y_val=y_val, sample_weight=sample_weight)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_validation_fraction_holds_out_clean_stratified_labels_before_the_noise():
    y = np.repeat(["aca", "n", "scc"], [100, 60, 40])
    X = np.arange(len(y), dtype=float)[:, None]
    clf = NoisyLabelClassifier(
        Spy(), UniformNoise(0.6), random_state=0, validation_fraction=0.2
    ).fit(X, y, sample_weight=np.ones(len(y)))
    valid, seen = clf.validation_indices_, clf.estimator_.seen_
    train = np.setdiff1d(np.arange(len(y)), valid)
    assert len(valid) == 40 and list(np.unique(y[valid], return_counts=True)[1]) == [20, 12, 8]
    np.testing.assert_array_equal(seen["y_val"], y[valid])  # clean
    np.testing.assert_array_equal(seen["X_val"][:, 0], valid)
    np.testing.assert_array_equal(seen["X"][:, 0], train)
    assert (seen["y"] != y[train]).sum() == round(0.6 * len(train))  # the noise hit training only
    assert len(seen["sample_weight"]) == len(train)


def test_validation_split_is_seeded_by_random_state_or_else_the_estimators():
    y = np.repeat([0, 1], 50)
    X = np.zeros((100, 2))

    def held_out(**params):
        clf = NoisyLabelClassifier(Spy(**params.pop("spy", {})), UniformNoise(0.2), **params)
        return clf.set_params(validation_fraction=0.3).fit(X, y).validation_indices_

    np.testing.assert_array_equal(held_out(random_state=1), held_out(random_state=1))
    np.testing.assert_array_equal(
        held_out(spy={"random_state": 3}), held_out(spy={"random_state": 3})
    )
    assert not np.array_equal(held_out(random_state=1), held_out(random_state=2))
    assert NoisyLabelClassifier(Spy(), UniformNoise()).fit(X, y).validation_indices_ is None


def test_validation_fraction_with_a_head_early_stops_on_the_clean_part(data):
    X, y = data
    clf = NoisyLabelClassifier(
        LinearHead(max_epochs=2, random_state=0), UniformNoise(0.4), validation_fraction=0.25
    ).fit(X, y)
    assert _sizes(clf.estimator_, "valid") == {100} and _sizes(clf.estimator_, "train") == {300}


BAD_NOISY = {
    "estimator without X_val": (
        LogisticRegression(),
        {},
        r"LogisticRegression.fit takes no X_val parameter; use an estimator that does",
    ),
    "X_val passed as well": (
        Spy(),
        {"X_val": np.zeros((2, 2)), "y_val": [0, 1]},
        r"holds out its own validation set; do not also pass \['X_val', 'y_val'\]",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_NOISY))
def test_validation_fraction_refuses_what_it_cannot_do(case):
    estimator, fit_params, match = BAD_NOISY[case]
    X, y = np.zeros((40, 2)), np.repeat([0, 1], 20)
    clf = NoisyLabelClassifier(estimator, UniformNoise(0.2), validation_fraction=0.2)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y, **fit_params)


def test_validation_fraction_out_of_range_is_named():
    clf = NoisyLabelClassifier(Spy(), UniformNoise(0.2), validation_fraction=1.5)
    with pytest.raises(InvalidParameterError, match="validation_fraction"):
        clf.fit(np.zeros((10, 1)), np.repeat([0, 1], 5))
