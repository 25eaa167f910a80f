"""The one definition of a label's kind and of a valid set of labels.

NumPy turns ``[1, "a"]`` into the strings ``["1", "a"]`` and sorting ``None``
among strings fails deep inside ``np.unique``, so labels are checked before any
conversion: an empty set, a missing label (None, NaN, ``pd.NA``), a mix of kinds
or an infinite label is an error naming the owner, the argument and the first
offending sample.
"""

import numbers

import numpy as np

from ._sklearn_compat import validate_params

_SHOWN = 5
_DTYPE_KINDS = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}
_DTYPE_KINDS.update(U="str", S="str")


def label_kind(value):
    """The kind of one label, or None for a missing one.

    Parameters
    ----------
    value : object
        One label (Python or NumPy scalar, str, bytes, ...).

    Returns
    -------
    kind : str or None
        "bool", "int", "float", "complex", "str" (also for bytes) or the type
        name; None for None, NaN, ``pd.NA`` and ``pd.NaT``.

    Examples
    --------
    >>> import numpy as np
    >>> [label_kind(v) for v in (1, np.int64(1), 1.5, True, "a", b"a", None, float("nan"))]
    ['int', 'int', 'float', 'bool', 'str', 'str', None, None]
    """
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, numbers.Complex) and value != value:  # NaN != NaN
        return None
    for types, kind in _KINDS:
        if isinstance(value, types):
            return kind
    return type(value).__name__


_KINDS = ((numbers.Integral, "int"), (numbers.Real, "float"), (numbers.Complex, "complex"))
_KINDS += ((str | bytes, "str"),)


def plain_value(value):
    """A NumPy scalar as the Python value it holds, for messages (1, not np.int64(1))."""
    return value.item() if isinstance(value, np.generic) else value


@validate_params(
    {
        "y": "no_validation",  # anything: the messages below name what is wrong with it
        "owner": [str],
        "name": [str],
        "indices": ["array-like", None],
        "kind": [str, None],
        "kind_source": [str, None],
        "allow_empty": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def check_labels(
    y, owner, name="y", *, indices=None, kind=None, kind_source=None, allow_empty=False
):
    """The one kind of the labels ``y``; empty, missing, mixed or infinite labels raise.

    Parameters
    ----------
    y : array-like, list or pandas object
        The labels as the user gave them (before any conversion).
    owner : str
        The estimator or function named in the message.
    name : str, default="y"
        The argument named in the message.
    indices : array-like of int, default=None
        The sample index of each label, named in the message (default: its position).
    kind : str, default=None
        The kind every label must have, e.g. that of earlier labels.
    kind_source : str, default=None
        Where ``kind`` comes from, named in the message (e.g. "y_labeled").
    allow_empty : bool, default=False
        Whether an empty ``y`` is valid (then ``kind`` is returned).

    Returns
    -------
    kind : str or None
        The kind of every label (see :func:`label_kind`); None for a scalar or
        ragged ``y``, which are left to scikit-learn's checks.

    Raises
    ------
    ValueError
        When ``y`` is empty, holds a missing or infinite label, or mixes kinds.

    Examples
    --------
    >>> check_labels(["a", "b"], "LinearHead")
    'str'
    >>> check_labels([1, "a"], "LinearHead")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: LinearHead: y mixes label types: index 1 holds 'a' (str) but index 0 holds 1 ...
    >>> check_labels([0, None], "UniformNoise")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: UniformNoise: y has 1 missing labels (None or NaN), at indices [1]; drop ...
    >>> check_labels(["b"], "Head", kind="int", kind_source="y_fit")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Head: y mixes label types: index 0 holds 'b' (str) but y_fit has int labels; ...
    """
    values = y.to_numpy() if hasattr(y, "to_numpy") else y
    if isinstance(values, list | tuple):
        try:  # object dtype: no silent unification of 1 and "a" into strings
            values = np.asarray(values, dtype=object)
        except ValueError:  # ragged nesting: scikit-learn's checks name it
            return None
    else:
        values = np.asarray(values)
    if values.ndim == 0:
        return None
    flat = values.ravel()
    if flat.size == 0:
        if allow_empty:
            return kind
        raise ValueError(f"{owner}: {name} is empty; it needs one label per sample.")
    if flat.dtype.kind == "O":
        kinds = np.array([label_kind(v) for v in flat], dtype=object)
        is_missing = kinds == None  # noqa: E711 - elementwise comparison
    else:  # one kind for all: no array of a million Python objects to compare
        kinds = np.array([_DTYPE_KINDS.get(flat.dtype.kind, flat.dtype.name)], dtype=object)
        is_missing = np.isnan(flat) if flat.dtype.kind in "fc" else np.zeros(flat.size, bool)

    def kind_at(position):
        return None if is_missing[position] else kinds[position if len(kinds) > 1 else 0]

    def at(position):
        index = position if indices is None else int(np.asarray(indices)[position])
        return f"index {index} holds {plain_value(flat[position])!r}"

    missing = np.flatnonzero(is_missing)
    if len(missing):
        shown = missing if indices is None else np.asarray(indices)[missing]
        raise ValueError(
            f"{owner}: {name} has {len(missing)} missing labels (None or NaN), at indices "
            f"{shown[:_SHOWN].tolist()}; drop those samples or give them a class."
        )
    expected = kind_at(0) if kind is None else kind
    other = np.flatnonzero(kinds != expected)  # for one kind for all: [0] or []
    if len(other):
        first = other[0]
        source = at(0) if kind is None else f"{kind_source or 'the earlier labels'} has"
        source += f" ({expected})" if kind is None else f" {expected} labels"
        raise ValueError(
            f"{owner}: {name} mixes label types: {at(first)} ({kind_at(first)}) but {source}; "
            "convert the labels to one type first (e.g. all int or all str)."
        )
    if expected in ("float", "complex"):
        infinite = np.flatnonzero(np.isinf(flat.astype(complex)))
        if len(infinite):
            shown = infinite if indices is None else np.asarray(indices)[infinite]
            raise ValueError(
                f"{owner}: {name} has infinite labels at indices {shown[:_SHOWN].tolist()}."
            )
    return expected


def like_input(y_new, y):
    """Return the 1-D labels ``y_new`` in the container type of the user's ``y``.

    A list stays a list; a pandas Series, Categorical or single-column
    DataFrame keeps its index, name, categories and dtype where the lengths
    match (a filter that drops samples passes the kept rows of ``y``).
    """
    if isinstance(y, list):
        return y_new.tolist()
    module = type(y).__module__
    if module.startswith("pandas") and hasattr(y, "categories"):  # Categorical
        return type(y)(y_new, categories=y.categories, ordered=y.ordered)
    if module.startswith("pandas") and hasattr(y, "to_frame"):  # Series
        return type(y)(y_new, index=y.index, name=y.name, dtype=y.dtype)
    if module.startswith("pandas"):  # single-column DataFrame
        return type(y)(y_new.reshape(-1, 1), index=y.index, columns=y.columns).astype(y.dtypes)
    return y_new
