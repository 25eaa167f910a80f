"""The items of a review, in the order a reviewer sees them."""

from ..utils._optional import import_pandas
from ..utils._sklearn_compat import validate_params


@validate_params({"items": ["array-like", dict]}, prefer_skip_nested_validation=True)
def order_items(items):
    """The items of a review, most suspect or most informative first.

    A label-issues result (a ``label_quality`` column) is ordered by label
    quality from the lowest, an active-learning query batch (a ``score``
    column) by score from the highest, anything else keeps its order; ties
    keep the input's order.

    Parameters
    ----------
    items : pandas.DataFrame or dict
        One row per item: ``path`` and optionally ``label``,
        ``suggested_label``, ``label_quality``, ``score`` and other columns.

    Returns
    -------
    pandas.DataFrame
        The rows in review order; the index is each row's position in
        ``items`` (``sort_index()`` gives the input's order back). A missing
        ``label`` column is added empty (unlabeled items).

    Examples
    --------
    >>> from skhisto.review import order_items
    >>> queries = {"path": ["a.png", "b.png", "c.png"], "label": "", "score": [0.2, 0.9, 0.5]}
    >>> order_items(queries)["path"].tolist()
    ['b.png', 'c.png', 'a.png']
    >>> issues = {"path": ["a.png", "b.png"], "label": ["x", "y"], "label_quality": [0.8, 0.1]}
    >>> order_items(issues).index.tolist()
    [1, 0]
    """
    pd = import_pandas("skhisto review")
    table = pd.DataFrame(items).reset_index(drop=True)
    if "path" not in table.columns:
        raise ValueError(f"review items need a 'path' column (columns: {list(table.columns)})")
    if "label" not in table.columns:
        table["label"] = ""
    table["label"] = table["label"].fillna("").astype(str)
    for column, ascending in (("label_quality", True), ("score", False)):
        if column in table.columns:
            values = pd.to_numeric(table[column], errors="coerce")
            return table.loc[values.sort_values(ascending=ascending, kind="stable").index]
    return table
