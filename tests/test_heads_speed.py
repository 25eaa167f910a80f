"""Heads at the bare-loop limit: the plain loop equals skorch's, and the thread policy."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import cross_validate
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_info

from skhisto import LinearHead, MLPHead
from skhisto.heads import _base
from skhisto.utils import _threads


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=150, n_features=12, n_informative=6, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


def _skorch_loop(params):
    """The same head on skorch's loop (the code path before the plain loop): a callbacks entry."""
    net_params = dict(params.get("net_params") or {}, callbacks=[])
    return {**params, "net_params": net_params}


CASES = [
    (MLPHead, {}),
    (MLPHead, {"augment_sigma": 0.4, "batch_size": 7}),  # noise draws between the seeds
    (LinearHead, {"class_weight": "balanced", "loss": "gce"}),
    (MLPHead, {"optimizer": "sgd", "net_params": {"optimizer__momentum": 0.9}}),
    (LinearHead, {"optimizer": "adamw", "batch_size": 150}),
]


@pytest.mark.parametrize(("Head", "params"), CASES)
def test_plain_loop_gives_skorchs_weights_predictions_and_history(Head, params, data):
    X, y = data
    params = {"max_epochs": 4, "early_stopping": False, "random_state": 3, **params}
    plain = Head(**params)
    assert plain._uses_plain_loop(None)
    plain.fit(X, y)
    skorch = Head(**_skorch_loop(params))
    assert not skorch._uses_plain_loop(None)
    skorch.fit(X, y)
    for (name, a), (_, b) in zip(
        plain.net_.module_.named_parameters(), skorch.net_.module_.named_parameters(), strict=True
    ):
        assert torch.equal(a, b), name
    np.testing.assert_array_equal(plain.predict_proba(X), skorch.predict_proba(X))
    np.testing.assert_array_equal(plain.net_.predict_proba(X), skorch.net_.predict_proba(X))
    assert plain.n_iter_ == skorch.n_iter_ == 4
    for ours, theirs in zip(plain.net_.history, skorch.net_.history, strict=True):
        assert ours["epoch"] == theirs["epoch"]
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-12)
        assert [b["train_batch_size"] for b in ours["batches"]] == [
            b["train_batch_size"] for b in theirs["batches"]
        ]
        assert [b["train_loss"] for b in ours["batches"]] == [
            b["train_loss"] for b in theirs["batches"]
        ]


def test_plain_loop_equals_a_bare_torch_loop_with_the_same_init(data):
    # The plain loop is a bare loop: its own weights from the same seed draws give the same model.
    X, y = data
    head = LinearHead(max_epochs=3, batch_size=32, early_stopping=False, random_state=0)
    head.fit(X, y)
    net = head.net_
    with _base.seeded_torch(_base.torch_seed(0)):
        net.initialize()
        net.initialize()  # skorch's fit initializes again; the plain loop does the same
        module, optimizer = net.module_, net.optimizer_
        for _ in range(3):
            torch.empty((), dtype=torch.int64).random_()
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
            for i in range(0, len(y), 32):
                index = order[i : i + 32]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(
                    module(torch.from_numpy(X)[index]), torch.from_numpy(y)[index]
                )
                loss.backward()
                optimizer.step()
    refit = LinearHead(max_epochs=3, batch_size=32, early_stopping=False, random_state=0)
    refit.fit(X, y)
    for a, b in zip(refit.net_.module_.parameters(), module.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_validation_verbose_and_callbacks_keep_skorchs_loop(data):
    X, y = data
    assert not MLPHead(verbose=1)._uses_plain_loop(None)
    assert not MLPHead(optimizer=torch.optim.Adam)._uses_plain_loop(None)
    assert not MLPHead(net_params={"iterator_train__num_workers": 0})._uses_plain_loop(None)
    head = MLPHead(max_epochs=3, early_stopping=True, patience=1, random_state=0)
    assert not head._uses_plain_loop(lambda *a: a)  # a validation split
    assert head.fit(X, y).n_iter_ >= 1


def test_memmap_rows_train_and_predict_without_a_copy_warning(data, tmp_path, recwarn):
    X, y = data
    path = tmp_path / "X.npy"
    np.save(path, X)
    X_map = np.load(path, mmap_mode="r")
    head = LinearHead(max_epochs=2, early_stopping=False, random_state=0)
    proba = head.fit(X_map, y).predict_proba(X_map)
    np.testing.assert_array_equal(proba, clone(head).fit(X, y).predict_proba(X))
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def _recording(monkeypatch, function="_train_plain"):
    """Record torch's and threadpoolctl's thread counts while ``function`` runs."""
    seen = []
    original = getattr(_base, function)

    def spy(*args, **kwargs):
        seen.append((torch.get_num_threads(), {info["num_threads"] for info in threadpool_info()}))
        return original(*args, **kwargs)

    monkeypatch.setattr(_base, function, spy)
    return seen


def test_n_threads_is_applied_during_fit_and_predict_and_restored(data, monkeypatch):
    X, y = data
    before = torch.get_num_threads()
    pools_before = [info["num_threads"] for info in threadpool_info()]
    fits, predictions = _recording(monkeypatch), _recording(monkeypatch, "_predict_plain")
    head = MLPHead(max_epochs=2, n_threads=1, random_state=0).fit(X, y)
    head.predict(X)
    assert fits == [(1, {1})] and predictions == [(1, {1})]
    assert head.n_threads_ == 1
    assert torch.get_num_threads() == before
    assert [info["num_threads"] for info in threadpool_info()] == pools_before


def test_n_threads_is_restored_when_fit_fails(data, monkeypatch):
    X, y = data
    before = torch.get_num_threads()

    def boom(*args, **kwargs):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")

    monkeypatch.setattr(_base, "_train_plain", boom)
    with pytest.raises(RuntimeError, match="boom"):
        MLPHead(max_epochs=2, n_threads=1).fit(X, y)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("cpus", "busy", "torch_threads", "expected"),
    [(4, 0, 4, 4), (4, 3, 4, 1), (4, 2, 4, 2), (4, 9, 4, 1), (8, 1, 2, 2), (2, 1.5, 2, 1)],
)
def test_auto_takes_the_free_cores_up_to_torchs_count(
    monkeypatch, cpus, busy, torch_threads, expected
):
    monkeypatch.setattr(_threads, "cpu_count", lambda: cpus)
    monkeypatch.setattr(_threads, "busy_cpus", lambda: busy)
    before = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        assert _threads.thread_budget("auto") == expected
        assert _threads.thread_budget(3) == 3
        assert _threads.thread_budget(None) == torch_threads
    finally:
        torch.set_num_threads(before)


def test_auto_fit_uses_the_budget(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(_threads, "busy_cpus", lambda: _threads.cpu_count())  # all cores busy
    seen = _recording(monkeypatch)
    head = MLPHead(max_epochs=1, random_state=0).fit(X, y)
    assert head.n_threads == "auto" and head.n_threads_ == 1 and seen[0][0] == 1


def test_busy_cpus_and_cpu_count_read_this_machine():
    assert 1 <= _threads.cpu_count() <= (__import__("os").cpu_count() or 1)
    assert _threads.busy_cpus() >= 0


def test_n_jobs_workers_get_a_share_of_the_cores(data):
    # joblib gives each of n_jobs workers cpu_count // n_jobs threads; "auto" stays within it.
    X, y = data
    head = MLPHead(max_epochs=2, random_state=0)
    result = cross_validate(head, X, y, cv=2, n_jobs=2, return_estimator=True)
    share = max(_threads.cpu_count() // 2, 1)
    assert all(1 <= fitted.n_threads_ <= share for fitted in result["estimator"])


def test_n_threads_is_a_parameter(data):
    head = MLPHead(n_threads=2)
    assert head.get_params()["n_threads"] == 2 and clone(head).n_threads == 2
    assert LinearHead().get_params()["n_threads"] == "auto"
    X, y = data
    for bad in (0, "many", 1.5):
        with pytest.raises(InvalidParameterError, match="n_threads"):
            LinearHead(n_threads=bad, max_epochs=1).fit(X, y)
    assert LinearHead(n_threads=None, max_epochs=1).fit(X, y).n_threads_ >= 1
