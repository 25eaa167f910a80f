"""The cache's persisted index: sorted keys and their (shard, row), memory-mapped.

Written by :meth:`EmbeddingCache.compact` next to the shards::

    index.json                  manifest: the shards covered (name, rows), the files below
    index-<gen>-keys.npy        n x S32, sorted (duplicates kept, one per row stored)
    index-<gen>-locs.npy        n x 2 int32: position of the shard in the manifest, row
    index-<gen>-fence.npy       every FENCE-th key: read whole, it says which block to search

Each file is written whole through :func:`skhisto.utils.atomic_write`, the
manifest last, so a reader sees one complete generation or the one before.
A process reads the fence (n / 128 keys) and the two arrays' headers, and
keeps their files open; a look-up finds a key's block of 128 keys in the
fence, reads that block (one positioned read, 4 KiB) and searches it, then
reads the entry's location: a few KiB of the index a key, whatever its size,
and nothing mapped (a memory map's fault-around would map most of a large
index's cached pages into the process). Shards written since
(not in the manifest) are indexed in memory as before, so the first look-up
of a process costs what was written since the last compaction, not what the
cache holds.

Nothing here is believed blindly: a row is served only once its shard holds,
at that row, the very key asked for, and the row matches its digest (see
``Shard.read``). An index that does not match its manifest or its shards is
:class:`StaleIndex`, and the cache then indexes every shard itself.
"""

import json
import os
import uuid
import weakref

import numpy as np

from ..utils import atomic_write
from ._shards import KEY_DTYPE, pread_items

MANIFEST = "index.json"
FORMAT = 1
#: Keys a block: the fence holds the first key of each.
FENCE = 128


class StaleIndex(Exception):
    """A persisted index that cannot be used: unreadable, cut short, or not of these shards."""


def manifest_identity(directory):
    """What changes when the manifest is replaced (None when there is none)."""
    try:
        st = os.stat(directory / MANIFEST)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def write_index(directory, shards, keys, locs):
    """Write a new generation covering ``shards`` (``[(name, rows)]``), then its manifest.

    ``keys`` (sorted S32) and ``locs`` (``n x 2`` int32: shard position in
    ``shards``, row) are the entries; earlier generations are removed after.
    """
    generation = uuid.uuid4().hex[:12]
    files = {}
    fence = keys[::FENCE]
    for part, array in (("keys", keys), ("locs", locs), ("fence", fence)):
        name = f"index-{generation}-{part}.npy"
        with atomic_write(directory / name) as f:
            np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
        files[part] = [name, (directory / name).stat().st_size]
    manifest = {
        "format": FORMAT,
        "entries": len(keys),
        "files": files,
        "shards": [[name, int(rows)] for name, rows in shards],
    }
    with atomic_write(directory / MANIFEST) as f:
        f.write(json.dumps(manifest).encode())
    for entry in os.scandir(directory):
        if entry.name.startswith("index-") and generation not in entry.name:
            try:
                os.unlink(entry.path)
            except OSError:
                pass  # another user's: a reader of that generation still has it mapped


class PersistedIndex:
    """An index read from disk: manifest in memory, keys and locations memory-mapped.

    ``numbers`` maps each covered shard (by its manifest position) to the
    cache's number for it, -1 while it is not open (missing, untrusted,
    discarded): its entries are then not found.
    """

    def __init__(self, directory, identity, trusted):
        self.identity = identity
        if not trusted(directory / MANIFEST):
            raise PermissionError(directory / MANIFEST)
        try:
            manifest = json.loads((directory / MANIFEST).read_bytes())
            if manifest["format"] != FORMAT:
                raise StaleIndex(f"format {manifest['format']}, not {FORMAT}")
            n = int(manifest["entries"])
            parts = ("keys", "locs", "fence")
            names = [directory / manifest["files"][part][0] for part in parts]
            sizes = [int(manifest["files"][part][1]) for part in parts]
            self.names = [str(name) for name, _ in manifest["shards"]]
            self.rows = np.array([int(rows) for _, rows in manifest["shards"]], dtype=np.int64)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise StaleIndex(f"unreadable manifest ({exc})") from None
        for path, size in zip(names, sizes, strict=True):
            if not trusted(path):
                raise PermissionError(path)
            try:
                actual = os.stat(path).st_size
            except OSError as exc:
                raise StaleIndex(f"{path.name}: {exc.strerror or exc}") from None
            if actual != size:
                raise StaleIndex(f"{path.name} has {actual} bytes where {size} were written")
        try:
            self.keys = _Items(names[0]) if n else None
            self.locs = _Items(names[1]) if n else None
            self.fence = np.load(names[2], allow_pickle=False) if n else None
        except (OSError, ValueError) as exc:
            raise StaleIndex(f"unreadable index file ({exc})") from None
        if n and (
            self.keys.dtype != KEY_DTYPE
            or self.keys.shape != (n,)
            or self.locs.dtype != np.int32
            or self.locs.shape != (n, 2)
            or self.fence.dtype != KEY_DTYPE
            or self.fence.shape != (-(-n // FENCE),)
        ):
            raise StaleIndex("index files do not hold what the manifest says")
        self.entries = n
        self.positions = {name: i for i, name in enumerate(self.names)}
        self.numbers = np.full(len(self.names), -1, dtype=np.int64)

    def forget(self, numbers):
        """Stop finding the entries of the cache's shard ``numbers``."""
        self.numbers[np.isin(self.numbers, list(numbers))] = -1

    def find(self, keys):
        """``found`` mask, shard numbers and rows of ``keys`` (sorted S32 or not).

        Raises StaleIndex when an entry points outside the shards it names (a
        damaged file): the caller stops using the index.
        """
        found = np.zeros(len(keys), dtype=bool)
        empty = np.empty(0, dtype=np.int64)
        if not self.entries or not len(keys):
            return found, empty, empty
        n = self.entries
        at = self._search(keys)
        hit = np.flatnonzero(self.keys.take(at) == keys)
        numbers = np.full(len(keys), -1, dtype=np.int64)
        rows = np.zeros(len(keys), dtype=np.int64)
        pending, step = hit, 0
        while len(pending):  # a key whose shard is not open: its copies in other shards
            where = at[pending] + step
            if step:
                inside = where < n
                pending, where = pending[inside], where[inside]
                same = self.keys.take(where) == keys[pending]
                pending, where = pending[same], where[same]
            if not len(pending):
                break
            pos, row = self.locs.take(where).astype(np.int64).T
            if ((pos < 0) | (pos >= len(self.names))).any():
                raise StaleIndex("an entry names a shard the manifest does not list")
            if ((row < 0) | (row >= self.rows[pos])).any():
                raise StaleIndex("an entry names a row past the end of its shard")
            alive = self.numbers[pos] >= 0
            numbers[pending[alive]] = self.numbers[pos[alive]]
            rows[pending[alive]] = row[alive]
            pending, step = pending[~alive], step + 1
        found = numbers >= 0
        return found, numbers[found], rows[found]

    def _search(self, keys):
        """``np.searchsorted(self.keys, keys)`` (clipped to n - 1), one block read a key."""
        n = self.entries
        blocks = np.maximum(np.searchsorted(self.fence, keys, side="left") - 1, 0)
        read = np.unique(blocks)  # each block read once, whole
        where = read[:, None] * FENCE + np.arange(FENCE)
        block_keys = self.keys.take(where[where < n], distinct_sorted=True)
        order = np.argsort(blocks, kind="stable")
        asked = np.searchsorted(blocks[order], read, side="right")
        at = np.empty(len(keys), dtype=np.int64)
        for i, (first, last) in enumerate(
            zip([0, *asked[:-1].tolist()], asked.tolist(), strict=True)
        ):
            mine = order[first:last]  # the keys asked in block read[i]
            block = block_keys[i * FENCE : (i + 1) * FENCE]
            at[mine] = read[i] * FENCE + np.searchsorted(block, keys[mine], side="left")
        return np.minimum(at, n - 1)

    def alive_keys(self):
        """Sorted keys of the open shards (read whole: for statistics, not look-ups)."""
        if not self.entries:
            return np.empty(0, dtype=KEY_DTYPE)
        alive = self.numbers[self.locs.read_all()[:, 0].astype(np.int64)] >= 0
        return self.keys.read_all()[alive]


class _Items:
    """A ``.npy`` file's items read by position from a descriptor held open.

    The descriptor keeps a generation readable after a later ``compact()``
    removed its files, as a memory map would, without mapping any page.
    """

    def __init__(self, path):
        file = open(path, "rb", buffering=0)
        weakref.finalize(self, file.close)
        self._file = file
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            raise ValueError(f"{path.name}: .npy format {version}")
        if fortran or dtype.hasobject:
            raise ValueError(f"{path.name}: not a C-ordered array of plain items")
        self.shape, self.offset = shape, file.tell()
        self.dtype = dtype
        self._item = np.dtype((dtype, shape[1:])) if len(shape) > 1 else dtype

    def take(self, items, distinct_sorted=False):
        """Items at the int positions ``items`` (any order, repeats allowed)."""
        unique, inverse = (
            (items, None) if distinct_sorted else np.unique(items, return_inverse=True)
        )
        try:
            out = pread_items(self._file.fileno(), unique, self.offset, self._item)
        except EOFError:
            raise StaleIndex("an index file was cut short") from None
        return out if inverse is None else out[inverse]

    def read_all(self):
        """Every item (for statistics, not look-ups)."""
        return self.take(np.arange(self.shape[0]), distinct_sorted=True)
