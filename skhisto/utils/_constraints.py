"""Parameter constraints that many public functions share, spelled once.

Each value is a list for ``validate_params`` or ``_parameter_constraints``;
combine them with ``+`` (``PATH + [None]``).
"""

import os
from numbers import Integral

from ._lazy import TorchDevice
from ._sklearn_compat import Interval, StrOptions

#: A file or folder: a string or any :class:`os.PathLike`.
PATH = [str, os.PathLike]
#: A count of at least one (a batch size, a number of samples).
POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]
#: A count that may be zero.
NON_NEGATIVE_INT = [Interval(Integral, 0, None, closed="left")]
#: A resolved device (``torch.device``), checked without importing torch.
TORCH_DEVICE = [TorchDevice]
#: A device name ("auto", "cpu", "cuda:1") or a ``torch.device``.
DEVICE = [str, TorchDevice]
#: Progress bars: ``"auto"``, a bool, or a scikit-learn style verbosity.
VERBOSE = [StrOptions({"auto"}), "verbose"]
