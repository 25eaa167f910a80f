"""embed_dataset: a large image set into a chunked Zarr store, one task per chunk.

The store is the unit of work and of resumption: it is made whole in a
temporary folder and moved into place, holding the paths and labels from the
start, and a chunk's embeddings are one Zarr chunk, written whole (Zarr's
local store writes each chunk atomically) before the chunk's ``done`` flag,
itself a chunk of its own. Beside the flag, each chunk records what it
embedded: the digest of its files' bytes and of their identities (inode,
size, mtime, ctime), so a resume re-embeds the chunks whose files changed.
A task needs only the store's location, the chunk's number and the fitted
embedder, so tasks run anywhere the store's filesystem is mounted: in this
process, or on Dask workers, where each worker builds the backbone once
(:data:`skhisto.utils.STORE`).
"""

import copy
import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import clone

from ..utils import (
    check_groups,
    check_identity,
    digest_arrays,
    file_identity,
    io_error,
    new_digest,
    progress,
    run_identity,
    temporary_beside,
    warn,
)
from ..utils._optional import import_scale
from ..utils._sklearn_compat import StrOptions, validate_params
from ._keys import path_keys
from ._provenance import embedding_provenance

#: Attribute marking a store written by embed_dataset (and its layout's version).
LAYOUT = "skhisto.embed_dataset/1"


def _digest(strings):
    digest = new_digest("identity")
    for text in strings:
        digest.update(text.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()


def _dataset_inputs(inputs, labels, groups=None):
    """Paths, labels and groups (str; groups None when not given) of ``inputs``: a
    sequence of paths or load_image_folder's Bunch."""
    if hasattr(inputs, "paths") and hasattr(inputs, "target"):  # load_image_folder's Bunch
        if groups is None:
            groups = getattr(inputs, "groups", None)
        if labels is None:
            names = getattr(inputs, "target_names", None)
            target = np.asarray(inputs.target)
            labels = [str(names[t]) for t in target] if names is not None else target
        inputs = inputs.paths
    if isinstance(inputs, (str, bytes, os.PathLike)):
        raise TypeError(
            "inputs must be a sequence of image paths (or load_image_folder's result), got the "
            f"single path {os.fspath(inputs)!r}; list a folder with "
            "skhisto.datasets.load_image_folder."
        )
    if hasattr(inputs, "columns"):  # iterating a DataFrame gives its column names
        hint = (
            "a patch table of slides is embedded with FoundationEmbedder.transform (or "
            "`skhisto embed --slides` into a .npz)"
            if "slide" in inputs.columns
            else "pass its column of paths, e.g. df['path']"
        )
        raise TypeError(f"inputs must be a sequence of image paths, not a DataFrame; {hint}.")
    if isinstance(inputs, np.ndarray) and inputs.dtype == np.uint8:
        raise TypeError(
            "inputs must be image paths: embed_dataset writes a store that names each image; "
            "embed an array of images with FoundationEmbedder.transform."
        )
    paths = [os.fspath(p) for p in inputs]
    if not paths:
        raise ValueError("inputs holds no images.")
    if labels is None:
        labels = [""] * len(paths)
    labels = [str(label) for label in np.asarray(labels, dtype=object).tolist()]
    if len(labels) != len(paths):
        raise ValueError(f"labels has {len(labels)} entries for {len(paths)} images.")
    groups = check_groups(groups, len(paths))
    return paths, labels, None if groups is None else [str(g) for g in groups.tolist()]


def _check_embedder(embedder, paths):
    if not (hasattr(embedder, "transform") and "cache" in embedder.get_params()):
        raise TypeError(
            f"embedder must be a FoundationEmbedder (or a subclass), got {type(embedder).__name__}."
        )
    if not hasattr(embedder, "fingerprint_"):
        embedder = clone(embedder).fit(paths[:1])  # the user's object stays unfitted
    # The chunks' bar shows progress; one bar per chunk on each worker would bury it. A
    # relative cache would be relative to each worker's working directory.
    cache = embedder.cache and os.path.abspath(os.path.expanduser(embedder.cache))
    return copy.copy(embedder).set_params(verbose=False, cache=cache)


def _check_chunk_size(chunk_size):
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise TypeError(f"chunk_size must be an int, got {chunk_size!r}.")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}.")
    return int(chunk_size)


def _jsonable(fingerprint):
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=str))


def _open_store(out, paths, labels, groups, embedder, chunk_size):
    """Create the store at ``out``, or reopen it for a resume after checking it matches."""
    zarr = import_scale("zarr", "embed_dataset")
    from .. import __version__

    expected = {
        "layout": LAYOUT,
        "backbone": embedder.backbone,
        "fingerprint": _jsonable(embedder.fingerprint_),
        "n_images": len(paths),
        "chunk_size": chunk_size,
        "paths_sha256": _digest(paths),
        "labels_sha256": _digest(labels),
    }
    if groups is not None:  # a store without groups keeps its layout-1 identity
        expected["groups_sha256"] = _digest(groups)
    out = Path(out)
    if out.exists():
        group = _reopen(zarr, out)
        _check_same(out, dict(group.attrs), expected)
        return group
    dim = embedder.n_features_out_
    attrs = {
        **expected,
        "dim": dim,
        "skhisto_version": __version__,
        "provenance": embedding_provenance(embedder),
        "complete": False,
    }
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with temporary_beside(out, folder=True) as (tmp, _):
            _create_store(zarr, tmp, paths, labels, groups, dim, chunk_size, attrs)
            os.replace(tmp, out)
    except OSError as exc:
        if not out.exists():  # else another process made it first: check it as a resume
            raise io_error(exc, "create the Zarr store", out) from exc
    group = _reopen(zarr, out)
    _check_same(out, dict(group.attrs), expected)
    return group


def _create_store(zarr, folder, paths, labels, groups, dim, chunk_size, attrs):
    n, n_chunks = len(paths), -(-len(paths) // chunk_size)
    group = zarr.open_group(str(folder), mode="w")
    group.create_array("embeddings", shape=(n, dim), chunks=(chunk_size, dim), dtype="float32")
    group.create_array("paths", shape=(n,), chunks=(chunk_size,), dtype=str)
    group.create_array("labels", shape=(n,), chunks=(chunk_size,), dtype=str)
    group["paths"][:] = np.asarray(paths, dtype=object)
    group["labels"][:] = np.asarray(labels, dtype=object)
    if groups is not None:
        group.create_array("groups", shape=(n,), chunks=(chunk_size,), dtype=str)
        group["groups"][:] = np.asarray(groups, dtype=object)
    group.create_array("done", shape=(n_chunks,), chunks=(1,), dtype=bool, fill_value=False)
    for record in ("content", "identity"):  # what each finished chunk embedded
        group.create_array(record, shape=(n_chunks,), chunks=(1,), dtype=str)
    group.attrs.update(attrs)


def _reopen(zarr, out, mode="r+"):
    try:
        group = zarr.open_group(str(out), mode=mode)
    except Exception as exc:  # zarr raises several types for "not a group here"
        raise FileExistsError(
            f"out {str(out)!r} exists and is not a Zarr store written by embed_dataset; "
            "choose another path or remove it."
        ) from exc
    if group.attrs.get("layout") != LAYOUT:
        raise FileExistsError(
            f"out {str(out)!r} is a Zarr store, but not one written by embed_dataset; "
            "choose another path or remove it."
        )
    return group


def _check_same(out, found, expected):
    """Refuse to resume a store made for other inputs, another model or chunk size.

    The one resume protocol's check (:func:`skhisto.utils.check_identity`): the
    error lists every difference.
    """
    check_identity(
        _run_of(found),
        _run_of(expected),
        out,
        restart="remove it or pass another out=",
        what="Store",
    )


def _run_of(attrs):
    """The run identity of a store, from the attributes every layout-1 store has."""
    params = {key: attrs.get(key) for key in ("backbone", "n_images", "chunk_size")}
    fingerprint = attrs.get("fingerprint") or {}  # its weights and size, named when they differ
    params.update({key: fingerprint.get(key) for key in ("weights", "image_size")})
    weights = _digest([json.dumps(attrs.get("fingerprint"), sort_keys=True)])
    return run_identity(
        params,
        **{
            "embedder weights and settings": weights,
            "image paths": attrs.get("paths_sha256"),
            "labels": attrs.get("labels_sha256"),
            "groups": attrs.get("groups_sha256"),
        },
    )


def embed_chunk(out, index, embedder):
    """Embed chunk ``index`` of the store at ``out`` and mark it done (one task).

    Returns the number of images embedded.
    """
    zarr = import_scale("zarr", "embed_dataset")
    group = zarr.open_group(str(out), mode="r+")
    size = group.attrs["chunk_size"]
    rows = slice(index * size, min((index + 1) * size, group.attrs["n_images"]))
    paths = group["paths"][rows].tolist()
    identity, content = _identities(paths), digest_arrays(path_keys(paths))  # before reading
    embeddings = embedder.transform(paths)
    group["embeddings"][rows] = embeddings  # one whole Zarr chunk, written atomically
    if "content" in group:
        group["identity"][index], group["content"][index] = identity, content
    group["done"][index] = True  # only after the rows and what they embedded are on disk
    return len(paths)


def _identities(paths):
    """Digest of the files' identities (device, inode, size, mtime, ctime): one stat each."""
    try:
        return digest_arrays(np.array([file_identity(p)[1:] for p in paths], dtype=np.int64))
    except OSError:
        return ""  # a missing file: the embedding names it


def _pending(group, out, chunk_size):
    """Chunks to embed: those not done, and done ones whose files changed since.

    A chunk's files are stat'ed; only when their identities differ from the
    recorded ones (copied, touched, replaced) are their bytes hashed again.
    """
    done = group["done"][:]
    if "content" not in group:  # older store: chunks recorded no content, trusted as they are
        return np.flatnonzero(~done).tolist()
    identity, content, paths = group["identity"][:], group["content"][:], group["paths"]
    changed = []
    for index in np.flatnonzero(done):
        rows = paths[index * chunk_size : (index + 1) * chunk_size].tolist()
        if _identities(rows) == identity[index]:
            continue
        try:
            same = digest_arrays(path_keys(rows)) == content[index]
        except OSError:
            same = False  # a file gone since: embedding it again names it
        if not same:
            changed.append(int(index))
    if changed:
        warn(
            f"Images of {len(changed)} finished chunks of {str(out)!r} changed since they were "
            f"embedded (chunk {changed[0]}: images {changed[0] * chunk_size} to "
            f"{(changed[0] + 1) * chunk_size - 1}); those chunks are embedded again."
        )
    return sorted(changed + np.flatnonzero(~done).tolist())


def _note_chunk(exc, index, size):
    exc.add_note(
        f"while embedding chunk {index} (images {index * size} to {(index + 1) * size - 1})"
    )


def _run_local(out, pending, embedder, size, verbose):
    for index in progress(pending, total=len(pending), desc="chunks", verbose=verbose):
        try:
            embed_chunk(out, index, embedder)
        except Exception as exc:
            _note_chunk(exc, index, size)
            raise


def _run_on_client(client, out, pending, embedder, size, verbose):
    distributed = import_scale("distributed", "embed_dataset(client=...)")
    # One copy of the embedder on each worker, not one per task.
    [shared] = client.scatter([embedder], broadcast=True)
    futures = {
        client.submit(
            embed_chunk, out, index, shared, key=f"skhisto-chunk-{index}-{out}", pure=False
        ): index
        for index in pending
    }
    done = distributed.as_completed(futures, with_results=False)
    try:
        for future in progress(done, total=len(futures), desc="chunks", verbose=verbose):
            try:
                future.result()
            except Exception as exc:
                _note_chunk(exc, futures[future], size)
                raise
    finally:
        client.cancel(list(futures))  # after an error, nothing keeps running for nobody


@validate_params(
    {
        "inputs": "no_validation",  # paths or a Bunch: checked with embed_dataset's words
        "embedder": "no_validation",
        "out": [str, os.PathLike],
        "labels": ["array-like", None],
        "groups": ["array-like", None],
        "chunk_size": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def prepare_store(inputs, embedder, out, *, labels=None, groups=None, chunk_size=1024):
    """Create :func:`embed_dataset`'s store at ``out``, or check that the one there is this run's.

    What ``embed_dataset`` does first, on its own: call it before starting a
    cluster, so that wrong arguments or a store of another run fail before
    any worker does. Nothing is embedded.

    Parameters
    ----------
    inputs, embedder, out, labels, groups, chunk_size
        As for :func:`embed_dataset`.

    Returns
    -------
    zarr.Group
        The store, writable; its ``done`` flags say which chunks are finished.

    Raises
    ------
    CheckpointMismatchError
        When ``out`` is a store of another run (other inputs, labels, embedder
        or chunk size), naming every difference; the store is untouched.
    FileExistsError
        When ``out`` exists and is not a store written by ``embed_dataset``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.embedding import prepare_store
    >>> folder = Path(tempfile.mkdtemp())
    >>> paths = [folder / f"tile{i}.png" for i in range(3)]
    >>> for path in paths:
    ...     Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(path)
    >>> embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0)
    >>> store = prepare_store(paths, embedder, folder / "emb.zarr", chunk_size=2)
    >>> store["done"][:].tolist()
    [False, False]
    >>> prepare_store(paths, embedder, folder / "emb.zarr", chunk_size=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skhisto.exceptions.CheckpointMismatchError: Store '...emb.zarr' belongs to another run ...
    """
    options = {"labels": labels, "groups": groups, "chunk_size": chunk_size}
    return _prepare(inputs, embedder, out, **options)[0]


@validate_params({"out": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def open_store(out):
    """The store :func:`embed_dataset` wrote at ``out``, finished or not, read-only.

    Parameters
    ----------
    out : str or os.PathLike

    Returns
    -------
    zarr.Group
        ``attrs["complete"]`` says whether every chunk is embedded (``done``
        holds one flag per chunk).

    Raises
    ------
    FileNotFoundError
        When there is nothing at ``out``.
    FileExistsError
        When ``out`` is not a store written by ``embed_dataset``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.embedding import embed_dataset, open_store
    >>> folder = Path(tempfile.mkdtemp())
    >>> paths = [folder / f"tile{i}.png" for i in range(3)]
    >>> for path in paths:
    ...     Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(path)
    >>> embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0)
    >>> _ = embed_dataset(paths, embedder, folder / "emb.zarr", verbose=False)
    >>> store = open_store(folder / "emb.zarr")
    >>> store.attrs["complete"], store["embeddings"].shape
    (True, (3, 512))
    """
    zarr = import_scale("zarr", "open_store")
    out = _absolute(out)
    if not os.path.exists(out):
        raise FileNotFoundError(f"No store at {out!r}: embed_dataset writes one there.")
    return _reopen(zarr, out, mode="r")


def _prepare(inputs, embedder, out, *, labels=None, groups=None, chunk_size=1024):
    """Check the arguments of :func:`embed_dataset`, and create or check its store.

    Returns the store (writable), the fitted embedder the chunks use, and the
    chunk size. Raises before anything is embedded when the arguments are
    wrong or ``out`` holds something else.
    """
    paths, labels, groups = _dataset_inputs(inputs, labels, groups)
    size = _check_chunk_size(chunk_size)
    embedder = _check_embedder(embedder, paths)
    store = _open_store(_absolute(out), paths, labels, groups, embedder, size)
    return store, embedder, size


def _absolute(out):
    """``out`` as the workers must see it: ``~`` expanded, not relative to their cwd."""
    return os.path.abspath(os.path.expanduser(os.fspath(out)))


@validate_params(
    {
        "inputs": "no_validation",  # paths or a Bunch: checked with their own words
        "embedder": "no_validation",
        "out": [str, os.PathLike],
        "labels": ["array-like", None],
        "groups": ["array-like", None],
        "client": "no_validation",  # a distributed.Client, imported only when given
        "chunk_size": "no_validation",
        "verbose": ["boolean", StrOptions({"auto"})],
    },
    prefer_skip_nested_validation=True,
)
def embed_dataset(
    inputs,
    embedder,
    out,
    *,
    labels=None,
    groups=None,
    client=None,
    chunk_size=1024,
    verbose="auto",
):
    """Embed a large image set into a chunked Zarr store, one task per chunk.

    The store holds ``embeddings`` (n, dim) float32 in chunks of
    ``chunk_size`` rows, ``paths``, ``labels`` and, when given, ``groups``
    (str), a per-chunk ``done``
    flag, and the embedder's fingerprint in its attributes. A chunk is marked
    done only once its rows are written, so after a crash the same call
    resumes: finished chunks are kept and only the others are embedded.

    Parameters
    ----------
    inputs : sequence of str or os.PathLike, or Bunch
        Image files, or the result of :func:`skhisto.datasets.load_image_folder`
        (its class names become the labels). Workers must see the same paths.
    embedder : FoundationEmbedder
        Used as is when fitted; otherwise a clone is fitted (the argument is
        left untouched). Give it ``device="auto"`` to use each worker's GPU.
        Its ``cache``, like ``out``, is made absolute before it reaches the
        workers.
    out : str or os.PathLike
        The store's directory, e.g. ``"embeddings.zarr"``, on a filesystem
        every worker sees. An existing store is resumed if it was made for
        the same inputs, embedder and ``chunk_size``, and refused otherwise.
    labels : sequence, optional
        One label per image (stored as str); default: the Bunch's class
        names, or empty strings.
    groups : sequence, optional
        The patient or slide of each image (stored as str, and part of the
        store's identity); default: the Bunch's ``groups`` when it has them.
    client : distributed.Client, optional
        Run the chunks as tasks on this Dask cluster (one backbone built per
        worker); default: in this process.
    chunk_size : int, default=1024
        Images per chunk (per task, and rows per Zarr chunk). A multiple of
        the embedder's ``batch_size`` keeps the batches those of a single
        ``transform``.
    verbose : {"auto"} or bool, default="auto"
        Progress bar over the chunks.

    Returns
    -------
    zarr.Group
        The finished store, opened read-only; ``group["embeddings"]`` is a
        Zarr array (``dask.array.from_zarr`` or ``np.asarray`` reads it).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.embedding import embed_dataset
    >>> folder = Path(tempfile.mkdtemp())
    >>> paths = [folder / f"tile{i}.png" for i in range(5)]
    >>> for i, path in enumerate(paths):
    ...     Image.fromarray(np.full((32, 32, 3), 40 * i, dtype=np.uint8)).save(path)
    >>> embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0)
    >>> store = embed_dataset(paths, embedder, folder / "emb.zarr", chunk_size=2)
    >>> store["embeddings"].shape, store["embeddings"].chunks, store.attrs["complete"]
    ((5, 512), (2, 512), True)
    """
    options = {"labels": labels, "groups": groups, "chunk_size": chunk_size}
    group, embedder, size = _prepare(inputs, embedder, out, **options)
    out = _absolute(out)
    pending = _pending(group, out, size)
    if pending and client is None:
        _run_local(out, pending, embedder, size, verbose)
    elif pending:
        _run_on_client(client, out, pending, embedder, size, verbose)
    group.attrs["complete"] = True
    zarr = import_scale("zarr", "embed_dataset")
    return zarr.open_group(str(out), mode="r")
