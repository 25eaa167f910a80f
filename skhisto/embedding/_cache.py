"""On-disk embedding cache keyed by image content and the backbone's fingerprint.

Layout: ``<root>/<fingerprint>/shard-<unique>.npz``, each shard holding the
content keys and embeddings of images embedded together, plus a checksum.
Shards are immutable and written atomically (temporary file, fsync, rename),
so readers never see a partial shard, concurrent writers never clobber each
other (duplicate rows are harmless: same key, same vector), and a run that
dies keeps every shard it finished. A shard that fails to load or verify is
removed and its images are recomputed.
"""

import hashlib
import json
import os
import tempfile
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np

#: Bump when the stored layout or the meaning of an embedding changes.
FORMAT_VERSION = 1
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
        keys[i] = digest.hexdigest().encode()
    return keys


def _checksum(keys, embeddings):
    digest = hashlib.sha256(keys.tobytes())
    digest.update(np.ascontiguousarray(embeddings).data)
    return digest.hexdigest()


class EmbeddingCache:
    """Embeddings of one backbone fingerprint under ``root``.

    Parameters
    ----------
    root : str or os.PathLike
        Cache directory (shared between fingerprints, processes and runs).
    fingerprint : dict
        Everything that determines an embedding: backbone, weights digest,
        preprocessing, precision.
    """

    def __init__(self, root, fingerprint):
        self.directory = Path(root).expanduser() / fingerprint_id(fingerprint)
        self.directory.mkdir(parents=True, exist_ok=True)
        manifest = self.directory / "fingerprint.json"
        if not manifest.exists():
            payload = json.dumps(fingerprint, indent=2, default=str).encode()
            self._atomic_write(manifest, lambda f: f.write(payload))
        self._index = {}
        self._loaded = set()

    def _atomic_write(self, target, write):
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=target.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _refresh(self):
        for shard in sorted(self.directory.glob("shard-*.npz")):
            if shard.name in self._loaded:
                continue
            try:
                with np.load(shard, allow_pickle=False) as data:
                    keys, embeddings = data["keys"], data["embeddings"]
                    stored = str(data["checksum"])
                if len(keys) != len(embeddings) or stored != _checksum(keys, embeddings):
                    raise ValueError("checksum mismatch")
            except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
                warnings.warn(
                    f"Discarding corrupted cache shard {shard} ({exc}); its images will be "
                    "recomputed.",
                    stacklevel=3,
                )
                shard.unlink(missing_ok=True)
                continue
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
        self._atomic_write(
            target, lambda f: np.savez(f, keys=keys, embeddings=embeddings, checksum=checksum)
        )
        self._loaded.add(target.name)
        for key, vector in zip(keys.tolist(), embeddings, strict=True):
            self._index[key] = vector

    def __len__(self):
        self._refresh()
        return len(self._index)
