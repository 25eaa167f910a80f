"""The public heads: the paper's MLP head and a linear probe."""

from numbers import Integral

from ._base import _COMMON_PARAMS_DOC, BaseHead

_HEAD_DOC = """{summary}

    A scikit-learn classifier wrapping skorch's
    :class:`~skorch.NeuralNetClassifier`, meant for frozen embeddings such as
    those of :class:`~skhisto.FoundationEmbedder`. Labels of any type are
    encoded internally and ``predict`` returns them as given.

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
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    {see_also}

    Notes
    -----
    Training that diverges (a NaN or infinite batch loss, or weights that
    end non-finite) raises :class:`~skhisto.exceptions.NonFiniteError`
    naming the epoch and ``lr``, instead of returning a model that predicts
    NaN probabilities; so do ``predict_proba`` and ``predict`` when the
    outputs for some inputs are not finite. Lower ``lr`` or standardize the
    embeddings.

    Without a validation set, ``verbose``, callbacks or other data loader
    settings in ``net_params``, training runs a plain torch loop over
    batches of rows (the same initialization, batch order, steps and
    history as skorch's loop, without its per-row collation and per-batch
    callbacks); otherwise skorch's ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skhisto import {name}
    >>> X, y = make_classification(n_samples=200, n_features=16, random_state=0)
    >>> head = {name}(max_epochs=5, random_state=0).fit(X, y)
    >>> head.predict(X[:3]).shape
    (3,)
"""


class MLPHead(BaseHead):
    _parameter_constraints: dict = {
        **BaseHead._parameter_constraints,
        "hidden_layer_sizes": [tuple, list],
    }

    # scikit-learn reads parameters from the signature, so it is spelled out in full.
    def __init__(
        self,
        hidden_layer_sizes=(512, 128, 64),
        *,
        loss="cross_entropy",
        class_weight=None,
        max_epochs=100,
        lr=1e-3,
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
        self.hidden_layer_sizes = hidden_layer_sizes

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not all(isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in sizes):
            raise ValueError(
                "MLPHead hidden_layer_sizes must be positive integers (layer widths); "
                f"got {sizes!r}."
            )
        return tuple(int(n) for n in sizes)


class LinearHead(BaseHead):
    # The base signature is the linear probe's (lr=1e-2); MLPHead spells out its own.
    def _hidden_layer_sizes(self):
        return ()


MLPHead.__doc__ = _HEAD_DOC.format(
    summary="The paper's MLP head: ReLU layers of 512, 128 and 64 units on the embeddings.",
    params="""hidden_layer_sizes : tuple of int, default=(512, 128, 64)
        Widths of the hidden ReLU layers.
    """
    + _COMMON_PARAMS_DOC.replace("LR_DEFAULT", "1e-3"),
    see_also="LinearHead : A linear probe on the same embeddings.",
    name="MLPHead",
)
LinearHead.__doc__ = _HEAD_DOC.format(
    summary="A linear probe: one linear layer from embeddings to class logits.",
    params=_COMMON_PARAMS_DOC.replace("LR_DEFAULT", "1e-2"),
    see_also="MLPHead : The paper's MLP head (512-128-64, ReLU).",
    name="LinearHead",
)
