"""One resume protocol: a run's identity, and its checkpoint written whole and read safely.

Every resumable object keeps its state in one file, :data:`CHECKPOINT_FILE`
in its ``checkpoint_dir``: ``ActiveLearner`` after every round,
``SimCLREmbedder`` after every epoch, ``ActiveSimCLR`` after every round.
The file is a ``.npz`` of the state's arrays and tensors beside one JSON
member holding everything else (numbers, strings, lists, dicts and the run's
identity). It is written through :func:`~skhisto.utils.atomic_write` and
read with ``allow_pickle=False``: nothing in it is ever unpickled.
``embed_dataset``'s Zarr store keeps its own chunked layout (a store resumes
chunk by chunk) and checks its run with the same :func:`run_identity` and
:func:`check_identity`, so every refusal names what differs the same way.
"""

import json
import os
import sys
import zipfile

import numpy as np

from ..exceptions import CheckpointError, CheckpointMismatchError
from ._files import check_regular_file, ensure_writable_dir, io_error
from ._sklearn_compat import validate_params
from ._writes import atomic_write

#: The name of a resumable object's checkpoint file inside its ``checkpoint_dir``.
CHECKPOINT_FILE = "checkpoint.npz"

#: What the JSON member says of the file's layout; another value is another version's file.
_FORMAT = {"format": "skhisto.checkpoint", "version": 1}
_HEADER = "checkpoint"  # the JSON member; the arrays are "array_<i>"


@validate_params({"params": [dict]}, prefer_skip_nested_validation=True)
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
        JSON-serializable, so it travels inside checkpoints and store attributes.

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


@validate_params(
    {
        "saved": "no_validation",  # whatever an older file held: it is told apart below
        "current": [dict],
        "source": [str, os.PathLike],
        "restart": [str],
        "what": [str],
    },
    prefer_skip_nested_validation=True,
)
def check_identity(saved, current, source, *, restart, what="Checkpoint"):
    """Raise :class:`CheckpointMismatchError` unless ``saved == current``.

    Parameters
    ----------
    saved, current : dict
        Identities from :func:`run_identity`; ``saved`` None means a
        checkpoint from an older format, which never matches.
    source : str or os.PathLike
        The checkpoint file (or store), named in the error.
    restart : str
        How to start afresh (e.g. "delete it or pass another checkpoint_dir=").
    what : str, default="Checkpoint"
        What ``source`` is, as the message's first word (``"Store"``).

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
    source = os.fspath(source)
    if not isinstance(saved, dict):
        raise _other_version(source, restart, what)
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
        f"{what} {source!r} belongs to another run and is not resumed: "
        + "; ".join(differences)
        + f". To start afresh, {restart}."
    )


def _other_version(source, restart, what="Checkpoint"):
    return CheckpointMismatchError(
        f"{what} {source!r} was written by another version of skhisto or another "
        f"program and cannot be resumed; {restart}."
    )


def restart_hint(parameter):
    """How a refused checkpoint's message says to start afresh (one wording everywhere)."""
    return f"delete it or pass another {parameter}="


@validate_params(
    {"checkpoint_dir": [str, os.PathLike, None], "parameter": [str]},
    prefer_skip_nested_validation=True,
)
def checkpoint_file(checkpoint_dir, *, parameter="checkpoint_dir"):
    """The checkpoint file of ``checkpoint_dir``, the folder made and proven writable first.

    Called before any work starts, so a run never trains for hours to fail
    at its first save.

    Parameters
    ----------
    checkpoint_dir : str, os.PathLike or None
        The folder; None means no checkpoint.
    parameter : str, default="checkpoint_dir"
        The parameter it came from, named in errors.

    Returns
    -------
    pathlib.Path or None
        ``checkpoint_dir / CHECKPOINT_FILE`` (None without a folder).

    Raises
    ------
    OSError
        Naming the parameter and the folder when it cannot be made or written.
    ValueError
        When something other than a file is in the checkpoint's place.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import checkpoint_file
    >>> path = checkpoint_file(os.path.join(tempfile.mkdtemp(), "run"))
    >>> path.name, path.parent.is_dir(), path.exists()
    ('checkpoint.npz', True, False)
    """
    if checkpoint_dir is None:
        return None
    path = ensure_writable_dir(checkpoint_dir, parameter) / CHECKPOINT_FILE
    if path.exists() and not path.is_file():
        raise ValueError(
            f"{parameter}={os.fspath(checkpoint_dir)!r} holds {CHECKPOINT_FILE!r}, which is "
            "not a file; remove it or pass another folder."
        )
    return path


@validate_params({"path": [str, os.PathLike], "state": [dict]}, prefer_skip_nested_validation=True)
def save_checkpoint(path, state):
    """Write ``state`` to ``path`` atomically, as arrays plus JSON (never a pickle).

    Written through :func:`skhisto.utils.atomic_write`: a run killed
    mid-write leaves the previous checkpoint whole and no temporary file
    (the next write in the folder removes a ``kill -9``'s).

    Parameters
    ----------
    path : str or os.PathLike
        The file, usually ``checkpoint_file(checkpoint_dir)``; its folder is
        made when missing.
    state : dict
        Numpy arrays (not of dtype object), torch tensors (read back on the
        CPU), numbers, strings, None, and lists, tuples and dicts of them;
        dict keys may be any of the scalars. By convention ``state["identity"]``
        holds the run's :func:`run_identity`, which :func:`resume_checkpoint`
        checks.

    Raises
    ------
    TypeError
        Naming the value that a checkpoint cannot hold (nothing is written).
    OSError
        Naming ``path`` when it cannot be written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skhisto.utils import load_checkpoint, save_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.npz")
    >>> save_checkpoint(path, {"epoch": 3, "weights": np.ones(2), "steps": {0: (1, 2)}})
    >>> state = load_checkpoint(path)
    >>> state["epoch"], state["weights"], state["steps"]
    (3, array([1., 1.]), {0: (1, 2)})
    """
    arrays = []
    header = dict(_FORMAT, state=_encode(state, arrays))
    members = {f"array_{i}": array for i, array in enumerate(arrays)}
    members[_HEADER] = np.array(json.dumps(header))
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise io_error(exc, "create the checkpoint folder", folder) from exc
    with atomic_write(path) as f:
        np.savez(f, **members)


def _encode(value, arrays, where="state"):
    """``value`` as JSON, its arrays and tensors appended to ``arrays`` and referred to.

    ``where`` is the value's place in the state (``state['history'][2]``), for messages.
    """
    torch = sys.modules.get("torch")  # a tensor means torch is loaded: never import it here
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(
                f"save_checkpoint cannot store {where}: an array of dtype object (a pickle)."
            )
        arrays.append(value)
        return {"__array__": len(arrays) - 1}
    if torch is not None and isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        bf16 = tensor.dtype == torch.bfloat16  # numpy has no bfloat16: its bits as int16
        arrays.append((tensor.view(torch.int16) if bf16 else tensor).numpy())
        return {"__tensor__": len(arrays) - 1, "bfloat16": bf16}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in value.items()}
        return {
            "__items__": [
                [_encode(k, arrays, f"a key of {where}"), _encode(v, arrays, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }
    raise TypeError(
        f"save_checkpoint cannot store {where}: it stores arrays, tensors, numbers, strings, "
        f"None, lists, tuples and dicts; got {type(value).__name__}."
    )


def _decode(value, members):
    if isinstance(value, list):
        return [_decode(v, members) for v in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return members[f"array_{value['__array__']}"]
    if "__tensor__" in value:
        return _tensor(members[f"array_{value['__tensor__']}"], value["bfloat16"])
    if "__tuple__" in value:
        return tuple(_decode(v, members) for v in value["__tuple__"])
    if "__items__" in value:
        return {_decode(k, members): _decode(v, members) for k, v in value["__items__"]}
    return {k: _decode(v, members) for k, v in value.items()}


def _tensor(array, bf16):
    import torch

    tensor = torch.from_numpy(array if array.flags.writeable else array.copy())
    return tensor.view(torch.bfloat16) if bf16 else tensor


@validate_params(
    {"path": [str, os.PathLike, None], "parameter": [str]}, prefer_skip_nested_validation=True
)
def load_checkpoint(path, *, parameter="checkpoint_dir"):
    """The state a checkpoint holds, or None when there is no file at ``path``.

    The file is read with ``allow_pickle=False`` and never changed. This is
    how to see where a run stands without running it (the epoch, the round).

    Parameters
    ----------
    path : str, os.PathLike or None
        A file written by :func:`save_checkpoint`, e.g.
        ``os.path.join(checkpoint_dir, CHECKPOINT_FILE)``.
    parameter : str, default="checkpoint_dir"
        The parameter named in the error's advice on starting afresh.

    Returns
    -------
    dict or None
        The state as saved; tensors come back as CPU tensors.

    Raises
    ------
    CheckpointError
        Naming the file when it is truncated, corrupt or not a checkpoint.
    CheckpointMismatchError
        When another version of skhisto wrote it.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import CHECKPOINT_FILE, load_checkpoint, save_checkpoint
    >>> folder = tempfile.mkdtemp()
    >>> load_checkpoint(os.path.join(folder, CHECKPOINT_FILE)) is None
    True
    >>> save_checkpoint(os.path.join(folder, CHECKPOINT_FILE), {"round": 2, "history": []})
    >>> load_checkpoint(os.path.join(folder, CHECKPOINT_FILE))["round"]
    2
    >>> with open(os.path.join(folder, "bad.npz"), "wb") as f:
    ...     _ = f.write(b"not a checkpoint")
    >>> load_checkpoint(os.path.join(folder, "bad.npz"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.exceptions.CheckpointError: Checkpoint '...bad.npz' cannot be read ...
    """
    if path is None or not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        raise IsADirectoryError(
            f"Checkpoint {os.fspath(path)!r} is a folder; pass the file in it "
            f"({os.path.join(os.fspath(path), CHECKPOINT_FILE)!r})."
        )
    check_regular_file(path, "checkpoint")  # a FIFO would block the read
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as members:
            header = json.loads(str(members[_HEADER][()]))
            if {k: header.get(k) for k in _FORMAT} != _FORMAT:
                raise _other_version(path, restart_hint(parameter))
            return _decode(header["state"], members)
    except OSError as exc:
        raise io_error(exc, "read the checkpoint", path) from exc
    except (ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, EOFError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(
            f"Checkpoint {path!r} cannot be read ({type(exc).__name__}: {exc}); it is "
            f"truncated, corrupt or not a skhisto checkpoint. It was left as it is; to start "
            f"afresh, {restart_hint(parameter)}."
        ) from exc


@validate_params(
    {"path": [str, os.PathLike, None], "identity": [dict], "parameter": [str]},
    prefer_skip_nested_validation=True,
)
def resume_checkpoint(path, identity, *, parameter="checkpoint_dir"):
    """The checkpoint at ``path`` if it belongs to the run ``identity``, None when absent.

    Parameters
    ----------
    path : str, os.PathLike or None
        The checkpoint file (None: no checkpoint).
    identity : dict
        This run's :func:`run_identity`; the checkpoint's is ``state["identity"]``.
    parameter : str, default="checkpoint_dir"
        The parameter named in the errors' advice on starting afresh.

    Returns
    -------
    dict or None
        The saved state, as :func:`load_checkpoint` gives it.

    Raises
    ------
    CheckpointError
        When the file cannot be read.
    CheckpointMismatchError
        When it belongs to another run (other data or parameters); the
        message says what differs. The file is left untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhisto.utils import resume_checkpoint, run_identity, save_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "checkpoint.npz")
    >>> save_checkpoint(path, {"identity": run_identity({"lr": 0.1}), "epoch": 1})
    >>> resume_checkpoint(path, run_identity({"lr": 0.1}))["epoch"]
    1
    >>> resume_checkpoint(path, run_identity({"lr": 0.2}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.exceptions.CheckpointMismatchError: ... lr=0.1 there, 0.2 now. To start afresh, ...
    """
    state = load_checkpoint(path, parameter=parameter)
    if state is None:
        return None
    check_identity(state.get("identity"), identity, path, restart=restart_hint(parameter))
    return state
