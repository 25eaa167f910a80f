"""HED jitter (Tellez et al., 2018): random scaling and shifting of each stain's concentration."""

from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..io import image_source
from ..utils import resolve_device, torch_generator, torch_seed
from ..utils._constraints import DEVICE, POSITIVE_INT
from ..utils._sklearn_compat import Interval, _fit_context, validate_params
from ._color import hed_matrix


@validate_params(
    {
        "images": [torch.Tensor],
        "generator": [torch.Generator],
        "sigma": [Interval(Real, 0, 1, closed="left")],
        "bias": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def hed_jitter(images, generator, *, sigma=0.05, bias=0.05):
    """Jitter the haematoxylin, eosin and DAB content of every image in a batch.

    Each image's pixels are unmixed into Ruifrok & Johnston's HED stains
    (optical density), each stain's concentration ``c`` becomes
    ``c * a + b`` with ``a ~ U(1 - sigma, 1 + sigma)`` and
    ``b ~ U(-bias, bias)`` drawn per image and stain, and the result is mixed
    back to RGB. A white pixel stays white when ``bias=0``.

    Parameters
    ----------
    images : torch.Tensor of shape (n, 3, H, W)
        Float images in [0, 1], or uint8 (scaled here), on any device.
    generator : torch.Generator
        Source of the draws; must live on ``images.device``.
    sigma : float, default=0.05
        Relative spread of the concentration scale.
    bias : float, default=0.05
        Spread of the concentration shift (optical-density units).

    Returns
    -------
    torch.Tensor of shape (n, 3, H, W), float32 in [0, 1]

    Notes
    -----
    Pixels darker than 1/255 are clamped to 1/255 before the logarithm, so
    black pixels give finite optical densities (no NaN, no infinity).

    Examples
    --------
    >>> import torch
    >>> from skhisto.stain import hed_jitter
    >>> images = torch.rand(2, 3, 16, 16)
    >>> out = hed_jitter(images, torch.Generator().manual_seed(0), sigma=0.1, bias=0.02)
    >>> out.shape, bool(0 <= out.min() and out.max() <= 1)
    (torch.Size([2, 3, 16, 16]), True)
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    n, device = len(x), x.device
    stains = hed_matrix(torch.float32, device)
    unmix = torch.linalg.inv(stains)
    od = -torch.log((x * 255.0).clamp(min=1.0) / 255.0).permute(0, 2, 3, 1)
    amounts = od @ unmix
    scale = 1 + sigma * (2 * torch.rand(n, 1, 1, 3, generator=generator, device=device) - 1)
    shift = bias * (2 * torch.rand(n, 1, 1, 3, generator=generator, device=device) - 1)
    od = (amounts * scale + shift) @ stains
    return torch.exp(-od).clamp_(0.0, 1.0).permute(0, 3, 1, 2).contiguous()


class HEDJitter(TransformerMixin, BaseEstimator):
    """Stain augmentation of uint8 images by HED jitter, e.g. for test-time augmentation.

    :func:`hed_jitter` on batches of images on the device. The draws come
    from a generator seeded by ``random_state`` at every :meth:`transform`, so
    one instance gives the same view of the same images each time; clones with
    other seeds give other views (test-time augmentation averages them). For
    SimCLR views set ``p_hed`` in ``SimCLREmbedder(augment=...)`` instead.

    Parameters
    ----------
    sigma : float, default=0.05
        Relative spread of each stain's concentration scale.
    bias : float, default=0.05
        Spread of each stain's concentration shift (optical density).
    device : str or torch.device, default="auto"
    batch_size : int, default=64
    random_state : int, RandomState instance or None

    Attributes
    ----------
    seed_ : int
        Torch seed of the draws, from ``random_state``.

    See Also
    --------
    skhisto.stain.StainNormalizer : Map images to a reference stain instead.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.stain import HEDJitter
    >>> images = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    >>> views = [HEDJitter(sigma=0.1, random_state=seed).fit_transform(images) for seed in (0, 1)]
    >>> views[0].shape, views[0].dtype, bool((views[0] != views[1]).any())
    ((3, 16, 16, 3), dtype('uint8'), True)
    """

    _parameter_constraints = {
        "sigma": [Interval(Real, 0, 1, closed="left")],
        "bias": [Interval(Real, 0, None, closed="left")],
        "device": DEVICE,
        "batch_size": POSITIVE_INT,
        "random_state": ["random_state"],
    }

    def __init__(self, sigma=0.05, bias=0.05, *, device="auto", batch_size=64, random_state=None):
        self.sigma = sigma
        self.bias = bias
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Draw the seed; nothing is learned from ``X``.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self
        """
        self.seed_ = torch_seed(self.random_state)
        return self

    def transform(self, X):
        """Jitter images (never modified in place).

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
            Paths must all give images of one size.

        Returns
        -------
        ndarray of shape (n, H, W, 3), dtype uint8
        """
        check_is_fitted(self, "seed_")
        device = resolve_device(self.device)
        generator = torch_generator(self.seed_, device)
        images = read_same_size(X)
        out = np.empty_like(images)
        for start in range(0, len(images), self.batch_size):
            batch = torch.from_numpy(images[start : start + self.batch_size]).to(device)
            jittered = hed_jitter(
                batch.permute(0, 3, 1, 2), generator, sigma=self.sigma, bias=self.bias
            )
            pixels = (jittered * 255.0).round_().to(torch.uint8).permute(0, 2, 3, 1)
            out[start : start + len(batch)] = pixels.cpu().numpy()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = ["uint8"]
        return tags


def read_same_size(X):
    """``X`` (a uint8 array or image paths) as one ``(n, H, W, 3)`` uint8 array (not copied)."""
    source = image_source(X)
    pixels = source.pixels()
    if pixels is not None:
        return pixels
    first = source.read_checked(0)
    out = np.empty((len(source), *first.shape), dtype=np.uint8)
    for i in range(len(source)):
        image = first if i == 0 else source.read_checked(i)
        if image.shape != first.shape:
            raise ValueError(
                f"{source.name(i)} is {image.shape[1]}x{image.shape[0]} but {source.name(0)} is "
                f"{first.shape[1]}x{first.shape[0]}; stain transforms keep each image's size, so "
                "load same-size images (skhisto.io.load_images(paths, image_size)) or normalise "
                "inside FoundationEmbedder(stain=...), which resizes first."
            )
        out[i] = image
    return out
