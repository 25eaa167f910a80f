"""MLPHead and LinearHead under bad input and divergence: every error names its cause."""

import os
import signal

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import check_class_weight_classifiers
from skorch.callbacks import Callback

from skhisto import LinearHead, MLPHead
from skhisto.exceptions import NonFiniteError


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=120, n_features=8, n_informative=4, random_state=0)
    return X.astype(np.float32), y


@pytest.mark.parametrize("early_stopping", [False, True])
def test_diverging_training_raises_non_finite_error_naming_epoch_and_lr(early_stopping):
    # Before: NaN probabilities and class-0 predictions (or, with early stopping, a silent
    # restore of an epoch before the NaN losses).
    X, y = make_classification(n_samples=200, n_features=20, random_state=0)
    head = MLPHead(lr=10.0, optimizer="sgd", max_epochs=30, random_state=0)
    head.set_params(early_stopping=early_stopping)
    with pytest.raises(NonFiniteError, match=r"diverged: the \w+ loss became nan in epoch \d+ "):
        head.fit(X, y)


@pytest.mark.parametrize(
    "head, scale",
    [(MLPHead(lr=1e6, max_epochs=3, random_state=0), 1.0), (LinearHead(max_epochs=3), 1e30)],
    ids=["huge-lr", "huge-inputs"],
)
def test_a_finite_but_exploded_loss_is_divergence_too(head, scale):
    # Before: losses of 1e29 stayed finite, so fit "succeeded" with every prediction one class.
    X, y = make_classification(n_samples=60, n_features=8, random_state=0)
    with pytest.raises(NonFiniteError, match=r"mean training loss exploded to .* in epoch \d"):
        head.fit(X * scale, y)


def test_non_finite_output_at_predict_raises_instead_of_nan_probabilities(data):
    X, y = data
    head = MLPHead((16,), max_epochs=3, random_state=0).fit(X, y)
    huge = np.full_like(X[:4], np.finfo(np.float32).max)  # finite inputs that overflow
    for method in (head.predict_proba, head.predict):
        with pytest.raises(NonFiniteError, match="non-finite probabilities for 4 of 4 samples"):
            method(huge)


def test_a_refit_that_diverges_leaves_the_head_unfitted(data):
    X, y = data
    head = MLPHead(lr=10.0, optimizer="sgd", max_epochs=30, random_state=0)
    head.set_params(lr=1e-3, max_epochs=1).fit(X, y)
    X_big, y_big = make_classification(n_samples=200, n_features=8, random_state=0)
    with pytest.raises(NonFiniteError):
        head.set_params(lr=10.0, max_epochs=30).fit(X_big * 100, y_big)
    with pytest.raises(NotFittedError):
        head.predict(X)


def test_weights_corrupted_after_fit_raise_at_predict(data):
    X, y = data
    head = MLPHead((8,), max_epochs=2, random_state=0).fit(X, y)
    with torch.no_grad():
        head.net_.module_.layers[0].weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="non-finite probabilities"):
        head.predict(X)


def test_weights_that_end_training_non_finite_are_refused(data):
    # A last step can overflow the weights with a finite loss; the end-of-training check sees it.
    X, y = data
    head = LinearHead(max_epochs=1, random_state=0).fit(X, y)
    with torch.no_grad():
        head.net_.module_.layers[0].bias[1] = float("inf")
    check = dict(head.net_.callbacks_)["stop_on_non_finite"]
    with pytest.raises(NonFiniteError, match=r"weights 'layers.0.bias' became non-finite"):
        check.on_train_end(head.net_)


@pytest.fixture
def ctrl_c_reaches_python():
    """SIGINT handled by Python and not blocked, as in a user's shell.

    Other tests of the same pytest-xdist worker start libraries (loky's process pools,
    Jupyter kernels) that may leave this process ignoring or blocking SIGINT; the
    Ctrl-C tests need the state a user's terminal gives.
    """
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    yield
    signal.signal(signal.SIGINT, handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class _InterruptAt(Callback):
    """Sends this process a real SIGINT (a user's Ctrl-C) at the end of one epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_during_fit_propagates_and_leaves_the_head_unfitted(data, ctrl_c_reaches_python):
    # skorch alone swallows the interrupt and returns a half-trained net as if fitted.
    X, y = data
    head = LinearHead(max_epochs=10, net_params={"callbacks": [("stop", _InterruptAt(2))]})
    with pytest.raises(KeyboardInterrupt, match=r"LinearHead.fit was interrupted in epoch 2"):
        head.fit(X, y)
    with pytest.raises(NotFittedError):
        head.predict(X)
    head.set_params(net_params=None, max_epochs=1).fit(X, y)  # an interrupted refit, too
    with pytest.raises(KeyboardInterrupt):
        head.set_params(net_params={"callbacks": [("stop", _InterruptAt(1))]}).fit(X, y)
    with pytest.raises(NotFittedError):
        head.predict(X)


@pytest.mark.parametrize("Head", [LinearHead, MLPHead])
def test_default_heads_pass_the_class_weight_check(Head):
    # A very noisy 2- and 3-blob problem of 50 training samples: defaults must converge.
    check_class_weight_classifiers(Head.__name__, Head(random_state=0))


def test_default_linear_head_fits_small_data_as_well_as_logistic_regression():
    X, y = make_classification(n_samples=100, n_features=10, random_state=0)
    reference = LogisticRegression().fit(X, y).score(X, y)
    assert LinearHead(random_state=0).fit(X, y).score(X, y) >= reference - 0.02


def test_early_stopping_auto_holds_out_only_a_usable_validation_set():
    X, y = make_classification(n_samples=600, n_features=8, random_state=0)
    small = LinearHead(max_epochs=3, random_state=0).fit(X[:300], y[:300])
    assert small.n_iter_ == 3 and "valid_loss" not in small.net_.history[-1]
    large = LinearHead(max_epochs=3, random_state=0).fit(X, y)
    assert "valid_loss" in large.net_.history[-1]


def test_early_stopping_true_with_too_few_samples_raises(data):
    X, y = data
    with pytest.raises(ValueError, match=r"early_stopping=True\) holds out .* of 2 samples"):
        LinearHead(early_stopping=True).fit(X[:2], [0, 1])


def test_batch_size_larger_than_the_data_trains_on_one_batch(data):
    X, y = data
    head = LinearHead(batch_size=1000, max_epochs=2, random_state=0).fit(X, y)
    assert [epoch["train_batch_count"] for epoch in head.net_.history] == [1, 1]


MIXED = r"y mixes label types: index 1 holds 'a' \(str\) but index 0 holds 1 \(int\)"
BAD_FITS = {
    "y_none": ({}, "y", ["a", "b", None] * 40, r"LinearHead: y has 40 missing labels"),
    "y_nan": ({}, "y", [0.0, 1.0, np.nan] * 40, r"y has 40 missing labels \(None or NaN\)"),
    "y_mixed": ({}, "y", [1, "a"] * 60, MIXED),
    "y_empty": ({}, "X", np.zeros((0, 8)), r"LinearHead: y is empty"),
    "X_nan": ({}, "X", np.full((120, 8), np.nan), "Input X contains NaN"),
    "X_inf": ({}, "X", np.full((120, 8), np.inf), "Input X contains infinity"),
    "X_3d": ({}, "X", np.zeros((120, 2, 4)), "Found array with dim 3"),
    "X_str": ({}, "X", np.full((120, 8), "a"), "could not convert string to float"),
    "class_weight_unknown": (
        {"class_weight": {0: 1, 7: 2}},
        None,
        None,
        r"class_weight names \[7\], which are not classes of y; the classes of y are \[0, 1\]",
    ),
    "class_weight_negative": (
        {"class_weight": {0: -1.0}},
        None,
        None,
        r"class_weight must be finite and non-negative; got \{0: -1.0\}",
    ),
    "class_weight_not_a_number": (
        {"class_weight": {0: "high"}},
        None,
        None,
        r"class_weight must be finite and non-negative; got \{0: 'high'\}",
    ),
    "net_params_optimizer_key": (
        {"net_params": {"optimizer__foo": 1}},
        None,
        None,
        r"net_params keys \['optimizer__foo'\]: .*unexpected keyword argument 'foo'",
    ),
    "net_params_criterion_key": (
        {"net_params": {"criterion__q": 0.5}},
        None,
        None,
        r"loss='cross_entropy'.*\['criterion__q'\]: .*unexpected keyword argument 'q'",
    ),
    "net_params_typo": (
        {"net_params": {"optimzer__weight_decay": 0.1}},
        None,
        None,
        r"\['optimzer__weight_decay'\]: .*unexpected argument\(s\) optimzer__weight_decay",
    ),
    "optimizer_not_a_torch_optimizer": (
        {"optimizer": dict},
        None,
        None,
        r"optimizer must be 'adam', 'adamw', 'sgd' or a torch.optim.Optimizer subclass",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FITS))
def test_bad_fit_inputs_raise_errors_naming_the_problem(case, data):
    params, which, value, match = BAD_FITS[case]
    X, y = data
    X = value if which == "X" else X
    y = value if which == "y" else y
    y = y[: len(X)] if not isinstance(y, list) else y
    head = LinearHead(max_epochs=1, random_state=0, **params)
    with pytest.raises(ValueError, match=match):
        head.fit(X, y)


@pytest.mark.parametrize("sizes", [(0,), (-3,), ("a",), (8.5,)])
def test_bad_hidden_layer_sizes_are_named(sizes, data):
    X, y = data
    with pytest.raises(ValueError, match=r"hidden_layer_sizes must be positive integers"):
        MLPHead(sizes, max_epochs=1).fit(X, y)


def test_predict_with_another_embedding_width_is_refused(data):
    X, y = data
    head = LinearHead(max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but LinearHead is expecting 8"):
        head.predict(X[:, :4])


def test_ctrl_c_whose_exception_was_swallowed_still_stops_training(
    data, monkeypatch, ctrl_c_reaches_python
):
    # A KeyboardInterrupt raised inside a finalizer is swallowed by Python; training must
    # still stop in the epoch the Ctrl-C came in, not run on to max_epochs.
    import skhisto.heads._interrupt as interrupt

    real = interrupt.record_sigint

    def swallowing():
        context = real()
        received = context.__enter__()
        handler = signal.getsignal(signal.SIGINT)

        def swallow(signum, frame):
            try:
                handler(signum, frame)
            except KeyboardInterrupt:
                pass

        signal.signal(signal.SIGINT, swallow)
        return _Exiting(context, received)

    monkeypatch.setattr(interrupt, "record_sigint", swallowing)
    import skhisto.heads._base as base

    monkeypatch.setattr(base, "record_sigint", swallowing)
    X, y = data
    head = LinearHead(max_epochs=10, net_params={"callbacks": [("stop", _InterruptAt(2))]})
    with pytest.raises(KeyboardInterrupt, match=r"interrupted in epoch 2"):
        head.fit(X, y)


class _Exiting:
    def __init__(self, context, received):
        self.context, self.received = context, received

    def __enter__(self):
        return self.received

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)
