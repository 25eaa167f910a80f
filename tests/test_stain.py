"""Stain normalisation and augmentation: agreement with torchstain and TIAToolbox, edge tiles,
the estimator contract, the embedder's cache keys and the command-line options."""

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from skhisto import FoundationEmbedder
from skhisto.contrastive import augment_batch
from skhisto.embedding import forward_count
from skhisto.embedding._cache import fingerprint_id
from skhisto.io import read_image
from skhisto.stain import HEDJitter, StainNormalizer, hed_jitter, make_stained_tiles

METHODS = ("reinhard", "macenko", "vahadane")
GOLDEN = Path(__file__).parent / "data" / "stain_tiatoolbox.npz"
# Agreement with the references, in uint8 units. Ours rounds where torchstain and TIAToolbox
# truncate (astype / .int()), so a pixel may differ by 1 and about half of them do.
MAX_DIFF, MEAN_DIFF = 1, 0.6
# Vahadane's stain vectors: TIAToolbox's tissue mask (OpenCV's integer CIELAB) differs from ours
# in a few pixels per tile, which moves the learned vectors by up to about 0.003.
STAIN_ATOL = 5e-3


@pytest.fixture(scope="module")
def tiles():
    return make_stained_tiles(6, size=32, random_state=0)


@pytest.fixture(scope="module")
def lc_tiles(lc25000_dir):
    """Five real tiles from the three classes (fixed picks), 224 px."""
    files = sorted(lc25000_dir.glob("*/*.jpeg"))[::2401][:5]
    return np.stack([read_image(path) for path in files])


def _torchstain(kind):
    torchstain = pytest.importorskip("torchstain")
    return getattr(torchstain.normalizers, kind)(backend="torch")


def _chw(image):
    return torch.from_numpy(image).permute(2, 0, 1)


def test_macenko_agrees_with_torchstain(lc_tiles):
    reference, images = lc_tiles[0], lc_tiles[1:]
    theirs = _torchstain("MacenkoNormalizer")
    theirs.fit(_chw(reference))
    ours = StainNormalizer("macenko", device="cpu").fit(reference[None])
    np.testing.assert_allclose(ours.stain_matrix_, theirs.HERef.numpy(), atol=1e-4)
    np.testing.assert_allclose(ours.max_concentrations_, theirs.maxCRef.numpy(), rtol=1e-4)
    expected = np.stack([theirs.normalize(_chw(i), stains=False)[0].numpy() for i in images])
    diff = np.abs(ours.transform(images).astype(int) - expected)
    assert diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF, (diff.max(), diff.mean())
    assert not ours.passed_through_.any()


def test_reinhard_agrees_with_torchstain(lc_tiles):
    reference, images = lc_tiles[0], lc_tiles[1:]
    theirs = _torchstain("ReinhardNormalizer")
    theirs.fit(_chw(reference))
    ours = StainNormalizer("reinhard", device="cpu").fit(reference[None])
    np.testing.assert_allclose(ours.target_means_, theirs.target_means.numpy(), rtol=1e-4)
    np.testing.assert_allclose(ours.target_stds_, theirs.target_stds.numpy(), rtol=1e-3)
    expected = np.stack([theirs.normalize(_chw(i)).numpy() for i in images])
    diff = np.abs(ours.transform(images).astype(int) - expected)
    assert diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF, (diff.max(), diff.mean())


def _he_columns(rows):
    """TIAToolbox's (2, 3) stain rows as our (3, 2) columns, haematoxylin (more red) first."""
    columns = np.asarray(rows).T
    return columns[:, ::-1] if columns[0, 0] < columns[0, 1] else columns


def test_vahadane_stain_matrices_agree_with_the_tiatoolbox_fixture(lc25000_dir):
    # tests/data/stain_tiatoolbox.npz: benchmarks/stain_tiatoolbox.py with TIAToolbox 2.1.3
    # (scikit-learn 1.8) on six LC25000 tiles; see the guide, docs/guide/stain.md.
    golden = np.load(GOLDEN)
    root = lc25000_dir.parent
    tiles = np.stack([read_image(root / name) for name in golden["files"]])
    ours = StainNormalizer("vahadane", device="cpu", random_state=0).fit(tiles[:1])
    np.testing.assert_allclose(
        ours.stain_matrix_, _he_columns(golden["target_stain_matrix"]), atol=STAIN_ATOL
    )
    maxima = golden["target_max_concentrations"]
    if golden["target_stain_matrix"][0, 0] < golden["target_stain_matrix"][1, 0]:
        maxima = maxima[::-1]
    np.testing.assert_allclose(ours.max_concentrations_, maxima, rtol=1e-3)
    for tile, rows in zip(tiles[1:], golden["stain_matrices"], strict=True):
        found = StainNormalizer("vahadane", device="cpu", random_state=0).fit(tile[None])
        np.testing.assert_allclose(found.stain_matrix_, _he_columns(rows), atol=STAIN_ATOL)


@pytest.mark.skipif(
    importlib.util.find_spec("tiatoolbox") is None,
    reason="TIAToolbox is not installed (benchmarks/stain_tiatoolbox.py runs it in its own env)",
)
def test_vahadane_agrees_with_tiatoolbox(lc_tiles):
    from tiatoolbox.tools.stainextract import VahadaneExtractor
    from tiatoolbox.tools.stainnorm import VahadaneNormalizer

    theirs = VahadaneNormalizer()
    theirs.fit(lc_tiles[0])
    ours = StainNormalizer("vahadane", device="cpu", random_state=0).fit(lc_tiles[:1])

    def red_first(rows):  # TIAToolbox orders its atoms by their unnormalised first entry
        return rows[0, 0] > rows[1, 0]

    target = red_first(theirs.stain_matrix_target)
    compared = 0
    for tile in lc_tiles[1:]:
        rows = VahadaneExtractor().get_stain_matrix(tile)
        found = StainNormalizer("vahadane", device="cpu", random_state=0).fit(tile[None])
        np.testing.assert_allclose(found.stain_matrix_, _he_columns(rows), atol=STAIN_ATOL)
        if red_first(rows) != target:
            continue  # TIAToolbox maps haematoxylin to eosin here; skhisto keeps H on H
        diff = np.abs(ours.transform(tile[None])[0].astype(int) - theirs.transform(tile))
        assert diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF, (diff.max(), diff.mean())
        compared += 1
    assert compared >= 2


BLANKS = {
    "white": np.full((32, 32, 3), 255, np.uint8),
    "black": np.zeros((32, 32, 3), np.uint8),
    "pink": np.full((32, 32, 3), (200, 80, 160), np.uint8),  # one colour, stained-looking
}


def _edge_tiles(tissue):
    return np.stack([*BLANKS.values(), tissue])


@pytest.mark.parametrize("method", METHODS)
def test_white_black_and_single_colour_tiles_pass_through(method, tiles):
    normalizer = StainNormalizer(method, random_state=0).fit(tiles)
    edges = _edge_tiles(tiles[0])
    before = edges.copy()
    out = normalizer.transform(edges)
    np.testing.assert_array_equal(edges, before)  # the input is never modified
    np.testing.assert_array_equal(out[:3], edges[:3])
    assert normalizer.passed_through_.tolist() == [True, True, True, False]
    floats = normalizer.transform_tensor(torch.from_numpy(edges).permute(0, 3, 1, 2).float())
    assert torch.isfinite(floats).all()


@pytest.mark.parametrize("method", METHODS)
def test_tiny_tiles_pass_through(method, tiles):
    normalizer = StainNormalizer(method, random_state=0).fit(tiles)
    tiny = np.ascontiguousarray(tiles[:, :2, :3])
    np.testing.assert_array_equal(normalizer.transform(tiny), tiny)
    assert normalizer.passed_through_.all()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("blank", ["white", "black", "pink"])
def test_fitting_on_blank_references_is_refused(method, blank):
    with pytest.raises(ValueError, match="tissue|single colour|two distinct stains"):
        StainNormalizer(method, random_state=0).fit(BLANKS[blank][None])


@pytest.mark.parametrize("method", METHODS)
def test_normalised_tiles_take_the_reference_stain(method, tiles):
    # Tiles stained with other dyes come closer to the reference's colour after normalising.
    shifted = make_stained_tiles(
        6, size=32, stains=[[0.45, 0.15], [0.85, 0.95], [0.25, 0.35]], random_state=1
    )
    normalizer = StainNormalizer(method, random_state=0).fit(tiles)
    out = normalizer.transform(shifted)
    target = tiles.reshape(-1, 3).mean(axis=0)
    before = np.abs(shifted.reshape(-1, 3).mean(axis=0) - target).sum()
    after = np.abs(out.reshape(-1, 3).mean(axis=0) - target).sum()
    assert after < before
    assert out.dtype == np.uint8 and out.shape == shifted.shape


def test_paths_equal_arrays_and_mixed_sizes_are_refused(tiles, tmp_path):
    paths = []
    for i, tile in enumerate(tiles):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(tile).save(paths[-1])
    normalizer = StainNormalizer("macenko").fit(paths[:2])
    assert normalizer.fingerprint_ == StainNormalizer("macenko").fit(tiles[:2]).fingerprint_
    np.testing.assert_array_equal(normalizer.transform(paths), normalizer.transform(tiles))
    Image.fromarray(tiles[0][:16]).save(tmp_path / "short.png")
    with pytest.raises(ValueError, match="load_images|stain="):
        normalizer.transform([paths[0], tmp_path / "short.png"])


def test_reference_is_fitted_instead_of_X_and_survives_clone(tiles):
    normalizer = StainNormalizer("reinhard", reference=tiles[:2]).fit(tiles[2:])
    assert normalizer.fingerprint_ == StainNormalizer("reinhard").fit(tiles[:2]).fingerprint_
    again = clone(normalizer).fit(tiles[3:])
    assert again.fingerprint_ == normalizer.fingerprint_
    restored = pickle.loads(pickle.dumps(normalizer))
    np.testing.assert_array_equal(restored.transform(tiles), normalizer.transform(tiles))


def test_parameters_are_validated(tiles):
    with pytest.raises(InvalidParameterError, match="method"):
        StainNormalizer("ruifrok").fit(tiles)
    with pytest.raises(InvalidParameterError, match="alpha"):
        StainNormalizer(alpha=60).fit(tiles)
    with pytest.raises(ValueError, match="reference images"):
        StainNormalizer().fit()


def test_batches_give_the_same_output(tiles):
    whole = StainNormalizer("macenko").fit(tiles)
    batched = clone(whole).set_params(batch_size=2).fit(tiles)
    np.testing.assert_array_equal(whole.transform(tiles), batched.transform(tiles))


# The embedder's option and its cache keys.


def _embedder(**params):
    return FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0, **params)


def test_raw_fingerprints_do_not_change(tiles):
    from skhisto.embedding._foundation import _fingerprint
    from skhisto.utils import resolve_device, resolve_precision

    embedder = _embedder().fit(tiles)
    assert "stain" not in embedder.fingerprint_ and embedder.stain_ is None
    info = embedder.backbone_info_
    dtype = resolve_precision("auto", resolve_device("auto"))
    expected = _fingerprint(info, embedder.fingerprint_["weights"], 32, dtype)
    assert embedder.fingerprint_ == expected


def test_normalised_embeddings_are_cached_apart(tiles, tmp_path):
    reference = make_stained_tiles(2, size=32, random_state=5)
    raw = _embedder(cache=tmp_path).fit(tiles)
    normalised = _embedder(cache=tmp_path, stain=StainNormalizer(reference=reference)).fit(tiles)
    other = _embedder(cache=tmp_path, stain=StainNormalizer("reinhard", reference=reference))
    other.fit(tiles)
    ids = {fingerprint_id(e.fingerprint_) for e in (raw, normalised, other)}
    assert len(ids) == 3
    first = raw.transform(tiles)
    before = forward_count()
    second = normalised.transform(tiles)
    assert forward_count() - before == len(tiles), "normalised images are embedded anew"
    assert not np.allclose(first, second)
    before = forward_count()
    np.testing.assert_array_equal(normalised.transform(tiles), second)
    assert forward_count() == before, "and then read from the cache"
    uncached = _embedder(stain=StainNormalizer(reference=reference)).fit(tiles).transform(tiles)
    np.testing.assert_allclose(uncached, second, atol=1e-5)


def test_a_fitted_normaliser_is_used_as_is_and_a_clone_refits_its_reference(tiles):
    reference = make_stained_tiles(2, size=32, random_state=5)
    fitted = StainNormalizer("macenko").fit(reference)
    embedder = _embedder(stain=fitted).fit(tiles)
    assert embedder.stain_ is fitted
    cloned = clone(_embedder(stain=StainNormalizer(reference=reference))).fit(tiles)
    assert cloned.fingerprint_["stain"] == embedder.fingerprint_["stain"]


def test_pipeline_before_the_embedder(tiles):
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(StainNormalizer("reinhard", reference=tiles[:2]), _embedder())
    assert pipe.fit_transform(tiles).shape == (len(tiles), 512)


# HED jitter.


def test_hed_jitter_is_seeded_and_identity_without_spread(tiles):
    batch = torch.from_numpy(tiles).permute(0, 3, 1, 2)
    a = hed_jitter(batch, torch.Generator().manual_seed(0), sigma=0.1, bias=0.05)
    b = hed_jitter(batch, torch.Generator().manual_seed(0), sigma=0.1, bias=0.05)
    assert torch.equal(a, b) and torch.isfinite(a).all()
    same = hed_jitter(batch, torch.Generator().manual_seed(0), sigma=0.0, bias=0.0)
    assert (same * 255 - batch.float()).abs().max() < 0.01
    black = torch.zeros(1, 3, 8, 8)
    assert torch.isfinite(hed_jitter(black, torch.Generator(), sigma=0.5, bias=0.5)).all()


def test_hed_jitter_transformer_views(tiles):
    views = [HEDJitter(sigma=0.1, random_state=seed).fit_transform(tiles) for seed in (0, 0, 1)]
    np.testing.assert_array_equal(views[0], views[1])
    assert (views[0] != views[2]).any() and views[0].dtype == np.uint8
    assert pickle.loads(pickle.dumps(HEDJitter(random_state=0))).get_params()["random_state"] == 0


def test_simclr_augment_takes_hed_jitter_and_default_views_are_unchanged(tiles):
    batch = torch.from_numpy(tiles).permute(0, 3, 1, 2)
    plain = augment_batch(batch, torch.Generator().manual_seed(0))
    off = augment_batch(batch, torch.Generator().manual_seed(0), params={"p_hed": 0.0})
    assert torch.equal(plain, off)
    on = augment_batch(batch, torch.Generator().manual_seed(0), params={"p_hed": 1.0})
    assert on.shape == plain.shape and not torch.equal(on, plain)


# The command line.

BACKBONE = ["--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache"]


@pytest.fixture
def folders(tiles, tmp_path):
    images, reference = tmp_path / "images", tmp_path / "reference" / "site"
    for folder, chosen in ((images / "a", tiles[:3]), (reference, tiles[3:5])):
        folder.mkdir(parents=True)
        for i, tile in enumerate(chosen):
            Image.fromarray(tile).save(folder / f"{i}.png")
    return images, reference.parent


def test_embed_with_stain_equals_the_python_api(folders, run_cli, tmp_path):
    images, reference = folders
    out = tmp_path / "e.npz"
    argv = [images, *BACKBONE, "--stain", "macenko", "--stain-reference", reference]
    result = run_cli("embed", *argv, "--out", out)
    assert result.code == 0, result.err
    assert "macenko stain normalisation (2 reference tiles)" in result.err
    data = np.load(out)
    references = sorted(str(p) for p in reference.rglob("*.png"))
    normalizer = StainNormalizer("macenko", reference=references, random_state=0)
    expected = _embedder(stain=normalizer).fit_transform(list(data["paths"]))
    np.testing.assert_allclose(data["embeddings"], expected, atol=1e-6)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--stain", "macenko"], ["--stain-reference"]),
        (["--stain-reference", "{ref}"], ["--stain"]),
        (["--stain", "reinhard", "--stain-reference", "{missing}"], ["not a folder"]),
        (["--stain", "vahadane", "--stain-reference", "{empty}"], ["holds no images"]),
    ],
)
@pytest.mark.parametrize("command", ["embed", "noise-curve"])
def test_stain_options_fail_in_one_line(command, extra, words, folders, run_cli, tmp_path):
    images, reference = folders
    (tmp_path / "empty").mkdir()
    names = {"ref": reference, "missing": tmp_path / "nowhere", "empty": tmp_path / "empty"}
    extra = [arg.format(**names) for arg in extra]
    out = ["--out", tmp_path / "e.npz"] if command == "embed" else ["--out-dir", tmp_path / "o"]
    result = run_cli(command, images, *BACKBONE, *extra, *out)
    result.assert_one_line_error(1, *words)
