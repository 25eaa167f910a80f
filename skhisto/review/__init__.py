"""The review page: a local web page where a reviewer decides on flagged or queried tiles.

``skhisto review INPUT`` (or :func:`make_app` and :func:`serve`) shows the
items of a label-issues result, an active-learning query batch or any CSV of
paths and labels, most suspect or most informative first, and saves each
decision (keep, relabel, unusable, skip, undo) at once to a decisions file
(:func:`skhisto.io.append_decision`). Needs the ``review`` extra (starlette,
uvicorn).
"""

from typing import TYPE_CHECKING

from ..utils._lazy import attach

if TYPE_CHECKING:  # the exports; at run time each loads on first use (utils._lazy)
    from ._app import make_app, serve
    from ._items import order_items
    from ._neighbors import class_neighbors

__all__ = ["class_neighbors", "make_app", "order_items", "serve"]

__getattr__, __dir__ = attach(__name__, __file__)
