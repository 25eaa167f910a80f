"""One neighbour engine: exact blocked search, or an IVF index (FAISS) for large sets.

Every neighbour search of skhisto (k-NN label votes and singletons, the
audit's duplicates, leakage and outliers, TypiClust's density) goes through
:func:`nearest_neighbors`.

- ``"exact"``: brute force in torch, one block of queries against every row
  at a time (``block_bytes`` of scores), on the GPU when there is one.
- ``"faiss"``: an inverted-file index (IVF-Flat). FAISS trains ``nlist =
  sqrt(n)`` cells by k-means (spherical for cosine) on a sample of at most
  64 rows per cell and puts every row in its nearest cell. The queries of
  one cell are then scored together, as one matrix product, against every
  row of the ``nprobe = 16`` cells nearest that cell (the cell itself
  included); the scores within those cells are exact. This is IVF-Flat's
  search with the queries of a cell batched, so it runs at matrix-product
  speed (and on the GPU when there is one) rather than one query at a time.
  A query left with fewer than ``n_neighbors`` candidates (a small cell,
  or groups masking most of them) is answered by the exact search.
- ``"auto"``: exact while ``n_queries * n_samples`` is at most
  ``EXACT_MAX_PAIRS`` (50,000 squared), the index above when FAISS is
  installed (``pip install 'skhisto[neighbors]'``), else exact with a
  one-time note.
"""

from numbers import Integral

import numpy as np

from ._constraints import DEVICE
from ._sklearn_compat import Interval, StrOptions, validate_params

#: n_queries * n_samples above which ``method="auto"`` builds the approximate index.
EXACT_MAX_PAIRS = 50_000**2
#: Dimensions of the PCA projection the index searches in (wider rows are projected).
PCA_COMPONENTS = 256
#: The index has CELLS_PER_ROOT * sqrt(n_samples) cells.
CELLS_PER_ROOT = 1
#: Cells of the index scanned for each query's cell.
NPROBE = 16
# Bytes of one block of scores.
_BLOCK_BYTES = 256 * 2**20
# Inputs above this many bytes are standardized block by block (memmap, Zarr).
_IN_MEMORY_BYTES = 2**30
# k-means trains on at most this many rows per cell.
_TRAIN_PER_CELL = 64
_NOTED = set()


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            'nearest_neighbors(method="faiss") needs faiss; install it with '
            "`pip install 'skhisto[neighbors]'` (faiss-cpu)."
        ) from exc
    return faiss


@validate_params(
    {
        "X": ["array-like"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"cosine", "euclidean", "dot"})],
        "standardize": ["boolean"],
        "queries": ["array-like", None],
        "groups": ["array-like", None],
        "method": [StrOptions({"auto", "exact", "faiss"})],
        "device": DEVICE,
        "block_bytes": [Interval(Integral, 1, None, closed="left")],
        "nprobe": [Interval(Integral, 1, None, closed="left")],
        "verbose": [StrOptions({"auto"}), "boolean"],
    },
    prefer_skip_nested_validation=True,
)
def nearest_neighbors(
    X,
    n_neighbors,
    *,
    metric="cosine",
    standardize=True,
    queries=None,
    groups=None,
    method="auto",
    device="auto",
    block_bytes=_BLOCK_BYTES,
    nprobe=NPROBE,
    verbose="auto",
):
    """Each query row's nearest other rows of ``X``, nearest first.

    A row is never its own neighbor (its exact duplicates are).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings: an array, a ``np.memmap`` or a Zarr array (large ones
        are read block by block).
    n_neighbors : int
        Neighbors per query.
    metric : {"cosine", "euclidean", "dot"}, default="cosine"
        ``"cosine"``: cosine similarity (after standardizing the columns
        when ``standardize``); ``"euclidean"``: euclidean distance;
        ``"dot"``: the inner product of the rows as given (already
        normalized ones: cosine without a copy).
    standardize : bool, default=True
        Standardize the columns first (``"cosine"`` only), so a few
        high-variance dimensions do not decide every distance.
    queries : array-like of int, default=None
        The rows whose neighbors are wanted (among all of ``X``); None:
        every row.
    groups : array-like of shape (n_samples,), default=None
        The group of each row (patient, slide): neighbors come from other
        groups only.
    method : {"auto", "exact", "faiss"}, default="auto"
        See the module notes: ``"exact"`` blocked brute force;
        ``"faiss"`` the IVF index (cosine and dot on normalized rows:
        spherical cells); ``"auto"`` exact up to ``EXACT_MAX_PAIRS``
        query-row pairs.
    device : str or torch.device, default="auto"
        Where the scores are computed (a GPU when there is one).
    block_bytes : int, default=256 MiB
        Bytes of one block of scores.
    nprobe : int, default=16
        Index cells scanned for each query's cell (``"faiss"``).
    verbose : "auto" or bool, default="auto"
        Progress bar.

    Returns
    -------
    indices : ndarray of shape (n_queries, n_neighbors), int64
    values : ndarray of shape (n_queries, n_neighbors), float64
        Similarities in [-1, 1] (``"cosine"``, ``"dot"``: largest first)
        or distances (``"euclidean"``: smallest first).

    Raises
    ------
    ValueError
        When some query has fewer than ``n_neighbors`` possible neighbors.
    ImportError
        ``method="faiss"`` without faiss installed.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.utils import nearest_neighbors
    >>> X = np.array([[0.0, 1.0], [0.1, 1.0], [1.0, 0.0], [1.0, 0.1]])
    >>> indices, distances = nearest_neighbors(X, 1, metric="euclidean", standardize=False)
    >>> indices.ravel().tolist()
    [1, 0, 3, 2]
    >>> nearest_neighbors(X, 2, groups=[0, 0, 1, 1])[0].tolist()
    [[2, 3], [3, 2], [0, 1], [1, 0]]
    """
    n = len(X)
    rows = np.arange(n) if queries is None else np.asarray(queries, dtype=np.int64).ravel()
    codes = None
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} values for the {n} rows of X.")
        codes = np.unique(groups.astype(str), return_inverse=True)[1].ravel().astype(np.int64)
    _check_available(n, n_neighbors, rows, codes)
    method = _resolve_method(method, len(rows), n)
    if method == "faiss":
        faiss = _import_faiss()
        return _ivf(
            faiss, X, n_neighbors, metric, standardize, rows, codes, device, block_bytes, nprobe,
            verbose,
        )  # fmt: skip
    Z = _prepared(X, metric, standardize, block_bytes)
    return _exact(Z, n_neighbors, metric, rows, codes, device, block_bytes, verbose)


def _check_available(n, k, rows, codes):
    if codes is None:
        if k >= n:
            raise ValueError(
                f"n_neighbors={k} needs more than {k} samples (a row is never its own "
                f"neighbor); X has {n}. Pass a smaller n_neighbors."
            )
        return
    sizes = np.bincount(codes)
    fewest = n - int(sizes[codes[rows]].max()) if len(rows) else n
    if k > fewest:
        raise ValueError(
            f"With groups, each row's {k} neighbors come from other groups, but some row's "
            f"group leaves only {fewest} rows outside it; pass a smaller n_neighbors or more "
            "groups."
        )


def _resolve_method(method, n_queries, n):
    if method != "auto":
        return method
    if n_queries * n <= EXACT_MAX_PAIRS:
        return "exact"
    try:
        _import_faiss()
    except ImportError:
        if "faiss" not in _NOTED:
            _NOTED.add("faiss")
            from ._warnings import warn

            warn(
                f"Searching the neighbors of {n_queries:,} rows among {n:,} exactly (quadratic "
                "time); the approximate index needs faiss: `pip install 'skhisto[neighbors]'`."
            )
        return "exact"
    return "faiss"


def _prepared(X, metric, standardize, block_bytes):
    """The rows as searched: float32 (float64 kept for euclidean), standardized, normalized."""
    from sklearn.preprocessing import StandardScaler, normalize

    n, d = X.shape
    in_memory = isinstance(X, np.ndarray) and not isinstance(X, np.memmap)
    if in_memory or n * d * 4 <= _IN_MEMORY_BYTES:
        if metric == "cosine":
            if standardize:  # the label check's historic preparation, bit for bit
                X = StandardScaler().fit_transform(X)
            return normalize(X, copy=False).astype(np.float32, copy=False)
        X = np.asarray(X)
        if metric == "dot":
            return np.ascontiguousarray(X, dtype=np.float32)
        return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    return _prepared_blocks(X, metric, standardize, block_bytes)


def _prepared_blocks(X, metric, standardize, block_bytes):
    """``_prepared`` reading ``X`` (a memmap, a Zarr array) one block of rows at a time."""
    from sklearn.preprocessing import StandardScaler, normalize

    n, d = X.shape
    step = max(1, block_bytes // (8 * d * 4))
    scaler = None
    if metric == "cosine" and standardize:
        scaler = StandardScaler()
        for start in range(0, n, step):
            scaler.partial_fit(np.asarray(X[start : start + step], dtype=np.float64))
    Z = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, step):
        block = np.asarray(X[start : start + step], dtype=np.float32)
        if scaler is not None:
            block = scaler.transform(block)
        if metric == "cosine":
            block = normalize(block, copy=False)
        Z[start : start + len(block)] = block
    return Z


def _score(queries, Z, metric):
    """Scores of each query against each row, larger better (negative euclidean distance)."""
    import torch

    if metric == "euclidean":
        return -torch.cdist(queries, Z, compute_mode="donot_use_mm_for_euclid_dist")
    return queries @ Z.T


def _values(top, metric):
    if metric == "euclidean":
        return (-top).cpu().numpy().astype(np.float64)
    return top.clamp(-1, 1).cpu().numpy().astype(np.float64)


def _exact(Z, k, metric, rows, codes, device, block_bytes, verbose):
    import torch

    from ._batching import progress
    from ._device import resolve_device

    device = resolve_device(device)
    n = len(Z)
    step = max(1, block_bytes // (Z.dtype.itemsize * n))
    indices = np.empty((len(rows), k), dtype=np.int64)
    values = np.empty((len(rows), k), dtype=np.float64)
    with torch.inference_mode():
        Zt = torch.from_numpy(np.ascontiguousarray(Z)).to(device)
        group = None if codes is None else torch.from_numpy(codes).to(device)
        starts = range(0, len(rows), step)
        for start in progress(starts, total=len(starts), desc="neighbors", verbose=verbose):
            block_rows = torch.from_numpy(rows[start : start + step]).to(device)
            block = _score(Zt[block_rows], Zt, metric)
            block[torch.arange(len(block), device=device), block_rows] = -torch.inf
            if group is not None:
                block.masked_fill_(group[block_rows][:, None] == group[None, :], -torch.inf)
            top = block.topk(k, dim=1)
            indices[start : start + step] = top.indices.cpu().numpy()
            values[start : start + step] = _values(top.values, metric)
    return indices, values


def _moments(X, block_bytes):
    """Column means and standard deviations (zero: one), read one block of rows at a time."""
    n, d = X.shape
    step = max(1, block_bytes // (8 * d * 2))
    shift = np.asarray(X[:1], dtype=np.float32)
    total, squares = np.zeros(d), np.zeros(d)
    for start in range(0, n, step):
        block = np.asarray(X[start : start + step], dtype=np.float32) - shift
        total += block.sum(axis=0, dtype=np.float64)
        block *= block
        squares += block.sum(axis=0, dtype=np.float64)
    mean = total / n
    scale = np.sqrt(np.maximum(squares / n - mean**2, 0))
    scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
    return (mean + shift[0]).astype(np.float32), scale.astype(np.float32)


def _rows(X, index, moments, metric, projection=None):
    """Rows ``index`` (a slice or sorted ints) of ``X`` as the index stores them."""
    block = np.asarray(X[index], dtype=np.float32)
    if moments is not None:
        block = (block - moments[0]) / moments[1]
    if metric != "euclidean":
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
    if projection is not None:
        block = block @ projection
        if metric != "euclidean":
            block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(block, dtype=np.float32)


def _ivf(faiss, X, k, metric, standardize, rows, codes, device, block_bytes, nprobe, verbose):
    """IVF-Flat search in a PCA projection, the queries of a cell together (module notes)."""
    import torch

    from ._batching import progress
    from ._device import resolve_device

    n, d = X.shape
    moments = _moments(X, block_bytes) if metric == "cosine" and standardize else None
    nlist = n_cells(n)
    nprobe = min(nprobe, nlist)
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(n, min(n, _TRAIN_PER_CELL * nlist), replace=False))
    train = _rows(X, sample, moments, metric)
    projection = None
    if d > PCA_COMPONENTS:  # the top right singular vectors of the training rows
        moment = torch.from_numpy(train.T @ train)
        projection = torch.linalg.eigh(moment)[1][:, -PCA_COMPONENTS:].flip(1)
        projection = np.ascontiguousarray(projection.numpy())
        train = _rows(train, slice(None), None, metric, projection)
    kmeans = faiss.Kmeans(
        train.shape[1], nlist, niter=10, seed=0, spherical=metric != "euclidean",
        verbose=False, max_points_per_centroid=_TRAIN_PER_CELL, gpu=_faiss_gpus(faiss, device),
    )  # fmt: skip
    kmeans.train(train)
    del train
    quantizer = (
        faiss.IndexFlatL2(kmeans.d) if metric == "euclidean" else faiss.IndexFlatIP(kmeans.d)
    )
    quantizer.add(kmeans.centroids)
    Z = np.empty((n, kmeans.d), dtype=np.float32)
    cell = np.empty(n, dtype=np.int64)
    step = max(1, block_bytes // (8 * d * 2))
    starts = range(0, n, step)
    for start in progress(starts, total=len(starts), desc="neighbors (index)", verbose=verbose):
        here = slice(start, min(start + step, n))
        Z[here] = _rows(X, here, moments, metric, projection)
        cell[here] = quantizer.search(Z[here], 1)[1][:, 0]
    probes = quantizer.search(kmeans.centroids, nprobe)[1]
    members = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[members], np.arange(nlist + 1))
    query_cell = cell[rows]
    order = np.argsort(query_cell, kind="stable")
    query_bounds = np.searchsorted(query_cell[order], np.arange(nlist + 1))

    device = resolve_device(device)
    indices = np.empty((len(rows), k), dtype=np.int64)
    values = np.empty((len(rows), k), dtype=np.float64)
    short = []
    with torch.inference_mode():
        group = None if codes is None else torch.from_numpy(codes).to(device)
        busy = np.flatnonzero(np.diff(query_bounds))
        for c in progress(busy, total=len(busy), desc="neighbors (ivf)", verbose=verbose):
            asked = order[query_bounds[c] : query_bounds[c + 1]]
            probed = [p for p in probes[c] if p >= 0]
            candidates = np.concatenate([members[bounds[p] : bounds[p + 1]] for p in probed])
            if len(candidates) <= k:
                short.append(asked)
                continue
            cand = torch.from_numpy(candidates).to(device)
            Zc = torch.from_numpy(Z[candidates]).to(device)
            own = _own_positions(c, probed, members, bounds, rows[asked])
            chunk = max(1, block_bytes // (4 * len(candidates)))
            for start in range(0, len(asked), chunk):
                part = asked[start : start + chunk]
                q = torch.from_numpy(rows[part]).to(device)
                block = _score(torch.from_numpy(Z[rows[part]]).to(device), Zc, metric)
                if own is not None:  # a row is never its own neighbour
                    at = torch.from_numpy(own[start : start + chunk]).to(device)
                    block[torch.arange(len(part), device=device), at] = -torch.inf
                if group is not None:
                    block.masked_fill_(group[q][:, None] == group[cand][None, :], -torch.inf)
                top = block.topk(k, dim=1)
                indices[part] = candidates[top.indices.cpu().numpy()]
                values[part] = _values(top.values, metric)
                few = ~torch.isfinite(top.values[:, -1]).cpu().numpy()
                if few.any():
                    short.append(part[few])
    if short:  # too few candidates in the probed cells: these rows are searched exactly
        redo = np.concatenate(short)
        found = _exact(Z, k, metric, rows[redo], codes, device, block_bytes, verbose)
        indices[redo], values[redo] = found
    return indices, values


def _own_positions(cell, probed, members, bounds, queries):
    """Where each of ``queries`` (rows of ``cell``) sits among the probed cells' rows, or
    None when ``cell`` is not probed.

    Each cell's members are in ascending order, so a query's place in its own
    cell is one binary search: masking it costs one entry a query, not a
    comparison with every candidate.
    """
    if cell not in probed:
        return None
    offset = sum(bounds[p + 1] - bounds[p] for p in probed[: probed.index(cell)])
    return offset + np.searchsorted(members[bounds[cell] : bounds[cell + 1]], queries)


def n_cells(n):
    """Cells of the index over ``n`` rows: ``CELLS_PER_ROOT * sqrt(n)``, at least 8 rows each."""
    return int(max(1, min(round(CELLS_PER_ROOT * np.sqrt(n)), n // 8)))


def _faiss_gpus(faiss, device):
    """Whether FAISS should train on the GPU: a GPU build, and a CUDA device asked."""
    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
        return False
    return str(device) in ("auto", "cuda") or str(device).startswith("cuda")
