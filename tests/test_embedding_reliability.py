"""Reliability of the embedding layer: weights identity, a shared cache, faults and bad input."""

import errno
import hashlib
import io
import os
import pickle
import stat
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from sklearn.exceptions import NotFittedError

from skhisto import FoundationEmbedder
from skhisto.backbones import (
    WeightsChangedError,
    WeightsError,
    _build,
    check_image_size,
    create_backbone,
    get_backbone_info,
    list_backbones,
)
from skhisto.embedding import _shards, embed_images, forward_count
from skhisto.exceptions import NonFiniteError
from skhisto.io import ImageReadError
from skhisto.utils import STORE, clear_caches

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
OTHER = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
SMALL = dict(backbone="resnet18", pretrained=False, image_size=32, random_state=0)


def _save_resnet18(path, seed, poison=False):
    model, _ = create_backbone("resnet18", pretrained=False, random_state=seed)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if poison:
        state["bn1.weight"][:] = float("nan")
    save_file(state, path)
    return model


def _direct(model, images):
    info = get_backbone_info("resnet18")
    return embed_images(model, images, image_size=32, mean=info.mean, std=info.std)


# Bullet 1: a weights file replaced at the same path.


def test_weights_replaced_at_the_same_path_are_used_in_the_same_process(tmp_path):
    path = tmp_path / "enc.safetensors"
    outputs = []
    for seed in (1, 2):
        model = _save_resnet18(path, seed)
        embedder = FoundationEmbedder("resnet18", weights=path, image_size=32, cache=tmp_path / "c")
        outputs.append(embedder.fit_transform(IMAGES))
        np.testing.assert_allclose(outputs[-1], _direct(model, IMAGES), rtol=1e-5, atol=1e-6)
    assert not np.allclose(outputs[0], outputs[1])


def test_weights_replaced_after_fit_are_refused_not_filed_under_the_old_fingerprint(tmp_path):
    path = tmp_path / "enc.safetensors"
    _save_resnet18(path, 1)
    cache = tmp_path / "cache"
    embedder = FoundationEmbedder("resnet18", weights=path, image_size=32, cache=cache)
    embedder.fit_transform(IMAGES)
    restored = pickle.loads(pickle.dumps(embedder))  # as in another process:
    clear_caches()  # no model built yet
    new = _save_resnet18(path, 2)
    shards = sorted(cache.glob("*/shard-*.emb"))
    with pytest.raises(WeightsChangedError, match=r"enc.safetensors.*changed since fit.*Refit"):
        restored.transform(OTHER)
    assert sorted(cache.glob("*/shard-*.emb")) == shards  # nothing filed under the old one
    refit = restored.fit(OTHER).transform(OTHER)
    np.testing.assert_allclose(refit, _direct(new, OTHER), rtol=1e-5, atol=1e-6)


def test_digest_is_of_the_bytes_loaded_when_the_file_moves_during_the_build(tmp_path, monkeypatch):
    path = tmp_path / "enc.safetensors"
    _save_resnet18(path, 1)
    new = _save_resnet18(tmp_path / "new.safetensors", 2)
    resolve = _build.resolve_weights

    def resolve_then_replace(*args, **kwargs):
        found = resolve(*args, **kwargs)
        os.replace(tmp_path / "new.safetensors", path)  # replaced between digest and read
        return found

    monkeypatch.setattr(_build, "resolve_weights", resolve_then_replace)
    model, digest = create_backbone("resnet18", weights=path)
    assert digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    x = torch.rand(1, 3, 32, 32)
    assert torch.allclose(model(x), new(x))


# Bullets 2 and 3: a cache shared by several users, a full disk.


def test_shards_get_the_umask_permissions_so_a_group_can_share_the_cache(tmp_path):
    old = os.umask(0o002)
    try:
        FoundationEmbedder(**SMALL, cache=tmp_path / "cache").fit_transform(IMAGES)
    finally:
        os.umask(old)
    files = list((tmp_path / "cache").glob("*/*")) + list((tmp_path / "cache").glob("*/leases/*"))
    assert any(f.name.startswith("shard-") for f in files)
    assert any(f.name == ".claims.lock" for f in files)  # other users must be able to lock it
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == (0o775 if f.is_dir() else 0o664), f
    for d in (tmp_path / "cache").glob("*"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o775, d


def _deny(monkeypatch, pattern):
    # Tests run as root, which chmod cannot stop: refuse opens of matching files instead.
    import builtins

    real, real_os = io.open, os.open

    def refuse(file):
        if isinstance(file, (str, os.PathLike)) and pattern in os.fspath(file):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))

    def guarded(file, *args, **kwargs):
        refuse(file)
        return real(file, *args, **kwargs)

    def guarded_os(file, *args, **kwargs):  # skhisto.utils.open_regular opens with os.open
        refuse(file)
        return real_os(file, *args, **kwargs)

    monkeypatch.setattr(io, "open", guarded)
    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(os, "open", guarded_os)


def test_another_users_unreadable_shard_is_reported_once_and_never_deleted(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    reference = FoundationEmbedder(**SMALL, cache=cache).fit_transform(IMAGES)
    (shard,) = cache.glob("*/shard-*.emb")
    _deny(monkeypatch, shard.name)
    before = forward_count()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            again = FoundationEmbedder(**SMALL, cache=cache).fit_transform(IMAGES)
            np.testing.assert_array_equal(again, reference)
    messages = [str(w.message) for w in caught if shard.name in str(w.message)]
    assert len(messages) == 1 and "unreadable" in messages[0], messages
    assert shard.exists()
    assert forward_count() - before == 3  # recomputed once, then served by the new shard


def test_disk_full_names_the_shard_and_leaves_no_partial_file(tmp_path, monkeypatch):
    def write_until_full(f, *args):
        f.write(b"SKHSHRD1 half a shard")
        raise OSError(errno.ENOSPC, "No space left on device")

    cache = tmp_path / "cache"
    embedder = FoundationEmbedder(**SMALL, cache=cache).fit(IMAGES)
    monkeypatch.setattr(_shards, "write_blocks", write_until_full)
    with pytest.raises(OSError, match=rf"{cache}.*shard-.*No space left") as info:
        embedder.transform(IMAGES)
    assert info.value.errno == errno.ENOSPC
    metadata = ("fingerprint.json", "provenance.json", "leases")  # written when the cache opens
    leftovers = [p.name for p in cache.glob("*/*") if p.name not in metadata]
    assert leftovers == []
    assert list(cache.glob("*/leases/*.keys")) == []  # the lease was withdrawn


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_unusable_cache_directory_is_refused_at_fit(tmp_path, where):
    (tmp_path / "taken").write_text("not a directory")
    cache = tmp_path / "taken" if where == "a file" else tmp_path / "taken" / "sub"
    with pytest.raises(OSError, match=rf"cache= directory '{tmp_path}/taken"):
        FoundationEmbedder(**SMALL, cache=cache).fit(IMAGES)


def test_non_finite_embeddings_raise_and_are_never_cached(tmp_path):
    _save_resnet18(tmp_path / "nan.safetensors", 0, poison=True)
    cache = tmp_path / "cache"
    embedder = FoundationEmbedder("resnet18", weights=tmp_path / "nan.safetensors", cache=cache)
    with pytest.raises(NonFiniteError, match=r"NaN or infinite embeddings for images 0 to 2"):
        embedder.set_params(image_size=32).fit_transform(IMAGES)
    assert list(cache.glob("*/shard-*.emb")) == []


# Bullet 4: ViT image size and patch size.


@pytest.mark.parametrize(
    "backbone, size, match",
    [
        (
            "vit_small_patch16_224",
            100,
            r"patch size 16 of backbone 'vit_small_patch16_224'.*96 or 112",
        ),
        ("ctranspath", 102, r"patch size 4 of backbone 'ctranspath'.*100 or 104"),
        ("uni2-h", 230, r"patch size 14 of backbone 'uni2-h'.*224 or 238"),
    ],
)
def test_image_size_off_the_patch_grid_is_refused_before_any_model(backbone, size, match):
    clear_caches()
    with pytest.raises(ValueError, match=match):
        FoundationEmbedder(backbone, pretrained=False, image_size=size).fit(IMAGES)
    with pytest.raises(ValueError, match=match):
        create_backbone(backbone, pretrained=False, image_size=size)
    assert len(STORE.models) == 0


def test_image_size_on_the_patch_grid_and_cnns_at_any_size_are_accepted():
    vit = get_backbone_info("vit_small_patch16_224")
    assert check_image_size(vit, 96) == 96 and check_image_size(vit, None) is None
    assert check_image_size(get_backbone_info("resnet18"), 33) == 33
    out = FoundationEmbedder(
        "vit_small_patch16_224", pretrained=False, image_size=32, random_state=0
    ).fit_transform(IMAGES[:1])
    assert out.shape == (1, 384)


# Bad input.


@pytest.mark.parametrize(
    "kind, error, match",
    [
        ("directory", IsADirectoryError, "got a directory"),
        ("missing", FileNotFoundError, "does not exist.*nope.safetensors"),
        ("empty", WeightsError, "empty.safetensors"),
        ("truncated", WeightsError, "truncated.safetensors"),
        ("truncated-pth", WeightsError, "truncated.pth"),
        ("not-a-checkpoint", WeightsError, "text.pth"),
        ("tensor-not-dict", WeightsError, "tensor.pth.*state dict"),
    ],
)
def test_bad_weights_files_name_the_file(tmp_path, kind, error, match):
    model, _ = create_backbone("resnet18", pretrained=False, random_state=0)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    files = {
        "directory": tmp_path,
        "missing": tmp_path / "nope.safetensors",
        "empty": tmp_path / "empty.safetensors",
        "truncated": tmp_path / "truncated.safetensors",
        "truncated-pth": tmp_path / "truncated.pth",
        "not-a-checkpoint": tmp_path / "text.pth",
        "tensor-not-dict": tmp_path / "tensor.pth",
    }
    (tmp_path / "empty.safetensors").write_bytes(b"")
    save_file(model.state_dict(), tmp_path / "full.safetensors")
    full = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "truncated.safetensors").write_bytes(full[: len(full) // 2])
    (tmp_path / "truncated.pth").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (tmp_path / "text.pth").write_text("hello")
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    with pytest.raises(error, match=match):
        FoundationEmbedder("resnet18", weights=files[kind], image_size=32).fit_transform(IMAGES)


def test_unknown_family_is_refused():
    with pytest.raises(
        ValueError, match=r"'family' parameter .* among .*'contrastive'.*'contrastve'"
    ):
        list_backbones(family="contrastve")


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(backbone=3), ValueError, "'backbone' parameter"),
        (dict(backbone="vit_smal_patch16_224"), ValueError, "Close names.*vit_small_patch16_224"),
        (dict(image_size=4), ValueError, "'image_size' parameter"),
        (dict(precision="fp8"), ValueError, "'precision' parameter"),
        (dict(num_workers=-1), ValueError, "'num_workers' parameter"),
        (dict(cache=3), ValueError, "'cache' parameter"),
    ],
)
def test_bad_parameters_are_refused_at_fit(params, error, match):
    with pytest.raises(error, match=match):
        FoundationEmbedder(**{**SMALL, **params}).fit(IMAGES)


def test_use_before_fit_is_refused():
    with pytest.raises(NotFittedError):
        FoundationEmbedder(**SMALL).transform(IMAGES)
    with pytest.raises(NotFittedError):
        FoundationEmbedder(**SMALL).get_feature_names_out()


def test_object_array_of_paths_embeds_like_a_list(lc25000_small, tmp_path):
    paths = list(lc25000_small.paths[:3])
    embedder = FoundationEmbedder(**SMALL).fit(np.asarray(paths, dtype=object))
    np.testing.assert_array_equal(
        embedder.transform(np.asarray(paths, dtype=object)), embedder.transform(paths)
    )


@pytest.mark.parametrize("cache", [False, True])
def test_a_directory_among_image_paths_is_named(lc25000_small, tmp_path, cache):
    paths = [lc25000_small.paths[0], str(tmp_path)]
    embedder = FoundationEmbedder(**SMALL, cache=tmp_path / "c" if cache else None)
    with pytest.raises((ImageReadError, IsADirectoryError), match=str(tmp_path)):
        embedder.fit_transform(paths)


def test_model_with_a_wrong_output_shape_is_named():
    model = torch.nn.Conv2d(3, 4, 3)  # a feature map, not an embedding
    with pytest.raises(ValueError, match=r"returned shape \(3, 4, 30, 30\).*Pool or flatten"):
        embed_images(model, IMAGES, image_size=32, mean=(0, 0, 0), std=(1, 1, 1))


def test_unreadable_image_file_is_named(lc25000_small, tmp_path, monkeypatch):
    paths = list(lc25000_small.paths[:2])
    _deny(monkeypatch, os.path.basename(paths[1]))
    with pytest.raises(PermissionError, match=f"Cannot read image '{paths[1]}'"):
        FoundationEmbedder(**SMALL, cache=tmp_path / "c").fit_transform(paths)


def test_interrupted_run_keeps_finished_shards_and_resumes(tmp_path, monkeypatch):
    from skhisto.embedding import _foundation, _inference

    monkeypatch.setattr(_foundation, "SHARD_SIZE", 2)
    real, calls = _inference.normalize_batch, []

    def interrupt_on_fourth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C mid-run
        return real(*args, **kwargs)

    images = np.random.default_rng(2).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    cache = tmp_path / "cache"
    embedder = FoundationEmbedder(**SMALL, batch_size=1, cache=cache)
    monkeypatch.setattr(_inference, "normalize_batch", interrupt_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        embedder.fit_transform(images)
    monkeypatch.setattr(_inference, "normalize_batch", real)
    assert [p.name for p in cache.glob("*/.*.tmp")] == []
    before = forward_count()
    resumed = embedder.transform(images)
    assert forward_count() - before == 2  # the three finished images were kept
    direct = FoundationEmbedder(**SMALL).fit_transform(images)
    np.testing.assert_allclose(resumed, direct, rtol=1e-5, atol=1e-6)


def test_url_download_is_atomic_with_umask_permissions(tmp_path, monkeypatch):
    import dataclasses

    from skhisto.backbones import WeightsUnavailableError

    source = tmp_path / "published.pth"
    model, _ = create_backbone("resnet18", pretrained=False, random_state=4)
    torch.save(model.state_dict(), source)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    info = dataclasses.replace(get_backbone_info("resnet18"), url=source.as_uri(), hub_id=None)
    old = os.umask(0o002)
    try:
        path, digest = _build.resolve_weights(info)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o664
    assert digest == "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    gone = dataclasses.replace(info, url=(tmp_path / "gone.pth").as_uri())
    with pytest.raises(WeightsUnavailableError, match="gone.pth"):
        _build.resolve_weights(gone)
    assert sorted(p.name for p in (tmp_path / "hub" / "checkpoints").iterdir()) == ["published.pth"]


@pytest.mark.slow  # trains on real patches
def test_simclr_encoder_saved_twice_to_one_path_embeds_with_the_latest(tmp_path):
    from skhisto.contrastive import SimCLREmbedder

    path = tmp_path / "enc.safetensors"
    outputs = []
    for seed in (0, 1):
        SimCLREmbedder(
            image_size=32,
            batch_size=4,
            max_epochs=1,
            device="cpu",
            verbose=False,
            random_state=seed,
        ).fit(IMAGES).save_encoder(path)
        direct = _direct(create_backbone("resnet18", weights=path)[0], OTHER)
        embedder = FoundationEmbedder("resnet18", weights=path, image_size=32)
        outputs.append(embedder.fit_transform(OTHER))
        np.testing.assert_allclose(outputs[-1], direct, rtol=1e-5, atol=1e-6)
    assert not np.allclose(outputs[0], outputs[1])


def test_embedding_width_off_the_registry_is_refused_before_caching(tmp_path, monkeypatch):
    import dataclasses

    from skhisto.embedding import _foundation

    wrong = dataclasses.replace(get_backbone_info("resnet18"), embed_dim=100)
    monkeypatch.setattr(_foundation, "get_backbone_info", lambda name: wrong)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="returned 512-dimensional embeddings.*says 100"):
        FoundationEmbedder(**SMALL, cache=cache).fit_transform(IMAGES)
    assert list(cache.glob("*/shard-*.emb")) == []


def test_a_list_of_image_arrays_says_to_stack_them():
    from skhisto.io import check_image_input

    with pytest.raises(TypeError, match=r"element 0 is an array of shape \(8, 8, 3\).*np.stack"):
        check_image_input([np.zeros((8, 8, 3), np.uint8)] * 2)


def test_a_file_changed_while_it_is_embedded_is_never_cached_under_its_old_key(
    lc25000_small, tmp_path, monkeypatch
):
    # Before: the file was hashed, then read again to decode; the new content's embedding
    # was filed under the old content's key and served to every later user of the cache.
    import shutil

    from skhisto.io import ImageFiles

    image = tmp_path / "tile.jpeg"
    shutil.copy(lc25000_small.paths[0], image)
    hashed = ImageFiles.keys
    calls = []

    def hash_then_replace(self, *, digest_dir=None):
        keys = hashed(self, digest_dir=digest_dir)
        if not calls:  # the lookup's keys: the file is replaced before it is decoded
            shutil.copy(lc25000_small.paths[150], image)  # another class's tile, same path
        calls.append(keys)
        return keys

    make = dict(backbone="resnet18", pretrained=False, image_size=64, random_state=0)
    cache = tmp_path / "cache"
    embedder = FoundationEmbedder(**make, cache=cache).fit([image])
    monkeypatch.setattr(ImageFiles, "keys", hash_then_replace)
    with pytest.warns(UserWarning, match="changed while they were embedded.*not cached"):
        embedder.transform([image])
    monkeypatch.setattr(ImageFiles, "keys", hashed)
    original = tmp_path / "original.jpeg"
    shutil.copy(lc25000_small.paths[0], original)
    fresh = FoundationEmbedder(**make).fit([original]).transform([original])
    served = FoundationEmbedder(**make, cache=cache).fit([original]).transform([original])
    np.testing.assert_array_equal(served, fresh)


def test_an_image_size_too_small_for_the_network_names_image_size():
    # Before: torch's raw "Calculated padded input size per channel ..." RuntimeError.
    embedder = FoundationEmbedder("convnext_atto", pretrained=False, random_state=0, image_size=30)
    with pytest.raises(ValueError, match=r"cannot embed 30x30 images: .*Use a larger image_size"):
        embedder.fit_transform(np.zeros((2, 30, 30, 3), np.uint8))


def test_unknown_backbone_without_close_names_points_to_the_listing():
    from skhisto.backbones import get_backbone_info

    with pytest.raises(ValueError, match=r"Unknown backbone 'nosuch'.*`skhisto backbones` lists"):
        get_backbone_info("nosuch")


def test_read_only_images_reach_torch_without_a_warning():
    # np.load(..., mmap_mode="r") gives read-only arrays; torch warns when it wraps one.
    images = np.random.RandomState(0).randint(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    images.flags.writeable = False
    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=32, random_state=0, verbose=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        embeddings = embedder.fit_transform(images)
    assert embeddings.shape == (4, 512)
    assert not images.flags.writeable  # the user's array is left as it was


def test_an_error_in_a_dataloader_worker_is_one_short_line(lc25000_small, tmp_path):
    # torch puts the worker's whole traceback in the message: kilobytes on one error line.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    paths = [*lc25000_small.paths[:3], str(broken)]
    embedder = FoundationEmbedder(**SMALL, num_workers=1, batch_size=2)
    with pytest.raises(ImageReadError) as caught:
        embedder.fit_transform(paths)
    message = str(caught.value)
    assert message.startswith(f"Cannot decode image '{broken}'") and "\n" not in message
    assert "Original Traceback" not in message and len(message) < 300


def _read_only(monkeypatch, folder):
    """Storage under ``folder`` refuses every write, as a read-only mount does (even for root)."""
    folder = str(folder)
    real_access, real_open, real_io = os.access, os.open, io.open

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and os.fspath(path).startswith(folder):
            return False
        return real_access(path, mode, *args, **kwargs)

    def os_open(path, flags, *args, **kwargs):
        writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT
        if flags & writes and os.fspath(path).startswith(folder):
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


def test_a_read_only_cache_serves_what_it_holds(lc25000_small, tmp_path, monkeypatch):
    cache = tmp_path / "shared-cache"
    paths = list(lc25000_small.paths[:4])
    expected = FoundationEmbedder(**SMALL, cache=cache).fit_transform(paths)  # precomputed
    before = sorted(p.name for p in cache.rglob("*"))
    _read_only(monkeypatch, cache)
    embedder = FoundationEmbedder(**SMALL, cache=cache)
    np.testing.assert_array_equal(embedder.fit_transform(paths), expected)  # no write needed
    new = lc25000_small.paths[4]
    with pytest.raises(PermissionError, match=r"read-only and lacks 1 of the 5 embeddings"):
        embedder.transform([*paths, new])
    assert sorted(p.name for p in cache.rglob("*")) == before
