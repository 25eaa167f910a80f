"""StainNormalizer: map H&E images to a reference stain (Reinhard, Macenko, Vahadane)."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..io import image_source
from ..utils import digest_arrays, resolve_device, torch_seed
from ..utils._constraints import DEVICE, POSITIVE_INT
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._augment import read_same_size
from ._color import od_to_rgb, percentile, rgb_to_od
from ._macenko import concentrations, macenko_stains
from ._reinhard import FLAT, reinhard_normalize, reinhard_statistics
from ._vahadane import luminosity_tissue, vahadane_od, vahadane_stains

#: The light intensity each method assumes by default: torchstain's Macenko, TIAToolbox's Vahadane.
_INTENSITY = {"reinhard": 240.0, "macenko": 240.0, "vahadane": 255.0}
#: Concentration percentile that sets each stain's maximum (Macenko's and Vahadane's 99th).
_MAX_PERCENTILE = 99.0


class StainNormalizer(TransformerMixin, BaseEstimator):
    """Map H&E images to the stain of reference images (Reinhard, Macenko or Vahadane).

    :meth:`fit` learns the reference stain from ``reference`` (or, when it is
    None, from ``X``); :meth:`transform` maps every image to it, in batches on
    ``device``. Use it before :class:`~skhisto.FoundationEmbedder` in a
    pipeline, or give it to the embedder (``FoundationEmbedder(stain=...)``),
    which normalises each resized batch and caches normalised embeddings
    apart from raw ones.

    Parameters
    ----------
    method : {"reinhard", "macenko", "vahadane"}, default="macenko"
        ``"reinhard"`` matches the mean and spread of each CIELAB channel;
        ``"macenko"`` finds two stain vectors at the extreme angles of the
        optical-density plane of most variance; ``"vahadane"`` finds them by
        sparse non-negative dictionary learning. Both stain methods then
        rescale each stain's concentrations to the reference's 99th percentile.
    reference : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths, optional
        Reference images fitted instead of ``X``: a parameter, so clones (in
        a grid search, or a cloned embedder) fit the same reference again.
    intensity : float, optional
        Transmitted light intensity ``Io`` of the optical density
        ``-log((I + 1) / Io)`` (Macenko; default 240, torchstain's) or
        ``-log(max(I, 1) / Io)`` (Vahadane; default 255, TIAToolbox's).
    alpha : float, default=1.0
        Macenko's angular percentile: the stain vectors are at the
        ``alpha``-th and ``(100 - alpha)``-th percentile angles.
    beta : float, default=0.15
        Optical density every channel of a tissue pixel reaches (Macenko's
        transparency threshold; also the tissue count of Reinhard).
    luminosity_threshold : float, default=0.8
        Vahadane's tissue pixels have CIELAB lightness below this (0-1),
        after stretching the image's 2nd-98th percentile to 0-255.
    regularizer : float, default=0.1
        Vahadane's L1 penalty of the dictionary learning.
    min_tissue_pixels : int, default=64
        Images with fewer tissue pixels pass through unchanged (see Notes);
        reference images with fewer, all together, are refused.
    device : str or torch.device, default="auto"
        Where the batches are computed (``"auto"``: CUDA when available).
        Vahadane's dictionary learning runs on the CPU.
    batch_size : int, default=64
    random_state : int, RandomState instance or None
        Seeds Vahadane's dictionary learning.

    Attributes
    ----------
    stain_matrix_ : ndarray of shape (3, 2)
        Reference stain vectors (unit columns: haematoxylin, eosin); Macenko
        and Vahadane only.
    max_concentrations_ : ndarray of shape (2,)
        99th-percentile concentration of each reference stain; Macenko and
        Vahadane only.
    target_means_ : ndarray of shape (3,)
        Reference CIELAB means (L in 0-100); Reinhard only.
    target_stds_ : ndarray of shape (3,)
        Reference CIELAB standard deviations; Reinhard only.
    n_tissue_pixels_ : int
        Tissue pixels of the reference images.
    seed_ : int
        Seed of Vahadane's dictionary learning, drawn from ``random_state``.
    fingerprint_ : dict
        What determines the output: method, parameters and a digest of the
        fitted state. :class:`~skhisto.FoundationEmbedder` keys its cache by it.
    passed_through_ : ndarray of shape (n,), dtype bool
        Which images of the last :meth:`transform` passed through unchanged.

    See Also
    --------
    skhisto.stain.HEDJitter : Stain augmentation instead of normalisation.

    Notes
    -----
    An image passes through unchanged (and is flagged in ``passed_through_``)
    when it cannot be normalised: fewer than ``min_tissue_pixels`` tissue
    pixels (white background, black or tiny tiles), a flat CIELAB channel
    (Reinhard: a single-colour tile), or stain vectors that coincide or a
    zero concentration (Macenko, Vahadane: a single-colour tile). No output
    is ever NaN. Fitting on references without enough tissue raises
    ``ValueError``.

    Macenko follows torchstain's conventions (``Io=240``, ``alpha=1``,
    ``beta=0.15``, every pixel's concentrations for the 99th percentile) and
    Reinhard torchstain's CIELAB over every pixel; Vahadane follows
    TIAToolbox's formulation, except that its two stain vectors are ordered
    by red optical density (haematoxylin first) where TIAToolbox orders them
    by their unnormalised first entry, which can map eosin onto haematoxylin.
    Outputs are rounded, where the references truncate to uint8. Several
    reference images are pooled: their pixels give one set of statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.stain import make_stained_tiles
    >>> from skhisto.stain import StainNormalizer
    >>> reference = make_stained_tiles(2, size=32, random_state=0)
    >>> images = make_stained_tiles(3, size=32, random_state=1)
    >>> normalizer = StainNormalizer("macenko", reference=reference).fit(images)
    >>> out = normalizer.transform(images)
    >>> out.shape, out.dtype, normalizer.stain_matrix_.shape
    ((3, 32, 32, 3), dtype('uint8'), (3, 2))
    """

    _parameter_constraints = {
        "method": [StrOptions({"reinhard", "macenko", "vahadane"})],
        "reference": ["array-like", None],
        "intensity": [Interval(Real, 1, None, closed="left"), None],
        "alpha": [Interval(Real, 0, 50, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "luminosity_threshold": [Interval(Real, 0, 1, closed="right")],
        "regularizer": [Interval(Real, 0, None, closed="neither")],
        "min_tissue_pixels": [Interval(Integral, 2, None, closed="left")],
        "device": DEVICE,
        "batch_size": POSITIVE_INT,
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="macenko",
        *,
        reference=None,
        intensity=None,
        alpha=1.0,
        beta=0.15,
        luminosity_threshold=0.8,
        regularizer=0.1,
        min_tissue_pixels=64,
        device="auto",
        batch_size=64,
        random_state=None,
    ):
        self.method = method
        self.reference = reference
        self.intensity = intensity
        self.alpha = alpha
        self.beta = beta
        self.luminosity_threshold = luminosity_threshold
        self.regularizer = regularizer
        self.min_tissue_pixels = min_tissue_pixels
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state

    @property
    def _intensity(self):
        return float(self.intensity or _INTENSITY[self.method])

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Learn the reference stain from ``reference``, or from ``X`` when it is None.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
            Reference images (any sizes: their pixels are pooled); ignored
            when ``reference`` is set.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ValueError
            When the reference images hold fewer than ``min_tissue_pixels``
            tissue pixels (blank or background images).
        """
        images = self.reference if self.reference is not None else X
        if images is None:
            raise ValueError("StainNormalizer.fit needs reference images: pass X or reference=.")
        source = image_source(images)
        device = resolve_device(self.device)
        self.seed_ = torch_seed(self.random_state)
        pixels = self._pooled(source, device)
        fit = {"reinhard": self._fit_reinhard, "macenko": self._fit_macenko}
        state = fit.get(self.method, self._fit_vahadane)(pixels, source)
        self.fingerprint_ = {
            "method": self.method,
            "params": repr(self._output_params()),
            "state": digest_arrays(*(np.round(value, 6) for value in state)),
        }
        self.passed_through_ = np.zeros(0, dtype=bool)
        return self

    def _pooled(self, source, device):
        """Each reference image's pixels, as float ``(1, P_i, 3)`` tensors on ``device``."""
        array = source.pixels()
        images = (
            array if array is not None else (source.read_checked(i) for i in range(len(source)))
        )
        return [torch.from_numpy(image).to(device).float().reshape(1, -1, 3) for image in images]

    def _output_params(self):
        names = ("intensity", "alpha", "beta", "luminosity_threshold", "regularizer")
        params = {name: float(getattr(self, name) or 0) for name in names}
        params["intensity"] = self._intensity
        params["min_tissue_pixels"] = int(self.min_tissue_pixels)
        if self.method == "vahadane":
            params["seed"] = self.seed_
        return sorted(params.items())

    def _check_tissue(self, count, images):
        self.n_tissue_pixels_ = int(count)
        if count < self.min_tissue_pixels:
            raise ValueError(
                f"The {images} reference image(s) hold {int(count)} tissue pixels, fewer than "
                f"min_tissue_pixels={self.min_tissue_pixels}: they look blank (white background, "
                "black or too small). Fit on tiles with H&E-stained tissue."
            )

    def _od_tissue(self, x):
        return (rgb_to_od(x, self._intensity, 1.0) >= self.beta).all(dim=-1)

    def _fit_reinhard(self, pixels, source):
        x = torch.cat(pixels, dim=1)
        self._check_tissue(self._od_tissue(x).sum(), len(source))
        means, stds = (v[0].double().cpu().numpy() for v in reinhard_statistics(x))
        if (stds < FLAT).any():
            raise ValueError(
                "The reference images are a single colour (a flat CIELAB channel); fit on tiles "
                "with H&E-stained tissue."
            )
        self.target_means_, self.target_stds_ = means, stds
        return means, stds

    def _fit_macenko(self, pixels, source):
        x = torch.cat(pixels, dim=1)
        stains, tissue, od = macenko_stains(x, io=self._intensity, alpha=self.alpha, beta=self.beta)
        self._check_tissue(tissue.sum(), len(source))
        return self._fit_stains(stains, od, "nearest")

    def _fit_vahadane(self, pixels, source):
        masks = [luminosity_tissue(x, self.luminosity_threshold)[0] for x in pixels]
        ods = [vahadane_od(x) for x in pixels]
        tissue = torch.cat([od[0][mask] for od, mask in zip(ods, masks, strict=True)])
        self._check_tissue(len(tissue), len(source))
        stains = vahadane_stains(tissue, regularizer=self.regularizer, random_state=self.seed_)
        if stains is None:
            raise _one_colour()
        od = torch.cat(ods, dim=1)
        return self._fit_stains(stains.to(od)[None], od, "linear")

    def _fit_stains(self, stains, od, interpolation):
        amounts, singular = concentrations(od, stains)
        maxima = _maxima(amounts, interpolation)
        if singular.any() or not (maxima > 1e-6).all() or not torch.isfinite(stains).all():
            raise _one_colour()
        self.stain_matrix_ = stains[0].double().cpu().numpy()
        self.max_concentrations_ = maxima[0].double().cpu().numpy()
        return self.stain_matrix_, self.max_concentrations_

    def transform(self, X):
        """Map images to the reference stain (the input is never modified).

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
            Paths must all give images of one size.

        Returns
        -------
        ndarray of shape (n, H, W, 3), dtype uint8
            Images that cannot be normalised come back unchanged and are
            flagged in ``passed_through_``.
        """
        check_is_fitted(self, "fingerprint_")
        images = read_same_size(X)
        device = resolve_device(self.device)
        out = np.empty_like(images)
        passed = np.zeros(len(images), dtype=bool)
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            x = torch.from_numpy(chunk).to(device).float()
            y, skipped = self._normalize(x.reshape(len(x), -1, 3))
            out[start : start + len(x)] = y.round_().to(torch.uint8).reshape(x.shape).cpu().numpy()
            passed[start : start + len(x)] = skipped.cpu().numpy()
        self.passed_through_ = passed
        return out

    def transform_tensor(self, images):
        """Normalise a float batch ``(n, 3, H, W)`` of 0-255 pixels on its device.

        What :class:`~skhisto.FoundationEmbedder` calls on each resized batch:
        the output stays float (not rounded), as the embedder's batches do.

        Parameters
        ----------
        images : torch.Tensor of shape (n, 3, H, W)

        Returns
        -------
        torch.Tensor of shape (n, 3, H, W), float32, values 0-255

        Examples
        --------
        >>> import torch
        >>> from skhisto.stain import make_stained_tiles
        >>> from skhisto.stain import StainNormalizer
        >>> reference = make_stained_tiles(2, size=32, random_state=0)
        >>> normalizer = StainNormalizer("reinhard").fit(reference)
        >>> batch = torch.full((1, 3, 8, 8), 255.0)  # white: passes through
        >>> bool((normalizer.transform_tensor(batch) == 255).all())
        True
        """
        check_is_fitted(self, "fingerprint_")
        n, c, h, w = images.shape
        x = images.float().permute(0, 2, 3, 1).reshape(n, h * w, c)
        y, _ = self._normalize(x)
        return y.reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous()

    def _normalize(self, x):
        """Normalised pixels ``(n, P, 3)`` and which images passed through unchanged."""
        if self.method == "reinhard":
            means = torch.as_tensor(self.target_means_, dtype=x.dtype, device=x.device)
            stds = torch.as_tensor(self.target_stds_, dtype=x.dtype, device=x.device)
            few = self._od_tissue(x).sum(dim=1) < self.min_tissue_pixels
            y, flat = reinhard_normalize(x, means, stds)
            skipped = few | flat
        elif self.method == "macenko":
            stains, tissue, od = macenko_stains(
                x, io=self._intensity, alpha=self.alpha, beta=self.beta
            )
            y, skipped = self._restain(od, stains, "nearest")
            skipped |= tissue.sum(dim=1) < self.min_tissue_pixels
        else:
            y, skipped = self._vahadane(x)
        skipped |= ~torch.isfinite(y).all(dim=2).all(dim=1)
        return torch.where(skipped[:, None, None], x, torch.nan_to_num(y)), skipped

    def _restain(self, od, stains, interpolation):
        amounts, singular = concentrations(od, stains)
        maxima = _maxima(amounts, interpolation)
        flat = ~(maxima > 1e-6).all(dim=1)
        target = torch.as_tensor(self.max_concentrations_, dtype=od.dtype, device=od.device)
        matrix = torch.as_tensor(self.stain_matrix_, dtype=od.dtype, device=od.device)
        amounts = amounts * (target / maxima.clamp(min=1e-6))[:, None]
        return od_to_rgb(amounts @ matrix.T, self._intensity), singular | flat

    def _vahadane(self, x):
        tissue = luminosity_tissue(x, self.luminosity_threshold)
        od = vahadane_od(x)
        skipped = tissue.sum(dim=1) < self.min_tissue_pixels
        stains = torch.zeros(len(x), 3, 2, dtype=x.dtype, device=x.device)
        for i in np.flatnonzero(~skipped.cpu().numpy()):
            found = vahadane_stains(
                od[i][tissue[i]], regularizer=self.regularizer, random_state=self.seed_
            )
            if found is None:
                skipped[i] = True
            else:
                stains[i] = found.to(stains)
        stains[skipped] = torch.eye(3, 2, dtype=x.dtype, device=x.device)  # any separable pair
        y, flat = self._restain(od, stains, "linear")
        return y, skipped | flat

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = ["uint8"]
        return tags


def _maxima(amounts, interpolation):
    """Each image's 99th-percentile concentration of each stain, ``(n, 2)``."""
    n, pixels, k = amounts.shape
    rows = amounts.transpose(1, 2).reshape(n * k, pixels)
    found = percentile(rows, _MAX_PERCENTILE, interpolation=interpolation)
    return found.reshape(n, k)


def _one_colour():
    return ValueError(
        "The reference images do not show two distinct stains (a single colour, or one stain "
        "only); fit on tiles with H&E-stained tissue."
    )
