"""`skhisto cache`: what the embedding cache holds, and compacting it."""

import numpy as np

from skhisto import FoundationEmbedder
from skhisto.embedding import EmbeddingCache, forward_count
from skhisto.embedding._keys import fingerprint_id
from skhisto.utils import clear_caches

IMAGES = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)


def _fill(cache_dir):
    embedder = FoundationEmbedder(pretrained=False, image_size=32, random_state=0, cache=cache_dir)
    for start in range(0, 6, 2):  # three transforms, three shards
        embedder.fit(IMAGES).transform(IMAGES[start : start + 2])
    embedder.transform(IMAGES[:2])  # cached: no new shard
    EmbeddingCache(cache_dir, embedder.fingerprint_).store(np.array(["dup"]), np.ones((1, 512)))
    return embedder


def test_info_lists_each_fingerprint_and_compact_merges_its_shards(run_cli, tmp_path):
    embedder = _fill(tmp_path)
    before = embedder.transform(IMAGES)
    info = run_cli("cache", "info", "--cache", tmp_path)
    assert info.code == 0, info.err
    row = info.out.splitlines()[1].split()
    fingerprint = fingerprint_id(embedder.fingerprint_)
    assert row[:7] == [fingerprint, "resnet18", "32", "fp32", "4", "7", "7"]
    compact = run_cli("cache", "compact", "--cache", tmp_path)
    assert compact.code == 0, compact.err
    assert f"{fingerprint}: 4 shards, 7 rows -> 1 shards, 7 rows" in compact.out
    clear_caches()  # a new process: its index sees only the merged shard
    calls = forward_count()
    np.testing.assert_array_equal(embedder.transform(IMAGES), before)
    assert forward_count() == calls
    found, rows = EmbeddingCache(tmp_path, embedder.fingerprint_).lookup(np.array(["dup"]))
    assert found.all() and np.all(rows == 1)


def test_an_empty_or_missing_cache_is_said_so(run_cli, tmp_path):
    empty = run_cli("cache", "info", "--cache", tmp_path)
    assert empty.code == 0 and "no embedding cache here" in empty.out
    run_cli("cache", "info", "--cache", tmp_path / "nope").assert_one_line_error(
        1, "--cache", "nope", "not a directory"
    )
    run_cli("cache", "shrink").assert_one_line_error(2, "invalid choice", "shrink")
