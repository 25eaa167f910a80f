"""MLPHead and LinearHead: labels, seeding, early stopping, routing, losses, searches."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import recall_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_class_weight
from skorch.callbacks import EpochTimer

from skhisto import LinearHead, MLPHead, NoisyLabelClassifier, UniformNoise
from skhisto.heads import LOSSES
from skhisto.heads._module import HeadModule
from skhisto.utils._split import validation_split

NAMES = np.array(["lung_aca", "lung_n", "lung_scc"])


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=300, n_features=20, n_informative=8, n_classes=3, random_state=0
    )
    return X.astype(np.float32), NAMES[y]


def test_default_architectures_are_the_papers_mlp_and_a_linear_probe(data):
    X, y = data
    mlp = MLPHead(max_epochs=1, random_state=0).fit(X, y)
    widths = [m.out_features for m in mlp.net_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [512, 128, 64, 3]
    assert sum(isinstance(m, torch.nn.ReLU) for m in mlp.net_.module_.modules()) == 3
    linear = LinearHead(max_epochs=1, random_state=0).fit(X, y)
    layers = [m for m in linear.net_.module_.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(20, 3)]


@pytest.mark.parametrize("Head", [MLPHead, LinearHead])
def test_predict_returns_original_labels_and_learns(Head, data):
    X, y = data
    head = Head(max_epochs=40, random_state=0).fit(X[:200], y[:200])
    np.testing.assert_array_equal(head.classes_, NAMES)
    pred = head.predict(X[200:])
    assert set(pred) <= set(NAMES)
    assert head.score(X[200:], y[200:]) > 0.5  # chance is 1/3
    proba = head.predict_proba(X[200:])
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(NAMES[proba.argmax(axis=1)], pred)


def test_random_state_seeds_torch_reproducibly(data):
    X, y = data
    params = dict(max_epochs=5, augment_sigma=0.4, random_state=3)
    first = MLPHead(**params).fit(X, y).predict_proba(X)
    second = MLPHead(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = MLPHead(**{**params, "random_state": 4}).fit(X, y).predict_proba(X)
    assert not np.allclose(first, other)


def test_validation_split_is_stratified_and_falls_back_on_tiny_classes():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    train, valid = validation_split(y, 0.1, random_state=0)
    assert len(valid) == 10 and len(train) == 90
    np.testing.assert_array_equal(np.bincount(y[valid]), [5, 3, 2])
    assert not set(train) & set(valid)
    # A one-member class cannot be stratified: a plain shuffled split is used.
    y_tiny = np.array([0] * 10 + [1] * 9 + [2])
    train, valid = validation_split(y_tiny, 0.1, random_state=0)
    assert len(valid) == 2 and len(train) == 18
    assert validation_split(np.array([0, 1]), 0.1, random_state=0) is None


def test_early_stopping_uses_a_validation_split_and_restores_the_best_epoch(data):
    X, y = data
    y_noisy = UniformNoise(0.5, random_state=0).fit_resample(X, y)[1]
    head = MLPHead(max_epochs=200, patience=3, lr=1e-2, early_stopping=True, random_state=0)
    head.fit(X, y_noisy)
    history = head.net_.history
    assert head.n_iter_ < 200
    valid_losses = history[:, "valid_loss"]
    assert len(valid_losses) == head.n_iter_
    assert np.argmin(valid_losses) == head.n_iter_ - 1 - 3  # stopped `patience` epochs later
    no_stop = MLPHead(max_epochs=4, early_stopping=False, random_state=0).fit(X, y)
    assert no_stop.n_iter_ == 4
    assert "valid_loss" not in no_stop.net_.history[-1]


def test_heads_work_in_a_grid_search_with_tiny_classes():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5)).astype(np.float32)
    y = np.array(["a"] * 30 + ["b"] * 7 + ["c"] * 3)
    X[y == "b"] += 3
    search = GridSearchCV(
        MLPHead((8,), max_epochs=3, random_state=0), {"lr": [1e-3, 1e-2]}, cv=3, error_score="raise"
    )
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_class_weight_balanced_sets_loss_weights_and_raises_minority_recall():
    X, y = make_classification(
        n_samples=600, n_features=10, weights=[0.9, 0.1], flip_y=0.05, class_sep=0.5, random_state=1
    )
    plain = LinearHead(max_epochs=30, random_state=0).fit(X, y)
    balanced = LinearHead(max_epochs=30, class_weight="balanced", random_state=0).fit(X, y)
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    np.testing.assert_allclose(balanced.net_.criterion_.weight.numpy(), expected, rtol=1e-6)
    assert plain.net_.criterion_.weight is None
    assert recall_score(y, balanced.predict(X)) > recall_score(y, plain.predict(X))


def test_augmentation_is_train_only_and_per_sample():
    torch.manual_seed(0)
    module = HeadModule(256, 2, (), augment_sigma=0.4)
    X = torch.zeros(1000, 256)
    module.train()
    noisy_input = module.layers  # compare the input the layers see
    seen = []
    hook = noisy_input.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    module(X)
    module.eval()
    module(X)
    hook.remove()
    train_input, eval_input = seen
    assert torch.equal(eval_input, X)
    per_sample_std = train_input.std(dim=1)
    # sigma ~ U(0, 0.4) per sample: spread between near 0 and about 0.4.
    assert per_sample_std.max() < 0.45 and per_sample_std.min() < 0.02
    assert per_sample_std.mean() == pytest.approx(0.2, abs=0.05)


def test_net_params_route_skorch_style_and_own_parameters_stay_explicit(data):
    X, y = data
    head = MLPHead(
        (16,),
        loss="gce",
        optimizer="adamw",
        max_epochs=2,
        early_stopping=True,
        net_params={
            "optimizer__weight_decay": 0.05,
            "criterion__q": 0.5,
            "callbacks": [("timer2", EpochTimer())],
        },
        random_state=0,
    ).fit(X, y)
    assert isinstance(head.net_.optimizer_, torch.optim.AdamW)
    assert head.net_.optimizer_.param_groups[0]["weight_decay"] == 0.05
    assert head.net_.criterion_.q == 0.5
    assert "timer2" in dict(head.net_.callbacks_)
    assert "early_stopping" in dict(head.net_.callbacks_)
    cloned = clone(head)
    assert cloned.get_params()["net_params"]["criterion__q"] == 0.5
    assert not hasattr(cloned, "net_")
    with pytest.raises(ValueError, match=r"net_params may not set \['lr'\]"):
        MLPHead(net_params={"lr": 0.1}, max_epochs=1).fit(X, y)
    sgd = LinearHead(optimizer=torch.optim.SGD, net_params={"optimizer__momentum": 0.9})
    sgd.set_params(max_epochs=1).fit(X, y)
    assert sgd.net_.optimizer_.param_groups[0]["momentum"] == 0.9


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_above_chance(loss, data):
    X, y = data
    head = MLPHead((64,), loss=loss, lr=1e-2, max_epochs=30, random_state=0).fit(X[:200], y[:200])
    assert isinstance(head.net_.criterion_, LOSSES[loss])
    assert head.score(X[200:], y[200:]) > 0.5


def test_pickle_round_trip_predicts_the_same(data):
    X, y = data
    head = MLPHead((16,), max_epochs=2, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(head))
    np.testing.assert_array_equal(restored.predict_proba(X), head.predict_proba(X))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss": "focal"}, "'loss' parameter of MLPHead"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"optimizer": "rmsprop"}, "'optimizer' parameter"),
        ({"augment_sigma": -0.1}, "'augment_sigma' parameter"),
    ],
)
def test_bad_parameters_raise_named_errors(params, match, data):
    X, y = data
    with pytest.raises(InvalidParameterError, match=match):
        MLPHead(**params).fit(X, y)


def test_one_class_y_and_unavailable_device_raise(data):
    X, y = data
    with pytest.raises(ValueError, match="one class"):
        LinearHead(max_epochs=1).fit(X, np.full(len(X), "lung_n"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            LinearHead(max_epochs=1, device="cuda").fit(X, y)


@pytest.mark.slow  # trains on real patches
def test_grid_search_over_noise_rate_and_heads(data):
    X, y = data
    pipe = Pipeline([("clf", NoisyLabelClassifier(MLPHead(), UniformNoise(random_state=0)))])
    grid = {
        "clf__noise__rate": [0.0, 0.6],
        "clf__estimator": [
            MLPHead((32,), max_epochs=15, lr=1e-2, random_state=0),
            LinearHead(max_epochs=15, lr=1e-2, random_state=0),
        ],
    }
    search = GridSearchCV(pipe, grid, cv=3, scoring="balanced_accuracy", error_score="raise")
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    rates = np.asarray(search.cv_results_["param_clf__noise__rate"], dtype=float)
    for name in ("MLPHead", "LinearHead"):
        rows = [type(e).__name__ == name for e in search.cv_results_["param_clf__estimator"]]
        by_rate = dict(zip(rates[rows], scores[rows], strict=True))
        assert by_rate[0.0] > by_rate[0.6]


def test_float32_dataframe_reaches_torch_writable(data, monkeypatch):
    # pandas' copy-on-write hands out read-only views; torch warns when it batches one.
    pd = pytest.importorskip("pandas")
    from skhisto.heads import _base

    seen = []
    real = _base._Rows.transform

    def spy(dataset, X, y):
        X, y = real(dataset, X, y)
        seen.append(X.flags.writeable)
        return X, y

    monkeypatch.setattr(_base._Rows, "transform", spy)
    X, y = data
    frame = pd.DataFrame(X.astype(np.float32))
    head = LinearHead(max_epochs=2, random_state=0)
    head.fit(frame, y, X_val=frame.iloc[:20], y_val=y[:20]).predict_proba(frame)
    assert len(seen) >= 2 * len(X) and all(seen)  # every row of fit and predict
