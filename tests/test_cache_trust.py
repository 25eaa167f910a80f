"""A shared cache is a trust boundary (issue 21, class 2).

Shard checksums detect damage, not forgery: rows are served only from shards owned by you,
the cache's owner or its group, and a cache folder every user can write to is warned about.
"""

import os
import warnings

import numpy as np
import pytest

from skhisto import FoundationEmbedder
from skhisto.utils import clear_caches

pytestmark = pytest.mark.skipif(
    not hasattr(os, "getuid") or os.getuid() != 0, reason="chown to another user needs root"
)
SMALL = dict(backbone="resnet18", pretrained=False, image_size=32, random_state=0)
STRANGER = 54321


@pytest.fixture
def filled(lc25000_small, tmp_path):
    cache = tmp_path / "cache"
    paths = list(lc25000_small.paths[:4])
    clear_caches()  # a model another test left in this process's store is not this one
    expected = FoundationEmbedder(**SMALL, cache=cache).fit_transform(paths)
    clear_caches()  # a new process: the cache index is built again from the files
    return cache, paths, expected


def _forge(shard):
    """The shard as if another user had planted it: valid checksums, a stranger's file."""
    os.chown(shard, STRANGER, STRANGER)


def test_a_shard_owned_by_a_stranger_is_not_served(filled):
    cache, paths, expected = filled
    (shard,) = cache.rglob("shard-*.emb")
    _forge(shard)
    embedder = FoundationEmbedder(**SMALL, cache=cache)
    with pytest.warns(UserWarning, match=rf"owned by uid {STRANGER}.*cannot be trusted"):
        out = embedder.fit_transform(paths)
    np.testing.assert_array_equal(out, expected)  # recomputed, not read from the shard
    assert shard.exists()  # left in place: not ours to delete
    assert len(list(cache.rglob("shard-*.emb"))) == 2  # the recomputed rows, in our own shard


def test_a_strangers_shard_under_the_persisted_index_is_neither_served_nor_counted(filled):
    # Shards the index covers are opened lazily (nothing read); their owner is checked when
    # a row is first needed, and before they are counted or compacted.
    cache, paths, expected = filled
    from skhisto.embedding import EmbeddingCache

    (folder,) = {p.parent for p in cache.rglob("shard-*.emb")}
    fingerprint = FoundationEmbedder(**SMALL, cache=cache).fit(paths).fingerprint_
    EmbeddingCache(cache, fingerprint).compact()
    (shard,) = folder.glob("shard-*.emb")
    _forge(shard)
    clear_caches()
    with pytest.warns(UserWarning, match=rf"owned by uid {STRANGER}.*cannot be trusted"):
        assert EmbeddingCache(cache, fingerprint).stats()["entries"] == 0
    clear_caches()
    embedder = FoundationEmbedder(**SMALL, cache=cache)
    with pytest.warns(UserWarning, match=rf"owned by uid {STRANGER}.*cannot be trusted"):
        out = embedder.fit_transform(paths)
    np.testing.assert_array_equal(out, expected)
    assert shard.exists() and len(list(folder.glob("shard-*.emb"))) == 2


def test_a_shard_of_the_caches_group_is_served(filled):
    cache, paths, expected = filled
    (shard,) = cache.rglob("shard-*.emb")
    os.chown(shard, STRANGER, os.stat(cache).st_gid)  # a colleague in the cache's group
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = FoundationEmbedder(**SMALL, cache=cache).fit_transform(paths)
    np.testing.assert_array_equal(out, expected)
    assert len(list(cache.rglob("shard-*.emb"))) == 1  # nothing recomputed


def test_a_world_writable_cache_folder_is_warned_about(filled):
    cache, paths, _ = filled
    os.chmod(cache, 0o777)
    with pytest.warns(UserWarning, match="writable by every user"):
        FoundationEmbedder(**SMALL, cache=cache).fit_transform(paths)
    clear_caches()
    os.chmod(cache, 0o1777)  # sticky, as /tmp: others cannot replace your files
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FoundationEmbedder(**SMALL, cache=cache).fit_transform(paths)
