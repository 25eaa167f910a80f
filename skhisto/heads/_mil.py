"""Slide-level heads: multiple-instance learning on bags of patch embeddings."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data
from skorch.utils import to_device

from ..utils._bags import check_bags, is_bag_list
from ..utils._sklearn_compat import Interval
from ._base import _COMMON_PARAMS_DOC, BaseHead
from ._module import GatedAttentionMIL, MeanPoolMIL
from ._nonfinite import check_finite_output


class _BagDataset(torch.utils.data.Dataset):
    """Bags (and their label codes) one at a time; :func:`collate_bags` pads each batch."""

    def __init__(self, bags, codes=None):
        self.bags = bags
        self.codes = codes

    def __len__(self):
        return len(self.bags)

    def __getitem__(self, i):
        return self.bags[i], (0 if self.codes is None else self.codes[i])


def collate_bags(batch):
    """Pad a batch of ``(bag, code)`` to its longest bag: ``({"X", "mask"}, codes)``.

    Only the batch is padded, never the data set: a slide's thousands of
    patches cost memory only while its batch is in use.
    """
    lengths = [len(bag) for bag, _ in batch]
    X = np.zeros((len(batch), max(lengths), batch[0][0].shape[1]), dtype=np.float32)
    mask = np.zeros(X.shape[:2], dtype=bool)
    for row, ((bag, _), n) in enumerate(zip(batch, lengths, strict=True)):
        X[row, :n] = bag
        mask[row, :n] = True
    codes = torch.as_tensor(np.array([code for _, code in batch], dtype=np.int64))
    return {"X": torch.from_numpy(X), "mask": torch.from_numpy(mask)}, codes


def _is_bags(X):
    return is_bag_list(X) or (getattr(X, "ndim", None) == 3 and not hasattr(X, "columns"))


class _MILHead(BaseHead):
    """Base class of the MIL heads: bag input on BaseHead's training machinery."""

    _parameter_constraints: dict = {
        **BaseHead._parameter_constraints,
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    _module_class = None
    _plain_loop = False  # bags go through skorch's loaders and collate function

    def fit(self, X, y, *, X_val=None, y_val=None):
        """Train the head on bags ``X`` (one per slide) and their labels ``y``.

        Parameters
        ----------
        X : list of array-like of shape (n_patches_i, n_features), \
array-like of shape (n_bags, n_patches, n_features) or (n_bags, n_features)
            Bags of patch embeddings, ragged sizes allowed (a 2-D array is
            bags of one patch each).
        y : array-like of shape (n_bags,)
            One class label per bag, of any type.
        X_val : bags, default=None
            A validation set for early stopping, in any of the forms of
            ``X``; all of ``X`` then trains. Needs ``y_val`` and
            ``early_stopping`` True or "auto".
        y_val : array-like of shape (n_val_bags,), default=None
            Labels of ``X_val``, all of them classes of ``y``.

        Returns
        -------
        self : object
            The fitted head.
        """
        return super().fit(X, y, X_val=X_val, y_val=y_val)

    def predict_proba(self, X):
        """Class probabilities of each bag, columns in the order of ``classes_``.

        Parameters
        ----------
        X : bags
            As in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_bags, n_classes)
        """
        return super().predict_proba(X)

    def predict(self, X):
        """Predicted class label of each bag (the original labels of ``y``).

        Parameters
        ----------
        X : bags
            As in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_bags,)
        """
        return super().predict(X)

    # BaseHead's input hooks, for bags.
    def _validate_fit_data(self, X, y):
        if not _is_bags(X):  # a table: bags of one patch, checked as the other heads do
            X, y = validate_data(self, X, y, dtype=np.float32)
            return X[:, None, :], y
        bags = check_bags(X, estimator=self, reset=True)
        y = validate_data(self, X="no_validation", y=y)
        check_consistent_length(bags, y)
        return bags, y

    def _check_X(self, X):
        return check_bags(X, estimator=self, reset=False)

    def _check_X_val(self, X_val):
        return check_bags(X_val, estimator=self, reset=False, input_name="X_val")

    def _dataset(self, X, codes):
        return _BagDataset(X, codes)

    def _net_fit_args(self, X, codes):
        return _BagDataset(X, codes), None

    def _net_input(self, X):
        return _BagDataset(X)

    def _module_params(self):
        return {"hidden_size": self.hidden_size, "dropout": self.dropout}

    def _module(self, n_features):
        return self._module_class, {
            "n_features": n_features,
            **self._module_params(),
            "augment_sigma": self.augment_sigma,
        }

    def _iterator_params(self):
        return {
            "iterator_train__collate_fn": collate_bags,
            "iterator_valid__collate_fn": collate_bags,
        }

    def _pooling_weights(self, X):
        """The fitted module's pooling weight of each patch, one array per bag."""
        check_is_fitted(self)
        bags = self._check_X(X)
        net = self.net_
        net.module_.eval()
        weights = []
        with torch.inference_mode():
            for Xi, _ in net.get_iterator(_BagDataset(bags), training=False):
                Xi = to_device(Xi, net.device)
                a = net.module_.attention(**Xi).double().cpu().numpy()
                lengths = Xi["mask"].sum(dim=1).tolist()
                weights += [row[:n] for row, n in zip(a, lengths, strict=True)]
        for w in weights:
            check_finite_output(w[None, :], type(self).__name__)
        return [w / w.sum() for w in weights]


class ABMILHead(_MILHead):
    _parameter_constraints: dict = {
        **_MILHead._parameter_constraints,
        "attention_size": [Interval(Integral, 1, None, closed="left")],
    }

    _module_class = GatedAttentionMIL

    def __init__(
        self,
        *,
        hidden_size=128,
        attention_size=64,
        dropout=0.25,
        loss="cross_entropy",
        class_weight=None,
        max_epochs=50,
        lr=2e-3,
        batch_size=8,
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
        super().__init__(
            loss=loss,
            class_weight=class_weight,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            restore_best_weights=restore_best_weights,
            tol=tol,
            augment_sigma=augment_sigma,
            net_params=net_params,
            device=device,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.hidden_size = hidden_size
        self.attention_size = attention_size
        self.dropout = dropout

    def _module_params(self):
        return {**super()._module_params(), "attention_size": self.attention_size}

    def attention(self, X):
        """Attention weight of every patch of every bag, for heat maps.

        Parameters
        ----------
        X : bags
            As in :meth:`fit`.

        Returns
        -------
        attention : list of ndarray
            One 1-D float array per bag, of length ``n_patches_i`` and in
            patch order, summing to 1: the weights ``a_k`` of the bag
            embedding ``z = sum_k a_k h_k``.

        Examples
        --------
        >>> import numpy as np
        >>> from skhisto import ABMILHead
        >>> rng = np.random.default_rng(0)
        >>> bags = [rng.normal(size=(n, 8)) for n in (5, 9, 7, 6)]
        >>> head = ABMILHead(max_epochs=2, random_state=0).fit(bags, [0, 1, 0, 1])
        >>> weights = head.attention(bags[:2])
        >>> [w.shape for w in weights], [round(float(w.sum()), 6) for w in weights]
        ([(5,), (9,)], [1.0, 1.0])
        """
        return self._pooling_weights(X)


class MeanPoolHead(_MILHead):
    _module_class = MeanPoolMIL

    def __init__(
        self,
        *,
        hidden_size=128,
        dropout=0.25,
        loss="cross_entropy",
        class_weight=None,
        max_epochs=50,
        lr=2e-3,
        batch_size=8,
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
        super().__init__(
            loss=loss,
            class_weight=class_weight,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            restore_best_weights=restore_best_weights,
            tol=tol,
            augment_sigma=augment_sigma,
            net_params=net_params,
            device=device,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
        )
        self.hidden_size = hidden_size
        self.dropout = dropout


_MIL_DOC = """{summary}

    A scikit-learn classifier wrapping skorch's
    :class:`~skorch.NeuralNetClassifier` that classifies **bags** of patch
    embeddings, one bag per whole-slide image, from one label per bag
    (multiple-instance learning). ``X`` is a list of 2-D arrays
    ``(n_patches_i, n_features)`` of any sizes (:func:`~skhisto.make_bags`
    builds it from a patch table), a 3-D array of equal-size bags, or a 2-D
    array, read as bags of one patch each. Each training or prediction
    batch is padded to its longest bag and the padding masked out; the data
    set is never padded as a whole. Labels of any type are encoded
    internally and ``predict`` returns them as given.

    {architecture}

    The defaults suit slide-level data sets of tens to thousands of bags:
    ``lr=2e-3``, ``batch_size=8`` bags, ``max_epochs=50``, ``dropout=0.25``.
    Ilse et al. trained one bag per step at ``lr=5e-4``; a batch of 8 bags
    takes larger steps, so that a cohort of a dozen slides (two steps per
    epoch) is learnt within the 50 epochs.
    Batches are padded, so memory grows with ``batch_size`` times the
    largest bag.

    Parameters
    ----------
    {params}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in ``fit``.
    net_ : skorch.NeuralNetClassifier
        The fitted network (its ``history`` holds the per-epoch losses).
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Embedding dimension seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in,)
        Column names, when ``X`` was a DataFrame (bags of one patch) with
        string column names.

    See Also
    --------
    {see_also}

    Notes
    -----
    Training that diverges (a NaN or infinite batch loss, or weights that
    end non-finite) raises :class:`~skhisto.exceptions.NonFiniteError`
    naming the epoch and ``lr``; so do ``predict_proba`` and ``predict``
    when the outputs for some bags are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import {name}
    >>> rng = np.random.default_rng(0)
    >>> bags = [rng.normal(size=(n, 16)) for n in rng.integers(5, 30, size=40)]
    >>> y = rng.integers(0, 2, size=40)
    >>> head = {name}(max_epochs=5, random_state=0).fit(bags, y)
    >>> head.predict(bags[:3]).shape
    (3,)
"""

_MIL_COMMON_DOC = (
    _COMMON_PARAMS_DOC.replace("LR_DEFAULT", "2e-3")
    .replace("max_epochs : int, default=100", "max_epochs : int, default=50")
    .replace(
        "batch_size : int, default=64\n        Mini-batch size for training and inference.",
        "batch_size : int, default=8\n        Bags per mini-batch, in training and inference.",
    )
    .replace(
        "noise of standard deviation ``sigma ~ U(0, augment_sigma)``",
        "noise of standard deviation ``sigma ~ U(0, augment_sigma)``, one sigma per bag",
    )
    .replace("samples", "bags")
    .replace("each sample gets", "each bag's patches get")
)
_MIL_SIZES_DOC = """hidden_size : int, default=128
        Width of the instance encoder ``Linear(n_features, hidden_size)``
        + ReLU + Dropout applied to every patch.
    """
_DROPOUT_DOC = """dropout : float in [0, 1), default=0.25
        Dropout after the instance encoder, in training only.
    """

ABMILHead.__doc__ = _MIL_DOC.format(
    summary="Gated attention MIL head (Ilse, Tomczak & Welling, ICML 2018).",
    architecture="""Each patch ``x_k`` is encoded as ``h_k = Dropout(ReLU(W x_k + b))``;
    the gated attention ``a_k = softmax_k(w^T (tanh(V h_k) * sigmoid(U h_k)))``
    weighs the bag's patches (padding gets weight 0), and a linear layer
    classifies the bag embedding ``z = sum_k a_k h_k``. :meth:`attention`
    returns the weights ``a_k`` of each bag, for heat maps.""",
    params=_MIL_SIZES_DOC
    + """attention_size : int, default=64
        Width of the attention's ``V`` and ``U`` projections.
    """
    + _DROPOUT_DOC
    + _MIL_COMMON_DOC,
    see_also="MeanPoolHead : The mean-pooling baseline on the same bags.",
    name="ABMILHead",
)
MeanPoolHead.__doc__ = _MIL_DOC.format(
    summary="Mean-pooling MIL head: the baseline of the attention head.",
    architecture="""Each patch ``x_k`` is encoded as ``h_k = Dropout(ReLU(W x_k + b))``,
    the bag embedding is the mean of its patches' ``h_k`` (padding left
    out), and a linear layer classifies it: :class:`ABMILHead` with
    uniform attention. A signal carried by a few patches of a large bag
    is diluted by the average.""",
    params=_MIL_SIZES_DOC + _DROPOUT_DOC + _MIL_COMMON_DOC,
    see_also="ABMILHead : Gated attention pooling of the same bags.",
    name="MeanPoolHead",
)
