"""On-disk embedding cache keyed by image content and the backbone's fingerprint.

Layout: ``<root>/<fingerprint>/shard-<unique>.npz``, each shard holding the
content keys and embeddings of images embedded together, plus a checksum.
Shards are immutable and written with :func:`skhisto.utils.atomic_write`
(umask permissions, fsync, rename), so readers never see a partial shard,
concurrent writers never clobber each other (duplicate rows are harmless:
same key, same vector), a run that dies keeps every shard it finished, and
users sharing a group-writable cache can read each other's shards. A shard
whose content fails to verify is removed and its images are recomputed; a
shard that cannot be *opened* (another user's file, an I/O error) is reported
once and left alone, never deleted.
"""

import hashlib
import io
import json
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..utils import STORE, atomic_write, io_error

#: Shards already reported as unreadable in this process (warn once each).
_REPORTED = set()

#: Bump when the stored layout or the meaning of an embedding changes.
#: 2: 16-bit images are read as value // 256 (no longer stretched per file).
FORMAT_VERSION = 2
KEY_BYTES = 16


def fingerprint_id(fingerprint):
    """Short stable hex id of a fingerprint dict."""
    blob = json.dumps(fingerprint, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def array_keys(X):
    """Content keys of uint8 images ``(n, H, W, 3)``: hash of shape and pixels."""
    keys = np.empty(len(X), dtype=f"S{KEY_BYTES * 2}")
    for i, image in enumerate(X):
        digest = hashlib.blake2b(repr(image.shape).encode(), digest_size=KEY_BYTES)
        digest.update(np.ascontiguousarray(image).data)
        keys[i] = digest.hexdigest().encode()
    return keys


def path_keys(paths):
    """Content keys of image files: hash of their bytes (renames keep their entries)."""
    keys = np.empty(len(paths), dtype=f"S{KEY_BYTES * 2}")
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                digest = hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=KEY_BYTES))
        except FileNotFoundError:
            raise FileNotFoundError(f"Image file does not exist: {path!r}") from None
        except OSError as exc:
            raise io_error(exc, "read image", path) from exc
        keys[i] = digest.hexdigest().encode()
    return keys


def _checksum(keys, embeddings):
    digest = hashlib.sha256(keys.tobytes())
    digest.update(np.ascontiguousarray(embeddings).data)
    return digest.hexdigest()


def open_cache(root, fingerprint):
    """The process's one :class:`EmbeddingCache` for ``(root, fingerprint)``.

    Every clone of an embedder (each CV fold, each grid-search candidate)
    gets the same object, so the index of the cache is built once per process
    and then kept up to date incrementally.

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.embedding import open_cache
    >>> root, fingerprint = tempfile.mkdtemp(), {"backbone": "resnet18"}
    >>> open_cache(root, fingerprint) is open_cache(root, fingerprint)
    True
    """
    directory = Path(root).expanduser().resolve() / fingerprint_id(fingerprint)
    return STORE.memo("caches", str(directory), lambda: EmbeddingCache(root, fingerprint))


class EmbeddingCache:
    """Embeddings of one backbone fingerprint under ``root``.

    Parameters
    ----------
    root : str or os.PathLike
        Cache directory (shared between fingerprints, processes and runs).
    fingerprint : dict
        Everything that determines an embedding: backbone, weights digest,
        preprocessing, precision.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skhisto.embedding import EmbeddingCache
    >>> cache = EmbeddingCache(tempfile.mkdtemp(), {"backbone": "resnet18", "image_size": 64})
    >>> cache.store(np.array(["a.png", "b.png"]), np.ones((2, 4)))
    >>> found, rows = cache.lookup(np.array(["a.png", "c.png"]))
    >>> found, rows.shape, len(cache)
    (array([ True, False]), (1, 4), 2)
    """

    def __init__(self, root, fingerprint):
        self.directory = Path(root).expanduser() / fingerprint_id(fingerprint)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise io_error(exc, "create cache directory", self.directory) from exc
        manifest = self.directory / "fingerprint.json"
        if not manifest.exists():
            with atomic_write(manifest) as f:
                f.write(json.dumps(fingerprint, indent=2, default=str).encode())
        self._index = {}
        self._loaded = set()

    def _read_shard(self, shard):
        """Keys and embeddings of ``shard``, or None when it cannot be used."""
        try:
            raw = shard.read_bytes()
        except FileNotFoundError:
            return None  # removed by another process since the listing
        except OSError as exc:
            # Unreadable is not corrupt: another user's shard must not be deleted.
            if shard not in _REPORTED:
                _REPORTED.add(shard)
                warnings.warn(
                    f"Skipping unreadable cache shard {shard} ({exc.strerror or exc}); it is "
                    "left in place and its images are recomputed. In a shared cache, give the "
                    "group read access (umask 002 and a group-writable directory).",
                    stacklevel=4,
                )
            return None
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                keys, embeddings = data["keys"], data["embeddings"]
                stored = str(data["checksum"])
            if len(keys) != len(embeddings) or stored != _checksum(keys, embeddings):
                raise ValueError("checksum mismatch")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            warnings.warn(
                f"Discarding corrupted cache shard {shard} ({exc}); its images will be recomputed.",
                stacklevel=4,
            )
            try:
                shard.unlink(missing_ok=True)
            except OSError:
                pass  # not ours to delete: it is skipped all the same
            return None
        return keys, embeddings

    def _refresh(self):
        for shard in sorted(self.directory.glob("shard-*.npz")):
            if shard.name in self._loaded:
                continue
            content = self._read_shard(shard)
            if content is None:
                continue
            keys, embeddings = content
            self._loaded.add(shard.name)
            for key, vector in zip(keys.tolist(), embeddings, strict=True):
                self._index[key] = vector

    def lookup(self, keys):
        """Cached embeddings for ``keys``.

        Returns
        -------
        found : ndarray of bool, shape (n,)
        embeddings : ndarray of shape (n_found, dim), float32
        """
        self._refresh()
        found = np.fromiter((k in self._index for k in keys.tolist()), dtype=bool, count=len(keys))
        rows = [self._index[k] for k in keys[found].tolist()]
        return found, (np.stack(rows) if rows else None)

    def store(self, keys, embeddings):
        """Persist one immutable shard of ``embeddings`` for ``keys``."""
        if len(keys) == 0:
            return
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        target = self.directory / f"shard-{uuid.uuid4().hex}.npz"
        checksum = _checksum(keys, embeddings)
        with atomic_write(target) as f:
            np.savez(f, keys=keys, embeddings=embeddings, checksum=checksum)
        self._loaded.add(target.name)
        for key, vector in zip(keys.tolist(), embeddings, strict=True):
            self._index[key] = vector

    def stats(self):
        """Shards, stored rows (duplicates included) and distinct entries on disk.

        Returns
        -------
        dict
            ``{"shards": int, "rows": int, "entries": int}``; ``rows`` exceeds
            ``entries`` when processes embedded the same images twice.
        """
        shards = [self._read_shard(path) for path in sorted(self.directory.glob("shard-*.npz"))]
        keys = [content[0] for content in shards if content is not None]
        rows = sum(len(k) for k in keys)
        entries = len(np.unique(np.concatenate(keys))) if keys else 0
        return {"shards": len(keys), "rows": rows, "entries": entries}

    def __len__(self):
        self._refresh()
        return len(self._index)
