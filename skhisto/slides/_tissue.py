"""Tissue masks from slide thumbnails: Otsu on saturation, as CLAM's and TRIDENT's simple mode."""

from numbers import Real

import numpy as np

from ..utils._sklearn_compat import Interval, StrOptions, validate_params

#: Otsu's threshold is kept in this saturation range. Below: on a slide that is (nearly) all
#: glass, Otsu would split the glass's own noise into "tissue" and background. Above: on a
#: slide that is (nearly) all tissue, it would split the tissue; H&E-stained tissue is more
#: saturated than 0.15 (LC25000 tumor tiles: 99% of pixels), glass less than 0.05.
SATURATION_RANGE = (0.05, 0.15)


def saturation(image):
    """HSV saturation, ``(max - min) / max`` per pixel, in [0, 1] (0 where black)."""
    rgb = image.astype(np.float32)
    high, low = rgb.max(axis=-1), rgb.min(axis=-1)
    return np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)


def otsu_threshold(values, bins=256):
    """Otsu's threshold of values in [0, 1]: the cut maximizing the between-class variance."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(hist * centers)
    mean_low = np.divide(mass_low, weight_low, out=np.zeros(bins), where=weight_low > 0)
    mean_high = np.divide(
        mass_low[-1] - mass_low, weight_high, out=np.zeros(bins), where=weight_high > 0
    )
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[1:][np.argmax(between)])


@validate_params(
    {
        "thumbnail": ["array-like"],
        "threshold": [StrOptions({"otsu"}), Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def tissue_mask(thumbnail, threshold="otsu"):
    """Boolean tissue mask of an RGB thumbnail.

    Saturation, median-filtered (5x5) against dust and JPEG noise, is
    thresholded by Otsu's method (kept between 0.05 and 0.15, so that glass
    alone is no tissue and tissue alone is not split in two) or at a fixed
    value, then closed (5x5) to bridge the pale gaps
    inside tissue. Glass and white background are unsaturated; H&E-stained
    tissue is pink to purple, hence saturated.

    Parameters
    ----------
    thumbnail : ndarray of shape (h, w, 3), dtype uint8
    threshold : "otsu" or float in (0, 1), default="otsu"

    Returns
    -------
    ndarray of shape (h, w), dtype bool

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.slides import tissue_mask
    >>> thumb = np.full((20, 20, 3), 240, np.uint8)
    >>> thumb[5:15, 5:15] = (200, 90, 170)
    >>> mask = tissue_mask(thumb)
    >>> bool(mask[10, 10]), bool(mask[2, 2])
    (True, False)
    """
    from scipy.ndimage import binary_closing, median_filter

    thumbnail = np.asarray(thumbnail)
    if thumbnail.ndim != 3 or thumbnail.shape[-1] != 3 or thumbnail.dtype != np.uint8:
        raise ValueError(
            f"tissue_mask needs an RGB uint8 image (h, w, 3); got shape {thumbnail.shape} and "
            f"dtype {thumbnail.dtype}."
        )
    smooth = median_filter(saturation(thumbnail), size=5, mode="nearest")
    if threshold == "otsu":
        cut = float(np.clip(otsu_threshold(smooth), *SATURATION_RANGE))
    else:
        cut = float(threshold)
    # Closing with a border of background: tissue touching the edge is not grown by it.
    closed = binary_closing(np.pad(smooth > cut, 2), structure=np.ones((5, 5), bool))
    return closed[2:-2, 2:-2]
