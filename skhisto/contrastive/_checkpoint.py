"""The former home of the checkpoint functions, now :mod:`skhisto.utils` (deprecated here)."""

import os

from .. import utils
from ..utils._sklearn_compat import validate_params


def _moved(name):
    utils.warn(
        f"skhisto.contrastive.{name} moved to skhisto.utils.{name} (the one checkpoint module "
        "of every resumable object) in 0.1; the old name will be removed in 0.3.",
        FutureWarning,
    )


@validate_params({"path": [str, os.PathLike], "state": [dict]}, prefer_skip_nested_validation=True)
def save_checkpoint(path, state):
    """Write ``state`` to ``path`` atomically (deprecated, see below).

    .. deprecated:: 0.1
        Moved to :func:`skhisto.utils.save_checkpoint`; removed in 0.3.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> from skhisto.contrastive import load_checkpoint, save_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.npz")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     save_checkpoint(path, {"epoch": 3})
    ...     epoch = load_checkpoint(path)["epoch"]
    >>> epoch, [w.category.__name__ for w in caught]
    (3, ['FutureWarning', 'FutureWarning'])
    """
    _moved("save_checkpoint")
    return utils.save_checkpoint(path, state)


@validate_params({"path": [str, os.PathLike, None]}, prefer_skip_nested_validation=True)
def load_checkpoint(path):
    """The state of the checkpoint at ``path`` (deprecated, see below).

    .. deprecated:: 0.1
        Moved to :func:`skhisto.utils.load_checkpoint`; removed in 0.3.

    Examples
    --------
    >>> import os, tempfile, warnings
    >>> from skhisto.contrastive import load_checkpoint
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     load_checkpoint(os.path.join(tempfile.mkdtemp(), "none.npz")) is None
    True
    """
    _moved("load_checkpoint")
    return utils.load_checkpoint(path)
