"""The cache's persisted index (issue 26): what compact() writes, a fresh process searches
memory-mapped instead of reading every shard's keys, and nothing it says is served unchecked."""

import errno
import io
import json
import os
import warnings

import numpy as np
import pytest

from skhisto.embedding import EmbeddingCache, _key_index, _shards
from skhisto.embedding._index_file import MANIFEST
from skhisto.utils import clear_caches

FINGERPRINT = {"backbone": "test-index", "dim": 6}


def _keys(rng, n):
    return np.array([f"{v:032x}" for v in rng.integers(0, 2**62, n)], dtype="S32")


def _fill(root, n_shards=6, rows=40, seed=0):
    """A cache of ``n_shards`` shards; returns it and the {key: embedding} it holds."""
    rng = np.random.default_rng(seed)
    cache = EmbeddingCache(root, FINGERPRINT)
    truth = {}
    for _ in range(n_shards):
        keys, embeddings = _keys(rng, rows), rng.normal(size=(rows, 6)).astype(np.float32)
        cache.store(keys, embeddings)
        truth.update(zip(keys.tolist(), embeddings, strict=True))
    return cache, truth


def _store(cache, truth, rng, rows=10):
    keys, embeddings = _keys(rng, rows), rng.normal(size=(rows, 6)).astype(np.float32)
    cache.store(keys, embeddings)
    truth.update(zip(keys.tolist(), embeddings, strict=True))
    return keys


def _fresh(root):
    """The cache as a new process opens it: nothing of this one's state kept."""
    clear_caches()
    return EmbeddingCache(root, FINGERPRINT)


def _expect(cache, truth, asked):
    found, rows = cache.lookup(asked)
    assert found.tolist() == [k in truth for k in asked.tolist()]
    if found.any():
        np.testing.assert_array_equal(rows, np.stack([truth[k] for k in asked[found].tolist()]))


def _asked(truth, rng, n_absent=50):
    present = np.array(sorted(truth), dtype="S32")
    asked = np.concatenate([rng.choice(present, 120), _keys(rng, n_absent)])
    return asked[rng.permutation(len(asked))]


@pytest.fixture
def built(monkeypatch):
    """Rows put in a process's in-memory index and shards whose keys were read whole."""
    counts = {"indexed": 0, "read_keys": 0}
    add, read_keys = _key_index.KeyIndex.add, _shards.Shard.read_keys

    def counting_add(self, keys, shard):
        counts["indexed"] += len(keys)
        add(self, keys, shard)

    def counting_read_keys(self):
        counts["read_keys"] += 1
        return read_keys(self)

    monkeypatch.setattr(_key_index.KeyIndex, "add", counting_add)
    monkeypatch.setattr(_shards.Shard, "read_keys", counting_read_keys)
    return counts


def test_hits_equal_those_of_the_in_memory_index(tmp_path, monkeypatch):
    cache, truth = _fill(tmp_path)
    cache.store(*_duplicate(truth, 15))  # rows stored twice survive in big shards
    cache.compact(shard_rows=100)  # several merged shards
    rng = np.random.default_rng(7)
    _store(_fresh(tmp_path), truth, rng)  # written after the compaction
    asked = _asked(truth, rng)
    with_index = _fresh(tmp_path)
    found, rows = with_index.lookup(asked)
    assert with_index._persisted is not None and with_index._lazy
    monkeypatch.setattr(EmbeddingCache, "_load_persisted", lambda self: None)
    without = _fresh(tmp_path)
    expected_found, expected_rows = without.lookup(asked)
    np.testing.assert_array_equal(found, expected_found)
    np.testing.assert_array_equal(rows, expected_rows)
    _expect(with_index, truth, asked)
    assert with_index.stats() == without.stats()


def _duplicate(truth, n):
    keys = np.array(sorted(truth)[:n], dtype="S32")
    return keys, np.stack([truth[k] for k in keys.tolist()])


def test_a_fresh_process_reads_no_key_of_the_compacted_shards(tmp_path, built):
    cache, truth = _fill(tmp_path)
    cache.compact(shard_rows=100)
    rng = np.random.default_rng(1)
    later = _store(_fresh(tmp_path), truth, rng, rows=7)  # a writer after the compaction
    built.update(indexed=0, read_keys=0)
    fresh = _fresh(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _expect(fresh, truth, _asked(truth, rng))
    # only the shard written since is indexed in memory; the others' keys are never read
    assert built == {"indexed": len(later), "read_keys": 0}
    assert len(fresh._index.keys) == len(later)


def test_a_look_up_reads_a_block_of_the_index_a_key(tmp_path, monkeypatch):
    from skhisto.embedding import _index_file

    cache, truth = _fill(tmp_path, n_shards=40, rows=100)
    cache.compact(shard_rows=1000)
    read = []

    def counting(fd, firsts, counts, start, dtype):
        read.append(int(np.sum(counts)) * dtype.itemsize)
        return _shards.pread_runs(fd, firsts, counts, start, dtype)

    monkeypatch.setattr(_index_file, "pread_runs", counting)
    asked = np.array(sorted(truth), dtype="S32")[::400]  # 10 keys of 4,000
    _expect(_fresh(tmp_path), truth, asked)
    per_key = (_index_file.FENCE + 1) * _index_file.ENTRY.itemsize  # its block, one read
    assert 0 < sum(read) <= len(asked) * per_key < 4000 * 40


def test_a_fresh_process_opens_only_the_shards_its_rows_are_in(tmp_path, monkeypatch):
    # Opening a cache of any size costs the same: shards the index covers are read only
    # when a look-up needs one of their rows.
    cache, truth = _fill(tmp_path, n_shards=8)
    cache.compact(shard_rows=40)  # eight full shards: none merged
    opened = []

    def recording_open(path, *args, **kwargs):
        opened.append(os.path.basename(path))
        return open(path, *args, **kwargs)

    monkeypatch.setattr(_shards, "open", recording_open, raising=False)
    fresh = _fresh(tmp_path)
    asked = np.array(sorted(truth), dtype="S32")[::37]
    _expect(fresh, truth, asked)
    entries = fresh._persisted.records.read_all()
    shards = {fresh._persisted.names[p] for p in entries["shard"]}
    holding = {
        fresh._persisted.names[entries["shard"][i]] for i in np.searchsorted(entries["key"], asked)
    }
    assert len(shards) == 8 and 1 <= len(holding) < 8
    assert set(opened) == holding


def test_a_fresh_process_in_a_subprocess_uses_the_index(tmp_path):
    import subprocess
    import sys

    cache, truth = _fill(tmp_path)
    cache.compact()
    asked = np.array(sorted(truth)[:20], dtype="S32")
    code = (
        "import sys, numpy as np\n"
        "from skhisto.embedding import EmbeddingCache\n"
        f"cache = EmbeddingCache(sys.argv[1], {FINGERPRINT!r})\n"
        f"found, rows = cache.lookup(np.array({asked.tolist()!r}))\n"
        "print(int(found.sum()), len(cache._index.keys), len(cache._lazy))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["20", "0", "1"]


def test_writes_and_compactions_after_the_index_are_found_by_a_long_lived_reader(tmp_path):
    cache, truth = _fill(tmp_path)
    cache.compact(shard_rows=100)
    rng = np.random.default_rng(2)
    reader = _fresh(tmp_path)
    _expect(reader, truth, _asked(truth, rng))
    writer = EmbeddingCache(tmp_path, FINGERPRINT)
    for _ in range(3):
        _store(writer, truth, rng)
        _expect(reader, truth, _asked(truth, rng))
    writer.compact(shard_rows=1000)  # merges everything: the shards the reader had are gone
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _expect(reader, truth, _asked(truth, rng))
    assert len(reader._index.keys) == 0  # the new index covers every shard
    assert reader.stats() == {"shards": 1, "rows": len(truth), "entries": len(truth)}


def test_compaction_rewrites_the_index_only_when_the_shards_changed(tmp_path):
    cache, truth = _fill(tmp_path)
    cache.compact()
    manifest = (cache.directory / MANIFEST).read_bytes()
    cache.compact()
    assert (cache.directory / MANIFEST).read_bytes() == manifest
    _store(cache, truth, np.random.default_rng(3))
    cache.compact(shard_rows=10_000)
    assert (cache.directory / MANIFEST).read_bytes() != manifest
    files = sorted(p.name for p in cache.directory.glob("index-*"))
    assert len(files) == 2  # one generation (entries, fence), the old one removed


def _index_file(directory, part):
    return directory / json.loads((directory / MANIFEST).read_text())["files"][part][0]


def _damage(directory, how):
    entries = _index_file(directory, "entries")
    if how == "truncated entries":
        entries.write_bytes(entries.read_bytes()[:-64])
    elif how == "manifest garbage":
        (directory / MANIFEST).write_text("{not json")
    elif how == "missing file":
        entries.unlink()
    elif how in ("rows swapped", "row past the end"):
        raw = np.load(entries)
        if how == "rows swapped":  # valid-looking entries pointing at other keys' rows
            raw["row"] = raw["row"][::-1]
        else:
            raw["row"] += 10_000
        with open(entries, "r+b") as f:
            f.seek(os.path.getsize(entries) - raw.nbytes)
            f.write(raw.tobytes())
    elif how == "manifest of other shards":
        manifest = json.loads((directory / MANIFEST).read_text())
        manifest["shards"] = [[name, rows + 1] for name, rows in manifest["shards"]]
        (directory / MANIFEST).write_text(json.dumps(manifest))
    elif how == "an earlier format":
        manifest = json.loads((directory / MANIFEST).read_text())
        (directory / MANIFEST).write_text(json.dumps({**manifest, "format": 1}))


@pytest.mark.parametrize(
    "how",
    [
        "truncated entries",
        "manifest garbage",
        "missing file",
        "rows swapped",
        "row past the end",
        "manifest of other shards",
        "an earlier format",
    ],
)
def test_a_damaged_or_stale_index_is_set_aside_with_a_warning(tmp_path, how):
    cache, truth = _fill(tmp_path)
    cache.compact(shard_rows=100)
    _damage(cache.directory, how)
    asked = _asked(truth, np.random.default_rng(4))
    fresh = _fresh(tmp_path)
    with pytest.warns(UserWarning, match="Ignoring the cache index"):
        _expect(fresh, truth, asked)
    assert fresh._persisted is None and not fresh._lazy
    assert len(list(cache.directory.glob("shard-*"))) == 3  # no shard discarded for it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once
        _expect(fresh, truth, asked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a new process reading the damaged index: warned
        _fresh(tmp_path).compact()  # writes it again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = _fresh(tmp_path)
        _expect(again, truth, asked)
    assert again._persisted is not None


def test_a_shard_gone_or_discarded_under_the_index_serves_its_copies_elsewhere(tmp_path):
    cache, truth = _fill(tmp_path, n_shards=3)
    dup_keys, dup_rows = _duplicate(truth, 40)
    cache.store(dup_keys, dup_rows)  # a second copy of some rows, in its own shard
    cache.compact(shard_rows=1)  # nothing merged: the index covers all four shards
    first = sorted(cache.directory.glob("shard-*.emb"), key=lambda p: p.stat().st_mtime_ns)
    asked = _asked(truth, np.random.default_rng(5))
    survivors = dict(truth)
    for name in first[:3]:  # removing one of the three original shards
        holds = set(_shards.Shard(name).read_keys().tolist())
        if holds & set(dup_keys.tolist()):
            name.unlink()
            survivors = {k: v for k, v in truth.items() if k not in holds or k in dup_keys}
            break
    _expect(_fresh(tmp_path), survivors, asked)
    shard = sorted(cache.directory.glob("shard-*.emb"))[0]
    raw = bytearray(shard.read_bytes())
    raw[-5] ^= 0xFF  # a bit flip in its last row
    shard.write_bytes(bytes(raw))
    fresh = _fresh(tmp_path)
    with pytest.warns(UserWarning, match="corrupted cache shard"):
        found, _ = fresh.lookup(np.array(sorted(survivors), dtype="S32"))
    assert not shard.exists() and fresh._persisted is not None
    assert found.sum() >= len(survivors) - 40  # only the discarded shard's keys missing


def _read_only(monkeypatch, folder):
    """Storage under ``folder`` refuses every write, as a read-only mount does (even for root)."""
    folder = str(folder)
    real_access, real_open, real_io = os.access, os.open, io.open

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and os.fspath(path).startswith(folder):
            return False
        return real_access(path, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and os.fspath(path).startswith(folder):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def io_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and os.fspath(file).startswith(folder):
            if any(c in mode for c in "wax+"):
                raise OSError(errno.EROFS, "Read-only file system", os.fspath(file))
        return real_io(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)


def test_a_read_only_cache_is_served_through_its_index(tmp_path, monkeypatch):
    cache, truth = _fill(tmp_path)
    cache.compact(shard_rows=100)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    _read_only(monkeypatch, tmp_path)
    fresh = _fresh(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _expect(fresh, truth, _asked(truth, np.random.default_rng(6)))
    assert fresh._persisted is not None and len(fresh._index.keys) == 0
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root"
)
@pytest.mark.parametrize("part", ["manifest", "entries", "fence"])
def test_index_files_of_a_stranger_are_skipped_like_their_shards(tmp_path, part):
    cache, truth = _fill(tmp_path)
    cache.compact(shard_rows=100)
    path = cache.directory / MANIFEST if part == "manifest" else _index_file(cache.directory, part)
    os.chown(path, 54321, 54321)
    fresh = _fresh(tmp_path)
    with pytest.warns(UserWarning, match=r"Skipping cache index file .*cannot be trusted"):
        _expect(fresh, truth, _asked(truth, np.random.default_rng(8)))
    assert fresh._persisted is None and len(fresh._index.keys) == len(truth)
