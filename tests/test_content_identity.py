"""An input's identity is its content, not its metadata (issue 21, class 1).

A slide is identified by the digest of all its bytes, read once per version of the file and
remembered under the file's identity (path, device, inode, size, mtime, ctime) in the process
and in the cache's ``digests/`` folder. A user can set mtime back, not ctime.
"""

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skhisto import FoundationEmbedder, SlideTiler
from skhisto.datasets import make_slide
from skhisto.embedding import forward_count
from skhisto.slides import slide_identity
from skhisto.utils import _digests, clear_caches, file_digest

SMALL = dict(backbone="resnet18", pretrained=False, image_size=32, batch_size=8, random_state=0)


@pytest.fixture
def reads(monkeypatch):
    """Counts whole-file reads; digests may be remembered at once (no racy window)."""
    counted = []
    sha256 = _digests._sha256

    def counting(path, what):
        counted.append(os.path.basename(path))
        return sha256(path, what)

    monkeypatch.setattr(_digests, "_sha256", counting)
    monkeypatch.setattr(_digests, "_RACY_NS", 0)
    clear_caches()
    yield counted
    clear_caches()


def _rewrite_keeping_size_and_mtime(path, data):
    before = os.stat(path)
    assert len(data) == before.st_size
    with open(path, "r+b") as f:  # in place: same inode
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


@settings(max_examples=25, deadline=None)
@given(data=st.binary(min_size=1, max_size=1 << 17), where=st.floats(0, 1, exclude_max=True))
def test_one_changed_byte_anywhere_changes_the_identity(tmp_path_factory, data, where):
    path = tmp_path_factory.mktemp("identity") / "scan.svs"
    path.write_bytes(data)
    before = slide_identity(path)
    changed = bytearray(data)
    changed[int(where * len(data))] ^= 0xFF
    _rewrite_keeping_size_and_mtime(path, bytes(changed))
    assert slide_identity(path) != before
    copy = path.with_name("copy.svs")
    copy.write_bytes(bytes(changed))
    assert slide_identity(copy) == slide_identity(path)  # the same bytes: the same identity


def _padded_pair(lc25000_dir, tmp_path):
    """Two valid slides of one size (the smaller padded: TIFF offsets are absolute)."""
    tiles = sorted(str(p) for p in (lc25000_dir / "lung_scc").iterdir())
    layout = np.array([[0, 1, -1], [2, 3, -1]])
    first = make_slide(tmp_path / "a.tif", tiles[:4], layout, random_state=0)
    second = make_slide(tmp_path / "b.tif", tiles[4:8], layout, random_state=0)
    a, b = open(first, "rb").read(), open(second, "rb").read()
    size = max(len(a), len(b))
    return a.ljust(size, b"\0"), b.ljust(size, b"\0")


def test_a_rescan_with_the_same_size_head_and_mtime_is_embedded_afresh(
    lc25000_dir, tmp_path, reads
):
    old, new = _padded_pair(lc25000_dir, tmp_path)
    slide = tmp_path / "case.tif"
    slide.write_bytes(old)
    table = SlideTiler(patch_size=112, mpp=0.5, min_tissue=0.5).tile(slide)
    embedder = FoundationEmbedder(**SMALL, cache=tmp_path / "cache").fit(table)
    first = embedder.transform(table)
    _rewrite_keeping_size_and_mtime(slide, new)
    clear_caches()  # a new process: only the files remain
    before = forward_count()
    second = embedder.transform(table)
    assert forward_count() - before == len(table)  # nothing served from the old scan
    assert not np.allclose(first, second)
    fresh = FoundationEmbedder(**SMALL).fit(table).transform(table)  # no cache at all
    np.testing.assert_allclose(second, fresh, rtol=1e-5, atol=1e-6)


def test_a_slide_is_read_whole_once_per_version_across_processes(lc25000_dir, tmp_path, reads):
    old, _ = _padded_pair(lc25000_dir, tmp_path)
    slide = tmp_path / "case.tif"
    slide.write_bytes(old)
    table = SlideTiler(patch_size=112, mpp=0.5, min_tissue=0.5).tile(slide)
    cache = tmp_path / "cache"
    expected = FoundationEmbedder(**SMALL, cache=cache).fit(table).transform(table)
    assert reads.count("case.tif") == 1  # keyed, then re-keyed from the process's memo
    (entry,) = (cache / "digests").iterdir()
    assert json.loads(entry.read_text())["identity"][0] == os.path.realpath(slide)
    clear_caches()  # a new process
    before = forward_count()
    np.testing.assert_array_equal(
        FoundationEmbedder(**SMALL, cache=cache).fit(table).transform(table), expected
    )
    assert forward_count() == before and reads.count("case.tif") == 1


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="chown needs root")
def test_foreign_damaged_or_stale_digest_entries_are_never_believed(tmp_path, reads):
    scan = tmp_path / "scan.svs"
    scan.write_bytes(b"slide bytes")
    memo = tmp_path / "digests"
    truth = file_digest(scan, digest_dir=memo)
    (entry,) = memo.iterdir()
    forged = json.loads(entry.read_text()) | {"sha256": "0" * 64}
    for damage in (
        lambda: (entry.write_text(json.dumps(forged)), os.chown(entry, 54321, 54321)),
        lambda: entry.write_text("{not json"),
        lambda: entry.write_text(json.dumps(forged | {"identity": ["elsewhere"]})),
        lambda: entry.write_text(json.dumps(forged | {"sha256": "not hex"})),
    ):
        damage()
        clear_caches()
        assert file_digest(scan, digest_dir=memo) == truth
    os.chown(entry, os.getuid(), os.getgid())
    entry.write_text(json.dumps(forged))
    clear_caches()
    assert file_digest(scan, digest_dir=memo) == "0" * 64  # a trusted entry is believed


def test_a_read_only_digest_folder_is_read_not_written(tmp_path, reads, monkeypatch):
    scan = tmp_path / "scan.svs"
    scan.write_bytes(b"slide bytes")
    memo = tmp_path / "digests"
    file_digest(scan, digest_dir=memo)
    monkeypatch.setattr(_digests, "writable_dir", lambda path: False)
    clear_caches()
    other = tmp_path / "other.svs"
    other.write_bytes(b"other bytes")
    assert file_digest(scan, digest_dir=memo) and file_digest(other, digest_dir=memo)
    assert reads == ["scan.svs", "other.svs"]  # scan.svs read from the memo
    assert len(list(memo.iterdir())) == 1


def test_a_file_changing_while_it_is_read_is_not_remembered(tmp_path, reads, monkeypatch):
    scan = tmp_path / "scan.svs"
    scan.write_bytes(b"first")
    sha256 = _digests._sha256

    def growing(path, what):
        digest = sha256(path, what)
        with open(path, "ab") as f:
            f.write(b" and more")
        return digest

    monkeypatch.setattr(_digests, "_sha256", growing)
    file_digest(scan, digest_dir=tmp_path / "digests")
    assert not (tmp_path / "digests").exists()
    monkeypatch.setattr(_digests, "_sha256", sha256)
    assert file_digest(scan) == sha256(scan, "file")  # the bytes now there


# -- embed_dataset: a resumed store re-embeds the chunks whose files changed --------------


@pytest.fixture
def images(lc25000_dir, tmp_path):
    """Six private copies of LC25000 tiles (the test rewrites them)."""
    import shutil

    sources = sorted((lc25000_dir / "lung_aca").iterdir())[:7]
    folder = tmp_path / "tiles"
    folder.mkdir()
    for source in sources[:6]:
        shutil.copy(source, folder / source.name)
    return sorted(str(p) for p in folder.iterdir()), str(sources[6])


def test_a_resumed_store_re_embeds_the_chunks_whose_files_changed(images, tmp_path):
    pytest.importorskip("zarr")
    from skhisto.embedding import embed_dataset

    paths, other = images
    out = tmp_path / "emb.zarr"
    embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=2)
    os.utime(paths[0])  # touched, same bytes: its chunk is hashed again, not embedded
    replaced = open(other, "rb").read()
    stat = os.stat(paths[3])
    with open(paths[3], "wb") as f:  # another tile at the same path, its mtime set back
        f.write(replaced)
    os.utime(paths[3], ns=(stat.st_atime_ns, stat.st_mtime_ns))
    before = forward_count()
    with pytest.warns(UserWarning, match=r"1 finished chunks .* changed .*chunk 1: images 2 to 3"):
        store = embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=2)
    assert forward_count() - before == 2  # chunk 1 only
    expected = FoundationEmbedder(**SMALL).fit(paths).transform(paths)
    np.testing.assert_allclose(store["embeddings"][:], expected, rtol=1e-5, atol=1e-6)
    before = forward_count()
    embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=2)  # nothing changed
    assert forward_count() == before


def test_a_store_whose_creation_fails_leaves_nothing_and_the_next_call_makes_it(
    images, tmp_path, monkeypatch
):
    pytest.importorskip("zarr")
    from skhisto.embedding import _dataset, embed_dataset

    paths, _ = images
    out = tmp_path / "emb.zarr"
    real = _dataset._create_store

    def dies_half_way(zarr, folder, *args):
        real(zarr, folder, *args)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_dataset, "_create_store", dies_half_way)
    with pytest.raises(OSError, match="Cannot create the Zarr store .*emb.zarr.*No space left"):
        embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)
    assert sorted(os.listdir(tmp_path)) == ["tiles"]  # no store, no temporary
    monkeypatch.setattr(_dataset, "_create_store", real)
    store = embed_dataset(paths, FoundationEmbedder(**SMALL), out, chunk_size=4)
    assert store.attrs["complete"] and store["done"][:].all()
