"""Whole-slide images through OpenSlide: levels, microns per pixel, regions at a target mpp."""

import os
from numbers import Real
from pathlib import Path

import numpy as np

from ..utils import file_digest, io_error
from ..utils._constraints import PATH
from ..utils._sklearn_compat import Interval, validate_params

#: Target resolutions this much finer than the scan are still read from level 0 (scanners
#: report e.g. 0.2527 mpp for a nominal 0.25): the patch is then slightly smaller.
_MPP_TOLERANCE = 0.1


def _import_openslide(feature):
    try:
        import openslide
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs OpenSlide; install it with `pip install 'skhisto[slides]'` "
            "(openslide-python and the openslide-bin library wheel)."
        ) from exc
    return openslide


@validate_params({"path": PATH, "digest_dir": PATH + [None]}, prefer_skip_nested_validation=True)
def slide_identity(path, *, digest_dir=None):
    """Content identity of a slide: the digest of all its bytes, read once per version.

    Two files share an identity only if they hold the same bytes, whatever
    their names, sizes, headers or mtimes. Reading a multi-gigabyte slide
    whole costs about a second per gigabyte (SHA-256), so the digest is
    remembered under the file's identity (path, device, inode, size, mtime
    and ctime, which no user can set back) for the process and, given
    ``digest_dir``, across processes: later look-ups cost one ``stat``. See
    :func:`skhisto.utils.file_digest`.

    Parameters
    ----------
    path : str or os.PathLike
    digest_dir : str or os.PathLike, optional
        Folder remembering digests across processes (embedders pass their
        cache's ``digests`` folder).

    Returns
    -------
    str
        32 hex digits.

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.slides import slide_identity
    >>> path = tempfile.mktemp(suffix=".tif")
    >>> _ = open(path, "wb").write(b"II*\\x00")
    >>> len(slide_identity(path))
    32
    """
    path = os.fspath(path)
    try:
        return file_digest(path, what="slide", digest_dir=digest_dir)[:32]
    except FileNotFoundError:
        raise FileNotFoundError(f"Slide file does not exist: {path!r}") from None
    except OSError as exc:
        raise io_error(exc, "read slide", path) from exc


class Slide:
    """An open whole-slide image (use :func:`open_slide`).

    Attributes
    ----------
    path : str
        The slide file.
    name : str
        File name without its extension (TRIDENT's and CLAM's slide id).
    dimensions : tuple of int
        ``(width, height)`` of level 0 in pixels.
    level_count : int
    level_dimensions : tuple of (int, int)
    level_downsamples : tuple of float
    mpp : float or None
        Microns per pixel of level 0 (from the file, or given to
        :func:`open_slide`); None when neither says.
    properties : mapping
        OpenSlide's metadata of the file.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import open_slide
    >>> tissue = np.full((64, 64, 3), (200, 80, 160), np.uint8)
    >>> slide = open_slide(make_slide(tempfile.mktemp(suffix=".tif"), [tissue], [[0, -1]]))
    >>> slide.level_for(mpp=0.5, patch_size=32)  # level 0, 64 px read for a 32 px patch
    (0, 64)
    >>> slide.close()
    """

    def __init__(self, path, handle, mpp):
        self.path = path
        self.name = Path(path).name.split(".")[0]
        self._handle = handle
        self.dimensions = handle.dimensions
        self.level_count = handle.level_count
        self.level_dimensions = handle.level_dimensions
        self.level_downsamples = tuple(float(d) for d in handle.level_downsamples)
        self.properties = handle.properties
        self.mpp = mpp

    def __repr__(self):
        width, height = self.dimensions
        mpp = "unknown" if self.mpp is None else f"{self.mpp:g}"
        return f"Slide({self.path!r}, {width}x{height} px, {self.level_count} levels, mpp={mpp})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Release the file."""
        self._handle.close()

    def check_mpp(self, feature):
        """Level 0's microns per pixel, or a ValueError naming the slide and ``feature``."""
        if self.mpp is None:
            raise ValueError(
                f"Slide {self.path!r} does not record its microns per pixel, which {feature} "
                "needs; pass the scan's resolution as slide_mpp (0.25 at 40x, 0.5 at 20x)."
            )
        return self.mpp

    def level_for(self, mpp, patch_size):
        """Level to read and pixels to read there for a ``patch_size`` patch at ``mpp``.

        The level is the coarsest one still at least as fine as ``mpp``, so
        patches are only ever downsampled.

        Parameters
        ----------
        mpp : float
            Target microns per pixel.
        patch_size : int
            Side of the patch at ``mpp``.

        Returns
        -------
        level : int
        size : int
            Side of the region read at ``level``.
        """
        factor = mpp / self.check_mpp(f"a patch at {mpp} mpp")
        if factor < 1 - _MPP_TOLERANCE:
            raise ValueError(
                f"Slide {self.path!r} was scanned at {self.mpp:g} microns per pixel; patches at "
                f"{mpp:g} mpp would be upsampled. Ask for mpp >= {self.mpp:g}."
            )
        return self.level_for_downsample(factor, patch_size)

    def level_for_downsample(self, factor, patch_size):
        """Like :meth:`level_for`, for a patch covering ``factor * patch_size`` level-0 pixels."""
        fine_enough = [i for i, d in enumerate(self.level_downsamples) if d <= factor * 1.001]
        level = fine_enough[-1] if fine_enough else 0
        size = max(1, round(patch_size * factor / self.level_downsamples[level]))
        return level, size

    def read_region(self, location, size, *, level=None, mpp=None):
        """RGB pixels of a region, composited on white where the scan has none.

        Parameters
        ----------
        location : (int, int)
            Top-left corner ``(x, y)`` in level-0 pixels.
        size : int or (int, int)
            Width and height of the result, in pixels of ``level`` or at ``mpp``.
        level : int, optional
            Pyramid level to read at, as is.
        mpp : float, optional
            Target resolution: read at :meth:`level_for`'s level and resize
            to ``size``. Give ``level`` or ``mpp``, not both (neither: level 0).

        Returns
        -------
        ndarray of shape (height, width, 3), dtype uint8
        """
        width, height = (size, size) if np.isscalar(size) else size
        if mpp is not None and level is not None:
            raise ValueError("read_region takes level or mpp, not both.")
        if mpp is None:
            return self._read(location, level or 0, (int(width), int(height)))
        level, _ = self.level_for(mpp, max(width, height))
        scale = mpp / self.mpp / self.level_downsamples[level]
        read = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = self._read(location, level, read)
        if read == (width, height):
            return pixels
        from ..io import resize_image  # torch, only when a region is resized

        return resize_image(pixels, (int(width), int(height)))

    def _read(self, location, level, size):
        if not 0 <= level < self.level_count:
            raise ValueError(
                f"Slide {self.path!r} has levels 0 to {self.level_count - 1}; got level {level}."
            )
        corner = (int(location[0]), int(location[1]))
        what = f"{size} pixels at {location} (level {level})"
        return _on_white(
            np.asarray(self._call(what, self._handle.read_region, corner, level, size))
        )

    def _call(self, what, function, *args):
        """An OpenSlide call whose failure names this slide's file (OpenSlide's does not)."""
        try:
            return function(*args)
        except Exception as exc:  # OpenSlide raises its own error types for corrupt tiles
            raise OSError(f"Could not read {what} of slide {self.path!r}: {exc}") from exc

    def thumbnail(self, max_size=1024):
        """The whole slide, downsampled so its longer side is at most ``max_size``.

        Returns
        -------
        ndarray of shape (h, w, 3), dtype uint8
        """
        size = (int(max_size), int(max_size))
        image = self._call("a thumbnail", self._handle.get_thumbnail, size)
        return _on_white(np.asarray(image.convert("RGBA")))


def _on_white(rgba):
    """Composite OpenSlide's premultiplied RGBA on white (transparent = no scan)."""
    if rgba.shape[-1] == 3:
        return np.ascontiguousarray(rgba)
    if rgba[..., 3].min() == 255:  # inside the scan, the usual case: no arithmetic
        return np.ascontiguousarray(rgba[..., :3])
    alpha = rgba[..., 3:4].astype(np.uint16)
    rgb = rgba[..., :3].astype(np.uint16) + (255 - alpha)
    return np.minimum(rgb, 255).astype(np.uint8)


def open_slide_or_assume(path, slide_mpp):
    """:func:`open_slide`, with ``slide_mpp`` used only where the file records no mpp.

    The tiler and the coordinate readers take one ``slide_mpp`` for many
    slides: it must not override the slides that do record theirs.
    """
    slide = open_slide(path)
    if slide.mpp is None and slide_mpp is not None:
        if not (np.isfinite(slide_mpp) and slide_mpp > 0):
            slide.close()
            raise ValueError(f"slide_mpp must be a positive number; got {slide_mpp!r}.")
        slide.mpp = float(slide_mpp)
    return slide


@validate_params(
    {"path": PATH, "mpp": [Interval(Real, 0, None, closed="neither"), None]},
    prefer_skip_nested_validation=True,
)
def open_slide(path, *, mpp=None):
    """Open a whole-slide image with OpenSlide.

    OpenSlide reads Aperio (``.svs``), Hamamatsu (``.ndpi``, ``.vms``),
    Leica (``.scn``), MIRAX (``.mrxs``), Philips TIFF, Sakura, Ventana,
    DICOM and generic tiled pyramidal TIFF files; the ``openslide-bin``
    wheel brings the library itself, so ``pip install 'skhisto[slides]'``
    is the whole installation on Linux, macOS and Windows.

    Parameters
    ----------
    path : str or os.PathLike
        The slide file.
    mpp : float, optional
        Microns per pixel of level 0, for files that do not record it
        (a value given here overrides the file's).

    Returns
    -------
    Slide

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When OpenSlide cannot read the file; the message names it.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skhisto.datasets import make_slide
    >>> from skhisto.slides import open_slide
    >>> path = make_slide(
    ...     tempfile.mktemp(suffix=".tif"), [np.full((64, 64, 3), 150, np.uint8)],
    ...     np.array([[0, -1], [-1, 0]]), mpp=0.5,
    ... )
    >>> with open_slide(path) as slide:
    ...     print(slide.dimensions, slide.mpp, slide.read_region((0, 0), 32, mpp=1.0).shape)
    (128, 128) 0.5 (32, 32, 3)
    """
    openslide = _import_openslide("open_slide")
    path = os.fspath(path)
    if not os.path.isfile(path):
        kind = "a directory" if os.path.isdir(path) else "no file"
        raise FileNotFoundError(f"Slide file does not exist ({kind} at {path!r}).")
    try:
        handle = openslide.OpenSlide(path)
    except openslide.OpenSlideUnsupportedFormatError:
        raise ValueError(
            f"{path!r} is not a whole-slide image OpenSlide reads (SVS, NDPI, MRXS, SCN, "
            "tiled pyramidal TIFF, DICOM, ...)."
        ) from None
    except openslide.OpenSlideError as exc:
        raise ValueError(f"OpenSlide cannot read {path!r}: {exc}") from exc
    if mpp is None:
        mpp = _recorded_mpp(handle.properties)
    elif not (np.isfinite(mpp) and mpp > 0):
        raise ValueError(f"mpp must be a positive number of microns per pixel; got {mpp!r}.")
    return Slide(path, handle, None if mpp is None else float(mpp))


def _recorded_mpp(properties):
    values = []
    for key in ("openslide.mpp-x", "openslide.mpp-y"):
        try:
            values.append(float(properties[key]))
        except (KeyError, ValueError):
            return None
    mpp = float(np.mean(values))
    return mpp if np.isfinite(mpp) and mpp > 0 else None
