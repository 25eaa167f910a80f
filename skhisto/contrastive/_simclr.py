"""SimCLREmbedder: contrastive pretraining of a timm encoder on unlabeled patches."""

import copy
import os
from numbers import Integral, Real

import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..backbones import check_image_size, get_backbone_info
from ..embedding import as_image_source, embed_images
from ..io import load_images
from ..utils import (
    atomic_write,
    checkpoint_file,
    digest_arrays,
    file_digest,
    prepare_model,
    resolve_device,
    resolve_precision,
    resume_checkpoint,
    run_identity,
    save_checkpoint,
    seeded_torch,
    torch_generator,
    torch_seed,
)
from ..utils._epochs import report_epoch
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._backend import backbone_normalization, create_encoder
from ._network import SimCLRNetwork, cpu_state
from ._train import train_simclr

# Parameters that shape the trained weights: a checkpoint resumes only when they match.
IDENTITY_PARAMS = (
    "backbone",
    "weights",
    "projection_dim",
    "temperature",
    "lr",
    "weight_decay",
    "batch_size",
    "image_size",
    "augment",
    "random_state",
)


def state_digest(tensors):
    """Digest of a state dict's tensors (the starting point of a warm start)."""
    return digest_arrays(*(t.detach().float().cpu().numpy() for t in tensors.values()))


class SimCLREmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Train a contrastive (SimCLR) encoder on unlabeled patches and embed images with it.

    ``fit`` trains a timm encoder and a three-layer projection head with the
    NT-Xent loss and Adam (betas 0.9, 0.999) on two augmented views of every
    image (color jitter, random resized crop, random grayscale, Gaussian
    blur, horizontal and vertical flips, 90-degree rotations), drawn
    batch-wise on the device. ``transform`` returns encoder features; the
    projection head is dropped.

    Parameters
    ----------
    backbone : str, default="resnet18"
        timm architecture (or registry name) of the encoder.
    weights : str or path, optional
        Initialize the encoder from this ``.safetensors`` state dict instead of
        a random init drawn from ``random_state``.
    projection_dim : int, default=128
        Width of the projection head's three layers.
    temperature : float, default=0.1
        NT-Xent temperature.
    lr : float, default=1e-4
        Adam learning rate.
    weight_decay : float, default=0.0
    batch_size : int, default=128
        Images per step (two views each); also the inference batch size.
    max_epochs : int, default=100
        Epochs per call to ``fit`` (with ``warm_start``, epochs added).
    image_size : int, default=224
        Images are decoded and resized once to this side, for training and
        for ``transform``.
    augment : dict, optional
        Overrides of :data:`skhisto.contrastive.DEFAULT_AUGMENT`.
    device : {"auto"} or str, default="auto"
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype; "auto" is bf16 on CUDA and fp32 elsewhere.
    random_state : int, RandomState instance or None
        Seeds the encoder init, the shuffling and the augmentations: the same
        value and data give the same weights on CPU.
    checkpoint_dir : str or path, optional
        A checkpoint (:data:`skhisto.utils.CHECKPOINT_FILE`) is written there
        atomically after every epoch; a later ``fit`` of the same data and
        parameters resumes from it. The directory is made when missing and
        checked writable before training starts. A checkpoint of
        another run (other data, parameters, seed or epochs) raises
        :class:`~skhisto.exceptions.CheckpointMismatchError` saying what
        differs and is left untouched; an unreadable one raises
        :class:`~skhisto.exceptions.CheckpointError`.
    warm_start : bool, default=False
        Continue training the fitted network (and optimizer) for
        ``max_epochs`` more epochs on the new ``X``.
    verbose : {"auto"} or bool, default="auto"
        Progress bar with the loss.

    Attributes
    ----------
    network_ : SimCLRNetwork
        Trained encoder and projection head, on the CPU.
    history_ : list of dict
        Per epoch: ``epoch``, ``loss``, ``time`` (seconds), ``n_images``.
    n_epochs_ : int
        Epochs trained in total (across warm starts).
    n_features_out_ : int
        Dimension of the features ``transform`` returns.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import SimCLREmbedder
    >>> X = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    >>> model = SimCLREmbedder(
    ...     image_size=32, batch_size=4, max_epochs=1, device="cpu", random_state=0, verbose=False
    ... ).fit(X)
    >>> model.transform(X).shape, [record["epoch"] for record in model.history_]
    ((8, 512), [1])
    """

    _parameter_constraints = {
        "backbone": [str],
        "weights": [str, os.PathLike, None],
        "projection_dim": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "image_size": [Interval(Integral, 8, None, closed="left")],
        "augment": [dict, None],
        "device": [str, torch.device],
        "precision": [
            StrOptions({"auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16"})
        ],
        "random_state": ["random_state"],
        "checkpoint_dir": [str, os.PathLike, None],
        "warm_start": ["boolean"],
        "verbose": [StrOptions({"auto"}), "boolean"],
    }

    def __init__(
        self,
        backbone="resnet18",
        *,
        weights=None,
        projection_dim=128,
        temperature=0.1,
        lr=1e-4,
        weight_decay=0.0,
        batch_size=128,
        max_epochs=100,
        image_size=224,
        augment=None,
        device="auto",
        precision="auto",
        random_state=None,
        checkpoint_dir=None,
        warm_start=False,
        verbose="auto",
    ):
        self.backbone = backbone
        self.weights = weights
        self.projection_dim = projection_dim
        self.temperature = temperature
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.image_size = image_size
        self.augment = augment
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
        self.verbose = verbose

    def _identity(self, images, state, warm):
        """This fit's run identity: parameters, data, epochs and (warm) starting weights."""
        params = {k: getattr(self, k) for k in IDENTITY_PARAMS}
        params["weights"] = None if self.weights is None else os.fspath(self.weights)
        params["epochs"] = f"{state['epoch']} to {state['epoch'] + self.max_epochs}"
        digests = {"data": digest_arrays(images)}
        if self.weights is not None and os.path.isfile(self.weights):
            digests["weights file"] = file_digest(self.weights)
        if warm:
            digests["warm-start weights"] = state_digest(state["network"])
        return run_identity(params, **digests)

    def _fresh_state(self):
        seed = torch_seed(self.random_state)
        encoder = create_encoder(
            self.backbone, weights=self.weights, random_state=seed, image_size=self.image_size
        )
        with seeded_torch(seed):
            network = SimCLRNetwork(encoder, self.projection_dim)
        return {
            "network": network.state_dict(),
            "optimizer": None,
            "index_rng": torch_generator(seed + 1).get_state(),
            "augment_seed": seed + 2,
            "augment_rng": None,
            "history": [],
            "epoch": 0,
        }, network

    def get_training_state(self):
        """The fitted training state, to continue training elsewhere or later.

        Everything :meth:`fit` with ``warm_start=True`` continues from: the
        network and optimizer, the random generators and the history. It holds
        only tensors, numbers, strings, lists and dicts, so
        ``torch.save(state, f)`` and ``torch.load(f, weights_only=True)``
        round-trip it (this is what :class:`~skhisto.ActiveSimCLR` keeps in its
        round checkpoints).

        Returns
        -------
        state : dict
            ``network`` and ``optimizer`` (state dicts, on the CPU),
            ``index_rng``, ``augment_seed`` and ``augment_rng`` (generator
            states), ``history`` (a copy of ``history_``) and ``epoch``
            (``n_epochs_``).

        See Also
        --------
        set_training_state : Restore such a state.

        Examples
        --------
        >>> import numpy as np
        >>> from skhisto import SimCLREmbedder
        >>> X = np.zeros((4, 32, 32, 3), dtype=np.uint8)
        >>> model = SimCLREmbedder(image_size=32, batch_size=4, max_epochs=1, verbose=False)
        >>> state = model.fit(X).get_training_state()
        >>> state["epoch"], sorted(state)[:3]
        (1, ['augment_rng', 'augment_seed', 'epoch'])
        """
        check_is_fitted(self, "network_")
        return {
            "network": cpu_state(self.network_.state_dict()),
            "optimizer": self.optimizer_state_,
            "index_rng": self.rng_state_["index"],
            "augment_seed": self.rng_state_["augment_seed"],
            "augment_rng": self.rng_state_["augment"],
            "history": [dict(r) for r in self.history_],
            "epoch": self.n_epochs_,
        }

    def set_training_state(self, state):
        """Make this estimator fitted with a state from :meth:`get_training_state`.

        The estimator must have the ``backbone``, ``projection_dim`` and
        ``image_size`` of the one the state came from (the network is rebuilt
        from them). ``transform`` then gives the same features, and ``fit``
        with ``warm_start=True`` continues training exactly where the state
        left off.

        Parameters
        ----------
        state : dict
            As returned by :meth:`get_training_state` (or loaded back from
            ``torch.save``).

        Returns
        -------
        self : SimCLREmbedder

        Examples
        --------
        >>> import numpy as np
        >>> from skhisto import SimCLREmbedder
        >>> images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        >>> params = dict(image_size=32, batch_size=4, device="cpu", verbose=False)
        >>> model = SimCLREmbedder(max_epochs=1, random_state=0, **params).fit(images)
        >>> copy = SimCLREmbedder(**params).set_training_state(model.get_training_state())
        >>> copy.n_epochs_, bool(np.allclose(copy.transform(images), model.transform(images)))
        (1, True)
        """
        encoder = create_encoder(self.backbone, random_state=0, image_size=self.image_size)
        return self._restore(state, SimCLRNetwork(encoder, self.projection_dim))

    def _restore(self, state, network):
        """Load ``state`` into ``network`` and make both the fitted attributes."""
        network.load_state_dict(state["network"])
        self.network_ = network.cpu().eval()
        self.optimizer_state_ = state["optimizer"]
        self.rng_state_ = {
            "index": state["index_rng"],
            "augment_seed": state["augment_seed"],
            "augment": state["augment_rng"],
        }
        self.history_ = [dict(r) for r in state["history"]]
        self.n_epochs_ = int(state["epoch"])
        self._n_features_out = self.network_.projector[0].in_features
        self.n_features_out_ = self._n_features_out
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the encoder contrastively on the images ``X`` (labels are ignored).

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths
            At least two unlabeled images.
        y : ignored

        Returns
        -------
        self
        """
        # Settings that would fail after hours of decoding or training fail now.
        check_image_size(get_backbone_info(self.backbone), self.image_size)
        path = checkpoint_file(self.checkpoint_dir)
        images = load_images(as_image_source(X), self.image_size)
        if len(images) < 2:
            raise ValueError(f"SimCLR needs at least 2 images to contrast; got {len(images)}.")
        device = resolve_device(self.device)
        warm = self.warm_start and hasattr(self, "network_")
        if warm:  # train a copy: a failed fit leaves the fitted network as it was
            state, network = self.get_training_state(), copy.deepcopy(self.network_)
        else:
            state, network = self._fresh_state()
        target = state["epoch"] + self.max_epochs
        identity = self._identity(images, state, warm)
        checkpoint = resume_checkpoint(path, identity)
        if checkpoint is not None:
            state = checkpoint["state"]
        network.load_state_dict(state["network"])
        self._train(network, state, images, device, target, identity, path)
        return self

    def _train(self, network, state, images, device, target, identity, path):
        network = prepare_model(network, device)
        optimizer = torch.optim.Adam(
            network.parameters(), lr=self.lr, betas=(0.9, 0.999), weight_decay=self.weight_decay
        )
        if state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
            for group in optimizer.param_groups:  # a warm start uses today's lr, not the saved one
                group.update(lr=self.lr, weight_decay=self.weight_decay)
        index_rng = torch.Generator()
        index_rng.set_state(state["index_rng"])
        augment_rng = torch_generator(state["augment_seed"], device)
        if state["augment_rng"] is not None:
            augment_rng.set_state(state["augment_rng"])
        history = [dict(r) for r in state["history"]]

        def snapshot(epoch):
            return {
                "network": cpu_state(network.state_dict()),
                "optimizer": cpu_state(optimizer.state_dict()),
                "index_rng": index_rng.get_state(),
                "augment_seed": state["augment_seed"],
                "augment_rng": augment_rng.get_state().cpu(),
                "history": [dict(r) for r in history],
                "epoch": epoch,
            }

        def on_epoch_end(epoch, record):
            history.append(record)
            if path is not None:
                save_checkpoint(path, {"identity": identity, "state": snapshot(epoch)})
            report_epoch("simclr", epoch, record)  # to a tracker listening (Tracker.epochs)

        mean, std = backbone_normalization(self.backbone)
        train_simclr(
            network,
            optimizer,
            images,
            start_epoch=state["epoch"],
            end_epoch=target,
            batch_size=self.batch_size,
            temperature=self.temperature,
            mean=mean,
            std=std,
            device=device,
            dtype=resolve_precision(self.precision, device),
            index_generator=index_rng,
            augment_generator=augment_rng,
            augment=self.augment,
            on_epoch_end=on_epoch_end,
            verbose=self.verbose,
        )
        self._restore(snapshot(target), network)

    def transform(self, X):
        """Encoder features of the images ``X``.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, 3), dtype uint8, or sequence of paths

        Returns
        -------
        ndarray of shape (n, n_features_out), dtype float32
        """
        check_is_fitted(self, "network_")
        mean, std = backbone_normalization(self.backbone)
        features = embed_images(
            self.network_.encoder.eval(),
            X,
            image_size=self.image_size,
            mean=mean,
            std=std,
            batch_size=self.batch_size,
            device=self.device,
            precision=self.precision,
            verbose=self.verbose,
        )
        self.network_.cpu()
        return features

    def save_encoder(self, path):
        """Write the encoder as a timm state dict in ``.safetensors`` (atomically).

        The file loads into ``FoundationEmbedder(backbone=self.backbone, weights=path)``.
        It is written through :func:`skhisto.utils.atomic_write`: an existing
        file is replaced whole or left as it was, and errors name the path.

        Parameters
        ----------
        path : str or path

        Returns
        -------
        str
            The path written.
        """
        from safetensors.torch import save

        check_is_fitted(self, "network_")
        path = os.fspath(path)
        if not path.endswith(".safetensors"):
            raise ValueError(f"save_encoder writes .safetensors files; got {path!r}.")
        tensors = {
            k: v.contiguous() for k, v in cpu_state(self.network_.encoder.state_dict()).items()
        }
        payload = save(tensors, metadata={"backbone": self.backbone, "format": "timm"})
        with atomic_write(path) as f:
            f.write(payload)
        return path

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        tags.non_deterministic = self.device != "cpu"
        return tags
