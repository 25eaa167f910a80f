"""Shared implementation of the skorch-backed classification heads."""

import functools
import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_array
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch.utils.data import Subset

from ..exceptions import NonFiniteError
from ..utils import check_labels, resolve_device, seeded_torch, torch_seed
from ..utils._batching import writable
from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ..utils._split import check_validation_set, validation_split
from ..utils._threads import limit_threads
from ._interrupt import StopOnSigint, record_sigint
from ._losses import LOSSES
from ._module import HeadModule, softmax
from ._nonfinite import _HINT, StopOnNonFinite, check_finite_output

_OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}

# net_params prefixes the plain training loop honours (they only shape what initialize builds).
_PLAIN_NET_PREFIXES = ("module__", "criterion__", "optimizer__")

# skorch arguments the heads set from their own parameters; net_params may not override them.
_OWN_NET_ARGS = frozenset(
    {
        "module",
        "criterion",
        "optimizer",
        "lr",
        "max_epochs",
        "batch_size",
        "device",
        "train_split",
        "dataset",
    }
)


class _Rows(Dataset):
    """skorch's Dataset, handing torch writable rows.

    A read-only array (a memory-mapped embedding store) is read a batch of rows
    at a time and each row copied, never the whole array: training and
    prediction hold no copy of ``X``.
    """

    def transform(self, X, y):
        X, y = super().transform(X, y)
        if isinstance(X, np.ndarray) and not X.flags.writeable:
            X = X.copy()  # torch warns on arrays it cannot write to
        return X, y


def _split_by_indices(dataset, y=None, *args, train, valid, **kwargs):
    """skorch ``train_split``: views of the training data, no copy of its rows."""
    return Subset(dataset, train), Subset(dataset, valid)


# early_stopping="auto" holds out a validation set only when it has at least this many samples:
# the best epoch picked on a handful of (possibly noisy) labels is chance.
_AUTO_MIN_VALID = 50

_COMMON_PARAMS_DOC = """loss : {"cross_entropy", "gce", "sce", "nce+rce", "mae", "bootstrap"}, \
default="cross_entropy"
        Training loss: cross-entropy or one of the noise-robust baselines of
        :mod:`skhisto.heads._losses` (generalized CE with ``q=0.7``,
        symmetric CE, normalized CE + reverse CE, MAE, soft bootstrapping
        with ``beta=0.95``). Their hyper-parameters are reached through
        ``net_params``, e.g. ``{"criterion__q": 0.5}`` or
        ``{"criterion__hard": True}``.
    class_weight : {"balanced"}, dict or None, default=None
        Weights of the classes in the loss: ``{label: weight}``, or
        ``"balanced"`` for ``n_samples / (n_classes * n_class_samples)``.
    max_epochs : int, default=100
        Maximum number of passes over the training data.
    lr : float, default=LR_DEFAULT
        Learning rate.
    batch_size : int, default=64
        Mini-batch size for training and inference.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
        Optimizer; its other arguments go through ``net_params``
        (``{"optimizer__weight_decay": 1e-4}``).
    early_stopping : "auto" or bool, default="auto"
        Stop when the validation loss (the training loss function, without
        augmentation) has not improved for ``patience`` epochs. The
        validation set is the ``X_val, y_val`` given to ``fit``, or else
        ``validation_fraction`` of the training data held out (stratified
        by class, shuffled plainly when a class is too small), whose labels
        are the (possibly noisy) training labels. ``"auto"`` uses a given
        validation set whatever its size, and holds one out only when it
        has at least 50 samples (500 samples at the default
        ``validation_fraction``), otherwise training all ``max_epochs``;
        ``True`` raises a ValueError when fewer than 2 samples would be
        left to train on.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training data held out for early stopping when
        ``fit`` gets no ``X_val``.
    patience : int, default=10
        Epochs without validation improvement before stopping.
    restore_best_weights : bool, default=True
        When early stopping runs, end with the weights of the epoch of
        lowest validation loss; False keeps the last epoch's weights, as
        the label-noise paper's protocol does.
    tol : float in [0, 1), default=1e-4
        Relative improvement an epoch's validation loss needs to count:
        ``valid_loss < best * (1 - tol)`` (skorch's ``threshold_mode="rel"``).
        0 counts any decrease, as the paper's protocol does.
    augment_sigma : float, default=0.0
        Gaussian embedding augmentation during training: each sample gets
        noise of standard deviation ``sigma ~ U(0, augment_sigma)``; the
        paper uses 0.4. 0 turns it off.
    net_params : dict or None, default=None
        Further keyword arguments of :class:`skorch.NeuralNetClassifier`,
        routed skorch-style (``optimizer__weight_decay``,
        ``criterion__beta``, ``callbacks``, ``iterator_train__num_workers``).
        Keep them in this one dict, so ``get_params``, ``set_params`` and
        ``clone`` stay exact and grid searches can set them
        (``clf__net_params``). ``callbacks`` are added after the early
        stopping callback. The arguments the head sets from its own
        parameters (module, criterion, optimizer, lr, max_epochs,
        batch_size, device, train_split) are not accepted here.
    device : {"auto"} or str, default="auto"
        Torch device; ``"auto"`` picks CUDA, then MPS, else the CPU.
    n_threads : "auto", int or None, default="auto"
        CPU threads of ``fit``, ``predict`` and ``predict_proba`` (torch and
        the BLAS/OpenMP pools, set for the call and restored after). ``"auto"``
        is torch's thread count (in a parallel search's worker, joblib's
        share: ``cpu_count // n_jobs``) capped by the cores free when the call
        starts (the CPUs this process may use less the other runnable tasks),
        at least 1: more threads than free cores makes every parallel
        region wait for a descheduled thread, an order of magnitude slower.
        An int is used as given; None leaves torch's setting alone.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialization, the batch order, the augmentation
        and the validation split.
    verbose : int, default=0
        skorch's per-epoch log when positive."""


class BaseHead(ClassifierMixin, BaseEstimator):
    """Base class of the skorch heads.

    Table heads define ``_hidden_layer_sizes``; heads of other inputs (the
    MIL heads' bags) override the input hooks below ``fit`` and ``_module``,
    and share training, early stopping, interruption and divergence checks.
    """

    _parameter_constraints: dict = {
        "loss": [StrOptions(set(LOSSES))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "restore_best_weights": ["boolean"],
        "tol": [Interval(Real, 0, 1, closed="left")],
        "augment_sigma": [Interval(Real, 0, None, closed="left")],
        "net_params": [dict, None],
        "device": [str, torch.device],
        "n_threads": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # Tabular heads train and predict with a plain loop over row batches when they can;
    # the MIL heads' bags go through skorch's data loaders.
    _plain_loop = True

    def __init__(
        self,
        *,
        loss="cross_entropy",
        class_weight=None,
        max_epochs=100,
        lr=1e-2,  # LinearHead's default: a convex probe takes larger steps safely
        batch_size=64,
        optimizer="adam",
        early_stopping="auto",
        validation_fraction=0.1,
        patience=10,
        restore_best_weights=True,
        tol=1e-4,
        augment_sigma=0.0,
        net_params=None,
        device="auto",
        n_threads="auto",
        random_state=None,
        verbose=0,
    ):
        self.loss = loss
        self.class_weight = class_weight
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.tol = tol
        self.augment_sigma = augment_sigma
        self.net_params = net_params
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _hidden_layer_sizes(self):
        raise NotImplementedError

    def __sklearn_is_fitted__(self):
        # Fitted means a trained network, not just the classes_ fit sets before training.
        return hasattr(self, "net_")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, X_val=None, y_val=None):
        """Train the head on embeddings ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings (cast to float32).
        y : array-like of shape (n_samples,)
            Class labels of any type.
        X_val : array-like of shape (n_val_samples, n_features), default=None
            A validation set for early stopping, such as clean labels held
            out before noise was injected (see ``NoisyLabelClassifier``'s
            ``validation_fraction``); all of ``X`` then trains. Given as is:
            in a Pipeline, earlier steps do not transform it, so pass it
            transformed as the head will see ``X``. Needs ``y_val`` and
            ``early_stopping`` True or "auto".
        y_val : array-like of shape (n_val_samples,), default=None
            Labels of ``X_val``, all of them classes of ``y``.

        Returns
        -------
        self : object
            The fitted head.
        """
        name = type(self).__name__
        # A failed refit must not leave an earlier fit's network beside new classes_.
        self.__dict__.pop("net_", None)
        check_labels(y, name)
        X, y = self._validate_fit_data(X, y)
        if not (y.ndim == 1 and y.dtype.kind in "biuUS"):  # others may be continuous
            check_classification_targets(y)
        self.classes_, codes = _encode_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{name} needs at least 2 classes in y; y has one class: {self.classes_.tolist()}."
            )
        weight = self._class_weights(y)
        seed = torch_seed(self.random_state)
        if X_val is None and y_val is None:
            X, codes, train_split = self._hold_out(X, codes, seed)
        else:
            X_val, y_val = check_validation_set(
                X_val,
                y_val,
                n_features=self.n_features_in_,
                classes=self.classes_,
                early_stopping=self.early_stopping,
                owner=name,
                check_X=self._check_X_val,
            )
            train_split = predefined_split(
                self._dataset(X_val, np.searchsorted(self.classes_, y_val).astype(np.int64))
            )
        with limit_threads(self.n_threads) as n_threads, seeded_torch(seed):
            with record_sigint() as interrupted:
                net = self._make_net(self.n_features_in_, weight, train_split, interrupted)
                if self._uses_plain_loop(train_split):
                    _train_plain(net, X, codes, self.batch_size, interrupted)
                else:
                    net.fit(*self._net_fit_args(X, codes))
        if interrupted:
            raise KeyboardInterrupt(
                f"{name}.fit was interrupted in epoch {len(net.history)}; the head is unfitted."
            )
        self.net_ = net
        self.n_iter_ = len(net.history)
        self.n_threads_ = n_threads
        return self

    def _uses_plain_loop(self, train_split):
        """Whether training can skip skorch's loop (nothing in it would act)."""
        extra = self.net_params or {}
        return (
            self._plain_loop
            and train_split is None
            and not self.verbose
            and isinstance(self.optimizer, str)
            and all(key.startswith(_PLAIN_NET_PREFIXES) for key in extra)
        )

    # Input hooks: the tabular heads take a (n_samples, n_features) table; the MIL heads
    # (_mil.py) override them to take bags of patch embeddings.
    def _validate_fit_data(self, X, y):
        """``(X, y)`` checked for ``fit``; sets ``n_features_in_`` (and feature names)."""
        return validate_data(self, X, y, dtype=np.float32)  # a float32 memmap stays one

    def _check_X(self, X):
        """``X`` checked for prediction against the fitted ``n_features_in_``."""
        return validate_data(self, X, dtype=np.float32, reset=False)

    def _check_X_val(self, X_val):
        """The ``X_val`` given to ``fit``, checked (its width is compared by the caller)."""
        return writable(check_array(X_val, dtype=np.float32, input_name="X_val"))

    def _dataset(self, X, codes):
        """skorch Dataset of checked ``X`` and label codes (the given validation set)."""
        return Dataset(X, codes)

    def _net_fit_args(self, X, codes):
        """Positional arguments of ``net.fit`` for the checked training data."""
        return X, codes

    def _net_input(self, X):
        """What ``net.predict_proba`` gets for checked ``X``."""
        return X

    def _module(self, n_features):
        """The torch module class and its keyword arguments (without ``n_classes``)."""
        return HeadModule, {
            "n_features": n_features,
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "augment_sigma": self.augment_sigma,
        }

    def _iterator_params(self):
        """Extra skorch arguments of the data loaders (the MIL heads' collate function)."""
        return {}

    def _hold_out(self, X, codes, seed):
        """Training data and skorch train_split: a held-out share for early stopping, or none."""
        if not self._uses_early_stopping(len(codes)):
            return X, codes, None
        split = validation_split(codes, self.validation_fraction, seed)
        if split is None:
            raise ValueError(
                f"{type(self).__name__}(early_stopping=True) holds out validation_fraction="
                f"{self.validation_fraction} of {len(codes)} samples, leaving fewer than 2 to "
                "train on; pass early_stopping=False (or 'auto') or give more samples."
            )
        train, valid = split
        return X, codes, functools.partial(_split_by_indices, train=train, valid=valid)

    def _uses_early_stopping(self, n_samples):
        if self.early_stopping == "auto":
            return math.ceil(self.validation_fraction * n_samples) >= _AUTO_MIN_VALID
        return self.early_stopping

    def _class_weights(self, y):
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, dict):
            _check_class_weight(self.class_weight, self.classes_, type(self).__name__)
        weight = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        return weight.astype(np.float32)

    def _make_net(self, n_features, weight, train_split, interrupted=()):
        name = type(self).__name__
        extra = dict(self.net_params or {})
        overridden = sorted(_OWN_NET_ARGS & set(extra))
        if overridden:
            raise ValueError(
                f"net_params may not set {overridden}: use the {name} "
                "parameters of the same name (module and train_split are fixed)."
            )
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        if not issubclass(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"{name} optimizer must be 'adam', 'adamw', 'sgd' or a torch.optim.Optimizer "
                f"subclass, got {optimizer!r}."
            )
        callbacks = [] if train_split is None else [("early_stopping", self._early_stopping())]
        callbacks += list(extra.pop("callbacks", None) or [])
        # A Ctrl-C whose KeyboardInterrupt was swallowed (it can land in a finalizer)
        # still stops training at the next batch or epoch end.
        callbacks.append(("stop_on_ctrl_c", StopOnSigint(interrupted)))
        # Last, so it sees the weights early stopping restored.
        callbacks.append(("stop_on_non_finite", StopOnNonFinite(name, len(self.classes_))))
        module, module_params = self._module(n_features)
        device = str(resolve_device(self.device))
        try:  # built and initialized before training: a bad net_params key fails here
            return self._build_net(
                module, module_params, weight, train_split, optimizer, callbacks, extra, device
            )
        except (TypeError, ValueError) as exc:
            keys = sorted(self.net_params or {})
            raise ValueError(
                f"{name} could not build its network from loss={self.loss!r}, "
                f"optimizer={self.optimizer!r} and net_params keys {keys}: {exc}"
            ) from exc

    def _build_net(
        self, module, module_params, weight, train_split, optimizer, callbacks, extra, device
    ):
        return NeuralNetClassifier(
            module,
            module__n_classes=len(self.classes_),
            **{f"module__{key}": value for key, value in module_params.items()},
            criterion=LOSSES[self.loss],
            criterion__weight=weight,
            optimizer=optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train__shuffle=True,
            train_split=train_split,
            dataset=_Rows,
            callbacks=callbacks,
            classes=list(range(len(self.classes_))),
            predict_nonlinearity=softmax,
            device=device,
            verbose=self.verbose,
            **self._iterator_params(),
            **extra,
        ).initialize()

    def _early_stopping(self):
        return EarlyStopping(
            monitor="valid_loss",
            patience=self.patience,
            threshold=self.tol,
            threshold_mode="rel",
            load_best=self.restore_best_weights,
        )

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        X = self._check_X(X)
        with limit_threads(self.n_threads), torch.inference_mode():
            if self._uses_plain_loop(None):
                proba = _predict_plain(self.net_, X, self.batch_size)
            else:
                proba = self.net_.predict_proba(self._net_input(X))
        proba = proba.astype(np.float64)
        check_finite_output(proba, type(self).__name__)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels (the original labels of ``y``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _encode_labels(y):
    """Sorted classes of ``y`` and each label's int64 code, as ``LabelEncoder`` gives them.

    Arrays of one dtype: a sort and a search (LabelEncoder sorts twice more);
    object arrays: LabelEncoder's set and dict, faster than sorting objects.
    """
    if y.dtype.kind == "O":
        encoder = LabelEncoder()
        return encoder.fit(y).classes_, encoder.transform(y).astype(np.int64)
    classes = np.unique(y)
    return classes, np.searchsorted(classes, y).astype(np.int64)


def _rows(X, index):
    """Rows ``index`` of ``X`` as a float32 tensor torch may write (one copy of those rows)."""
    rows = X[index]
    if not rows.flags.writeable:  # a slice of a read-only memmap
        rows = rows.copy()
    return torch.from_numpy(rows)


def _train_plain(net, X, codes, batch_size, interrupted):
    """skorch's ``net.fit`` on rows ``X`` without a validation split, as a plain torch loop.

    The same work in the same order, so a seed gives the same weights: the
    network is initialized again (as ``fit`` does), every epoch draws the
    data loader's two seeds from torch's global generator (its base seed,
    then the shuffling generator's seed) and visits ``randperm`` batches;
    each step is ``zero_grad``, forward, loss, ``backward``, ``step``. What
    it leaves out is per-batch overhead: skorch collates each batch row by
    row and notifies every callback and the history of every batch. The
    history gets the same records (per batch ``train_loss`` and
    ``train_batch_size``; per epoch ``epoch``, ``train_batch_count``,
    ``dur``, ``train_loss``, ``train_loss_best``), written once per epoch;
    a non-finite batch loss is caught at the end of its epoch (one device
    sync per epoch), in the same error.
    """
    net.initialize()
    module, criterion, optimizer = net.module_, net.criterion_, net.optimizer_
    checks = dict(net.callbacks_)["stop_on_non_finite"]
    device = torch.device(net.device)
    on_cpu = device.type == "cpu"
    n = len(codes)
    starts = range(0, n, batch_size)
    module.train()
    best = math.inf
    for epoch in range(1, net.max_epochs + 1):
        start = time.time()
        torch.empty((), dtype=torch.int64).random_()  # the DataLoader iterator's base seed
        seed = int(torch.empty((), dtype=torch.int64).random_().item())  # RandomSampler's
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
        losses = []
        for i in starts:
            index = order[i : i + batch_size]
            Xi, yi = _rows(X, index), torch.from_numpy(codes[index])
            if not on_cpu:
                Xi, yi = Xi.to(device), yi.to(device)
            optimizer.zero_grad()
            loss = criterion(module(Xi), yi)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            if interrupted:  # a Ctrl-C: fit reports it
                break
        sizes = [min(batch_size, n - i) for i in starts[: len(losses)]]
        values = torch.stack(losses).cpu().tolist()
        net.history.new_epoch()
        net.history.record(
            "batches",
            [{"train_loss": v, "train_batch_size": s} for v, s in zip(values, sizes, strict=True)],
        )
        net.history.record("epoch", epoch)
        net.history.record("train_batch_count", len(values))
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            raise NonFiniteError(
                f"{checks.owner} diverged: the training loss became {bad[0]} in epoch {epoch} "
                f"(lr={net.lr}); {_HINT}."
            )
        net.history.record("dur", time.time() - start)
        train_loss = float(np.average(values, weights=sizes))
        net.history.record("train_loss", train_loss)
        net.history.record("train_loss_best", bool(train_loss < best))
        best = min(best, train_loss)
        if interrupted:
            return
        checks.on_epoch_end(net)
    checks.on_train_end(net)


def _predict_plain(net, X, batch_size):
    """skorch's ``net.predict_proba`` on rows ``X``: the same batches, without row collation."""
    module, device = net.module_, torch.device(net.device)
    module.eval()
    proba = [
        softmax(module(_rows(X, slice(i, i + batch_size)).to(device)).cpu())
        for i in range(0, len(X), batch_size)
    ]
    return torch.cat(proba).numpy()


def _check_class_weight(class_weight, classes, owner):
    """Every key of a class_weight dict is a class of y; every weight is finite and >= 0.

    Classes it leaves out keep weight 1 (scikit-learn's convention).
    """
    known = set(classes.tolist())
    unknown = [label for label in class_weight if label not in known]
    if unknown:
        raise ValueError(
            f"{owner} class_weight names {unknown}, which are not classes of y; the classes "
            f"of y are {classes.tolist()}."
        )
    bad = {
        k: w
        for k, w in class_weight.items()
        if not (isinstance(w, Real) and np.isfinite(w) and w >= 0)
    }
    if bad:
        raise ValueError(f"{owner} class_weight must be finite and non-negative; got {bad}.")
