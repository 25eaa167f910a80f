"""One resume protocol: a run's identity is checked before any checkpoint is continued."""

import json

import numpy as np

from ..exceptions import CheckpointMismatchError


def run_identity(params, **data_digests):
    """The identity of a run: the parameters that shape its result plus data digests.

    Parameters
    ----------
    params : dict
        Parameter name to value; values are stored by their ``repr`` so that
        estimators and paths compare by what they say, not by object id.
    **data_digests : str
        Digests of the data (see :func:`skhisto.utils.digest_arrays`).

    Returns
    -------
    dict of str to str
        JSON-serialisable, so it travels inside ``.npz`` and torch checkpoints.

    Examples
    --------
    >>> from skhisto.utils import run_identity
    >>> run_identity({"batch_size": 10}, data="ab12")
    {'param:batch_size': '10', 'data': 'ab12'}
    """
    identity = {f"param:{k}": _describe(v) for k, v in params.items()}
    identity.update({k: str(v) for k, v in data_digests.items()})
    return identity


def _describe(value):
    if hasattr(value, "get_params"):  # an estimator: its class and parameters
        return f"{type(value).__name__}({_describe(value.get_params(deep=False))})"
    if isinstance(value, dict):
        return json.dumps({str(k): _describe(v) for k, v in value.items()}, sort_keys=True)
    if isinstance(value, np.random.RandomState):
        return "RandomState instance"  # its state moves on: compare the kind only
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    text = repr(value)
    # A default repr holds a memory address that differs in every process.
    return type(value).__qualname__ if " at 0x" in text else text


def check_identity(saved, current, source, *, restart):
    """Raise :class:`CheckpointMismatchError` unless ``saved == current``.

    Parameters
    ----------
    saved, current : dict
        Identities from :func:`run_identity`; ``saved`` None means a
        checkpoint from an older format, which never matches.
    source : str
        The checkpoint file, named in the error.
    restart : str
        How to start afresh (e.g. "delete it or pass another checkpoint=").

    Examples
    --------
    >>> from skhisto.utils import check_identity, run_identity
    >>> check_identity(run_identity({"lr": 0.1}), run_identity({"lr": 0.1}), "run.pt", restart="")
    >>> check_identity(
    ...     run_identity({"lr": 0.1}), run_identity({"lr": 0.01}), "run.pt", restart="delete it"
    ... )  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.exceptions.CheckpointMismatchError: Checkpoint 'run.pt' belongs to another run ...
    """
    if saved == current:
        return
    if not isinstance(saved, dict):
        raise CheckpointMismatchError(
            f"Checkpoint {source!r} was written by another version of skhisto or another "
            f"program and cannot be resumed; {restart}."
        )
    differences = []
    for key in sorted(set(saved) | set(current)):
        if saved.get(key) != current.get(key):
            name = key.removeprefix("param:")
            if key.startswith("param:"):
                differences.append(
                    f"{name}={saved.get(key, '<unset>')} there, {current.get(key, '<unset>')} now"
                )
            else:
                differences.append(f"{name}: not the same")
    raise CheckpointMismatchError(
        f"Checkpoint {source!r} belongs to another run and is not resumed: "
        + "; ".join(differences)
        + f". To start afresh, {restart}."
    )
