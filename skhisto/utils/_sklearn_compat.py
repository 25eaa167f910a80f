"""The one place skhisto touches scikit-learn's private API.

skhisto supports every scikit-learn from 1.6 on. ``_fit_context`` and
``validate_params`` come from sklearn-compat (as in imbalanced-learn), which
follows their changes across releases; the parameter-constraint classes and
``_safe_indexing`` have been stable since 1.2 and are re-exported from here,
so a future move is mended in this file alone.
"""

from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn_compat.base import _fit_context
from sklearn_compat.utils._param_validation import validate_params
from sklearn_compat.utils.validation import _check_feature_names

__all__ = [
    "HasMethods",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_check_feature_names",
    "_fit_context",
    "_safe_indexing",
    "validate_parameter_constraints",
    "validate_params",
]
