"""On-disk embedding cache keyed by image content and the backbone's fingerprint.

Layout: ``<root>/<fingerprint id>/shard-<unique>.emb`` (see ``_shards``), each
shard holding the content keys and embeddings of images embedded together.
Shards are immutable and written with :func:`skhisto.utils.atomic_write`
(umask permissions, fsync, rename), so readers never see a partial shard,
concurrent writers never clobber each other (duplicate rows are harmless:
same key, same vector), a run that dies keeps every shard it finished, and
users sharing a group-writable cache can read each other's shards.

Each process keeps one :class:`KeyIndex` per cache (:func:`open_cache`): a
shard's keys are read once, when it first appears, and a look-up then reads
only the rows it returns, each checked against its digest. The shards covered
by the persisted index that :meth:`EmbeddingCache.compact` writes
(``_index_file``) are not read at all: their keys are searched in the
memory-mapped index, so a process's first look-up costs what was written
since the last compaction, not what the cache holds. A shard whose
content fails to verify is removed and its images are recomputed; one that
cannot be *opened* (another user's file, an I/O error) is reported once and
left alone, never deleted.
"""

import functools
import json
import os
import stat
import threading
import uuid
from numbers import Integral
from pathlib import Path

import numpy as np

from ..utils import STORE, atomic_write, io_error, warn, writable_dir
from ..utils._constraints import PATH
from ..utils._digests import KEY_BYTES
from ..utils._files import creatable_dir, file_lock, owner_trusted
from ..utils._sklearn_compat import validate_params
from ._index_file import (
    ENTRY,
    MANIFEST,
    PersistedIndex,
    StaleIndex,
    manifest_identity,
    write_index,
)
from ._key_index import KeyIndex, _sort_order
from ._keys import FORMAT_VERSION, array_keys, fingerprint_id, path_keys
from ._shards import (
    KEY_DTYPE,
    SUFFIX,
    CorruptShard,
    KeyMismatch,
    Shard,
    read_legacy_shard,
    write_blocks,
    write_shard,
)

__all__ = [
    "FORMAT_VERSION",
    "KEY_BYTES",
    "EmbeddingCache",
    "array_keys",
    "fingerprint_id",
    "list_caches",
    "open_cache",
    "path_keys",
]

#: Rows of a shard written by :meth:`EmbeddingCache.compact`.
COMPACT_ROWS = 65536


@validate_params({"root": PATH, "fingerprint": [dict]}, prefer_skip_nested_validation=True)
def open_cache(root, fingerprint):
    """The process's one :class:`EmbeddingCache` for ``(root, fingerprint)``.

    Every clone of an embedder (each CV fold, each grid-search candidate)
    gets the same object, so the index of the cache is built once per process
    and then kept up to date incrementally.

    Parameters
    ----------
    root : str or os.PathLike
        Cache directory.
    fingerprint : dict
        What determines the embeddings (``FoundationEmbedder.fingerprint_``).

    Returns
    -------
    EmbeddingCache

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


@validate_params({"root": PATH}, prefer_skip_nested_validation=True)
def list_caches(root):
    """The caches of every fingerprint stored under ``root``.

    Subdirectories whose ``fingerprint.json`` is missing or does not match
    their name are not skhisto caches and are left alone.

    Parameters
    ----------
    root : str or os.PathLike
        Cache directory (``cache=`` of the embedders).

    Returns
    -------
    list of EmbeddingCache
        Shared objects (:func:`open_cache`), sorted by directory name.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skhisto.embedding import list_caches, open_cache
    >>> root = tempfile.mkdtemp()
    >>> open_cache(root, {"backbone": "resnet18"}).store(np.array(["a"]), np.ones((1, 4)))
    >>> [(c.fingerprint["backbone"], c.stats()["entries"]) for c in list_caches(root)]
    [('resnet18', 1)]
    """
    root = Path(root).expanduser()
    caches = []
    for manifest in sorted(root.glob("*/fingerprint.json")):
        try:
            fingerprint = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(fingerprint, dict) and fingerprint_id(fingerprint) == manifest.parent.name:
            caches.append(open_cache(root, fingerprint))
    return caches


def _as_keys(keys):
    keys = np.asarray(keys)
    if keys.ndim != 1 or keys.dtype.kind not in "SU":
        raise ValueError(f"keys must be a 1-d array of strings, got {keys.dtype} {keys.shape}")
    if len(keys) and np.char.str_len(keys).max() > KEY_DTYPE.itemsize:
        raise ValueError(f"keys must be at most {KEY_DTYPE.itemsize} characters long")
    return keys.astype(KEY_DTYPE)


class EmbeddingCache:
    """Embeddings of one backbone fingerprint under ``root``.

    A look-up costs what it returns, whatever the size of the cache: the keys
    of every shard are indexed in memory (40 bytes an entry), the embeddings
    stay on disk, and only the rows asked for are read and verified. Use
    :func:`open_cache` to share one object (one index) between the clones of
    a process.

    Parameters
    ----------
    root : str or os.PathLike
        Cache directory (shared between fingerprints, processes and runs).
    fingerprint : dict
        Everything that determines an embedding: backbone, weights digest,
        preprocessing, precision.

    Attributes
    ----------
    directory : pathlib.Path
        The fingerprint's subdirectory of ``root``.
    fingerprint : dict
        The fingerprint it was opened with.
    digest_dir : pathlib.Path
        Where slide digests are remembered across processes (``<root>/digests``,
        shared by every fingerprint; see :func:`skhisto.utils.file_digest`).

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
        self.fingerprint = fingerprint
        self.digest_dir = self.directory.parent / "digests"
        self._ensure_directory()
        self._warn_if_world_writable()
        self._index = KeyIndex()
        self._shards = {}  # shard number -> Shard
        self._numbers = {}  # file name -> shard number
        self._skipped = set()  # names not usable in this process (unreadable, migrated)
        self._next_number = 0
        self._persisted = None  # PersistedIndex of the compacted shards, or None
        self._index_seen = None  # identity of the manifest last read (or set aside)
        self._lazy = set()  # numbers of the shards opened lazily (their keys in _persisted)
        self._unchecked = set()  # lazy shards whose owner is checked on their first read
        self._bypassed = False
        self._lock = threading.RLock()

    def __repr__(self):
        return f"EmbeddingCache({str(self.directory)!r})"

    def _warn_if_world_writable(self):
        root = self.directory.parent
        try:
            mode = root.stat().st_mode
        except OSError:
            return
        if mode & stat.S_IWOTH and not mode & stat.S_ISVTX and root not in STORE.reported:
            STORE.reported.add(root)
            warn(
                f"Cache directory {root} is writable by every user: anyone could plant shards "
                "there. skhisto reads only shards owned by you, the cache's owner or its group; "
                "restrict the folder (chmod o-w) or keep a private cache."
            )

    def _ensure_directory(self):
        if not creatable_dir(self.directory):
            return  # a read-only cache without these embeddings: nothing to serve or write
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise io_error(exc, "create cache directory", self.directory) from exc
        manifest = self.directory / "fingerprint.json"
        if not manifest.exists() and writable_dir(self.directory):
            with atomic_write(manifest) as f:
                f.write(json.dumps(self.fingerprint, indent=2, default=str).encode())

    # -- the index ------------------------------------------------------------

    def _refresh(self):
        """Index the shards written since the last look-up; forget removed ones."""
        for _ in range(2):  # again once the persisted index was set aside midway
            self._bypassed = False
            try:
                names = {e.name for e in os.scandir(self.directory) if e.name.startswith("shard-")}
            except FileNotFoundError:
                names = set()  # the directory was removed: nothing is cached any more
            self._load_persisted()
            gone = [number for name, number in self._numbers.items() if name not in names]
            if gone:
                self._forget(gone)
            for name in sorted(names - self._numbers.keys() - self._skipped):
                if name.endswith(SUFFIX):
                    self._open(self.directory / name)
                elif name.endswith(".npz"):
                    self._migrate(self.directory / name)
            if not self._bypassed:
                return

    def _open(self, path):
        index = self._persisted
        position = index.positions.get(path.name) if index is not None else None
        if position is not None:
            # Its keys are in the index: the shard is read, and its owner checked, only
            # when a look-up needs one of its rows (_gather), whatever the cache's size.
            number = self._number(path.name, Shard(path, rows=int(index.rows[position])))
            index.numbers[position] = number
            self._lazy.add(number)
            self._unchecked.add(number)
            return
        if not self._trusted(path):
            return
        shard = self._attempt(path, lambda: Shard(path))
        if shard is not None:
            self._index.add(shard.take_keys(), self._number(path.name, shard))

    def _number(self, name, shard):
        number = self._next_number = self._next_number + 1
        self._numbers[name] = number
        self._shards[number] = shard
        return number

    # -- the persisted index --------------------------------------------------

    def _load_persisted(self):
        """Open the index ``compact()`` wrote, when its manifest changed since last looked at."""
        identity = manifest_identity(self.directory)
        if identity == self._index_seen:
            return
        self._index_seen = identity
        if self._persisted is not None:
            self._persisted = None
            self._release_lazy()  # opened again, lazily under the new index or whole
        if identity is None:
            return
        try:
            index = PersistedIndex(self.directory, identity, self._trusted_index)
        except PermissionError:
            return  # another user's index (warned): every shard is indexed here
        except StaleIndex as exc:
            if manifest_identity(self.directory) != identity:  # replaced while read: again
                self._index_seen = None
                self._load_persisted()
            else:
                self._warn_stale(exc)
            return
        for name, number in self._numbers.items():  # opened whole before: serve them too
            position = index.positions.get(name)
            if position is not None and self._shards[number].rows == index.rows[position]:
                index.numbers[position] = number
        self._persisted = index

    def _release_lazy(self):
        """Close the lazily opened shards; the next pass of :meth:`_refresh` opens them again."""
        for number in self._lazy:
            self._numbers.pop(self._shards.pop(number).name, None)
        self._lazy, self._unchecked = set(), set()

    def _bypass_index(self, reason):
        """Stop using a persisted index that does not match the shards (until it is rewritten)."""
        self._warn_stale(reason)
        self._persisted = None
        self._release_lazy()
        self._bypassed = True

    def _warn_stale(self, reason):
        key = (self.directory / MANIFEST, self._index_seen)
        if key not in STORE.reported:
            STORE.reported.add(key)
            warn(
                f"Ignoring the cache index {key[0]} ({reason}): this process indexes every "
                "shard itself instead (same answers, a slower first look-up). compact() "
                "(skhisto cache compact) writes it again."
            )

    def _trusted_index(self, path):
        """Whether an index file comes from someone the cache trusts, as for shards."""
        if owner_trusted(path, self.directory.parent):
            return True
        if path not in STORE.reported:
            STORE.reported.add(path)
            warn(
                f"Skipping cache index file {path}: it is owned by neither you, the cache's "
                "owner nor its group, so it cannot be trusted; this process indexes every "
                "shard itself instead. Remove it if you do not know it."
            )
        return False

    def _attempt(self, path, read):
        """``read()`` of the shard at ``path``, or None when it cannot be used.

        A shard removed since it was listed (compacted) is passed over, a
        corrupt one discarded, an unreadable one (another user's) skipped.
        """
        try:
            return read()
        except FileNotFoundError:
            return None
        except CorruptShard as exc:
            self._discard(path, exc)
        except OSError as exc:
            self._skip_unreadable(path, exc)
        return None

    def _forget(self, numbers):
        self._index.drop(numbers)
        if self._persisted is not None:
            self._persisted.forget(numbers)
        self._lazy.difference_update(numbers)
        self._unchecked.difference_update(numbers)
        for number in numbers:
            shard = self._shards.pop(number)
            self._numbers.pop(shard.name, None)
            self._skipped.add(shard.name)

    def _discard(self, path, reason):
        warn(f"Discarding corrupted cache shard {path} ({reason}); its images will be recomputed.")
        self._skipped.add(path.name)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # not ours to delete: it is skipped all the same

    def _owner_checked(self, number):
        """Whether shard ``number`` may be read: a lazy one's owner is checked once, here."""
        if number in self._unchecked:
            if not self._trusted(self._shards[number].path):
                return False
            self._unchecked.discard(number)
        return True

    def _check_lazy(self):
        """Check every lazily opened shard as opening it whole would (before compacting)."""
        try:
            for number in list(self._lazy):
                shard = self._shards[number]
                if (
                    not self._owner_checked(number)
                    or self._attempt(shard.path, lambda shard=shard: shard.dim) is None
                ):
                    self._forget([number])
        except KeyMismatch as exc:  # the index is not of these shards: open them whole
            self._bypass_index(exc)
            self._refresh()

    def _trusted(self, path):
        """Whether a shard comes from someone the cache trusts: you, its owner or its group.

        Checksums detect damage, not forgery: a shard another user planted in a
        folder they can write to would serve their rows. Such shards are
        skipped (left in place, their images recomputed), as ssh skips keys
        others could have written.
        """
        if owner_trusted(path, self.directory.parent):
            return True
        try:
            shard = os.stat(path)
        except OSError:
            return True  # gone since: the reading passes it over
        self._skipped.add(path.name)
        if path not in STORE.reported:
            STORE.reported.add(path)
            warn(
                f"Skipping cache shard {path}: it is owned by uid {shard.st_uid} (gid "
                f"{shard.st_gid}), neither you, the cache's owner nor its group, so its rows "
                "cannot be trusted; its images are recomputed. Remove it if you do not know it."
            )
        return False

    def _skip_unreadable(self, path, exc):
        # Unreadable is not corrupt: another user's shard must not be deleted.
        self._skipped.add(path.name)
        if path not in STORE.reported:
            STORE.reported.add(path)
            warn(
                f"Skipping unreadable cache shard {path} ({exc.strerror or exc}); it is "
                "left in place and its images are recomputed. In a shared cache, give the "
                "group read access (umask 002 and a group-writable directory)."
            )

    def _migrate(self, path):
        """Rewrite a shard of the older ``.npz`` layout (read whole) in the row-readable one."""
        self._skipped.add(path.name)
        content = self._attempt(path, lambda: read_legacy_shard(path))
        if content is None:
            return
        self.store(*content)
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # another user's: kept, and skipped in this process

    # -- reading and writing --------------------------------------------------

    def lookup(self, keys):
        """Cached embeddings for ``keys``.

        Parameters
        ----------
        keys : ndarray of str, shape (n,)
            Content keys (:func:`array_keys`, :func:`path_keys`).

        Returns
        -------
        found : ndarray of bool, shape (n,)
        embeddings : ndarray of shape (n_found, dim), float32, or None
            The rows of the found keys, in order; None when none is found.
        """
        keys = _as_keys(keys)
        with self._lock:
            for _ in range(3):  # a shard compacted away since it was indexed: look again
                self._refresh()
                try:
                    found, numbers, rows = self._find(keys)
                    out, read = self._gather(keys[found], numbers, rows)
                except (KeyMismatch, StaleIndex) as exc:  # a damaged index: never served
                    self._bypass_index(exc)
                    self._refresh()
                    found, numbers, rows = self._find(keys, persisted=False)
                    out, read = self._gather(keys[found], numbers, rows)
                if read.all():
                    break
            found[np.flatnonzero(found)[~read]] = False  # recomputed by the caller
            out = out[read]
        return found, (out if len(out) else None)

    def _find(self, keys, persisted=True):
        """``found`` mask, shard numbers and rows of ``keys``: shards written since the
        persisted index first, then the index."""
        found, numbers, rows = self._index.find(keys)
        index = self._persisted if persisted else None
        if index is None or found.all():
            return found, numbers, rows
        miss = np.flatnonzero(~found)
        hit, more_numbers, more_rows = index.find(keys[miss])
        all_numbers = np.zeros(len(keys), dtype=np.int64)
        all_rows = np.zeros(len(keys), dtype=np.int64)
        all_numbers[found], all_rows[found] = numbers, rows
        all_numbers[miss[hit]], all_rows[miss[hit]] = more_numbers, more_rows
        found[miss[hit]] = True
        return found, all_numbers[found], all_rows[found]

    def _gather(self, keys, numbers, rows):
        """Rows ``rows`` of shards ``numbers`` (keys ``keys``), each shard read once, in order.

        Returns the rows and a mask of those read: a shard that vanished,
        failed to verify or could not be read is forgotten and its rows are
        left out.
        """
        read = np.zeros(len(rows), dtype=bool)
        out = np.empty((len(rows), 0), dtype=np.float32)
        order = np.lexsort((rows, numbers))
        for where in np.split(order, np.flatnonzero(np.diff(numbers[order])) + 1):
            if not len(where):
                continue
            number = numbers[where[0]]
            shard = self._shards[number]
            block = None
            if self._owner_checked(number):
                dim = out.shape[1] if read.any() else None
                read_rows = functools.partial(_read_rows, shard, rows[where], keys[where], dim)
                block = self._attempt(shard.path, read_rows)
            if block is None:  # e.g. compacted away since it was indexed: the next look finds it
                self._forget([number])
                continue
            if not read.any():
                out = np.empty((len(rows), block.shape[1]), dtype=np.float32)
            out[where], read[where] = block, True
        return out, read

    def store(self, keys, embeddings):
        """Persist one immutable shard of ``embeddings`` for ``keys``.

        Parameters
        ----------
        keys : ndarray of str, shape (n,)
        embeddings : array-like of shape (n, dim)
            Finite values, stored as float32.
        """
        keys = _as_keys(keys)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or len(embeddings) != len(keys):
            raise ValueError(
                f"embeddings must have shape ({len(keys)}, dim) for {len(keys)} keys, "
                f"got {embeddings.shape}"
            )
        if not np.isfinite(embeddings).all():
            raise ValueError("embeddings hold NaN or infinite values; they are never cached")
        if len(keys) == 0:
            return
        with self._lock:
            self._ensure_directory()  # removed since it was opened: start afresh
            target = self.directory / f"shard-{uuid.uuid4().hex}{SUFFIX}"
            write_shard(target, keys, embeddings)
            self._open(target)

    def compact(self, *, shard_rows=COMPACT_ROWS):
        """Merge the shards smaller than ``shard_rows`` rows, dropping duplicate rows.

        Safe while other processes read and write the cache: merged shards
        are written atomically before the small ones are removed, a reader
        that finds a shard gone looks again, and shards written meanwhile are
        left for the next compaction. One process compacts at a time.

        Parameters
        ----------
        shard_rows : int, default=65536
            Rows of the merged shards.

        Returns
        -------
        dict
            :meth:`stats` after compaction.
        """
        if isinstance(shard_rows, bool) or not isinstance(shard_rows, Integral) or shard_rows < 1:
            raise ValueError(f"shard_rows must be a positive int, got {shard_rows!r}")
        with file_lock(self.directory / ".compact.lock"), self._lock:
            self._refresh()
            self._check_lazy()
            small = [n for n, s in self._shards.items() if s.rows < shard_rows]
            if len(small) > 1:
                self._merge_shards(small, shard_rows)
            self._write_index()
            return self.stats()

    def _write_index(self):
        """Persist the index of every shard, unless the one on disk covers them already."""
        covered = {(shard.name, shard.rows) for shard in self._shards.values()}
        index = self._persisted
        if not covered or (
            index is not None
            and (index.numbers >= 0).all()
            and covered == set(zip(index.names, index.rows.tolist(), strict=True))
        ):
            return
        shards, keys = [], []
        for number, shard in sorted(self._shards.items()):
            shard_keys = self._attempt(shard.path, shard.read_keys)  # checked against its SHA
            if shard_keys is None:
                self._forget([number])
                continue
            shards.append((shard.name, shard.rows))
            keys.append(shard_keys)
        if not shards:
            return
        entries = np.empty(sum(len(k) for k in keys), dtype=ENTRY)
        entries["shard"] = np.repeat(np.arange(len(keys)), [len(k) for k in keys])
        entries["row"] = np.concatenate([np.arange(len(k)) for k in keys])
        entries["key"] = keys = np.concatenate(keys)
        write_index(self.directory, shards, entries[_sort_order(keys)])

    def _merge_shards(self, numbers, shard_rows):
        big = KeyIndex()  # the shards that stay: their keys are not copied again
        for number in set(self._shards) - set(numbers):
            big.add(self._shards[number].read_keys(), number)
        sources = [(self._shards[n], self._verified(n)) for n in numbers]
        sources = [(shard, keys) for shard, keys in sources if keys is not None]
        if not sources:
            return
        keys = np.concatenate([k for _, k in sources])
        origin = np.concatenate([np.full(len(k), i) for i, (_, k) in enumerate(sources)])
        rows = np.concatenate([np.arange(len(k)) for _, k in sources])
        first = np.sort(np.unique(keys, return_index=True)[1])  # one row a key
        first = first[~big.find(keys[first])[0]]
        for start in range(0, len(first), shard_rows):
            take = first[start : start + shard_rows]
            self._write_merged(sources, origin[take], rows[take])
        for shard, _ in sources:
            try:
                shard.path.unlink(missing_ok=True)
            except OSError:
                pass  # another user's shard: its rows are now duplicated, harmlessly
        self._refresh()

    def _verified(self, number):
        """Keys of shard ``number`` once every row verifies, else None (and it is dropped)."""
        shard = self._shards[number]
        keys = self._attempt(shard.path, lambda: _read_all(shard))
        if keys is None:
            self._forget([number])
        return keys

    def _write_merged(self, sources, origin, rows):
        groups = [(*sources[i], rows[origin == i]) for i in np.unique(origin)]
        keys = np.concatenate([k[r] for _, k, r in groups])
        digests = np.concatenate([shard.digests[r] for shard, _, r in groups])
        blocks = (shard.read_unverified(r) for shard, _, r in groups)  # verified just before
        target = self.directory / f"shard-{uuid.uuid4().hex}{SUFFIX}"
        with atomic_write(target) as f:
            write_blocks(f, keys, digests, blocks, groups[0][0].dim)

    def stats(self):
        """Shards, stored rows (duplicates included) and distinct entries on disk.

        Returns
        -------
        dict
            ``{"shards": int, "rows": int, "entries": int}``; ``rows`` exceeds
            ``entries`` when processes embedded the same images twice.
        """
        with self._lock:
            self._refresh()
            untrusted = [n for n in list(self._unchecked) if not self._owner_checked(n)]
            self._forget(untrusted)  # counted as opening them whole would
            rows = sum(shard.rows for shard in self._shards.values())
            entries = self._distinct()
            return {"shards": len(self._shards), "rows": rows, "entries": entries}

    def _distinct(self):
        """Distinct keys in the open shards, the persisted index's included."""
        if self._persisted is None:
            return self._index.distinct()
        persisted, written = self._persisted.alive_keys(), self._index.unique_keys()
        count = len(persisted) - int(np.count_nonzero(persisted[1:] == persisted[:-1]))
        if len(persisted) and len(written):
            at = np.minimum(np.searchsorted(persisted, written), len(persisted) - 1)
            count -= int(np.count_nonzero(persisted[at] == written))
        return count + len(written)

    def __len__(self):
        return self.stats()["entries"]


def _read_rows(shard, rows, keys, dim):
    if dim is not None and shard.dim != dim:
        raise CorruptShard(f"{shard.dim}-dimensional rows among {dim}-dimensional")
    return shard.read(rows, keys)


def _read_all(shard):
    """The keys of ``shard`` once every row of it verifies."""
    keys = shard.read_keys()
    shard.read(np.arange(shard.rows), keys)
    return keys
