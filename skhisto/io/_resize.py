"""The one resizer: antialiased bilinear, for embedders, loaders and slides alike."""

import numpy as np
import torch
import torch.nn.functional as F

from ..utils._constraints import POSITIVE_INT
from ..utils._sklearn_compat import HasMethods, validate_params
from ._images import is_rgb_image

# A square's side, or a (width, height) pair.
_SIZE = POSITIVE_INT + [tuple, list]


#: Sides above this would allocate gigabytes for one image: surely a mistake.
_MAX_SIDE = 65536


def _size(size):
    """``(height, width)`` of ``size`` (a side, or ``(width, height)``), checked."""
    pair = (size, size) if np.isscalar(size) else tuple(size)
    if len(pair) != 2 or not all(
        isinstance(side, int | np.integer) and not isinstance(side, bool) and 0 < side <= _MAX_SIDE
        for side in pair
    ):
        raise ValueError(
            f"size must be a side or a (width, height) pair of positive ints up to {_MAX_SIDE}; "
            f"got {size!r}."
        )
    return int(pair[1]), int(pair[0])


@validate_params(
    {"batch": [HasMethods(["float"])], "size": _SIZE}, prefer_skip_nested_validation=True
)
def resize_batch(batch, size):
    """Resize an ``(n, C, H, W)`` tensor with antialiased bilinear interpolation.

    Parameters
    ----------
    batch : torch.Tensor of shape (n, C, H, W)
    size : int or (int, int)
        Side of the square output, or its ``(width, height)``.

    Returns
    -------
    torch.Tensor
        Float, in the input's value range (not rounded); the input as float
        when it already has the target size.

    Examples
    --------
    >>> import torch
    >>> from skhisto.io import resize_batch
    >>> resize_batch(torch.zeros(2, 3, 64, 48), 32).shape
    torch.Size([2, 3, 32, 32])
    """
    batch = batch.float()
    height, width = _size(size)
    if batch.shape[-2:] == (height, width):
        return batch
    return F.interpolate(
        batch, size=(height, width), mode="bilinear", antialias=True, align_corners=False
    )


@validate_params({"image": ["array-like"], "size": _SIZE}, prefer_skip_nested_validation=True)
def resize_image(image, size):
    """Resize one ``(H, W, 3)`` uint8 image, as every embedder resizes its input.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), dtype uint8
    size : int or (int, int)
        Side of the square output, or its ``(width, height)``.

    Returns
    -------
    ndarray of shape (height, width, 3), dtype uint8
        ``image`` itself when it already has that size, else a new array.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.io import resize_image
    >>> small = resize_image(np.full((64, 48, 3), 200, np.uint8), (24, 32))
    >>> small.shape, small[0, 0].tolist()
    ((32, 24, 3), [200, 200, 200])
    """
    height, width = _size(size)
    if not is_rgb_image(image):
        what = (
            f"shape {image.shape}, dtype {image.dtype}" if hasattr(image, "dtype") else type(image)
        )
        raise ValueError(f"resize_image takes one (H, W, 3) uint8 image; got {what}.")
    if image.shape[:2] == (height, width):
        return image
    tensor = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1)[None]
    resized = resize_batch(tensor, (width, height)).round_().clamp_(0, 255).to(torch.uint8)
    return resized[0].permute(1, 2, 0).numpy()
