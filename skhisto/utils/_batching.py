"""Batching and progress shared by every torch-backed estimator."""

import sys

from tqdm.auto import tqdm

#: Runs longer than this many batches show a progress bar when ``verbose="auto"``.
PROGRESS_MIN_BATCHES = 20


def progress(iterable, *, total=None, desc=None, verbose="auto"):
    """Wrap ``iterable`` in a tqdm bar when the run is long enough to need one.

    Parameters
    ----------
    iterable : iterable
    total : int, optional
        Number of items (batches) expected.
    desc : str, optional
        Label shown before the bar.
    verbose : {"auto"} or bool, default="auto"
        ``"auto"`` shows the bar for runs of at least ``PROGRESS_MIN_BATCHES``
        batches; ``True``/``False`` force it on or off.

    Examples
    --------
    >>> from skhisto.utils import progress
    >>> sum(progress(range(3), total=3, desc="demo", verbose=False))
    3
    """
    if verbose == "auto":
        disable = total is not None and total < PROGRESS_MIN_BATCHES
    else:
        disable = not verbose
    return tqdm(iterable, total=total, desc=desc, disable=disable, leave=False, file=sys.stderr)


def iter_slices(n, batch_size):
    """Yield consecutive ``slice`` objects covering ``range(n)``.

    Examples
    --------
    >>> from skhisto.utils import iter_slices
    >>> list(iter_slices(5, 2))
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def to_device(tensor, device):
    """Copy a CPU tensor to ``device``, through pinned memory on CUDA.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import to_device
    >>> to_device(torch.ones(2), torch.device("cpu")).device
    device(type='cpu')
    """
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def iter_array_batches(array, batch_size, device):
    """Yield ``torch`` batches of a numpy array on ``device`` without copying it whole.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skhisto.utils import iter_array_batches
    >>> batches = iter_array_batches(np.arange(5), 2, torch.device("cpu"))
    >>> [batch.tolist() for batch in batches]
    [[0, 1], [2, 3], [4]]
    """
    import torch  # here, so that the numpy-only helpers above import without torch

    for batch in iter_slices(len(array), batch_size):
        yield to_device(torch.from_numpy(array[batch]), device)


def n_batches(n, batch_size):
    """Number of batches of ``batch_size`` needed for ``n`` items.

    Examples
    --------
    >>> from skhisto.utils import n_batches
    >>> n_batches(10, 4), n_batches(8, 4)
    (3, 2)
    """
    return -(-n // batch_size)
