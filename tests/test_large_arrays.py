"""Embedding stores downstream: heads, query strategies, k_center_greedy and ActiveLearner take
a read-only memmap, a Zarr or a Dask array, give the in-memory results, and copy no memmap whole."""

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

from skhisto import ActiveLearner, CoresetSampling, LinearHead, MLPHead, UncertaintySampling
from skhisto.active import k_center_greedy

zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=2000, n_features=16, n_informative=8, n_classes=3, random_state=0
    )
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def stores(data, tmp_path_factory):
    """The same embeddings as a read-only memmap, a Zarr array and a Dask array."""
    X, _ = data
    folder = tmp_path_factory.mktemp("stores")
    np.save(folder / "X.npy", X)
    memmap = np.load(folder / "X.npy", mmap_mode="r")
    array = zarr.create_array(str(folder / "X.zarr"), shape=X.shape, chunks=(512, 16), dtype="f4")
    array[:] = X
    return {"memmap": memmap, "zarr": array, "dask": da.from_zarr(array)}


KINDS = ["memmap", "zarr", "dask"]


@pytest.mark.parametrize("kind", KINDS)
def test_k_center_greedy_gives_the_in_memory_picks(data, stores, kind):
    X, _ = data
    expected = k_center_greedy(X, 20, random_state=0, device="cpu")
    np.testing.assert_array_equal(k_center_greedy(stores[kind], 20, random_state=0), expected)


@pytest.mark.slow  # two heads trained per store kind
@pytest.mark.parametrize("kind", KINDS)
def test_heads_and_strategies_give_the_in_memory_results(data, stores, kind):
    X, y = data
    labels = np.full(len(y), -1)
    labels[:100] = y[:100]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "non-writable array" warning from torch
        for head in (
            LinearHead(max_epochs=3, random_state=0),
            MLPHead(max_epochs=3, random_state=0),
        ):
            expected = head.fit(X, y).predict_proba(X)
            np.testing.assert_allclose(
                head.fit(stores[kind], y).predict_proba(stores[kind]), expected, rtol=1e-5
            )
        fitted = LinearHead(max_epochs=3, random_state=0).fit(X[:100], y[:100])
        for strategy in (UncertaintySampling(), CoresetSampling(random_state=0)):
            expected = strategy.query(X, labels, fitted, batch_size=10)
            np.testing.assert_array_equal(
                strategy.query(stores[kind], labels, fitted, batch_size=10), expected
            )


@pytest.mark.parametrize("kind", KINDS)
def test_active_learner_gives_the_in_memory_history(data, stores, kind):
    X, y = data

    def run(pool):
        learner = ActiveLearner(
            LinearHead(max_epochs=3, random_state=0),
            CoresetSampling(random_state=0),
            batch_size=20,
            n_rounds=2,
            random_state=0,
        )
        return learner.fit(pool, y, X_test=X[:200], y_test=y[:200]).history_

    expected = run(X)
    got = run(stores[kind])
    assert [h["n_labeled"] for h in got] == [h["n_labeled"] for h in expected]
    assert [h["score"] for h in got] == pytest.approx([h["score"] for h in expected])


def test_a_read_only_memmap_is_never_copied_whole(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "X.npy", rng.standard_normal((20_000, 64), dtype=np.float32))
    X = np.load(tmp_path / "X.npy", mmap_mode="r")  # 5 MB
    y = np.arange(len(X)) % 3
    tracemalloc.start()
    try:
        LinearHead(max_epochs=1, random_state=0).fit(X, y).predict_proba(X)
        k_center_greedy(X, 10, random_state=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2, (peak, X.nbytes)  # no whole copy (NumPy allocations traced)
    assert not X.flags.writeable and np.isfinite(X[:5]).all()  # the store itself untouched
