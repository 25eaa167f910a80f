"""FoundationEmbedder: a frozen foundation model as a scikit-learn transformer."""

import errno
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..backbones import (
    check_image_size,
    check_resolution,
    create_backbone,
    get_backbone_info,
    resolve_weights,
)
from ..utils import (
    STORE,
    ensure_writable_dir,
    prepare_model,
    progress,
    resolve_device,
    resolve_precision,
    torch_seed,
    warn,
    writable_dir,
)
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context
from ._cache import FORMAT_VERSION, fingerprint_id, open_cache
from ._inference import embed_images
from ._inputs import as_image_source
from ._leases import KeyLeases, lease_size, wait_step
from ._provenance import write_cache_provenance

#: Buffer this many fresh embeddings before writing a cache shard.
SHARD_SIZE = 1024


def _weights_digest(info, weights, pretrained):
    # Local files are hashed by skhisto.utils.file_digest, memoised by file
    # identity, so a file replaced at the same path gets its new digest. Only
    # hub look-ups (network or hub cache) are memoised here, once per process,
    # keyed by the source itself: an entry re-registered under the same name
    # with another source is looked up afresh.
    if weights is not None or not pretrained:
        return resolve_weights(info, weights, pretrained)
    source = (info.hub_id, info.url, info.loader, info.weight_files)
    return STORE.memo("weights", source, lambda: resolve_weights(info, weights, pretrained))


def _fingerprint(info, weights, image_size, dtype):
    """What determines the embeddings of ``info`` (the cache and model-store key)."""
    fingerprint = {
        "backbone": info.name,
        "architecture": info.architecture,
        "timm_kwargs": repr(sorted(info.timm_kwargs.items())),
        "pooling": info.pooling,
        "weights": weights,
        "image_size": image_size,
        "mean": list(info.mean),
        "std": list(info.std),
        "precision": str(dtype),
        "format": FORMAT_VERSION,
    }
    if info.config:  # a transformers entry's recorded architecture
        fingerprint["config"] = repr(sorted(info.config.items()))
    if callable(info.checkpoint_filter):
        # A user's converter changes the weights loaded; built-in ones follow
        # from the architecture, already here (and old caches keep their keys).
        convert = info.checkpoint_filter
        name = getattr(convert, "__qualname__", type(convert).__qualname__)
        fingerprint["checkpoint_filter"] = f"{getattr(convert, '__module__', '')}.{name}"
    return fingerprint


def _fit_stain(stain, X):
    """The fitted stain normaliser: ``stain`` itself when fitted, else a clone fitted on ``X``
    (on its ``reference`` when it has one)."""
    if stain is None:
        return None
    try:
        check_is_fitted(stain, "fingerprint_")
    except NotFittedError:
        return clone(stain).fit(X)
    return stain


def _check_cache(cache):
    # A read-only cache (a lab's precomputed one on read-only storage) serves what it holds;
    # it is refused only when an embedding must be written (_refuse_read_only).
    folder = Path(cache).expanduser()
    if folder.is_dir() and not writable_dir(folder):
        return
    ensure_writable_dir(cache, "cache")


def _refuse_read_only(root, cache, source, missing, n):
    folder = cache.directory if cache.directory.exists() else Path(root).expanduser()
    if writable_dir(folder):
        return
    first = source.name(int(missing[0]))
    raise PermissionError(
        errno.EACCES,
        f"Cache {str(root)!r} is read-only and lacks {len(missing)} of the {n} embeddings asked "
        f"for (e.g. {first}); it serves what it holds. Embed the others with a writable "
        "cache= (or none).",
    )


def _check_patch_resolution(info, source):
    # Sources that know their resolution (patches of slides): warn when far from the model's.
    if source.mpp is not None:
        for mpp in np.unique(np.asarray(source.mpp, dtype=float)):
            if check_resolution(info, float(mpp)):
                break


class FoundationEmbedder(TransformerMixin, BaseEstimator):
    """Embed histology images with a frozen foundation model.

    The backbone is built lazily on the first :meth:`transform` that needs it
    and shared by every clone in the process, so GridSearchCV pays for it once.
    With ``cache`` set, embeddings are stored on disk by image content and the
    backbone's fingerprint; images seen before are never re-embedded.

    Parameters
    ----------
    backbone : str, default="resnet18"
        Registry name (see :func:`skhisto.backbones.list_backbones`) or any
        timm model name. Each registered model brings its own normalization.
    weights : str or os.PathLike, optional
        Local weights file (``.safetensors``, ``.pth``, ``.bin``), e.g. a
        checkpoint downloaded elsewhere or saved by :class:`SimCLREmbedder`,
        or a transformers entry's ``save_pretrained`` folder. It is loaded
        exactly at the first transform: a key or shape that does not fit the
        entry's published recipe raises :class:`~skhisto.backbones.WeightsError`
        naming it (``skhisto.backbones.check_checkpoint`` checks a file first).
    pretrained : bool, default=True
        Load the published weights when ``weights`` is None. Never falls back
        to random weights silently; ``False`` asks for a random init.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available.
    batch_size : int, default=64
    num_workers : int, default=0
        DataLoader workers that decode image paths.
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        ``"auto"``: bf16 autocast on CUDA, fp32 on the CPU.
    image_size : int, optional
        Resize images to this side (default: the backbone's input size). For
        a ViT or Swin it must be a multiple of the patch size, else the image
        border would be ignored (see :func:`skhisto.backbones.check_image_size`).
    cache : str or os.PathLike, optional
        Directory of the embedding cache, checked writable at ``fit``. Shards
        get the umask's permissions, so a group can share one cache.
    verbose : {"auto"} or bool, default="auto"
        Progress bar (``"auto"``: only on long runs).
    random_state : int, RandomState instance or None
        Seeds the random initialization when ``pretrained=False``: the same
        value gives the same weights every time.
    stain : StainNormalizer, optional
        Normalise each resized batch to a reference stain before the backbone
        (:class:`skhisto.stain.StainNormalizer`). A fitted one is used as is;
        an unfitted one is fitted at :meth:`fit`, on its ``reference`` or else
        on ``X``. Its fitted state joins the fingerprint, so normalised
        embeddings are cached apart from raw ones.

    Attributes
    ----------
    backbone_info_ : BackboneInfo
        Registry entry of the backbone.
    image_size_ : int
        Side the images are resized to.
    n_features_out_ : int
        Embedding dimension.
    fingerprint_ : dict
        What determines the embeddings (backbone, weights digest, preprocessing).
    seed_ : int
        Torch seed drawn from ``random_state`` for a random initialization.
    stain_ : StainNormalizer or None
        The fitted stain normaliser, when ``stain`` is set.

    Examples
    --------
    >>> from skhisto import FoundationEmbedder
    >>> import numpy as np
    >>> images = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    >>> embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=64, random_state=0)
    >>> embedder.fit_transform(images).shape
    (2, 512)
    """

    _parameter_constraints = {
        "backbone": [str],
        "weights": [str, os.PathLike, None],
        "pretrained": ["boolean"],
        "device": [str, torch.device],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "num_workers": [Interval(Integral, 0, None, closed="left")],
        "precision": [
            StrOptions({"auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16"})
        ],
        "image_size": [Interval(Integral, 8, None, closed="left"), None],
        "cache": [str, os.PathLike, None],
        "verbose": [StrOptions({"auto"}), "boolean"],
        "random_state": ["random_state"],
        "stain": [HasMethods(["fit", "transform_tensor"]), None],
    }

    def __init__(
        self,
        backbone="resnet18",
        *,
        weights=None,
        pretrained=True,
        device="auto",
        batch_size=64,
        num_workers=0,
        precision="auto",
        image_size=None,
        cache=None,
        verbose="auto",
        random_state=None,
        stain=None,
    ):
        self.backbone = backbone
        self.weights = weights
        self.pretrained = pretrained
        self.device = device
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.precision = precision
        self.image_size = image_size
        self.cache = cache
        self.verbose = verbose
        self.random_state = random_state
        self.stain = stain

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the input and resolve the backbone; no weights are loaded here.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths or patch table
        y : ignored

        Returns
        -------
        self
        """
        source = as_image_source(X)
        info = get_backbone_info(self.backbone)
        check_image_size(info, self.image_size)
        _check_patch_resolution(info, source)
        if self.cache is not None:
            _check_cache(self.cache)
        _, digest = _weights_digest(info, self.weights, self.pretrained)
        self.backbone_info_ = info
        self.image_size_ = self.image_size or info.input_size
        self.n_features_out_ = info.embed_dim
        self.seed_ = torch_seed(self.random_state)
        dtype = resolve_precision(self.precision, resolve_device(self.device))
        weights = f"random:{self.seed_}" if digest == "random" else digest
        self.fingerprint_ = _fingerprint(info, weights, self.image_size_, dtype)
        self.stain_ = _fit_stain(self.stain, X)
        if self.stain_ is not None:  # absent otherwise: raw caches keep their keys
            self.fingerprint_["stain"] = self.stain_.fingerprint_
        return self

    def _model(self):
        # Shared by every clone in the process (GridSearchCV builds it once);
        # the key holds the fingerprint, hence the weights digest.
        device = resolve_device(self.device)
        model = {name: v for name, v in self.fingerprint_.items() if name != "stain"}
        key = (fingerprint_id(model), str(device))
        return STORE.model(key, lambda: self._build(device)), key

    def _build(self, device):
        model, _ = create_backbone(
            self.backbone,
            weights=self.weights,
            pretrained=self.pretrained,
            random_state=self.seed_,
            image_size=self.image_size_,
            expected_digest=self.fingerprint_["weights"],
        )
        return prepare_model(model, device)

    def _embed(self, X, on_batch=None, verbose=None):
        model, key = self._model()
        info = self.backbone_info_

        def checked(start, embeddings):
            # Every batch, before it is cached: a wrong width would corrupt the
            # feature names and file wrong-sized vectors in the cache.
            if embeddings.shape[1] != self.n_features_out_:
                raise ValueError(
                    f"Backbone {self.backbone!r} returned {embeddings.shape[1]}-dimensional "
                    f"embeddings, but its registry entry says {self.n_features_out_}; fix "
                    "embed_dim in the registry."
                )
            if on_batch is not None:
                on_batch(start, embeddings)

        return embed_images(
            model,
            X,
            image_size=self.image_size_,
            mean=info.mean,
            std=info.std,
            batch_size=self.batch_size,
            device=self.device,
            precision=self.precision,
            num_workers=self.num_workers,
            verbose=self.verbose if verbose is None else verbose,
            model_id=key[0],
            on_batch=checked,
            stain=None if self.stain_ is None else self.stain_.transform_tensor,
        )

    def transform(self, X):
        """Embed images.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, sequence of paths or patch table
            RGB images (any size; they are resized), JPEG/PNG/TIFF files
            (RGBA composited on white, grayscale replicated to RGB), or a
            patch table of whole-slide images (:class:`skhisto.SlideTiler`,
            :func:`skhisto.slides.read_coordinates`) whose regions are read
            in the DataLoader workers; no patch file is written. A patch's
            cache key is its slide's identity (head bytes, size, mtime) and
            its region.

        Returns
        -------
        ndarray of shape (n, n_features_out), dtype float32
        """
        check_is_fitted(self, "fingerprint_")
        source = as_image_source(X)
        _check_patch_resolution(self.backbone_info_, source)
        if self.cache is None:
            return self._embed(source)
        return self._cached_transform(source)

    def _cached_transform(self, source):
        cache = open_cache(self.cache, self.fingerprint_)
        # Slide digests are remembered in the cache's digests/ folder: a slide is read
        # whole once per version, not once per process.
        keys = source.keys_checked(digest_dir=cache.digest_dir)
        # Duplicated images are looked up and embedded once, in the order they come (files
        # read in the caller's order, the batches of an uncached transform).
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first)
        unique, first, inverse = unique[order], first[order], np.argsort(order)[inverse.ravel()]
        rows = np.empty((len(unique), self.n_features_out_), dtype=np.float32)
        found, cached = cache.lookup(unique)
        if cached is not None:
            rows[found] = cached
        if not found.all():
            _refuse_read_only(self.cache, cache, source, first[~found], len(unique))
            write_cache_provenance(cache.directory, self)
            self._embed_missing(cache, source, unique, first, rows, ~found)
        return rows[inverse]

    def _embed_missing(self, cache, source, keys, first, rows, missing):
        """Embed the ``missing`` keys, lease by lease; wait for those others embed."""
        leases = KeyLeases(cache.directory)
        size = lease_size(missing.sum(), self.batch_size)
        bar = progress(None, total=int(missing.sum()), desc="embedding", verbose=self.verbose)
        attempt = 0
        with bar:
            while missing.any():
                todo = np.flatnonzero(missing)
                found, cached, mine, lease = leases.claim(keys[todo], cache.lookup, size)
                if cached is not None:
                    rows[todo[found]] = cached
                    missing[todo[found]] = False
                    bar.update(int(found.sum()))
                if lease is None:  # the rest is being embedded by other processes
                    if missing.any():
                        wait_step(attempt)
                        attempt += 1
                    continue
                attempt = 0
                try:
                    chosen = todo[mine]
                    rows[chosen] = self._embed_stored(cache, source, keys, first, chosen, bar)
                    missing[chosen] = False
                finally:
                    lease.release()  # after the shard is stored: no one redoes these keys

    def _embed_stored(self, cache, source, keys, first, chosen, bar):
        subset = source.take(first[chosen])
        buffer = _ShardBuffer(cache, keys[chosen], subset)

        def on_batch(start, embeddings):
            buffer.add(start, embeddings)
            bar.update(len(embeddings))

        try:
            return self._embed(subset, on_batch=on_batch, verbose=False)
        finally:
            buffer.flush()

    def get_feature_names_out(self, input_features=None):
        """Names ``<backbone>_0`` ... ``<backbone>_{dim-1}`` of the embedding columns."""
        check_is_fitted(self, "n_features_out_")
        return np.asarray(
            [f"{self.backbone}_{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class _ShardBuffer:
    """Collects embeddings batch by batch and writes them as cache shards.

    Files are keyed before they are decoded; a file that changed in between
    (replaced mid-run) would file one image's embedding under another's key
    for every later user of the cache, so each file (or slide) is keyed
    again before its row is stored, and rows whose file changed are not.
    """

    def __init__(self, cache, keys, source):
        self.cache, self.keys = cache, keys
        # Images in memory cannot change between keying and embedding; files can.
        self.source = source if source.pixels() is None else None
        self.parts, self.start, self.size = [], 0, 0

    def add(self, start, embeddings):
        self.parts.append(embeddings)
        self.size += len(embeddings)
        if self.size >= SHARD_SIZE:
            self.flush()

    def flush(self):
        if not self.parts:
            return
        block = np.concatenate(self.parts)
        rows = slice(self.start, self.start + len(block))
        keys = self.keys[rows]
        if self.source is not None:
            part = self.source.take(np.arange(rows.start, rows.stop))
            unchanged = part.keys_checked(digest_dir=self.cache.digest_dir) == keys
            if not unchanged.all():
                first = np.flatnonzero(~unchanged)[0]
                warn(
                    f"{int((~unchanged).sum())} images changed while they were embedded (e.g. "
                    f"{part.name(first)}); their embeddings were returned but not cached.",
                    UserWarning,
                )
            keys, block = keys[unchanged], block[unchanged]
        self.cache.store(keys, block)
        self.start = rows.stop
        self.parts, self.size = [], 0
