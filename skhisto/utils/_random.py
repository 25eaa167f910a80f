"""Seeding torch from scikit-learn style ``random_state`` values."""

from contextlib import contextmanager
from numbers import Integral

import numpy as np
import torch
from sklearn.utils import check_random_state

from ._constraints import DEVICE
from ._sklearn_compat import Interval, validate_params

_MAX_SEED = np.iinfo(np.int32).max


@validate_params({"random_state": ["random_state"]}, prefer_skip_nested_validation=True)
def torch_seed(random_state):
    """Draw a torch seed from ``random_state`` (None, int or RandomState).

    An int always maps to the same seed; a RandomState instance advances, as
    scikit-learn's estimators do; None draws fresh entropy.

    Examples
    --------
    >>> from skhisto.utils import torch_seed
    >>> torch_seed(0) == torch_seed(0)
    True
    """
    return int(check_random_state(random_state).randint(_MAX_SEED))


@validate_params(
    {"seed": [Interval(Integral, 0, None, closed="left")], "device": DEVICE},
    prefer_skip_nested_validation=True,
)
def torch_generator(seed, device="cpu"):
    """A :class:`torch.Generator` on ``device`` seeded with ``seed``.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import torch_generator
    >>> a = torch.rand(2, generator=torch_generator(0))
    >>> bool((a == torch.rand(2, generator=torch_generator(0))).all())
    True
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


@validate_params(
    {"seed": [Interval(Integral, 0, None, closed="left")]}, prefer_skip_nested_validation=True
)
@contextmanager
def seeded_torch(seed):
    """Run the block with torch's global RNGs seeded, restoring them afterwards.

    Model constructors draw their initial weights from the global RNG, so
    seeding it locally makes ``random_state`` reproducible without touching
    the caller's own random streams.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils import seeded_torch
    >>> with seeded_torch(0):
    ...     a = torch.nn.Linear(2, 2).weight
    >>> with seeded_torch(0):
    ...     b = torch.nn.Linear(2, 2).weight
    >>> bool((a == b).all())
    True
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield
