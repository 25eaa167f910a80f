"""TRIDENT's and CLAM's patch-coordinate files (``.h5``), read as patch tables and written back."""

import os
from numbers import Real
from pathlib import Path

import numpy as np

from ..utils import atomic_write
from ..utils._constraints import PATH
from ..utils._sklearn_compat import HasMethods, Interval, validate_params
from ._reader import open_slide, open_slide_or_assume
from ._table import patch_table


def _import_h5py(feature):
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs h5py; install it with `pip install 'skhisto[slides]'`."
        ) from exc
    return h5py


def _slide_name(file):
    return Path(file).name.split(".")[0]


def _check_recorded_slide(path, attrs, slide):
    """A coordinates file that names its slide is read against that slide only."""
    recorded = attrs.get("name")  # TRIDENT's
    if recorded is None and attrs.get("skhisto_slide") is not None:  # write_coordinates's
        recorded = _slide_name(str(attrs["skhisto_slide"]))
    if recorded is not None and str(recorded) != _slide_name(slide):
        raise ValueError(
            f"Coordinates file {path!r} records slide {str(recorded)!r}, but was given slide "
            f"{slide!r}: its regions belong to another slide. Pass the slide it names (or the "
            "folder holding it)."
        )


def _find_slide(path, attrs, slide):
    """The slide file a coordinates file describes."""
    if slide is None:
        recorded = attrs.get("skhisto_slide")
        if recorded is not None:
            return str(recorded)
        raise ValueError(
            f"Coordinates file {path!r} does not say where its slide is; pass slide= (the "
            "slide file, or the folder holding it)."
        )
    slide = os.fspath(slide)
    if not os.path.isdir(slide):
        _check_recorded_slide(path, attrs, slide)
        return slide
    name = str(attrs.get("name") or Path(path).name.split(".")[0].removesuffix("_patches"))
    found = sorted(p for p in Path(slide).iterdir() if p.name.split(".")[0] == name)
    if not found:
        raise FileNotFoundError(
            f"No slide named {name!r} (any extension) in {slide!r}, for coordinates file {path!r}."
        )
    return os.fspath(found[0])


@validate_params(
    {
        "path": PATH,
        "slide": PATH + [None],
        "slide_mpp": [Interval(Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def read_coordinates(path, *, slide=None, slide_mpp=None):
    """Read a TRIDENT or CLAM patch-coordinate file as a patch table.

    TRIDENT (``<slide>_patches.h5``) records each patch's level-0 corner
    in ``coords`` with ``patch_size`` and ``patch_size_level0``; the region
    is read at the coarsest level that is still fine enough, as
    :class:`SlideTiler` does. CLAM (``<slide>.h5``) records ``patch_level``
    and ``patch_size``, read as they are.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` file.
    slide : str or os.PathLike, optional
        The slide file, or a folder holding it (found by the file's
        ``name`` attribute). Not needed for files :func:`write_coordinates`
        wrote, which record it.
    slide_mpp : float, optional
        Microns per pixel of level 0, for a slide that does not record it
        (a slide that does keeps its own).

    Returns
    -------
    pandas.DataFrame
        The patch table (see :meth:`SlideTiler.tile`); ``tissue`` is NaN
        where the file does not hold it.

    Examples
    --------
    >>> import tempfile, os, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import SlideTiler, read_coordinates, write_coordinates
    >>> folder = tempfile.mkdtemp()
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> slide = make_slide(os.path.join(folder, "s1.tif"), [tissue], [[0, 0], [0, -1]])
    >>> table = SlideTiler(patch_size=32, mpp=0.5).tile(slide)
    >>> h5 = write_coordinates(table, os.path.join(folder, "s1_patches.h5"))
    >>> read_coordinates(h5).equals(table)
    True
    """
    h5py = _import_h5py("read_coordinates")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Coordinates file does not exist: {path!r}")
    try:
        with h5py.File(path, "r") as f:
            if "coords" not in f:
                raise ValueError(
                    f"{path!r} has no 'coords' dataset (it has {sorted(f)}); it is not a TRIDENT "
                    "or CLAM patch-coordinate file."
                )
            coords = np.asarray(f["coords"])
            attrs = dict(f["coords"].attrs)
            tissue = np.asarray(f["tissue"]) if "tissue" in f else None
    except OSError as exc:
        raise ValueError(f"Cannot read coordinates file {path!r}: {exc}") from exc
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"{path!r}: 'coords' must have shape (n, 2); it has {coords.shape}.")
    slide_path = os.path.abspath(_find_slide(path, attrs, slide))
    with open_slide_or_assume(slide_path, slide_mpp) as wsi:
        level, size, mpp = _region(path, attrs, wsi)
    n = len(coords)
    return patch_table(
        slide=np.full(n, slide_path, dtype=object),
        x=coords[:, 0],
        y=coords[:, 1],
        level=np.full(n, level),
        size=np.full(n, size),
        mpp=np.full(n, mpp),
        tissue=np.full(n, np.nan) if tissue is None else tissue,
    )


def _region(path, attrs, wsi):
    """(level, size, mpp) of the patches a file's attributes describe."""
    if "patch_level" in attrs:  # CLAM
        level, size = int(attrs["patch_level"]), int(attrs["patch_size"])
        if not 0 <= level < wsi.level_count:
            raise ValueError(
                f"{path!r} has patches at level {level}, but its slide {wsi.path!r} has levels "
                f"0 to {wsi.level_count - 1}; is it the coordinates file of another slide?"
            )
        mpp = np.nan if wsi.mpp is None else wsi.mpp * wsi.level_downsamples[level]
        return level, size, float(attrs.get("skhisto_mpp", mpp))
    if "patch_size_level0" in attrs:  # TRIDENT
        patch_size, footprint = int(attrs["patch_size"]), int(attrs["patch_size_level0"])
        level, size = wsi.level_for_downsample(footprint / patch_size, patch_size)
        if "skhisto_mpp" in attrs:
            mpp = float(attrs["skhisto_mpp"])
        elif wsi.mpp is not None:
            mpp = wsi.mpp * footprint / patch_size
        else:
            mpp = 10.0 / float(attrs.get("target_magnification", np.nan))
        return level, size, mpp
    raise ValueError(
        f"{path!r}: 'coords' has neither TRIDENT's attributes (patch_size, patch_size_level0) "
        f"nor CLAM's (patch_level, patch_size); it has {sorted(attrs)}."
    )


def _overlap(coords, footprint, patch_size):
    """TRIDENT's ``overlap`` (pixels at the target mpp) from the grid step of the coordinates."""
    steps = [np.diff(np.unique(coords[:, axis])) for axis in (0, 1)]
    steps = np.concatenate(steps)
    step = steps.min() if steps.size else footprint
    if step >= footprint:
        return 0
    return round((footprint - step) * patch_size / footprint)


@validate_params(
    {"table": [HasMethods(["groupby"])], "path": PATH}, prefer_skip_nested_validation=True
)
def write_coordinates(table, path):
    """Write one slide's patch table as a TRIDENT patch-coordinate file.

    The file holds what TRIDENT writes (``coords`` with ``patch_size``,
    ``patch_size_level0``, ``level0_magnification``,
    ``target_magnification``, ``overlap`` and ``name``), so TRIDENT reads
    it; skhisto adds the slide's path, the mpp and the ``tissue`` column,
    which :func:`read_coordinates` reads back into the same table.

    Parameters
    ----------
    table : pandas.DataFrame
        Patches of one slide, all of one ``level``, ``size`` and ``mpp``.
    path : str or os.PathLike
        The ``.h5`` file (TRIDENT names it ``<slide>_patches.h5``); written
        atomically.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import tempfile, os, h5py, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import SlideTiler, write_coordinates
    >>> folder = tempfile.mkdtemp()
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> slide = make_slide(os.path.join(folder, "s1.tif"), [tissue], [[0, 0], [0, -1]])
    >>> table = SlideTiler(patch_size=32, mpp=0.5).tile(slide)
    >>> h5 = write_coordinates(table, os.path.join(folder, "s1_patches.h5"))
    >>> with h5py.File(h5) as f:
    ...     f["coords"].shape, int(f["coords"].attrs["patch_size_level0"])
    ((3, 2), 64)
    """
    h5py = _import_h5py("write_coordinates")
    for column in ("slide", "level", "size", "mpp"):
        values = np.unique(np.asarray(table[column]).astype(str))
        if len(values) != 1:
            raise ValueError(
                f"write_coordinates writes one slide's patches at one level, size and mpp; the "
                f"table's {column!r} column has {len(values)} values ({values[:3].tolist()}...)."
            )
    slide_path = os.fspath(table["slide"].iloc[0])
    level, size = int(table["level"].iloc[0]), int(table["size"].iloc[0])
    mpp = float(table["mpp"].iloc[0])
    with open_slide(slide_path) as wsi:
        footprint = round(size * wsi.level_downsamples[level])
        patch_size = round(footprint * wsi.mpp / mpp) if wsi.mpp else size
        base_mag = round(10 / wsi.mpp) if wsi.mpp else -1
    coords = np.stack([table["x"].to_numpy(np.int64), table["y"].to_numpy(np.int64)], axis=1)
    overlap = _overlap(coords, footprint, patch_size)
    with atomic_write(path) as out, h5py.File(out, "w") as f:
        dataset = f.create_dataset("coords", data=coords)
        dataset.attrs.update(
            patch_size=patch_size,
            patch_size_level0=footprint,
            level0_magnification=base_mag,
            target_magnification=round(10 / mpp) if np.isfinite(mpp) else -1,
            overlap=overlap,
            name=Path(slide_path).name.split(".")[0],
            savetodir=os.fspath(Path(path).parent),
            skhisto_slide=slide_path,
            skhisto_mpp=mpp,
        )
        if "tissue" in table.columns:
            f.create_dataset("tissue", data=table["tissue"].to_numpy(np.float64))
    return os.fspath(path)
