"""Whole-slide images: reading, tiling, coordinate files and embedding, on slides made here.

The slides are pyramidal tiled TIFFs assembled by ``make_slide`` from real LC25000 tiles
(squamous cell carcinoma: dense, saturated tissue) on glass, so every tissue region is known.
"""

import os

import h5py
import numpy as np
import pytest
from PIL import Image

from skhisto import FoundationEmbedder
from skhisto.datasets import make_slide
from skhisto.embedding import forward_count
from skhisto.slides import (
    PATCH_COLUMNS,
    SlideTiler,
    check_patch_table,
    open_slide,
    read_coordinates,
    slide_identity,
    tissue_mask,
    write_coordinates,
)

CELL = 224  # LC25000 tiles: one layout cell, 224 px at 0.25 mpp (a 40x scan)


def _tiles(lc25000_dir, name="lung_scc", n=8):
    return sorted(str(p) for p in (lc25000_dir / name).iterdir())[:n]


def _layout():
    """Two tissue regions on the grid of 0.5-mpp patches (2x2 cells), and one stray cell."""
    layout = np.full((12, 16), -1)
    rng = np.random.default_rng(0)
    layout[2:8, 4:10] = rng.integers(0, 8, (6, 6))
    layout[8:12, 12:16] = rng.integers(0, 8, (4, 4))
    return layout


@pytest.fixture(scope="module")
def slide(lc25000_dir, tmp_path_factory):
    """A 3584 x 2688 slide at 0.25 mpp, 3 levels, with known tissue; and its layout."""
    path = tmp_path_factory.mktemp("slides") / "case-01.tif"
    layout = _layout()
    make_slide(path, _tiles(lc25000_dir), layout, mpp=0.25, random_state=0)
    return str(path), layout


def _known_mask(layout):
    return np.kron(layout >= 0, np.ones((CELL, CELL), bool))


def _true_tissue(known, table, footprint=448):
    """Share of each patch that the slide was built with as tissue."""
    rows = zip(table["x"], table["y"], strict=True)
    return np.array([known[y : y + footprint, x : x + footprint].mean() for x, y in rows])


def test_open_slide_reads_levels_mpp_and_regions(slide):
    path, layout = slide
    with open_slide(path) as wsi:
        assert wsi.dimensions == (16 * CELL, 12 * CELL)
        assert wsi.level_count == 3 and wsi.level_downsamples == (1.0, 2.0, 4.0)
        assert wsi.mpp == pytest.approx(0.25)
        assert wsi.name == "case-01"
        # A region at 0.5 mpp is read at level 1 and equals level 0 box-downsampled.
        region = wsi.read_region((4 * CELL, 2 * CELL), 112, mpp=0.5)
        full = wsi.read_region((4 * CELL, 2 * CELL), 224, level=0).astype(int)
        box = full.reshape(112, 2, 112, 2, 3).mean(axis=(1, 3))
        assert region.shape == (112, 112, 3)
        assert np.abs(region - box).mean() < 1.0
        # Beyond the scan OpenSlide has no pixels: they come back white, not black.
        edge = wsi.read_region((16 * CELL - 8, 0), 16, level=0)
        assert (edge[:, 8:] == 255).all() and (edge[:, :8] < 255).any()
        thumb = wsi.thumbnail(256)
        assert max(thumb.shape[:2]) == 256 and thumb.dtype == np.uint8


def test_tiling_finds_the_tissue_it_was_built_with(slide):
    path, layout = slide
    table = SlideTiler(patch_size=224, mpp=0.5).tile(path)
    assert table.columns.tolist() == list(PATCH_COLUMNS)
    assert (table["level"] == 1).all() and (table["size"] == 224).all()
    known = _known_mask(layout)
    found = np.zeros_like(known)
    for x, y in zip(table["x"], table["y"], strict=True):
        found[y : y + 448, x : x + 448] = True
    iou = (known & found).sum() / (known | found).sum()
    assert iou >= 0.9, iou
    # No patch is more background than min_tissue allows (by the known mask).
    for min_tissue in (0.5, 0.9):
        table = SlideTiler(patch_size=224, mpp=0.5, min_tissue=min_tissue).tile(path)
        truth = _true_tissue(known, table)
        assert truth.min() >= min_tissue - 0.02, (min_tissue, truth.min())


def test_tiling_off_grid_regions_keeps_the_min_tissue_promise(lc25000_dir, tmp_path):
    layout = np.full((9, 9), -1)
    layout[1:6, 3:8] = 0  # odd offsets: 0.5-mpp patches straddle the region's edges
    path = make_slide(tmp_path / "s.tif", _tiles(lc25000_dir, n=1), layout, mpp=0.25)
    known = _known_mask(layout)
    table = SlideTiler(patch_size=224, mpp=0.5, min_tissue=0.75).tile(path)
    assert len(table) > 0 and _true_tissue(known, table).min() >= 0.73
    # Half-tissue patches are kept at min_tissue=0.5 and dropped at 0.75.
    assert len(SlideTiler(patch_size=224, mpp=0.5, min_tissue=0.5).tile(path)) > len(table)


def test_overlap_and_several_slides(slide, lc25000_dir, tmp_path):
    path, _ = slide
    plain = SlideTiler(patch_size=224, mpp=0.5).tile(path)
    overlapping = SlideTiler(patch_size=224, mpp=0.5, overlap=112).tile(path)
    assert len(overlapping) > 3 * len(plain)
    steps = overlapping["x"] // 224  # the step is half a 448 px footprint
    assert (overlapping["x"] % 224 == 0).all() and (steps % 2 == 1).any()
    other = make_slide(tmp_path / "other.tif", _tiles(lc25000_dir, n=1), [[0, 0], [0, 0]])
    both = SlideTiler(patch_size=224, mpp=0.25).tile([path, other])
    assert both["slide"].unique().tolist() == [path, str(other)]


def test_blank_slide_has_no_tissue(tmp_path):
    glass = np.full((224, 224, 3), 240, np.uint8)
    path = make_slide(tmp_path / "glass.tif", [glass], np.zeros((4, 4), int), random_state=0)
    with pytest.warns(UserWarning, match="1 of 1 slides gave no patches.*min_tissue=0.5"):
        assert len(SlideTiler(mpp=0.5).tile(path)) == 0
    assert not tissue_mask(open_slide(path).thumbnail(256)).any()


def test_trident_file_round_trips_to_the_same_table(slide, tmp_path):
    path, _ = slide
    table = SlideTiler(patch_size=224, mpp=0.5).tile(path)
    h5 = write_coordinates(table, tmp_path / "case-01_patches.h5")
    with h5py.File(h5) as f:  # what TRIDENT itself writes and reads
        attrs = dict(f["coords"].attrs)
        assert f["coords"].shape == (len(table), 2)
    assert attrs["patch_size"] == 224 and attrs["patch_size_level0"] == 448
    assert attrs["target_magnification"] == 20 and attrs["level0_magnification"] == 40
    assert read_coordinates(h5).equals(table)
    # A TRIDENT file without skhisto's additions: the slide is found in a folder by name.
    plain = tmp_path / "plain_patches.h5"
    with h5py.File(plain, "w") as f:
        coords = f.create_dataset("coords", data=table[["x", "y"]].to_numpy())
        coords.attrs.update({k: attrs[k] for k in ("patch_size", "patch_size_level0", "name")})
    again = read_coordinates(plain, slide=os.path.dirname(path))
    assert again.drop(columns="tissue").equals(table.drop(columns="tissue"))
    assert again["tissue"].isna().all()


def test_clam_file_reads_its_level_and_size(slide, tmp_path):
    path, _ = slide
    h5 = tmp_path / "case-01.h5"
    with h5py.File(h5, "w") as f:
        coords = f.create_dataset("coords", data=np.array([[0, 0], [896, 448]]))
        coords.attrs.update(patch_level=1, patch_size=256, downsample=[2.0, 2.0], name="case-01")
    table = read_coordinates(h5, slide=path)
    assert table[["x", "y", "level", "size"]].to_numpy().tolist() == [
        [0, 0, 1, 256],
        [896, 448, 1, 256],
    ]
    assert (table["mpp"] == 0.5).all()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda f: f.create_dataset("features", data=np.zeros((2, 4))), "no 'coords' dataset"),
        (lambda f: f.create_dataset("coords", data=np.zeros((2, 3))), "shape \\(n, 2\\)"),
        (lambda f: f.create_dataset("coords", data=np.zeros((2, 2))), "neither TRIDENT"),
    ],
)
def test_bad_coordinate_files_are_named(slide, tmp_path, make, match):
    h5 = tmp_path / "bad.h5"
    with h5py.File(h5, "w") as f:
        make(f)
    with pytest.raises(ValueError, match=match):
        read_coordinates(h5, slide=slide[0])


def test_coordinates_of_one_slide_are_refused_against_another(slide, lc25000_dir, tmp_path):
    path, _ = slide
    other = make_slide(tmp_path / "case-02.tif", _tiles(lc25000_dir, n=1), [[0, 0], [0, 0]])
    h5 = write_coordinates(SlideTiler(verbose=False).tile(path), tmp_path / "c_patches.h5")
    with pytest.raises(ValueError, match=r"records slide 'case-01', but was given slide .*case-02"):
        read_coordinates(h5, slide=other)
    clam = tmp_path / "clam.h5"  # CLAM's name attribute says the same
    with h5py.File(clam, "w") as f:
        coords = f.create_dataset("coords", data=np.array([[0, 0]]))
        coords.attrs.update(patch_level=0, patch_size=256, name="case-01")
    with pytest.raises(ValueError, match=r"records slide 'case-01'"):
        read_coordinates(clam, slide=other)
    assert len(read_coordinates(clam, slide=path)) == 1


def test_a_corrupt_tile_is_named_with_its_slide_at_every_level(lc25000_dir, tmp_path):
    import tifffile

    path = make_slide(
        tmp_path / "broken.tif", _tiles(lc25000_dir, n=1), [[0, 0], [0, 0]], n_levels=1
    )
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    with open(path, "r+b") as f:  # garbage inside level 0's first tile
        f.seek(offset + 10)
        f.write(b"\xff" * min(200, count - 10))
    slide = open_slide(path)
    for read in (lambda: slide.thumbnail(64), lambda: slide.read_region((0, 0), 64, level=0)):
        with pytest.raises(OSError, match=r"Could not read .* of slide '.*broken\.tif'"):
            read()


def test_coordinates_without_slide_say_so(tmp_path, slide):
    h5 = tmp_path / "x_patches.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("coords", data=np.zeros((1, 2), int)).attrs.update(
            patch_size=224, patch_size_level0=448
        )
    with pytest.raises(ValueError, match="pass slide="):
        read_coordinates(h5)
    with pytest.raises(FileNotFoundError, match="No slide named 'x'"):
        read_coordinates(h5, slide=tmp_path)


def test_embedding_a_patch_table_equals_embedding_the_regions_as_png(slide, tmp_path):
    path, _ = slide
    table = SlideTiler(patch_size=224, mpp=0.5).tile(path).iloc[:12]
    regions = check_patch_table(table)
    files = []
    for i in range(len(table)):
        files.append(str(tmp_path / f"patch-{i}.png"))
        Image.fromarray(regions.read(i)).save(files[-1])
    embedder = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=64, batch_size=5, random_state=0
    )
    from_slide = embedder.fit_transform(table)
    from_png = embedder.transform(files)
    np.testing.assert_array_equal(from_slide, from_png)
    # Read in DataLoader workers and cached: the same rows, and a second pass embeds nothing.
    cached = embedder.set_params(num_workers=2, cache=str(tmp_path / "cache")).fit(table)
    np.testing.assert_array_equal(cached.transform(table), from_slide)
    before = forward_count()
    np.testing.assert_array_equal(cached.transform(table.iloc[::-1]), from_slide[::-1])
    assert forward_count() == before
    assert not list(tmp_path.glob("cache/**/*.png"))  # no patch files were written


def test_patch_cache_keys_follow_the_slide_and_the_region(slide, tmp_path):
    path, _ = slide
    table = SlideTiler(patch_size=224, mpp=0.5).tile(path).iloc[:3]
    keys = check_patch_table(table).keys()
    assert len(set(keys.tolist())) == 3
    moved = table.assign(x=table["x"] + 1)
    assert not set(check_patch_table(moved).keys()) & set(keys)
    copy = tmp_path / "copy.tif"
    copy.write_bytes(open(path, "rb").read())
    assert slide_identity(copy) == slide_identity(path)  # same bytes, another name and mtime
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    assert slide_identity(copy) != slide_identity(path)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"drop": "level"}, ValueError, "columns .* \\['level'\\] are missing"),
        ({"x": -1}, ValueError, "'x' must be non-negative; row 0 has -1"),
        ({"size": 0}, ValueError, "'size' must be positive"),
        ({"y": 0.5}, ValueError, "'y' must hold integers"),
        ({"slide": "missing.svs"}, FileNotFoundError, "row 0 does not exist: 'missing.svs'"),
        ({"x": 10**6}, ValueError, "row 0 has x=1000000, outside its slide .* 3584 x 2688 px"),
        ({"level": 3}, ValueError, "row 0 has level=3, outside its slide .* has 3 levels"),
    ],
)
def test_bad_patch_tables_are_refused_by_the_embedder(slide, change, error, match):
    table = SlideTiler(patch_size=224, mpp=0.5).tile(slide[0]).iloc[:2].copy()
    if "drop" in change:
        table = table.drop(columns=change["drop"])
    else:
        for column, value in change.items():
            table[column] = table[column].astype(type(value))
            table.loc[table.index[0], column] = value
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    with pytest.raises(error, match=match):
        embedder.fit(table)


def test_open_slide_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_slide(tmp_path / "none.svs")
    text = tmp_path / "notes.svs"
    text.write_text("not a slide")
    with pytest.raises(ValueError, match="notes.svs"):
        open_slide(text)


def test_slides_without_mpp_need_slide_mpp(lc25000_dir, tmp_path):
    import tifffile

    image = np.asarray(Image.open(_tiles(lc25000_dir, n=1)[0]))
    path = tmp_path / "nompp.tif"
    tifffile.imwrite(path, np.tile(image, (2, 2, 1)), tile=(256, 256), photometric="rgb")
    with pytest.raises(ValueError, match="does not record its microns per pixel.*slide_mpp"):
        SlideTiler(mpp=0.5).tile(path)
    table = SlideTiler(mpp=0.5, patch_size=112, slide_mpp=0.25).tile(path)
    assert len(table) == 4 and (table["size"] == 224).all()
    # A slide that records its mpp keeps it: slide_mpp is only the fallback.
    recorded = make_slide(tmp_path / "rec.tif", [image], [[0, 0], [0, 0]], mpp=0.5)
    both = SlideTiler(mpp=0.5, patch_size=112, slide_mpp=0.25).tile([path, recorded])
    assert both.groupby("slide")["size"].first().to_dict() == {str(path): 224, recorded: 112}


def test_upsampling_is_refused(slide):
    with pytest.raises(ValueError, match="scanned at 0.25 .* Ask for mpp >= 0.25"):
        SlideTiler(mpp=0.1).tile(slide[0])


def test_make_slide_checks_its_inputs(tmp_path):
    tile = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="refers to images \\[1\\]"):
        make_slide(tmp_path / "a.tif", [tile], [[0, 1]])
    with pytest.raises(ValueError, match="image 1 has shape \\(4, 4, 3\\)"):
        make_slide(tmp_path / "a.tif", [tile, tile[:4, :4]], [[0, 1]])
    assert not list(tmp_path.iterdir())


def test_tiler_is_a_scikit_learn_estimator(slide):
    import pickle

    from sklearn.base import clone
    from sklearn.utils._param_validation import InvalidParameterError

    tiler = SlideTiler(patch_size=112, mpp=1.0, min_tissue=0.8)
    assert clone(tiler).get_params() == tiler.get_params()
    again = pickle.loads(pickle.dumps(tiler))
    assert again.tile(slide[0]).equals(tiler.tile(slide[0]))
    with pytest.raises(InvalidParameterError, match="'min_tissue' parameter"):
        SlideTiler(min_tissue=2).tile(slide[0])
    with pytest.raises(ValueError, match="overlap \\(224\\) must be smaller"):
        SlideTiler(overlap=224).tile(slide[0])


def test_embed_dataset_refuses_a_patch_table_and_says_what_embeds_it(slide, tmp_path):
    from skhisto.embedding import embed_dataset

    table = SlideTiler(mpp=0.5).tile(slide[0])
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    with pytest.raises(TypeError, match="not a DataFrame; a patch table of slides is embedded"):
        embed_dataset(table, embedder, tmp_path / "store.zarr")
    assert not (tmp_path / "store.zarr").exists()


def test_pandas_output_keeps_the_patch_table_index(slide):
    table = SlideTiler(mpp=0.5).tile(slide[0]).iloc[3:7]
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    out = embedder.set_output(transform="pandas").fit_transform(table)
    assert out.index.tolist() == [3, 4, 5, 6] and out.shape == (4, 512)
    assert table.columns.tolist() == list(PATCH_COLUMNS)  # the caller's table untouched


def test_a_slide_listed_twice_or_giving_no_patch_is_said_so(slide, tmp_path, monkeypatch):
    path, _ = slide
    with pytest.raises(ValueError, match="is listed twice \\(items 0 and 1\\)"):
        SlideTiler().tile([path, path])
    tiny = make_slide(tmp_path / "tiny.tif", [np.full((40, 40, 3), 120, np.uint8)], [[0]])
    with pytest.warns(UserWarning, match="1 of 2 slides .*tiny.tif.*40 x 40 px, smaller than"):
        table = SlideTiler(mpp=0.5).tile([path, tiny])
    assert table["slide"].unique().tolist() == [path]
    # Paths are stored absolute: the table works from any working directory.
    monkeypatch.chdir(os.path.dirname(path))
    relative = SlideTiler(mpp=0.5).tile(os.path.basename(path))
    assert relative["slide"].unique().tolist() == [path]


def test_write_coordinates_records_the_overlap(slide, tmp_path):
    table = SlideTiler(patch_size=224, mpp=0.5, overlap=56).tile(slide[0])
    h5 = write_coordinates(table, tmp_path / "o_patches.h5")
    with h5py.File(h5) as f:
        assert f["coords"].attrs["overlap"] == 56
    assert read_coordinates(h5).equals(table)


def test_coordinate_files_for_another_slide_are_refused(slide, tmp_path):
    with pytest.raises(FileNotFoundError, match="Coordinates file does not exist"):
        read_coordinates(tmp_path / "none.h5", slide=slide[0])
    h5 = tmp_path / "clam.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("coords", data=np.zeros((1, 2), int)).attrs.update(
            patch_level=5, patch_size=256
        )
    with pytest.raises(ValueError, match="patches at level 5, but its slide .* levels 0 to 2"):
        read_coordinates(h5, slide=slide[0])


def test_a_patch_table_without_a_slide_path_or_finite_scores_is_refused(slide):
    table = SlideTiler(mpp=0.5).tile(slide[0]).iloc[:2].copy()
    table.loc[table.index[1], "slide"] = np.nan
    with pytest.raises(ValueError, match="'slide' must hold slide paths; row 1 has nan"):
        check_patch_table(table)
    from skhisto.plotting import plot_attention_heatmap

    with pytest.raises(ValueError, match="scores must be finite; 1 of 2"):
        plot_attention_heatmap(slide[0], table.iloc[:1].assign(slide=slide[0]), [np.nan, 1.0])


def test_a_table_of_patch_files_with_a_slide_column_is_pointed_to_its_paths(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"path": ["a.png"], "slide": ["s1"], "label": ["tumour"]})
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    with pytest.raises(ValueError, match="are missing .*pass the column of paths: df\\['path'\\]"):
        embedder.fit(table)
