"""Content digests, the one place skhisto hashes: files, arrays and cache keys.

Each digest has one purpose, and one algorithm per purpose (:func:`new_digest`):
cache keys (:func:`content_key`, :func:`file_content_key`) are 16 bytes of
BLAKE2b written as 32 hex characters, fast, and what every embedding cache on
disk holds; identities (:func:`file_digest`, weights, stores, checksums of
shards) are SHA-256; per-row shard checks are 8 bytes of BLAKE2b; downloads
are checked against the MD5 their publishers give.

A file's digest is its SHA-256, read once per *version* of the file: the
process remembers it under :func:`file_identity` (real path, device, inode,
size, mtime, ctime), and a ``digest_dir`` remembers it across processes. The
ctime cannot be set back by a user (``touch`` and ``os.utime`` set mtime and
atime only; writing or replacing the file sets ctime to now), so a file with
the identity of a hashed one holds the bytes that were hashed.
"""

import hashlib
import json
import os
import time

import numpy as np

from ._constraints import PATH
from ._files import io_error, open_regular, trusted_owner, writable_dir
from ._sklearn_compat import StrOptions, validate_params
from ._store import STORE, file_identity
from ._writes import atomic_write

#: Bytes of a cache key; keys are hex-encoded, so ``S32`` arrays.
KEY_BYTES = 16

#: The algorithm of each purpose. Changing one changes files on disk: bump their format.
_PURPOSES = {
    "identity": hashlib.sha256,
    "key": lambda: hashlib.blake2b(digest_size=KEY_BYTES),
    "row": lambda: hashlib.blake2b(digest_size=8),
    "download": lambda: hashlib.md5(usedforsecurity=False),
}


@validate_params({"purpose": [StrOptions(set(_PURPOSES))]}, prefer_skip_nested_validation=True)
def new_digest(purpose, *parts):
    """A new hashlib digest for ``purpose``, fed ``parts`` (bytes or buffers) in order.

    Parameters
    ----------
    purpose : {"identity", "key", "row", "download"}
        SHA-256 for identities and checksums, BLAKE2b-16 for cache keys,
        BLAKE2b-8 for per-row checks, MD5 for published download checksums.
    *parts : bytes-like

    Returns
    -------
    hashlib digest
        Update it with more bytes; read ``hexdigest()`` or ``digest()``.

    Examples
    --------
    >>> from skhisto.utils import new_digest
    >>> new_digest("identity", b"slide").hexdigest()[:12]
    'b8a7e24e9549'
    >>> new_digest("key", b"sl", b"ide").hexdigest() == new_digest("key", b"slide").hexdigest()
    True
    """
    digest = _PURPOSES[purpose]()
    for i, part in enumerate(parts):
        try:
            digest.update(part)
        except (TypeError, ValueError, BufferError) as exc:
            raise TypeError(
                f"new_digest hashes bytes-like parts (bytes, a C-contiguous array); part {i} "
                f"is {type(part).__name__} ({exc}). Encode text with .encode(), copy arrays "
                "with np.ascontiguousarray."
            ) from None
    return digest


#: A file changed this recently may change again within one tick of its
#: timestamps (git's "racy" entries): its digest is not remembered.
_RACY_NS = 2_000_000_000


@validate_params(
    {"path": PATH, "what": [str], "digest_dir": PATH + [None]},
    prefer_skip_nested_validation=True,
)
def file_digest(path, *, what="file", digest_dir=None):
    """SHA-256 of a file's bytes, read once per version of the file.

    The digest is remembered under :func:`file_identity` in the process
    (:data:`skhisto.utils.STORE`) and, given ``digest_dir``, in a small file
    there, so a later process pays a ``stat`` instead of reading the file
    again. A file rewritten, replaced or renamed gets another identity and is
    read again; a file that changes while it is read is not remembered, and
    one changed in the last two seconds is not remembered in ``digest_dir``.
    Entries in ``digest_dir`` written by anyone but you, its owner or its
    group are ignored (:func:`trusted_owner`), and a ``digest_dir`` that
    cannot be written is only read.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (:func:`open_regular`).
    what : str, default="file"
        What the file is, for the message refusing a special file.
    digest_dir : str or os.PathLike, optional
        Folder remembering digests across processes (created if its parent
        can be written).

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import hashlib, os, tempfile
    >>> from skhisto.utils import file_digest
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "weights.bin")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"abc")
    >>> file_digest(path) == hashlib.sha256(b"abc").hexdigest()
    True
    >>> file_digest(path, digest_dir=os.path.join(folder, "digests")) == file_digest(path)
    True
    """
    identity = file_identity(path)
    if identity in STORE.digests:
        return STORE.digests[identity]
    memo = None if digest_dir is None else os.path.join(digest_dir, _entry_name(identity))
    digest = _remembered(memo, identity) if memo else None
    if digest is None:
        digest = _sha256(path, what)
        if file_identity(path) != identity:
            return digest  # changed while read: true of the bytes read, not of a version
        if memo and time.time_ns() - identity[5] >= _RACY_NS:
            _remember(memo, identity, digest)
    STORE.digests[identity] = digest
    return digest


def _sha256(path, what):
    with open_regular(path, what) as f:
        return hashlib.file_digest(f, _PURPOSES["identity"]).hexdigest()


def _entry_name(identity):
    return new_digest("key", repr(identity).encode()).hexdigest() + ".json"


def _remembered(memo, identity):
    """The digest ``memo`` holds for ``identity``, or None (missing, foreign or damaged)."""
    if not trusted_owner(memo, os.path.dirname(memo)):
        return None
    try:
        with open_regular(memo) as f:
            entry = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("identity") != list(identity):
        return None
    digest = entry.get("sha256")
    return digest if _is_hex(digest, 64) else None


def _remember(memo, identity, digest):
    folder = os.path.dirname(memo)
    try:
        if not os.path.isdir(folder) and writable_dir(os.path.dirname(folder)):
            os.makedirs(folder, exist_ok=True)
        if writable_dir(folder):
            with atomic_write(memo) as f:
                f.write(json.dumps({"identity": list(identity), "sha256": digest}).encode())
    except OSError:
        pass  # a memo only saves time: a full disk or a lost race costs a re-read later


def _is_hex(text, length):
    return isinstance(text, str) and len(text) == length and set(text) <= set("0123456789abcdef")


def digest_arrays(*arrays):
    """Short hex digest of arrays' shapes, dtypes and contents (a run's data identity).

    Examples
    --------
    >>> import numpy as np
    >>> from skhisto.utils import digest_arrays
    >>> digest_arrays(np.arange(3)) == digest_arrays(np.arange(3))
    True
    >>> digest_arrays(np.arange(3)) == digest_arrays(np.arange(3).astype(np.int8))
    False
    """
    digest = new_digest("key")
    for array in arrays:
        array = np.asarray(array)
        if array.dtype == object:
            array = array.astype(str)
        array = np.ascontiguousarray(array)
        digest.update(repr((array.shape, array.dtype.str)).encode())
        digest.update(memoryview(array.reshape(-1)).cast("B"))
    return digest.hexdigest()


def content_key(*parts):
    """Cache key (32 hex characters, as bytes) of ``parts`` (bytes or buffers), in order.

    Examples
    --------
    >>> from skhisto.utils import content_key
    >>> content_key(b"slide", b":0:0") == content_key(b"slide:0:0")
    True
    >>> len(content_key(b"x"))
    32
    """
    return new_digest("key", *parts).hexdigest().encode()


@validate_params({"path": PATH, "what": [str]}, prefer_skip_nested_validation=True)
def file_content_key(path, what="file"):
    """Cache key of a regular file's bytes, as :func:`content_key` of its whole content.

    Errors name the file as ``what`` ("image", "slide"); special files are
    refused before a byte is read (:func:`open_regular`).

    Examples
    --------
    >>> import tempfile
    >>> from skhisto.utils import content_key, file_content_key
    >>> path = tempfile.mktemp()
    >>> _ = open(path, "wb").write(b"tile")
    >>> file_content_key(path, "image") == content_key(b"tile")
    True
    """
    try:
        with open_regular(path, what) as f:
            digest = hashlib.file_digest(f, _PURPOSES["key"])
    except FileNotFoundError:
        raise FileNotFoundError(f"{what.capitalize()} file does not exist: {path!r}") from None
    except OSError as exc:
        raise io_error(exc, f"read {what}", path) from exc
    return digest.hexdigest().encode()
