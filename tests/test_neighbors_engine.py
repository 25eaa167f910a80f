"""The one neighbour engine: exact results as before, the IVF index's recall, groups, inputs."""

import builtins
import sys

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler, normalize

from skhisto.utils import nearest_neighbors

pytest.importorskip("faiss")


def _clustered(n=3000, d=64, rank=16, n_clusters=8, seed=0):
    """Clusters on a low-rank subspace plus a little isotropic noise (embedding-like)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_clusters, rank)) * 3
    latent = centers[rng.integers(n_clusters, size=n)] + rng.standard_normal((n, rank))
    W = rng.standard_normal((rank, d)) / np.sqrt(rank)
    return (latent @ W + 0.1 * rng.standard_normal((n, d))).astype(np.float32)


def _historic(X, k, rows=None, groups=None, block_bytes=256 * 2**20):
    """The label check's search before the engine (skhisto 0.x ``cleaning._neighbors.nearest``)."""
    Z = normalize(StandardScaler().fit_transform(X), copy=False).astype(np.float32, copy=False)
    n = len(Z)
    queries = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    step = max(1, block_bytes // (4 * n))
    indices = np.empty((len(queries), k), dtype=np.int64)
    similarity = np.empty((len(queries), k), dtype=np.float64)
    with torch.inference_mode():
        Zt = torch.from_numpy(Z)
        group = None if groups is None else torch.from_numpy(np.asarray(groups))
        for start in range(0, len(queries), step):
            block_rows = torch.from_numpy(queries[start : start + step])
            block = Zt[block_rows] @ Zt.T
            block[torch.arange(len(block)), block_rows] = -torch.inf
            if group is not None:
                block.masked_fill_(group[block_rows][:, None] == group[None, :], -torch.inf)
            top = block.topk(k, dim=1)
            indices[start : start + step] = top.indices.numpy()
            similarity[start : start + step] = top.values.clamp(-1, 1).numpy()
    return indices, similarity


@pytest.mark.parametrize("block_bytes", [256 * 2**20, 4096 * 40])
def test_exact_path_equals_the_historic_search_bit_for_bit(block_bytes):
    X = _clustered(2000, 48)
    X[7] = X[8]  # an exact duplicate: a neighbor like any other
    groups = np.random.default_rng(1).integers(6, size=len(X))
    rows = np.arange(3, 2000, 11)
    for kwargs in ({}, {"rows": rows}, {"groups": groups}, {"rows": rows, "groups": groups}):
        expected = _historic(X, 12, block_bytes=block_bytes, **kwargs)
        found = nearest_neighbors(
            X, 12, queries=kwargs.get("rows"), groups=kwargs.get("groups"), method="exact",
            device="cpu", block_bytes=block_bytes, verbose=False,
        )  # fmt: skip
        np.testing.assert_array_equal(found[0], expected[0])
        np.testing.assert_array_equal(found[1], expected[1])


def test_the_label_check_search_is_the_engine_exactly():
    from skhisto.cleaning._neighbors import nearest

    X = _clustered(1500, 32).astype(np.float64)
    expected = _historic(X, 9)
    np.testing.assert_array_equal(nearest(X, 9, "cpu")[0], expected[0])
    np.testing.assert_array_equal(nearest(X, 9, "cpu")[1], expected[1])


def _recall(found, exact):
    return np.mean(
        [len(set(a) & set(b)) / exact.shape[1] for a, b in zip(found, exact, strict=True)]
    )


def test_faiss_path_recall_at_10_on_clustered_data():
    X = _clustered(20_000, 64)
    exact = nearest_neighbors(X, 10, method="exact", verbose=False)[0]
    approximate, similarity = nearest_neighbors(X, 10, method="faiss", verbose=False)
    assert _recall(approximate, exact) >= 0.95
    assert (np.diff(similarity, axis=1) <= 1e-6).all()  # nearest first
    assert (approximate != np.arange(len(X))[:, None]).all()  # never itself


def test_faiss_path_masks_only_the_row_itself_whatever_the_queries():
    X = _clustered(4_000, 32)
    X[1:3] = X[0]  # exact copies of row 0 are its neighbours; row 0 itself is not
    queries = np.array([2, 0, 3_999, 17, 1])  # unsorted, spanning cells
    indices, similarity = nearest_neighbors(X, 5, queries=queries, method="faiss", verbose=False)
    assert (indices != queries[:, None]).all()
    for row, found in zip(queries[[0, 1, 4]], indices[[0, 1, 4]], strict=True):
        assert set(found[:2]) == {0, 1, 2} - {row}
    assert np.allclose(similarity[[0, 1, 4], :2], 1, atol=1e-5)
    full = nearest_neighbors(X, 5, method="faiss", verbose=False)[0]
    assert np.array_equal(full[queries], indices)  # the same answer asked alone or with all


def test_wide_rows_are_searched_in_a_projection_with_high_recall():
    X = _clustered(8_000, 1024, rank=24)
    exact = nearest_neighbors(X, 10, method="exact", verbose=False)[0]
    assert _recall(nearest_neighbors(X, 10, method="faiss", verbose=False)[0], exact) >= 0.95


@pytest.mark.parametrize("method", ["exact", "faiss"])
def test_groups_are_never_neighbors(method):
    X = _clustered(6000, 32)
    groups = np.random.default_rng(2).integers(40, size=len(X))
    indices, _ = nearest_neighbors(X, 15, groups=groups, method=method, verbose=False)
    assert (groups[indices] != groups[:, None]).all()
    # A group holding nearly everything: its rows have few candidates, re-searched exactly.
    few = np.where(np.arange(len(X)) < 5950, 0, np.arange(len(X)) % 7 + 1)
    indices, _ = nearest_neighbors(X, 20, groups=few, method=method, verbose=False)
    assert (few[indices] != few[:, None]).all()


@pytest.mark.parametrize("method", ["exact", "faiss"])
def test_memmap_input(tmp_path, method, monkeypatch):
    X = _clustered(4000, 40)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    expected = nearest_neighbors(X, 10, method=method, verbose=False)
    found = nearest_neighbors(mapped, 10, method=method, verbose=False)
    np.testing.assert_array_equal(found[0], expected[0])
    # Large inputs are standardized one block at a time: the same neighbors.
    monkeypatch.setattr("skhisto.utils._neighbors._IN_MEMORY_BYTES", 0)
    blocked = nearest_neighbors(mapped, 10, method=method, block_bytes=2**16, verbose=False)
    assert _recall(blocked[0], expected[0]) >= 0.99


def test_too_many_neighbors_is_a_clear_error():
    X = _clustered(50, 8)
    with pytest.raises(ValueError, match="n_neighbors=50 needs more than 50 samples"):
        nearest_neighbors(X, 50)
    with pytest.raises(ValueError, match="leaves only 10 rows outside it"):
        nearest_neighbors(X, 11, groups=[0] * 40 + [1] * 10)


def test_faiss_missing_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "faiss", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_faiss)
    X = _clustered(200, 8)
    with pytest.raises(ImportError, match=r"pip install 'skhisto\[neighbors\]'"):
        nearest_neighbors(X, 5, method="faiss")
    # "auto" above the threshold falls back to the exact search, with a note.
    monkeypatch.setattr("skhisto.utils._neighbors.EXACT_MAX_PAIRS", 100)
    monkeypatch.setattr("skhisto.utils._neighbors._NOTED", set())
    with pytest.warns(UserWarning, match="skhisto\\[neighbors\\]"):
        found = nearest_neighbors(X, 5, verbose=False)
    np.testing.assert_array_equal(found[0], nearest_neighbors(X, 5, method="exact")[0])


def test_euclidean_matches_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    X = _clustered(500, 6).astype(np.float64)
    expected, _ = NearestNeighbors(n_neighbors=6).fit(X).kneighbors(X)
    _, found = nearest_neighbors(X, 5, metric="euclidean", standardize=False, verbose=False)
    np.testing.assert_allclose(found, expected[:, 1:], rtol=1e-12, atol=1e-12)
