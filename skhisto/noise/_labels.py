"""One check of label values shared by every noise sampler, head and noise curve.

NumPy turns ``[1, "a"]`` into the strings ``["1", "a"]`` and sorting ``None``
among strings fails deep inside ``np.unique``, so labels are checked before
any conversion: a missing label or a mix of label types is an error naming
the first offending samples.
"""

import numbers

import numpy as np

_SHOWN = 5


def _kind(value):
    """'number', 'str' or the type name of one label; None for a missing one."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, numbers.Number):  # int, float, bool and their NumPy scalars
        return None if value != value else "number"  # NaN != NaN
    if isinstance(value, str | bytes):
        return "str"
    return type(value).__name__


def check_labels(y, owner, name="y"):
    """Raise a ValueError naming ``owner`` when ``y`` is empty, has missing or mixed labels.

    Parameters
    ----------
    y : array-like, list or pandas object
        The labels as the user gave them (before any conversion).
    owner : str
        The estimator or function named in the message.
    name : str, default="y"
        The argument named in the message.
    """
    values = y.to_numpy() if hasattr(y, "to_numpy") else y
    if isinstance(values, list | tuple):
        try:  # object dtype: no silent unification of 1 and "a" into strings
            values = np.asarray(values, dtype=object)
        except ValueError:  # ragged nesting: scikit-learn's checks name it
            return
    else:
        values = np.asarray(values)
    if values.ndim == 0:
        return  # scalars and other non-sequences: scikit-learn's checks name them
    if values.size == 0:
        raise ValueError(f"{owner}: {name} is empty; it needs one label per sample.")
    flat = values.ravel()
    if flat.dtype.kind == "O":
        kinds = np.array([_kind(v) for v in flat], dtype=object)
    elif flat.dtype.kind in "fc":
        kinds = np.where(np.isnan(flat), None, "number").astype(object)
    else:
        return
    missing = np.flatnonzero(kinds == None)  # noqa: E711 - elementwise comparison
    if len(missing):
        raise ValueError(
            f"{owner}: {name} has {len(missing)} missing labels (None or NaN), at indices "
            f"{missing[:_SHOWN].tolist()}; drop those samples or give them a class."
        )
    found = {}
    for value, kind in zip(flat, kinds, strict=True):
        found.setdefault(kind, value)
    if len(found) > 1:
        examples = ", ".join(f"{value!r} ({kind})" for kind, value in found.items())
        raise ValueError(
            f"{owner}: {name} mixes label types: {examples}. NumPy would silently turn them "
            f"all into strings; convert the labels to one type first (e.g. all str)."
        )
    if "number" in found:
        infinite = np.flatnonzero(np.isinf(flat.astype(complex)))
        if len(infinite):
            raise ValueError(
                f"{owner}: {name} has infinite labels at indices {infinite[:_SHOWN].tolist()}."
            )
