"""Warnings that point at the user's line, however deep in skhisto they are raised.

A fixed ``stacklevel`` breaks as soon as a call path gains a frame (a
``validate_params`` wrapper, a helper, a clone): the warning then names a line
inside skhisto or scikit-learn. :func:`warn` walks out of skhisto's frames (and
scikit-learn's wrappers around them) to the first frame of the caller.
"""

import os
import sys
import warnings

import sklearn

from ._sklearn_compat import validate_params

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# scikit-learn's decorators around our methods and functions: not where a call comes from.
_WRAPPERS = tuple(
    os.path.join(os.path.dirname(sklearn.__file__), *parts)
    for parts in (
        ("utils", "_param_validation.py"),  # validate_params
        ("utils", "_set_output.py"),  # set_output's transform wrapper
        ("utils", "_available_if.py"),
        ("base.py",),  # _fit_context
    )
)


def _internal(filename):
    return filename.startswith(_PACKAGE) or filename in _WRAPPERS


@validate_params({"message": [str], "category": [type]}, prefer_skip_nested_validation=True)
def warn(message, category=UserWarning):
    """Issue ``message`` as a ``category`` warning attributed to the caller's own line.

    Parameters
    ----------
    message : str
    category : type of Warning, default=UserWarning

    Examples
    --------
    >>> import warnings
    >>> from skhisto.utils import warn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("slide 's1' has no tissue")
    >>> caught[0].filename.startswith("<doctest"), str(caught[0].message)
    (True, "slide 's1' has no tissue")
    """
    frame, level = sys._getframe(0), 1
    while frame is not None and _internal(os.path.abspath(frame.f_code.co_filename)):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
