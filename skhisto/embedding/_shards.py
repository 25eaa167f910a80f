"""The cache's shard file: keys and row digests up front, embeddings read by row.

Layout of ``shard-<unique>.emb``::

    b"SKHSHRD1" | header length (uint64 LE) | JSON header, space-padded |
    keys (n x S32) | row digests (n x uint64) | padding | embeddings (n x dim float32)

Opening a shard reads its header, keys and digests only (40 bytes a row) and
checks them against the header's SHA-256; embeddings stay on disk and a row is
read, and checked against its own digest, when it is asked for, so a look-up
reads and verifies what it returns and nothing else. A shard covered by the
cache's persisted index (``_index_file``) is opened *lazily*: nothing is read
until a row is; its header is then checked against the index, a row read also
reads that row's stored key and digest, and a key that is not the one asked for
means the index is wrong (:class:`KeyMismatch`), never a wrong row served. A
shard is written once through :func:`skhisto.utils.atomic_write` and never
modified.
"""

import io
import json
import os
import zipfile

import numpy as np

from ..utils import atomic_write, new_digest

MAGIC = b"SKHSHRD1"
KEY_DTYPE = np.dtype("S32")
SUFFIX = ".emb"
_ALIGN = 64
_EMPTY_ROW = new_digest("row")


class CorruptShard(ValueError):
    """A shard whose bytes do not match what it says it holds."""


class KeyMismatch(Exception):
    """A lazily opened shard holds another key at the row an index pointed to."""


def row_digests(keys, embeddings):
    """One 64-bit BLAKE2b digest per row, over its key and its float32 bytes."""
    out = np.empty(len(keys), dtype="<u8")
    empty = _EMPTY_ROW  # copied per row: no argument check per row or per shard
    for i, (key, row) in enumerate(zip(keys.tolist(), embeddings, strict=True)):
        digest = empty.copy()
        digest.update(key)
        digest.update(row.data)
        out[i] = int.from_bytes(digest.digest(), "little")
    return out


def _index_digest(keys, digests):
    return new_digest("identity", keys.tobytes(), digests.tobytes()).hexdigest()


def _aligned(offset):
    return -(-offset // _ALIGN) * _ALIGN


def _layout(n, dim):
    """Byte offsets of the blocks after a header padded to ``_ALIGN``."""
    head = _aligned(len(MAGIC) + 8 + 512)
    keys_end = head + n * KEY_DTYPE.itemsize
    embeddings = _aligned(keys_end + n * 8)
    return head, embeddings, embeddings + n * dim * 4


def write_shard(path, keys, embeddings, digests=None):
    """Write ``keys`` and float32 ``embeddings`` atomically as one shard at ``path``."""
    keys = np.ascontiguousarray(keys, dtype=KEY_DTYPE)
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    digests = row_digests(keys, embeddings) if digests is None else digests.astype("<u8")
    with atomic_write(path) as f:
        write_blocks(f, keys, digests, [embeddings], embeddings.shape[1])


def write_blocks(f, keys, digests, blocks, dim):
    """Write a shard to the open file ``f``; ``blocks`` yields its embedding rows in order."""
    n = len(keys)
    head, start, end = _layout(n, dim)
    header = {"rows": n, "dim": dim, "index_sha256": _index_digest(keys, digests)}
    text = json.dumps(header).encode()
    assert len(text) <= head - len(MAGIC) - 8, "shard header outgrew its reserved space"
    f.write(MAGIC + len(text).to_bytes(8, "little") + text.ljust(head - len(MAGIC) - 8))
    f.write(keys.tobytes())
    f.write(digests.tobytes())
    f.write(b"\0" * (start - head - n * (KEY_DTYPE.itemsize + 8)))
    written = 0
    for block in blocks:
        f.write(np.ascontiguousarray(block, dtype=np.float32).data)
        written += len(block)
    if written != n:
        raise ValueError(f"shard of {n} rows was given {written} embedding rows")
    return end


class Shard:
    """An open shard: its row digests in memory, its embeddings read by row.

    Rows are read with positioned reads (``os.preadv``), not a memory map: a
    look-up holds the rows it returns and nothing more (no read-ahead pages
    counted against the process), and a shard removed or cut short by
    someone else is an error to handle, never a crash (SIGBUS). Its keys are
    handed to the cache's index once (:meth:`take_keys`), not kept twice.
    Given ``rows`` (a persisted index holds its keys), nothing is read until
    a row is: rows are then checked against their stored keys and digests,
    read with them.
    """

    def __init__(self, path, *, rows=None):
        self.path = path
        self._keys = self._digests = self._dim = None
        if rows is not None:
            # Lazy: nothing is read until a row is. The index says how many rows the shard
            # holds; the header is checked against that then, so a process opening a
            # cache of any size reads no shard it does not need.
            self.rows = rows
        else:
            with open(path, "rb") as f:
                self.rows, self._dim, self._keys, self._digests = _read_index(f, path)

    @property
    def dim(self):
        """Width of the rows (a lazy shard's header is read and checked on first use)."""
        if self._dim is None:
            with open(self.path, "rb") as f:
                rows, dim = _read_header(f, self.path)
            if rows != self.rows:
                indexed = f"{self.path.name} holds {rows} rows, not the {self.rows} indexed"
                raise KeyMismatch(indexed)
            self._dim = dim
        return self._dim

    @property
    def name(self):
        return self.path.name

    @property
    def digests(self):
        """The row digests (read and checked on first use for a lazy shard)."""
        if self._digests is None:
            with open(self.path, "rb") as f:
                self._digests = _read_index(f, self.path)[3]
        return self._digests

    def take_keys(self):
        """The keys read when the shard was opened (once; :meth:`read_keys` after)."""
        keys, self._keys = self._keys, None
        return keys

    def read_keys(self):
        """The shard's keys, read again from disk."""
        with open(self.path, "rb") as f:
            return _read_index(f, self.path)[2]

    def read_unverified(self, rows):
        """Float32 embeddings of the sorted ``rows``; runs of neighbors are one read."""
        _, start, _ = _layout(self.rows, self.dim)
        return self._pread(rows, start, np.dtype((np.float32, self.dim)))

    def _pread(self, rows, start, dtype):
        """Items ``rows`` (sorted) of the block of ``dtype`` items at byte ``start``."""
        with open(self.path, "rb", buffering=0) as f:
            try:
                return pread_items(f.fileno(), rows, start, dtype)
            except EOFError:
                raise CorruptShard("cut short since it was written") from None

    def read(self, rows, keys):
        """Verified embeddings of the sorted ``rows``, whose keys are ``keys``.

        Raises CorruptShard when a row does not match its digest, and
        KeyMismatch when a lazily opened shard holds other keys at ``rows``.
        """
        block = self.read_unverified(rows)
        if self._digests is not None:
            digests = self._digests[rows]
        else:
            head, _, _ = _layout(self.rows, self.dim)
            stored = self._pread(rows, head, KEY_DTYPE)
            if not np.array_equal(stored, keys):
                raise KeyMismatch(f"{self.path.name} holds other keys at the rows indexed")
            digests = self._pread(rows, head + self.rows * KEY_DTYPE.itemsize, np.dtype("<u8"))
        if not np.array_equal(row_digests(keys, block), digests):
            raise CorruptShard("an embedding row does not match its digest")
        return block


def pread_items(fd, rows, start, dtype):
    """Items ``rows`` (sorted ints) of the array of ``dtype`` items at byte ``start`` of the
    open file ``fd``: one positioned read a run of neighbours; EOFError when cut short."""
    rows = np.asarray(rows, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1  # where a run of neighbours ends
    firsts = np.concatenate([[0], breaks]) if len(rows) else breaks
    counts = np.diff(np.concatenate([firsts, [len(rows)]]))
    return pread_runs(fd, rows[firsts], counts, start, dtype)


def pread_runs(fd, firsts, counts, start, dtype):
    """Items ``firsts[i]`` to ``firsts[i] + counts[i]`` of each run, one after the other, of
    the array of ``dtype`` items at byte ``start`` of ``fd``; EOFError when cut short."""
    width = dtype.itemsize
    out = np.empty(int(np.sum(counts)), dtype=dtype)
    view = memoryview(out.view(np.uint8).reshape(-1))
    at = 0
    for first, count in zip(np.asarray(firsts).tolist(), np.asarray(counts).tolist(), strict=True):
        chunk = view[at * width : (at + count) * width]
        if os.preadv(fd, [chunk], start + first * width) != len(chunk):
            raise EOFError
        at += count
    return out


def _read_header(f, path, header_out=None):
    """Rows and width of the shard open as ``f``, once its size matches them."""
    if f.read(len(MAGIC)) != MAGIC:
        raise CorruptShard("not a skhisto cache shard")
    try:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        n, dim = int(header["rows"]), int(header["dim"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptShard(f"unreadable header ({exc})") from None
    _, _, end = _layout(n, dim)
    if os.fstat(f.fileno()).st_size != end:
        raise CorruptShard(f"{os.fstat(f.fileno()).st_size} bytes where {end} were written")
    if header_out is not None:
        header_out.update(header)
    return n, dim


def _read_index(f, path):
    header = {}
    n, dim = _read_header(f, path, header)
    head, _, _ = _layout(n, dim)
    f.seek(head)
    keys = np.frombuffer(f.read(n * KEY_DTYPE.itemsize), dtype=KEY_DTYPE)
    digests = np.frombuffer(f.read(n * 8), dtype="<u8")
    if _index_digest(keys, digests) != header["index_sha256"]:
        raise CorruptShard("keys do not match their checksum")
    return n, dim, keys, digests


def read_legacy_shard(path):
    """Keys and embeddings of a shard written by skhisto < 0.x (``.npz``), verified."""
    raw = path.read_bytes()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            keys, embeddings = data["keys"], data["embeddings"]
            stored = str(data["checksum"])
    except (KeyError, zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise CorruptShard(str(exc)) from None
    digest = new_digest("identity", keys.tobytes(), np.ascontiguousarray(embeddings).data)
    if len(keys) != len(embeddings) or stored != digest.hexdigest():
        raise CorruptShard("checksum mismatch")
    return keys, embeddings
