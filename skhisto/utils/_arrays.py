"""Array-likes from embedding stores, turned into NumPy once at the entry points that keep them."""

import numpy as np

#: Top-level packages of lazy, chunked arrays that read their chunks again on every access.
_LAZY_ARRAY_PACKAGES = frozenset({"zarr", "dask"})


def materialize(X):
    """``X`` as one in-memory NumPy array when it is a Zarr or Dask array, else ``X`` itself.

    A Zarr or Dask array read again at every round of a loop would be read (or
    computed) again each time; read once, it is the one working copy. NumPy
    arrays, memmaps included, and other inputs (image paths, DataFrames) pass
    through untouched.
    """
    if type(X).__module__.split(".")[0] in _LAZY_ARRAY_PACKAGES:
        return np.asarray(X)
    return X
