"""Patch tables: the one description of slide regions that tilers, files and embedders share."""

import os
from collections import OrderedDict

import numpy as np

from ..io import ImageSource
from ..utils import STORE, content_key, file_identity
from ..utils._optional import import_pandas
from ..utils._sklearn_compat import HasMethods, validate_params
from ._reader import open_slide, slide_identity

#: Columns of a patch table, in order. ``slide``, ``x``, ``y``, ``level`` and ``size`` say
#: which pixels a patch is; ``mpp`` and ``tissue`` describe it.
PATCH_COLUMNS = ("slide", "x", "y", "level", "size", "mpp", "tissue")
REGION_COLUMNS = ("slide", "x", "y", "level", "size")
_DTYPES = {
    "slide": object,
    "x": np.int64,
    "y": np.int64,
    "level": np.int64,
    "size": np.int64,
    "mpp": np.float64,
    "tissue": np.float64,
}

#: Slides a reader keeps open at once (each holds file handles and a tile cache).
_OPEN_SLIDES = 8


def patch_table(**columns):
    """A patch table (pandas DataFrame) from its columns, with the canonical dtypes."""
    pd = import_pandas("A patch table")
    return pd.DataFrame(
        {name: np.asarray(columns[name], dtype=_DTYPES[name]) for name in PATCH_COLUMNS}
    )


def is_patch_table(X):
    """Whether ``X`` is meant as a patch table: a DataFrame with a ``slide`` column.

    Such a table is read as regions of its slides (and checked by
    :func:`check_patch_table`); a table of patch files has a ``path`` column
    instead.

    Parameters
    ----------
    X : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> from skhisto.slides import is_patch_table
    >>> is_patch_table(pd.DataFrame({"slide": ["a.svs"], "x": [0]})), is_patch_table(["a.png"])
    (True, False)
    """
    columns = getattr(X, "columns", None)
    return columns is not None and "slide" in {str(c) for c in columns}


class PatchRegions(ImageSource):
    """The regions of a patch table as arrays, read one by one (in DataLoader workers).

    The :class:`skhisto.io.ImageSource` of whole-slide patches, built by
    :func:`check_patch_table` (embedders build it from a patch table). Open
    slides are kept per process (a few at a time) and never pickled, so each
    DataLoader worker opens its own.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import SlideTiler, check_patch_table
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> path = make_slide(tempfile.mktemp(suffix=".tif"), [tissue], [[0, 0], [0, -1]])
    >>> regions = check_patch_table(SlideTiler(patch_size=32, mpp=0.5).tile(path))
    >>> len(regions), regions.read(0).shape, regions.keys().dtype  # 32 px at 0.5 = 64 at 0.25
    (3, (64, 64, 3), dtype('S32'))
    """

    def __init__(self, slide, x, y, level, size, mpp):
        self.slide, self.x, self.y = slide, x, y
        self.level, self.size, self.mpp = level, size, mpp
        self._open = OrderedDict()

    def __len__(self):
        return len(self.x)

    def name(self, index):
        """``'<slide>' at (x, y), level l``: where the region is."""
        where = f"({self.x[index]}, {self.y[index]}), level {self.level[index]}"
        return f"{self.slide[index]!r} at {where}"

    def take(self, positions):
        """The regions at ``positions``, in that order."""
        positions = np.asarray(positions, dtype=np.intp)
        return PatchRegions(
            *(column[positions] for column in (self.slide, self.x, self.y)),
            *(column[positions] for column in (self.level, self.size, self.mpp)),
        )

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_open"] = OrderedDict()
        return state

    def read(self, index):
        """RGB pixels ``(size, size, 3)`` uint8 of region ``index``."""
        path = self.slide[index]
        slide = self._open.pop(path, None) or open_slide(path)
        self._open[path] = slide
        if len(self._open) > _OPEN_SLIDES:
            self._open.popitem(last=False)[1].close()
        size = int(self.size[index])
        return slide.read_region((self.x[index], self.y[index]), size, level=int(self.level[index]))

    def keys(self, *, digest_dir=None):
        """Cache keys: the slide's content identity (:func:`slide_identity`), region and mpp.

        ``digest_dir`` remembers slide digests across processes (the cache's).
        """
        identities = {
            path: slide_identity(path, digest_dir=digest_dir) for path in dict.fromkeys(self.slide)
        }
        rows = zip(self.slide, self.x, self.y, self.level, self.size, self.mpp, strict=True)
        return np.asarray(
            [
                content_key(f"{identities[path]}:{x}:{y}:{level}:{size}:{mpp:.6g}".encode())
                for path, x, y, level, size, mpp in rows
            ],
            dtype="S32",
        )


@validate_params({"table": [HasMethods(["groupby"])]}, prefer_skip_nested_validation=True)
def check_patch_table(table):
    """Validate a patch table and return its regions.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``slide``, ``x``, ``y``, ``level``, ``size`` (and usually
        ``mpp``, ``tissue``), as :meth:`SlideTiler.tile` and
        :func:`read_coordinates` return.

    Returns
    -------
    PatchRegions

    Raises
    ------
    ValueError
        On a missing column, an empty table, non-integer or negative
        coordinates, a non-positive size, or a region starting outside its
        slide or at a level it does not have; the message names the column
        and the first bad row.
    FileNotFoundError
        When a slide file does not exist.

    Examples
    --------
    >>> import pandas as pd
    >>> from skhisto.slides import check_patch_table
    >>> table = pd.DataFrame({"slide": ["a.svs"], "x": [0], "y": [0], "level": [0], "size": [0]})
    >>> check_patch_table(table)
    Traceback (most recent call last):
    ...
    ValueError: Patch table column 'size' must be positive; row 0 has 0.
    """
    missing = [c for c in REGION_COLUMNS if c not in table.columns]
    if missing:
        files = "; for patch files, pass the column of paths: df['path']"
        raise ValueError(
            f"A patch table needs the columns {list(REGION_COLUMNS)}; {missing} are missing "
            f"(it has {[str(c) for c in table.columns]}){files if 'path' in table.columns else ''}."
        )
    if len(table) == 0:
        raise ValueError("The patch table is empty: no patches to read.")
    ints = {name: _integer_column(table, name) for name in ("x", "y", "level", "size")}
    for name, low in (("x", 0), ("y", 0), ("level", 0), ("size", 1)):
        bad = np.flatnonzero(ints[name] < low)
        if bad.size:
            which = "positive" if low else "non-negative"
            raise ValueError(
                f"Patch table column {name!r} must be {which}; row {bad[0]} has "
                f"{ints[name][bad[0]]}."
            )
    slides = table["slide"].to_numpy()
    bad = [i for i, s in enumerate(slides) if not isinstance(s, (str, os.PathLike))]
    if bad:
        raise ValueError(
            f"Patch table column 'slide' must hold slide paths; row {bad[0]} has "
            f"{slides[bad[0]]!r}."
        )
    slides = np.asarray([os.fspath(s) for s in slides], dtype=object)
    for path in dict.fromkeys(slides):
        rows = np.flatnonzero(slides == path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Slide file of patch table row {rows[0]} does not exist: {path!r}"
            )
        _check_inside(path, rows, ints)
    mpp = np.asarray(table["mpp"], dtype=np.float64) if "mpp" in table.columns else None
    if mpp is None:
        mpp = np.full(len(table), np.nan)
    return PatchRegions(slides, ints["x"], ints["y"], ints["level"], ints["size"], mpp)


def _geometry(path):
    with open_slide(path) as slide:
        return slide.dimensions, slide.level_count


def _memo(what, path, compute):
    """``compute(path)``, once per process and version of the file (STORE.slides)."""
    return STORE.memo("slides", (what, file_identity(path)), lambda: compute(path))


def _check_inside(path, rows, ints):
    """Each region of ``rows`` starts inside its slide, at one of its levels.

    A coordinates file matched to the wrong slide would otherwise embed
    blank glass (OpenSlide reads outside the scan as transparent).
    """
    (width, height), levels = _memo("geometry", path, _geometry)
    for name, limit in (("level", levels), ("x", width), ("y", height)):
        bad = rows[ints[name][rows] >= limit]
        if bad.size:
            what = f"has {levels} levels" if name == "level" else f"is {width} x {height} px"
            raise ValueError(
                f"Patch table row {bad[0]} has {name}={ints[name][bad[0]]}, outside its slide "
                f"{path!r}, which {what} (level 0); is the table for another slide?"
            )


def _integer_column(table, name):
    values = np.asarray(table[name])
    whole = values.dtype.kind == "f" and np.all(np.isfinite(values))
    if whole and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    if values.dtype.kind not in "iu":
        raise ValueError(
            f"Patch table column {name!r} must hold integers (pixels); got dtype {values.dtype}."
        )
    return values.astype(np.int64)
