"""Provenance of embeddings: which backbone, weights and preprocessing made them, and when.

Written as JSON text beside the embeddings (a ``.npz``'s 0-d ``provenance`` array, a
``.parquet``'s schema metadata, a Zarr store's attributes, a cache folder's
``provenance.json``) and read back by :func:`read_provenance`. Never pickled.
"""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from sklearn.utils.validation import check_is_fitted

from ..utils import atomic_write, writable_dir
from ..utils._sklearn_compat import HasMethods, validate_params
from ._keys import fingerprint_id

#: Version of the provenance record; a reader meeting a newer one shows what it knows.
PROVENANCE_VERSION = 1

#: Key of the record in a .parquet's schema metadata and the name of a .npz's array.
PROVENANCE_KEY = b"skhisto.provenance"
NPZ_KEY = "provenance"
CACHE_FILE = "provenance.json"


def _precision(value):
    # Fingerprints hold str(torch dtype), "None" meaning the backbone's own fp32.
    return {None: None, "None": "fp32"}.get(value, str(value).removeprefix("torch."))


def _from_fingerprint(fingerprint, dim=None):
    """The provenance fields a backbone fingerprint determines (the cache key's content)."""
    weights = str(fingerprint.get("weights"))
    stain = fingerprint.get("stain")
    return {
        "provenance_version": PROVENANCE_VERSION,
        "backbone": fingerprint.get("backbone"),
        "architecture": fingerprint.get("architecture"),
        "pretrained": not weights.startswith("random"),
        "weights": weights,
        "image_size": fingerprint.get("image_size"),
        "dim": dim,
        "preprocessing": {
            "resize": "antialiased bilinear to image_size x image_size",
            "mean": fingerprint.get("mean"),
            "std": fingerprint.get("std"),
            "stain": None if stain is None else json.loads(json.dumps(stain, default=str)),
        },
        "precision": _precision(fingerprint.get("precision")),
        "fingerprint": fingerprint_id(fingerprint),
    }


@validate_params(
    {"embedder": [HasMethods(["fit", "transform"])]}, prefer_skip_nested_validation=True
)
def embedding_provenance(embedder):
    """What made the embeddings of a fitted embedder: backbone, weights, preprocessing, when.

    The record :func:`skhisto.embedding.embed_dataset` and ``skhisto embed``
    store beside the embeddings, as JSON text. ``pretrained`` is always
    explicit: a random-init embedding (``weights`` ``"random:<seed>"``) is
    told from a pretrained one (a Hub revision ``"hf:<repo>@<commit>"`` or a
    file's ``"sha256:<digest>"``).

    Parameters
    ----------
    embedder : FoundationEmbedder
        Fitted (it has ``fingerprint_``).

    Returns
    -------
    dict
        JSON-serialisable: ``backbone``, ``architecture``, ``pretrained``
        (bool), ``weights`` (digest), ``weights_source`` (the file, Hub
        repository or URL, None for a random init), ``random_state`` (the
        seed of a random init, else None), ``image_size``, ``dim``,
        ``preprocessing`` (resize, mean, std, stain normaliser), ``precision``,
        ``fingerprint`` (the cache folder's name), ``skhisto_version`` and
        ``created`` (UTC, ISO 8601).

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.embedding import embedding_provenance
    >>> images = np.zeros((2, 32, 32, 3), dtype=np.uint8)
    >>> embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    >>> record = embedding_provenance(embedder.fit(images))
    >>> record["backbone"], record["pretrained"], record["random_state"], record["image_size"]
    ('resnet18', False, 0, 32)
    """
    from .. import __version__

    check_is_fitted(embedder, "fingerprint_")
    record = _from_fingerprint(embedder.fingerprint_, getattr(embedder, "n_features_out_", None))
    info = getattr(embedder, "backbone_info_", None)
    source = None
    if getattr(embedder, "weights", None) is not None:
        source = os.path.abspath(os.fspath(embedder.weights))
    elif record["pretrained"] and info is not None:
        source = f"hf:{info.hub_id}" if info.hub_id else info.url
    record["weights_source"] = source
    record["family"] = getattr(info, "family", None)
    seed = getattr(embedder, "random_state", None)
    record["random_state"] = seed if isinstance(seed, int) and not record["pretrained"] else None
    record["skhisto_version"] = __version__
    record["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    return record


def _loads(text, where):
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{where}: its provenance is not valid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{where}: its provenance is not a JSON object")
    return record


def _read_npz(path):
    import numpy as np

    with np.load(path, allow_pickle=False) as data:
        if NPZ_KEY not in data.files:
            return None
        return _loads(str(data[NPZ_KEY][()]), path)


def _read_parquet(path):
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ImportError(f"reading the metadata of {path!r} needs pyarrow: {exc}") from exc
    metadata = pq.read_schema(path).metadata or {}
    text = metadata.get(PROVENANCE_KEY)
    return None if text is None else _loads(text.decode(), path)


def _read_zarr(path):
    from ._dataset import open_store

    attrs = dict(open_store(path).attrs)
    if isinstance(attrs.get(NPZ_KEY), dict):
        return attrs[NPZ_KEY]
    if not isinstance(attrs.get("fingerprint"), dict):
        return None
    # A store written before provenance: its fingerprint and version say most of it.
    record = _from_fingerprint(attrs["fingerprint"], attrs.get("dim"))
    record["skhisto_version"] = attrs.get("skhisto_version")
    return record


def _read_cache(path):
    fingerprint = _loads(Path(path, "fingerprint.json").read_text(), path)
    record = _from_fingerprint(fingerprint)
    written = Path(path, CACHE_FILE)
    if written.is_file():
        record.update(_loads(written.read_text(), written))
    return record


@validate_params({"path": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def read_provenance(path):
    """The provenance stored with embeddings, or None for files written before it was.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` or ``.parquet`` written by ``skhisto embed``, a ``.zarr``
        store written by :func:`embed_dataset`, or a folder of the embedding
        cache (one backbone fingerprint, holding ``fingerprint.json``).

    Returns
    -------
    dict or None
        As :func:`embedding_provenance` returns it; None when the file holds
        none. A store or cache folder written before provenance was recorded
        gets what its fingerprint says (no ``skhisto_version`` or
        ``created``).

    Raises
    ------
    FileNotFoundError
        When there is nothing at ``path``.
    ValueError
        When ``path`` is none of these, or its provenance is not a JSON object.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skhisto import FoundationEmbedder
    >>> from skhisto.embedding import embed_dataset, read_provenance
    >>> folder = Path(tempfile.mkdtemp())
    >>> paths = [folder / f"tile{i}.png" for i in range(2)]
    >>> for path in paths:
    ...     Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(path)
    >>> embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0)
    >>> _ = embed_dataset(paths, embedder, folder / "emb.zarr", verbose=False)
    >>> record = read_provenance(folder / "emb.zarr")
    >>> record["backbone"], record["pretrained"], record["dim"]
    ('resnet18', False, 512)
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"No embeddings at {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    if suffix == ".zarr":
        return _read_zarr(path)
    if path.is_dir() and (path / "fingerprint.json").is_file():
        return _read_cache(path)
    raise ValueError(
        f"{str(path)!r} is not an embeddings file (.npz, .parquet, .zarr) or a cache folder."
    )


def write_cache_provenance(directory, embedder):
    """Write the provenance of ``embedder`` as the cache folder's ``provenance.json``, once
    (the first writer's record stays: the version and date the folder was started)."""
    target = Path(directory) / CACHE_FILE
    if target.exists() or not Path(directory).is_dir() or not writable_dir(directory):
        return
    record = embedding_provenance(embedder)
    try:
        with atomic_write(target) as f:
            f.write(json.dumps(record, indent=2, sort_keys=True).encode())
    except OSError:
        pass  # the record is a courtesy: a cache that cannot take it still serves
