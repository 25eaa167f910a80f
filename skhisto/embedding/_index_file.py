"""The cache's persisted index: sorted keys and their (shard, row), read by position.

Written by :meth:`EmbeddingCache.compact` next to the shards::

    index.json                  manifest: the shards covered (name, rows), the files below
    index-<gen>-entries.npy     n records (key S32, shard int32, row int32), sorted by key
                                (duplicates kept, one per row stored); ``shard`` is the
                                shard's position in the manifest
    index-<gen>-fence.npy       every FENCE-th key: read whole, it says which block to read

Each file is written whole through :func:`skhisto.utils.atomic_write`, the
manifest last, so a reader sees one complete generation or the one before.
A process reads the fence (n / 128 keys) and the entries' header, and keeps
that file open; a look-up finds each key's block of 128 entries in the fence
and reads it, with the first entry of the next block (one positioned read,
5 KiB, per block asked): the entry of a key is in what was read, whatever the
index's size, and nothing is mapped (a memory map's fault-around would map
most of a large index's cached pages into the process). Shards written since
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
from ._shards import KEY_DTYPE, pread_items, pread_runs

MANIFEST = "index.json"
FORMAT = 2
#: One entry of the index.
ENTRY = np.dtype([("key", KEY_DTYPE), ("shard", "<i4"), ("row", "<i4")])
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


def write_index(directory, shards, entries):
    """Write a new generation covering ``shards`` (``[(name, rows)]``), then its manifest.

    ``entries`` (:data:`ENTRY` records sorted by key) index the rows of the
    shards; earlier generations are removed after.
    """
    generation = uuid.uuid4().hex[:12]
    files = {}
    for part, array in (("entries", entries), ("fence", entries["key"][::FENCE])):
        name = f"index-{generation}-{part}.npy"
        with atomic_write(directory / name) as f:
            np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
        files[part] = [name, (directory / name).stat().st_size]
    manifest = {
        "format": FORMAT,
        "entries": len(entries),
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
    """An index read from disk: manifest and fence in memory, entries read by position.

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
            parts = ("entries", "fence")
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
            self.records = _Items(names[0]) if n else None
            self.fence = np.load(names[1], allow_pickle=False) if n else None
        except (OSError, ValueError) as exc:
            raise StaleIndex(f"unreadable index file ({exc})") from None
        if n and (
            self.records.dtype != ENTRY
            or self.records.shape != (n,)
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
        at, entry = self._search(keys)
        hit = np.flatnonzero(entry["key"] == keys)
        numbers = np.full(len(keys), -1, dtype=np.int64)
        rows = np.zeros(len(keys), dtype=np.int64)
        pending, step = hit, 0
        while len(pending):  # a key whose shard is not open: its copies in other shards
            where, here = at[pending] + step, entry[pending]
            if step:
                inside = where < n
                pending, where = pending[inside], where[inside]
                here = self.records.take(where)
                same = here["key"] == keys[pending]
                pending, where, here = pending[same], where[same], here[same]
            if not len(pending):
                break
            pos, row = here["shard"].astype(np.int64), here["row"].astype(np.int64)
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
        """``np.searchsorted`` of ``keys`` in the index (n when past its end) and the entry
        there (an empty key past the end); one read a block of entries asked."""
        n = self.entries
        # Block b holds positions [b * FENCE, (b + 1) * FENCE); the first entry not below a
        # key is in its block or is the next block's first, read with it.
        blocks = np.sort(np.maximum(np.searchsorted(self.fence, keys, side="left") - 1, 0))
        blocks = blocks[np.diff(blocks, prepend=-1) > 0]
        firsts, lasts = blocks * FENCE, np.minimum((blocks + 1) * FENCE + 1, n)
        new = np.flatnonzero(firsts[1:] >= lasts[:-1]) + 1  # adjacent blocks share one read
        firsts, lasts = firsts[np.concatenate([[0], new])], lasts[np.concatenate([new - 1, [-1]])]
        read = self.records.take_runs(firsts, lasts - firsts)
        # ``read`` is sorted, and holds every entry from a key's block start up to the
        # first entry not below it: searching it finds that entry.
        i = np.searchsorted(read["key"], keys, side="left")
        past = i == len(read)
        entry = np.zeros(len(keys), dtype=ENTRY)
        entry[~past] = read[i[~past]]
        offsets = np.concatenate([[0], np.cumsum(lasts - firsts)])
        run = np.searchsorted(offsets, i, side="right") - 1
        at = np.where(past, n, firsts[np.minimum(run, len(firsts) - 1)] + i - offsets[run])
        return at, entry

    def alive_keys(self):
        """Sorted keys of the open shards (read whole: for statistics, not look-ups)."""
        if not self.entries:
            return np.empty(0, dtype=KEY_DTYPE)
        records = self.records.read_all()
        alive = self.numbers[records["shard"].astype(np.int64)] >= 0
        return records["key"][alive]


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

    def take_runs(self, firsts, counts):
        """Items of the runs ``firsts[i]`` to ``firsts[i] + counts[i]``, one after the other."""
        try:
            return pread_runs(self._file.fileno(), firsts, counts, self.offset, self._item)
        except EOFError:
            raise StaleIndex("an index file was cut short") from None

    def read_all(self):
        """Every item (for statistics, not look-ups)."""
        return self.take(np.arange(self.shape[0]), distinct_sorted=True)
