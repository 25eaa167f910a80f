"""The embedding cache at scale: an index built once, look-ups that read what they return,
compaction safe under readers, and every old guarantee kept (see docs/guide/cache.md)."""

import errno
import hashlib
import multiprocessing
import warnings

import numpy as np
import pytest

from skhisto import FoundationEmbedder
from skhisto.embedding import EmbeddingCache, _shards, open_cache
from skhisto.embedding._keys import array_keys
from skhisto.utils import STORE

FINGERPRINT = {"backbone": "test", "dim": 8}


def _entries(n, seed=0, dim=8):
    rng = np.random.default_rng(seed)
    keys = array_keys(rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8))
    return keys, rng.normal(size=(n, dim)).astype(np.float32)


def _filled(root, n_shards=4, rows=50):
    cache = EmbeddingCache(root, FINGERPRINT)
    parts = [_entries(rows, seed) for seed in range(n_shards)]
    for keys, embeddings in parts:
        cache.store(keys, embeddings)
    keys, embeddings = (np.concatenate(p) for p in zip(*parts, strict=True))
    return cache, keys, embeddings


@pytest.fixture
def spy(monkeypatch):
    """Counts the shards opened and the rows read from disk."""
    counts = {"opened": 0, "rows": 0}
    init, read = _shards.Shard.__init__, _shards.Shard.read

    def counting_init(self, path):
        counts["opened"] += 1
        init(self, path)

    def counting_read(self, rows, keys):
        counts["rows"] += len(rows)
        return read(self, rows, keys)

    monkeypatch.setattr(_shards.Shard, "__init__", counting_init)
    monkeypatch.setattr(_shards.Shard, "read", counting_read)
    return counts


def test_lookups_read_the_rows_they_return_and_index_each_shard_once(tmp_path, spy):
    _, keys, embeddings = _filled(tmp_path)
    reader = EmbeddingCache(tmp_path, FINGERPRINT)  # another process's view
    spy.update(opened=0, rows=0)
    ask = np.concatenate([keys[[3, 77, 150]], _entries(2, seed=99)[0]])
    found, rows = reader.lookup(ask)
    assert found.tolist() == [True, True, True, False, False]
    np.testing.assert_array_equal(rows, embeddings[[3, 77, 150]])
    assert spy == {"opened": 4, "rows": 3}
    reader.lookup(keys[:10])
    assert spy == {"opened": 4, "rows": 13}  # no shard indexed twice
    new_keys, new_embeddings = _entries(5, seed=50)
    EmbeddingCache(tmp_path, FINGERPRINT).store(new_keys, new_embeddings)
    found, rows = reader.lookup(new_keys)
    assert found.all() and spy["opened"] == 4 + 2  # the new shard, by writer and reader
    np.testing.assert_array_equal(rows, new_embeddings)


def test_clones_share_one_cache_object(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0, cache=tmp_path)
    embedder.fit_transform(images)
    clone = FoundationEmbedder(**embedder.get_params()).fit(images)
    clone.transform(images)
    shared = [c for c in STORE.caches.values() if c.directory.parent == tmp_path]
    assert len(shared) == 1 and open_cache(tmp_path, clone.fingerprint_) is shared[0]


def test_compaction_merges_small_shards_and_drops_duplicate_rows(tmp_path):
    cache, keys, embeddings = _filled(tmp_path)
    cache.store(keys[:30], embeddings[:30])  # a second writer's duplicates
    assert cache.stats() == {"shards": 5, "rows": 230, "entries": 200}
    assert cache.compact(shard_rows=150) == {"shards": 2, "rows": 200, "entries": 200}
    found, rows = EmbeddingCache(tmp_path, FINGERPRINT).lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(rows, embeddings)


def test_a_reader_indexed_before_compaction_still_finds_every_entry(tmp_path):
    _, keys, embeddings = _filled(tmp_path)
    reader = EmbeddingCache(tmp_path, FINGERPRINT)
    reader.lookup(keys)  # its index points at the small shards, removed by the compaction
    EmbeddingCache(tmp_path, FINGERPRINT).compact()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found, rows = reader.lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(rows, embeddings)
    assert reader.stats() == {"shards": 1, "rows": 200, "entries": 200}


def _write_forever(root, written, stop):
    cache = EmbeddingCache(root, FINGERPRINT)
    while not stop.is_set():
        cache.store(*_entries(20, 1000 + written.value))
        written.value += 1


@pytest.mark.slow
def test_compaction_is_safe_while_another_process_writes(tmp_path):
    cache, keys, embeddings = _filled(tmp_path)
    context = multiprocessing.get_context("spawn")
    stop, written = context.Event(), context.Value("i", 0)
    writer = context.Process(target=_write_forever, args=(tmp_path, written, stop))
    writer.start()
    try:
        compactions = 0
        while compactions < 5 or written.value < 10:
            assert writer.is_alive()
            cache.compact(shard_rows=100_000)
            compactions += 1
            found, rows = cache.lookup(keys)
            assert found.all()
            np.testing.assert_array_equal(rows, embeddings)
    finally:
        stop.set()
        writer.join(timeout=60)
    final = EmbeddingCache(tmp_path, FINGERPRINT)
    for seed in range(1000, 1000 + written.value):  # every shard the writer finished
        found, rows = final.lookup(_entries(20, seed)[0])
        assert found.all(), seed
        np.testing.assert_array_equal(rows, _entries(20, seed)[1])


def test_compaction_that_fails_midway_loses_nothing(tmp_path, monkeypatch):
    cache, keys, embeddings = _filled(tmp_path)
    before = sorted(p.name for p in cache.directory.glob("[!.]*"))

    def full_disk(f, *args):
        f.write(b"SKHSHRD1 half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("skhisto.embedding._cache.write_blocks", full_disk)
    with pytest.raises(OSError, match="No space left"):
        cache.compact()
    assert sorted(p.name for p in cache.directory.glob("[!.]*")) == before
    found, rows = EmbeddingCache(tmp_path, FINGERPRINT).lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(rows, embeddings)


def _flip(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("where", ["embeddings", "keys", "truncated"])
def test_a_corrupted_shard_is_discarded_and_the_rest_served(tmp_path, where):
    cache, keys, embeddings = _filled(tmp_path, n_shards=2)
    shard = sorted(cache.directory.glob("shard-*.emb"), key=lambda p: p.stat().st_mtime_ns)[0]
    size = shard.stat().st_size
    if where == "truncated":
        shard.write_bytes(shard.read_bytes()[: size - 100])
    else:
        _flip(shard, size - 10 if where == "embeddings" else 600)
    with pytest.warns(UserWarning, match=rf"corrupted cache shard .*{shard.name}"):
        found, rows = EmbeddingCache(tmp_path, FINGERPRINT).lookup(keys)
    assert not shard.exists()
    assert found.tolist() == [False] * 50 + [True] * 50
    np.testing.assert_array_equal(rows, embeddings[50:])


def test_shards_of_the_older_npz_layout_are_migrated(tmp_path):
    cache = EmbeddingCache(tmp_path, FINGERPRINT)
    keys, embeddings = _entries(10)
    digest = hashlib.sha256(keys.tobytes())
    digest.update(embeddings.data)
    np.savez(
        cache.directory / "shard-old.npz",
        keys=keys,
        embeddings=embeddings,
        checksum=digest.hexdigest(),
    )
    found, rows = EmbeddingCache(tmp_path, FINGERPRINT).lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(rows, embeddings)
    assert [p.suffix for p in cache.directory.glob("shard-*")] == [".emb"]


def test_a_removed_cache_directory_serves_nothing_stale(tmp_path):
    import shutil

    cache, keys, embeddings = _filled(tmp_path, n_shards=1)
    shutil.rmtree(tmp_path / cache.directory.name)
    assert cache.lookup(keys)[0].sum() == 0
    cache.store(keys[:5], embeddings[:5])  # the directory is made again
    assert cache.lookup(keys)[0].sum() == 5


@pytest.mark.parametrize(
    "keys, embeddings, match",
    [
        (np.array(["a", "b"]), np.ones((3, 4)), r"shape \(2, dim\) for 2 keys, got \(3, 4\)"),
        (np.array(["a"]), np.array([[np.nan, 1.0]]), "NaN or infinite"),
        (np.array(["x" * 33]), np.ones((1, 4)), "at most 32 characters"),
        (np.array([1, 2]), np.ones((2, 4)), "1-d array of strings"),
    ],
)
def test_store_refuses_what_it_could_not_serve_back(tmp_path, keys, embeddings, match):
    cache = EmbeddingCache(tmp_path, FINGERPRINT)
    with pytest.raises(ValueError, match=match):
        cache.store(keys, embeddings)
    assert cache.stats()["shards"] == 0


def test_compact_refuses_a_bad_shard_size(tmp_path):
    with pytest.raises(ValueError, match="shard_rows must be a positive int, got 0"):
        EmbeddingCache(tmp_path, FINGERPRINT).compact(shard_rows=0)


def test_a_cache_root_not_made_yet_is_created_several_folders_deep(tmp_path):
    root = tmp_path / "new" / "cohort" / "cache"  # none of these folders exists yet
    cache = EmbeddingCache(root, {"backbone": "b"})
    cache.store(np.array(["k1", "k2"]), np.eye(2, dtype=np.float32))
    found, _ = cache.lookup(np.array(["k2", "k3"]))
    assert found.tolist() == [True, False]
    assert (cache.directory / "fingerprint.json").is_file()


def test_a_cache_under_a_read_only_folder_is_served_and_never_created(tmp_path, monkeypatch):
    import skhisto.utils._files as files

    locked = tmp_path / "locked"
    locked.mkdir()
    # root ignores permission bits: the folder is read-only as the access check sees it
    monkeypatch.setattr(files, "writable_dir", lambda path: str(path) != str(locked))
    cache = EmbeddingCache(locked / "cache" / "deeper", {"backbone": "b"})
    assert not (locked / "cache").exists()
    assert not cache.lookup(np.array(["k1"]))[0].any()
