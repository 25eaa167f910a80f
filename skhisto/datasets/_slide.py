"""Small pyramidal whole-slide images assembled from patches, with known tissue."""

import io
import os
from numbers import Real

import numpy as np

from ..io import read_image
from ..utils import atomic_write
from ..utils._constraints import PATH, POSITIVE_INT
from ..utils._sklearn_compat import Interval, StrOptions, validate_params

#: Near-white glass with a faint gray-blue tint and a little noise, as a scan's background.
_GLASS = (238, 236, 240)


def _check_layout(layout, n_images):
    layout = np.asarray(layout)
    if layout.ndim != 2 or layout.size == 0 or layout.dtype.kind not in "iu":
        raise ValueError(
            f"layout must be a non-empty 2-D integer array (-1: glass, k: images[k]); got "
            f"shape {layout.shape} and dtype {layout.dtype}."
        )
    bad = np.unique(layout[(layout < -1) | (layout >= n_images)])
    if bad.size:
        raise ValueError(
            f"layout refers to images {bad.tolist()}, but {n_images} images were given "
            "(valid values: -1 for glass, 0 to len(images) - 1)."
        )
    return layout


def _load_tiles(images):
    tiles = [read_image(i) if isinstance(i, (str, os.PathLike)) else np.asarray(i) for i in images]
    if not tiles:
        raise ValueError("make_slide needs at least one image to build tissue from.")
    shape = tiles[0].shape
    for k, tile in enumerate(tiles):
        if tile.dtype != np.uint8 or tile.ndim != 3 or tile.shape[2] != 3 or tile.shape != shape:
            raise ValueError(
                f"images must be RGB uint8 arrays (or files) of one size; image {k} has shape "
                f"{tile.shape} and dtype {tile.dtype}, image 0 has shape {shape}."
            )
    return tiles


_COMPRESSION = {
    # tifffile's name and arguments; deflate is built in, JPEG needs imagecodecs
    "deflate": ("zlib", {"level": 1}),  # test slides: fast to write beats small
    "jpeg": ("jpeg", {"level": 90}),  # as Aperio's .svs: lossy, fast to decode
}


@validate_params(
    {
        "path": PATH,
        "images": ["array-like"],
        "layout": ["array-like"],
        "mpp": [Interval(Real, 0, None, closed="neither")],
        "n_levels": POSITIVE_INT,
        "tile_size": POSITIVE_INT,
        "compression": [StrOptions(set(_COMPRESSION))],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_slide(
    path,
    images,
    layout,
    *,
    mpp=0.25,
    n_levels=3,
    tile_size=256,
    compression="deflate",
    random_state=None,
):
    """Write a pyramidal tiled TIFF whose tissue is laid out cell by cell.

    Each cell of ``layout`` is one image of ``images`` (all of one size), or
    glass (``-1``): near-white with a little noise. The file is a generic
    tiled TIFF (deflate or JPEG tiles) with levels downsampled by 2 and the
    resolution recorded in microns per pixel, which OpenSlide reads; it
    needs ``tifffile``. Tests, benchmarks and examples use it to get slides
    whose tissue regions and classes are known exactly.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.tif`` file to write (atomically: an interrupted call leaves no file).
    images : sequence of ndarray of shape (h, w, 3), dtype uint8, or of paths
        The patches tissue cells are made of.
    layout : array-like of int, shape (rows, cols)
        ``layout[i, j] = k`` puts ``images[k]`` in cell ``(i, j)``; ``-1`` is glass.
        The slide is ``cols * w`` by ``rows * h`` pixels at level 0.
    mpp : float, default=0.25
        Microns per pixel of level 0 (0.25: a 40x scan).
    n_levels : int, default=3
        Pyramid levels (downsamples 1, 2, 4, ...), fewer when the slide gets
        smaller than a tile.
    tile_size : int, default=256
        TIFF tile side (a multiple of 16).
    compression : {"deflate", "jpeg"}, default="deflate"
        Of the tiles: lossless deflate, or JPEG (quality 90, as most
        scanners write; needs ``imagecodecs``).
    random_state : int, RandomState instance or None, default=None
        Seeds the glass's noise.

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> path = make_slide(tempfile.mktemp(suffix=".tif"), [tissue], [[0, -1, -1], [0, 0, -1]])
    >>> from skhisto.slides import open_slide
    >>> open_slide(path).dimensions
    (192, 128)
    """
    from sklearn.utils import check_random_state

    try:
        import tifffile
    except ImportError as exc:
        raise ImportError(
            "make_slide needs tifffile; install it with `pip install 'skhisto[slides]'`."
        ) from exc
    codec, codec_args = _COMPRESSION[compression]
    if compression == "jpeg":
        try:
            import imagecodecs  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "make_slide(compression='jpeg') needs imagecodecs; `pip install imagecodecs`."
            ) from exc
    tiles = _load_tiles(images)
    layout = _check_layout(layout, len(tiles))
    h, w = tiles[0].shape[:2]
    rng = check_random_state(random_state)
    noise = rng.randint(-3, 4, size=(layout.shape[0] * h, layout.shape[1] * w, 1))
    canvas = np.clip(np.asarray(_GLASS) + noise, 0, 255).astype(np.uint8)
    for (i, j), k in np.ndenumerate(layout):
        if k >= 0:
            canvas[i * h : (i + 1) * h, j * w : (j + 1) * w] = tiles[k]
    buffer = io.BytesIO()  # tifffile wants a named file; atomic_write gives a descriptor
    with tifffile.TiffWriter(buffer) as tif:
        level = canvas
        for index in range(n_levels):
            if index and min(level.shape[:2]) < tile_size:
                break
            per_cm = 1e4 / (mpp * 2**index)
            tif.write(
                level,
                tile=(tile_size, tile_size),
                photometric="rgb",
                compression=codec,
                compressionargs=codec_args,
                resolution=(per_cm, per_cm),
                resolutionunit="CENTIMETER",
                subfiletype=1 if index else 0,
                metadata=None,
            )
            level = _halve(level)
    with atomic_write(path) as out:
        out.write(buffer.getbuffer())
    return os.fspath(path)


def _halve(image):
    """2x2 box downsampling (odd edges dropped)."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    blocks = image[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).astype(np.uint16)
    return ((blocks.sum(axis=(1, 3)) + 2) // 4).astype(np.uint8)
