"""The label-noise paper's comparison in one call: noise curves per backbone, head and loss."""

from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ..backbones import get_backbone_info
from ..embedding import FoundationEmbedder
from ..heads import LinearHead, MLPHead
from ..noise import check_noise_rates, list_noise_models
from ..utils import check_groups, check_labels, grouped_folds
from ..utils._optional import import_pandas
from ..utils._sklearn_compat import (
    HasMethods,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from ._noise_curve import _MAX_SEED, _noise_groups, _noise_template, noise_robustness_curve
from ._tracking import fit_tags

#: The columns of the returned table, in order.
COLUMNS = (
    "backbone",
    "family",
    "head",
    "loss",
    "rate",
    "fold",
    "score",
    "realized_rate",
    "noise",
    "scoring",
    "fit_time",
    "score_time",
)


def _entries(backbones):
    """``(name, spec)`` pairs: a list names its entries itself, a dict by its keys."""
    if isinstance(backbones, dict):
        entries = [(str(name), spec) for name, spec in backbones.items()]
    else:
        entries = [(_name(spec), spec) for spec in backbones]
    if not entries:
        raise ValueError("backbones is empty: pass at least one backbone name or embedder.")
    names = [name for name, _ in entries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"backbones names {repeated[0]!r} twice; pass a dict {{name: backbone}} to tell "
            "the entries apart."
        )
    return entries


def _name(spec):
    if isinstance(spec, str):
        return spec
    if isinstance(spec, FoundationEmbedder):
        return spec.backbone
    if hasattr(spec, "transform"):
        return type(spec).__name__
    raise ValueError(
        f"backbones lists a {type(spec).__name__}; a list takes backbone names and embedders, "
        "precomputed embeddings go in a dict {name: embeddings}."
    )


def _registry_family(name):
    """The registry's pretraining family of ``name`` ("unknown" for a name it does not know)."""
    try:
        return get_backbone_info(name).family
    except ValueError:
        return "unknown"


def _embedder(name, spec, X, params, seed, verbose):
    """A fitted transformer for ``spec`` (None for precomputed embeddings) and its family.

    Names are built with ``params``; an unfitted embedder is cloned and fitted on ``X``;
    a fitted one is used as it is. Fitting resolves the backbone and its weights without
    loading them, so a wrong name or unavailable weights fail before anything is embedded.
    """
    if not isinstance(spec, str) and not hasattr(spec, "transform"):
        return None, _registry_family(name)
    if X is None:
        raise ValueError(
            f"X is None, but backbone {name!r} has to embed images; pass the images, or "
            "precomputed embeddings in backbones={name: embeddings}."
        )
    if isinstance(spec, str):
        options = {"random_state": seed, "verbose": verbose, **params}
        embedder = FoundationEmbedder(spec, **options).fit(X)
    else:
        try:
            check_is_fitted(spec)
            embedder = spec
        except NotFittedError:
            embedder = clone(spec).fit(X)
    if isinstance(embedder, FoundationEmbedder):
        return embedder, embedder.backbone_info_.family
    return embedder, "unknown"


def _check_embeddings(name, embeddings, n_samples):
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or len(embeddings) != n_samples:
        raise ValueError(
            f"The embeddings of backbone {name!r} have shape {embeddings.shape}; expected "
            f"({n_samples}, n_features), one row per label."
        )
    return embeddings


def _loss_name(head):
    loss = head.get_params().get("loss", "")
    return loss if isinstance(loss, str) else type(loss).__name__


def _head_settings(heads, losses, seed):
    """``(head name, loss name, estimator)`` of each head (and loss), checked before any work."""
    if heads is None:
        heads = [MLPHead(random_state=seed), LinearHead(random_state=seed)]
    named = list(heads.items()) if isinstance(heads, dict) else [(None, h) for h in heads]
    if not named:
        raise ValueError("heads is empty: pass at least one classifier, or None for the default.")
    settings = []
    for name, head in named:
        name = type(head).__name__ if name is None else str(name)
        if not is_classifier(head):
            raise ValueError(f"heads: {name} must be a classifier, got {head!r}.")
        if losses is None:
            settings.append((name, _loss_name(head), clone(head)))
            continue
        if "loss" not in head.get_params():
            raise ValueError(
                f"heads: {name} has no 'loss' parameter, so losses={list(losses)!r} cannot be "
                "set on it; pass heads that take loss= (MLPHead, LinearHead) or losses=None."
            )
        settings += [(name, loss, clone(head).set_params(loss=loss)) for loss in losses]
    for name, loss, head in settings:
        try:  # a bad loss name fails now, not after embedding
            if hasattr(head, "_validate_params"):
                head._validate_params()
        except InvalidParameterError as exc:  # a ValueError: validate_params would rename it
            raise ValueError(f"heads: {name} with loss {loss!r}: {exc}") from None
    pairs = [(name, loss) for name, loss, _ in settings]
    repeated = [pair for pair in pairs if pairs.count(pair) > 1]
    if repeated:
        raise ValueError(
            f"heads: two heads are named {repeated[0][0]!r} with loss {repeated[0][1]!r}; pass a "
            "dict {name: head} to tell them apart."
        )
    return settings


@validate_params(
    {
        # Images as the embedders take them (they check them), or None with precomputed ones.
        "X": "no_validation",
        "y": ["array-like"],
        "backbones": [list, tuple, dict],
        "heads": [list, tuple, dict, None],
        "losses": [list, tuple, None],
        "rates": ["array-like"],
        "noise": [str, HasMethods(["fit_resample"])],
        "cv": ["cv_object"],
        "groups": ["array-like", None],
        "scoring": [str, callable, None],
        "embedder_params": [dict, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": [StrOptions({"auto"}), "boolean"],
    },
    prefer_skip_nested_validation=False,
)
def compare_backbones(
    X,
    y,
    backbones,
    *,
    heads=None,
    losses=None,
    rates=(0.0, 0.2, 0.4, 0.6),
    noise="uniform",
    cv=5,
    groups=None,
    scoring="balanced_accuracy",
    embedder_params=None,
    n_jobs=None,
    random_state=None,
    verbose=False,
):
    """Noise-robustness curves of several backbones, heads and losses on the same folds.

    The comparison of the label-noise paper (arXiv 2404.07605: contrastive
    against non-contrastive foundation models, each with a classifier head on
    frozen embeddings, across noise rates) in one call. Each backbone embeds
    ``X`` once (one ``transform``; through the embedding cache when its
    embedder has one), then :func:`noise_robustness_curve` scores every head
    (and loss) on those embeddings. The folds are drawn once, grouped when
    ``groups`` are given, and the noise once: every backbone, head and loss
    sees the same training and test samples and the same flipped labels.

    Parameters
    ----------
    X : images, or None
        What :class:`~skhisto.FoundationEmbedder` embeds: an array of RGB
        images, image paths or a patch table. None when every backbone is
        given as precomputed embeddings.
    y : array-like of shape (n_samples,)
        Clean labels.
    backbones : list or dict
        A list of backbone names (:func:`skhisto.backbones.list_backbones`
        or timm models, built as ``FoundationEmbedder(name,
        **embedder_params)``) and embedders (a fitted one is used as it is, an
        unfitted one is cloned and fitted on ``X``); or a dict of those, or of
        precomputed embeddings of shape ``(n_samples, n_features)``, by the
        name the table gives them. Two entries may not share a name.
    heads : list or dict of classifiers, default=None
        The classifiers trained on the embeddings (cloned), named by their
        class in a list or by their key in a dict. None means
        ``[MLPHead(random_state=seed), LinearHead(random_state=seed)]``.
    losses : list of str, default=None
        Loss names (``"cross_entropy"``, ``"gce"``, ``"sce"``, ``"nce+rce"``,
        ``"mae"``, ``"bootstrap"``; see :mod:`skhisto.heads`): each head is
        trained once per loss, with ``loss=`` set. None keeps each head's own.
    rates : array-like of float in [0, 1), default=(0.0, 0.2, 0.4, 0.6)
        Training label-noise rates.
    noise : str or noise sampler, default="uniform"
        As in :func:`noise_robustness_curve`.
    cv : int, cross-validation generator or iterable, default=5
        An int means stratified folds shuffled with ``random_state``
        (:class:`~sklearn.model_selection.StratifiedGroupKFold` with
        ``groups``). Drawn once, before anything is embedded; a splitter sees
        a placeholder ``X`` of ``n_samples`` rows.
    groups : array-like of shape (n_samples,), default=None
        Patient or slide of each sample: no fold shares a group between
        training and test.
    scoring : str or callable, default="balanced_accuracy"
        One scorer, applied to clean test labels.
    embedder_params : dict, default=None
        :class:`~skhisto.FoundationEmbedder` parameters of the backbones given
        by name, e.g. ``{"cache": "~/.cache/skhisto", "device": "cuda"}``.
        Their weights are the published ones unless this says
        ``"pretrained": False`` (or ``"weights"``): nothing falls back to a
        random initialization.
    n_jobs : int, default=None
        Parallel fits within each rate.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the noise, the default heads and the random
        initialization of backbones built with ``pretrained=False``.
    verbose : {"auto"} or bool, default=False
        Progress bars of the embedding and of the fits.

    Returns
    -------
    table : pandas.DataFrame
        One row per backbone, head, loss, rate and fold, with the columns
        ``backbone``, ``family`` (the registry's pretraining family:
        ``"contrastive"``, ``"non-contrastive"``, ``"supervised"`` or
        ``"unknown"``), ``head``, ``loss`` (``""`` for a head without one),
        ``rate``, ``fold``, ``score``, ``realized_rate``, ``noise``,
        ``scoring``, ``fit_time`` and ``score_time``; rows in the order of
        ``backbones``, ``heads``, ``losses`` and ``rates``.

    See Also
    --------
    noise_robustness_curve : One estimator's curve.
    skhisto.plotting.plot_noise_robustness : Draws the table, a color per
        backbone (its family in the legend) and a line style per head and loss.

    Examples
    --------
    Embeddings computed before, by registry name (here random ones, the first
    informative), with one head trained with two losses:

    >>> import numpy as np
    >>> from skhisto import LinearHead
    >>> from skhisto.model_selection import compare_backbones
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> embeddings = {"ctranspath": rng.normal(size=(40, 8)) + y[:, None]}
    >>> embeddings["uni"] = rng.normal(size=(40, 8))
    >>> table = compare_backbones(
    ...     None, y, embeddings, heads=[LinearHead(max_epochs=5, random_state=0)],
    ...     losses=["cross_entropy", "gce"], rates=[0.0, 0.4], cv=2, random_state=0,
    ... )
    >>> table[["backbone", "family"]].drop_duplicates().to_numpy().tolist()
    [['ctranspath', 'contrastive'], ['uni', 'non-contrastive']]
    >>> table.groupby(["backbone", "loss"]).size().tolist()  # 2 rates x 2 folds each
    [4, 4, 4, 4]

    Backbones by name embed the images themselves, each once (here two small
    timm models at random initialization, as asked):

    >>> images = rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    >>> table = compare_backbones(
    ...     images, y, ["resnet18", "test_convnext"], rates=[0.0], cv=2,
    ...     heads=[LinearHead(max_epochs=5, random_state=0)],
    ...     embedder_params={"pretrained": False, "image_size": 32}, random_state=0,
    ... )
    >>> sorted(set(zip(table["backbone"], table["family"], table["head"])))
    [('resnet18', 'supervised', 'LinearHead'), ('test_convnext', 'supervised', 'LinearHead')]
    """
    pd = import_pandas("compare_backbones (it returns a DataFrame)")
    check_labels(y, "compare_backbones")
    y = np.asarray(y)
    rates = check_noise_rates(rates)
    if isinstance(noise, str) and noise not in list_noise_models():
        raise InvalidParameterError(
            "The 'noise' parameter of compare_backbones must be a registered noise model "
            f"({', '.join(map(repr, list_noise_models()))}) or a sampler; got {noise!r}."
        )
    params = dict(embedder_params or {})
    if "backbone" in params:
        raise ValueError("embedder_params may not set 'backbone': list the names in backbones.")
    rng = check_random_state(random_state)
    seed = random_state  # an int or None as given, so a CLI seed means the same here
    if random_state is not None and not isinstance(random_state, Integral):
        seed = rng.randint(_MAX_SEED)
    groups = check_groups(groups, len(y))
    entries = _entries(backbones)
    settings = _head_settings(heads, losses, seed)
    folds = grouped_folds(cv, np.zeros((len(y), 1)), y, groups, random_state=rng.randint(_MAX_SEED))
    template = _noise_template(noise, rng.randint(_MAX_SEED))
    _noise_groups(template, groups)  # GroupNoise without groups fails here, not after embedding
    # Every backbone is resolved (names, weights) before the first one embeds anything.
    prepared = [
        (name, spec, *_embedder(name, spec, X, params, seed, verbose)) for name, spec in entries
    ]
    embedded = [
        (
            name,
            family,
            _check_embeddings(name, spec if embedder is None else embedder.transform(X), len(y)),
        )
        for name, spec, embedder, family in prepared
    ]
    tables = []
    for name, family, features in embedded:
        for head_name, loss, head in settings:
            with fit_tags(backbone=name, head=head_name, loss=loss):  # names tracked fits
                curve = noise_robustness_curve(
                    head,
                    features,
                    y,
                    rates,
                    noise=template,
                    cv=folds,
                    scoring=scoring,
                    n_jobs=n_jobs,
                    verbose=verbose,
                    groups=groups,
                )
            curve = curve.assign(backbone=name, family=family, head=head_name, loss=loss)
            tables.append(curve[list(COLUMNS)])
    return pd.concat(tables, ignore_index=True)
