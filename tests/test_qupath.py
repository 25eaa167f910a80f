"""QuPath round trips: patch tables as QuPath GeoJSON, QuPath annotations as patch labels."""

import json
import re
import uuid
import warnings

import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from skhisto.datasets import make_slide
from skhisto.slides import (
    SlideTiler,
    label_patches,
    read_qupath_geojson,
    write_qupath_geojson,
)

CELL = 128  # tile side: the slides are 4 x 4 cells, 512 x 512 px at 0.5 mpp


@pytest.fixture(scope="module")
def slide(lc25000_dir, tmp_path_factory):
    """A 512 x 512 px slide of LC25000 tissue (3 levels), every cell tissue."""
    root = tmp_path_factory.mktemp("qupath-slides")
    paths = sorted((lc25000_dir / "lung_scc").iterdir())[:4]
    tiles = [np.asarray(Image.open(p).convert("RGB").resize((CELL, CELL))) for p in paths]
    layout = np.arange(16).reshape(4, 4) % 4
    return make_slide(root / "s1.tif", tiles, layout, mpp=0.5, random_state=0)


@pytest.fixture(scope="module")
def patches(slide):
    """64 patches of 64 px at level 0."""
    table = SlideTiler(patch_size=64, mpp=0.5, min_tissue=0.0).tile(slide)
    assert len(table) == 64 and set(table["level"]) == {0}
    return table


def _write(path, data):
    path.write_text(json.dumps(data))
    return path


def _feature(geometry, name, **properties):
    classification = name if not isinstance(name, str) else {"name": name, "color": [255, 0, 0]}
    properties = {"objectType": "annotation", **properties}
    if name is not None:
        properties["classification"] = classification
    return {"type": "Feature", "geometry": mapping(geometry), "properties": properties}


def _boxes(table):
    side = table["size"].to_numpy() * 2.0 ** table["level"].to_numpy()
    x, y = table["x"].to_numpy(), table["y"].to_numpy()
    return shapely.box(x, y, x + side, y + side)


# Export ------------------------------------------------------------------------------------


def test_written_geojson_has_qupaths_documented_fields(patches, tmp_path):
    """FeatureCollection of Features: id (UUID), closed Polygon rings in level-0 pixels,
    properties.objectType, classification {name, color [r, g, b]}, measurements {name: number}."""
    classes = np.where(patches["x"] < 256, "Tumor", "Stroma").astype(object)
    classes[0] = None  # unclassified
    quality = np.linspace(0, 1, len(patches))
    quality[1] = np.nan
    out = write_qupath_geojson(
        patches,
        tmp_path / "s1.geojson",
        classification=classes,
        measurements={"label_quality": quality, "issue": quality < 0.5, "tissue": "tissue"},
    )
    text = (tmp_path / "s1.geojson").read_text()
    assert out == str(tmp_path / "s1.geojson")
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert set(data) == {"type", "features"} and data["type"] == "FeatureCollection"
    assert len(data["features"]) == len(patches)
    colors = {}
    for feature, (_, row) in zip(data["features"], patches.iterrows(), strict=True):
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert feature["type"] == "Feature"
        assert str(uuid.UUID(feature["id"])) == feature["id"]
        geometry = feature["geometry"]
        assert geometry["type"] == "Polygon" and len(geometry["coordinates"]) == 1
        ring = geometry["coordinates"][0]
        assert len(ring) == 5 and ring[0] == ring[-1]  # closed
        assert all(type(v) in (int, float) for point in ring for v in point)
        x, y = int(row["x"]), int(row["y"])
        assert Polygon(ring).equals(box(x, y, x + 64, y + 64))
        properties = feature["properties"]
        assert properties["objectType"] == "detection"
        if "classification" in properties:
            classification = properties["classification"]
            assert set(classification) == {"name", "color"}
            assert isinstance(classification["name"], str)
            color = classification["color"]
            assert len(color) == 3 and all(type(c) is int and 0 <= c <= 255 for c in color)
            assert colors.setdefault(classification["name"], color) == color  # one per class
        measurements = properties["measurements"]
        assert isinstance(measurements, dict)
        assert all(type(v) is float for v in measurements.values())
    first, second = data["features"][:2]
    assert "classification" not in first["properties"]
    assert set(second["properties"]["measurements"]) == {"issue", "tissue"}  # NaN left out
    assert set(colors) == {"Tumor", "Stroma"} and colors["Tumor"] != colors["Stroma"]
    assert len({f["id"] for f in data["features"]}) == len(patches)


def test_ids_and_colors_are_stable(patches, tmp_path):
    one = write_qupath_geojson(patches, tmp_path / "a.geojson", classification=["b"] * 64)
    two = write_qupath_geojson(patches, tmp_path / "b.geojson", classification=["b"] * 64)
    assert open(one).read() == open(two).read()
    custom = write_qupath_geojson(
        patches, tmp_path / "c.geojson", classification=["b"] * 64, colors={"b": (1, 2, 3)}
    )
    feature = json.load(open(custom))["features"][0]
    assert feature["properties"]["classification"]["color"] == [1, 2, 3]


def test_patches_at_coarser_levels_are_scaled_to_level_0(slide, tmp_path):
    table = SlideTiler(patch_size=32, mpp=1.0, min_tissue=0.0).tile(slide)
    assert set(table["level"]) == {1} and set(table["size"]) == {32}
    path = write_qupath_geojson(table, tmp_path / "s1.geojson", object_type="tile")
    features = json.load(open(path))["features"]
    for feature, expected in zip(features, _boxes(table), strict=True):
        assert Polygon(feature["geometry"]["coordinates"][0]).equals(expected)
        assert expected.area == 64 * 64
        assert feature["properties"] == {"objectType": "tile"}


def test_annotations_are_unlocked_annotations(patches, tmp_path):
    path = write_qupath_geojson(patches.iloc[:2], tmp_path / "a.geojson", object_type="annotation")
    properties = json.load(open(path))["features"][0]["properties"]
    assert properties == {"objectType": "annotation", "isLocked": False}


def test_round_trip_write_read_label(patches, tmp_path):
    classes = np.array(["Tumor", "Stroma", "Necrosis", "Tumor"] * 16, dtype=object)
    path = write_qupath_geojson(
        patches, tmp_path / "s1.geojson", classification=classes, object_type="annotation"
    )
    annotations = read_qupath_geojson(path)
    assert annotations.columns.tolist() == ["geometry", "classification", "object_type", "id"]
    assert annotations["classification"].tolist() == classes.tolist()
    assert set(annotations["object_type"]) == {"annotation"}
    assert all(g.equals(b) for g, b in zip(annotations["geometry"], _boxes(patches), strict=True))
    assert label_patches(patches, annotations).tolist() == classes.tolist()


def test_a_table_of_several_slides_is_written_one_slide_at_a_time(patches, tmp_path):
    other = patches.assign(slide="/elsewhere/s2.tif")
    both = pd.concat([patches, other], ignore_index=True)
    classes = ["a"] * len(patches) + ["z"] * len(other)
    with pytest.raises(ValueError, match="patches of 2 slides .* pass slide="):
        write_qupath_geojson(both, tmp_path / "x.geojson")
    assert not (tmp_path / "x.geojson").exists()
    path = write_qupath_geojson(both, tmp_path / "s2.geojson", classification=classes, slide="s2")
    features = json.load(open(path))["features"]
    assert len(features) == len(other)
    # Colors are those of every class of the table, whichever slide is written.
    assert features[0]["properties"]["classification"] == {"name": "z", "color": [255, 127, 14]}
    with pytest.raises(ValueError, match="slide 'nowhere' has no patches"):
        write_qupath_geojson(both, tmp_path / "x.geojson", slide="nowhere")


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"classification": "prediction"}, "'prediction' is not a column"),
        ({"classification": ["a"]}, "one value per patch (64)"),
        ({"measurements": ["nope"]}, "'nope' is not a column"),
        ({"measurements": {"p": ["high"] * 64}}, "Measurement 'p' must hold numbers"),
        ({"colors": {"a": (1, 2, 3)}, "classification": ["b"] * 64}, "no color for class 'b'"),
    ],
)
def test_export_errors_name_the_problem(patches, tmp_path, kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words).replace(r"\ ", " ")):
        write_qupath_geojson(patches, tmp_path / "x.geojson", **kwargs)
    assert not (tmp_path / "x.geojson").exists()


def test_export_needs_the_slide_file_for_coarser_levels(tmp_path):
    table = pd.DataFrame({"slide": ["gone.svs"], "x": [0], "y": [0], "level": [1], "size": [8]})
    with pytest.raises(FileNotFoundError, match="'gone.svs' are at level 1"):
        write_qupath_geojson(table, tmp_path / "x.geojson")
    with pytest.raises(ValueError, match=r"\['level', 'size'\] are missing"):
        write_qupath_geojson(table[["slide", "x", "y"]], tmp_path / "x.geojson")


# Import ------------------------------------------------------------------------------------


def test_annotations_label_the_right_patches_of_a_generated_slide(patches, tmp_path):
    """Two classified polygons on a real-tissue slide: the patches each labels, and the IoU of
    their union with the polygon."""
    tumor = box(0, 0, 256, 128)  # cells (0, 0) and (0, 1): 8 patches exactly
    stroma = Polygon([(256, 128), (512, 160), (480, 512), (288, 448)])  # across patches
    path = _write(
        tmp_path / "s1.geojson",
        {
            "type": "FeatureCollection",
            "features": [_feature(tumor, "Tumor"), _feature(stroma, "Stroma")],
        },
    )
    labels = label_patches(patches, read_qupath_geojson(path))
    boxes = _boxes(patches)
    inside = {name: shapely.union_all(boxes[labels == name]) for name in ("Tumor", "Stroma")}
    assert (labels == "Tumor").sum() == 8 and inside["Tumor"].equals(tumor)
    # Each labeled patch is at least half inside its polygon, each other one less than half.
    share = shapely.area(shapely.intersection(boxes, stroma)) / 64**2
    assert ((labels == "Stroma") == (share >= 0.5)).all()
    iou = inside["Stroma"].intersection(stroma).area / inside["Stroma"].union(stroma).area
    assert iou > 0.75
    assert sum(label is None for label in labels) == 64 - 8 - (labels == "Stroma").sum()


def test_min_overlap_and_the_larger_cover_wins(patches):
    annotations = pd.DataFrame(
        {
            # Patch (0, 0)-(64, 64): 60% "a", 40% "b"; patch (64, 0): all "b".
            "geometry": [box(0, 0, 38.4, 64), box(38.4, 0, 128, 64)],
            "classification": ["a", "b"],
        }
    )
    labels, cover = label_patches(patches.iloc[:2], annotations, return_cover=True)
    assert labels.tolist() == ["a", "b"] and np.allclose(cover, [0.6, 1.0])
    labels = label_patches(patches.iloc[:2], annotations, min_overlap=0.7)
    assert labels.tolist() == [None, "b"]


def test_a_region_drawn_inside_an_outline_wins_the_tie(patches):
    annotations = pd.DataFrame(
        {
            "geometry": [box(0, 0, 512, 512), box(0, 0, 64, 64)],
            "classification": ["Tissue", "Tumor"],
        }
    )
    labels = label_patches(patches.iloc[:2], annotations)
    assert labels.tolist() == ["Tumor", "Tissue"]


def test_overlapping_annotations_of_one_class_count_once(patches):
    annotations = pd.DataFrame(
        {
            "geometry": [box(0, 0, 40, 64), box(0, 0, 40, 64), box(40, 0, 64, 64)],
            "classification": ["a", "a", "b"],
        }
    )
    _, cover = label_patches(patches.iloc[:1], annotations, return_cover=True)
    assert np.isclose(cover[0], 40 / 64)


def test_holes_are_not_covered(patches, tmp_path):
    hole = [(64, 64), (192, 64), (192, 192), (64, 192)]
    ring = Polygon([(0, 0), (256, 0), (256, 256), (0, 256)], holes=[hole])
    path = _write(tmp_path / "s1.geojson", [_feature(ring, "Tumor")])  # a bare list
    annotations = read_qupath_geojson(path)
    assert annotations["geometry"][0].equals(ring)
    labels = label_patches(patches, annotations)
    corners = patches["x"].to_numpy(), patches["y"].to_numpy()
    in_hole = (corners[0] >= 64) & (corners[0] < 192) & (corners[1] >= 64) & (corners[1] < 192)
    in_ring = (corners[0] < 256) & (corners[1] < 256) & ~in_hole
    assert in_hole.sum() == 4 and in_ring.sum() == 12
    assert (labels[in_ring] == "Tumor").all() and all(v is None for v in labels[~in_ring])


def test_multipolygons_and_a_single_feature(patches, tmp_path):
    parts = MultiPolygon([box(0, 0, 64, 64), box(448, 448, 512, 512)])
    path = _write(tmp_path / "s1.geojson", _feature(parts, "Necrosis", isLocked=True))
    annotations = read_qupath_geojson(path)
    assert annotations["geometry"][0].geom_type == "MultiPolygon"
    labels = label_patches(patches, annotations)
    assert np.flatnonzero(labels == "Necrosis").tolist() == [0, 63]


def test_older_qupath_classifications_and_measurements(tmp_path):
    old = {
        "type": "Feature",
        "id": "PathAnnotationObject",
        "geometry": mapping(box(0, 0, 10, 10)),
        "properties": {
            "classification": {"name": "Tumor", "colorRGB": -3670016},
            "isLocked": False,
            "measurements": [{"name": "Area", "value": 100.0}],
        },
    }
    plain = {**old, "properties": {"classification": "Stroma"}}
    annotations = read_qupath_geojson(_write(tmp_path / "old.json", [old, plain]))
    assert annotations["classification"].tolist() == ["Tumor", "Stroma"]
    assert annotations["object_type"].tolist() == ["annotation", "annotation"]


def test_unclassified_and_non_polygon_objects_are_skipped_and_counted(tmp_path):
    features = [
        _feature(box(0, 0, 10, 10), "Tumor"),
        _feature(box(0, 0, 10, 10), None),
        _feature(box(0, 0, 10, 10), None),
        _feature(shapely.Point(3, 3), "Tumor"),
    ]
    path = _write(tmp_path / "s1.geojson", {"type": "FeatureCollection", "features": features})
    with pytest.warns(UserWarning, match="2 unclassified polygons and 1 Point objects of 4"):
        annotations = read_qupath_geojson(path)
    assert len(annotations) == 1


def test_self_crossing_rings_are_repaired(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]}
    feature = {"type": "Feature", "geometry": bowtie, "properties": {"classification": "a"}}
    annotations = read_qupath_geojson(_write(tmp_path / "s.geojson", [feature]))
    assert annotations["geometry"][0].is_valid and np.isclose(annotations["geometry"][0].area, 50)


@pytest.mark.parametrize(
    "content, words",
    [
        ("not json {", "is not JSON"),
        ({"type": "Polygon", "coordinates": []}, "is a 'Polygon', not a FeatureCollection"),
        ({"type": "FeatureCollection"}, "has no 'features' list"),
        ([{"type": "Feature", "properties": {}}], "feature 0 has no 'geometry'"),
        ([_feature(shapely.Point(1, 1), "a")], "holds no classified polygon (1 objects)"),
        ([_feature(box(0, 0, 1, 1), None)], "1 of them unclassified"),
        ({"type": "FeatureCollection", "features": []}, "holds no classified polygon"),
    ],
)
@pytest.mark.filterwarnings("ignore:GeoJSON .* skipped")
def test_bad_geojson_is_named(tmp_path, content, words):
    path = tmp_path / "bad.geojson"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ValueError, match=re.escape(words)):
        read_qupath_geojson(path)


def test_missing_geojson_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="GeoJSON file does not exist"):
        read_qupath_geojson(tmp_path / "nowhere.geojson")


def test_label_patches_refuses_what_it_cannot_use(patches):
    annotations = pd.DataFrame({"geometry": [box(0, 0, 1, 1)], "classification": ["a"]})
    both = pd.concat([patches, patches.assign(slide="other.tif")], ignore_index=True)
    with pytest.raises(ValueError, match="patches of 2 slides"):
        label_patches(both, annotations)
    with pytest.raises(ValueError, match=r"\['classification'\] are missing"):
        label_patches(patches, annotations[["geometry"]])
    with pytest.raises(ValueError, match="annotation 0 has geometry 'x'"):
        label_patches(patches, annotations.assign(geometry=["x"]))
    assert label_patches(patches, annotations.iloc[:0]).tolist() == [None] * 64


# CLI ---------------------------------------------------------------------------------------

EMBED = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache")
TILING = ("--mpp", "0.5", "--patch-size", "64", "--min-tissue", "0")


def _annotations_folder(folder, features):
    folder.mkdir()
    _write(folder / "s1.svs.geojson", {"type": "FeatureCollection", "features": features})
    return folder


def test_cli_export_from_embeddings_of_slide_patches(run_cli, slide, tmp_path):
    embeddings = tmp_path / "patches.npz"
    tiling = ("--mpp", "0.5", "--patch-size", "128")
    result = run_cli("embed", slide, "--out", embeddings, *tiling, *EMBED)
    assert result.code == 0, result.err
    data = np.load(embeddings)
    assert len(data["x"]) == 16
    # A label-issues CSV of some patches: path <slide>@<x>,<y>.
    columns = (data["slide"], data["x"], data["y"])
    rows = [
        {
            "path": f"{s}@{x},{y}",
            "label": "Tumor",
            "label_quality": q,
            "issue": q < 0.3,
            "suggested_label": "Stroma" if q < 0.3 else "Tumor",
        }
        for s, x, y, q in zip(*columns, np.linspace(0, 1, 16), strict=True)
    ][:12]
    results = tmp_path / "label_issues.csv"
    pd.DataFrame(rows).to_csv(results, index=False)
    out = tmp_path / "qupath"
    result = run_cli("qupath", "export", embeddings, "--results", results, "--out", out)
    assert result.code == 0, result.err
    assert "4 of 16 patches have no row in --results" in result.out
    assert "wrote 16 detections of 1 slides (classified by 'suggested_label'" in result.out
    features = json.load(open(out / "s1.geojson"))["features"]
    assert len(features) == 16
    names = [f["properties"].get("classification", {}).get("name") for f in features]
    assert names == [r["suggested_label"] for r in rows] + [None] * 4
    first = features[0]["properties"]["measurements"]
    assert set(first) == {"label_quality", "issue", "tissue"} and first["issue"] == 1.0
    assert set(features[-1]["properties"]["measurements"]) == {"tissue"}
    ring = Polygon(features[5]["geometry"]["coordinates"][0])
    x, y = int(data["x"][5]), int(data["y"][5])
    assert ring.equals(box(x, y, x + 128, y + 128))
    # Without results: the file's labels (none here) and the tissue share.
    result = run_cli("qupath", "export", embeddings, "--out", out, "--object-type", "tile")
    assert result.code == 0, result.err
    feature = json.load(open(out / "s1.geojson"))["features"][0]
    assert set(feature["properties"]) == {"objectType", "measurements"}


def test_cli_import_labels_patches_from_annotations(run_cli, slide, patches, tmp_path):
    tumor = box(0, 0, 256, 128)
    stroma = Polygon([(256, 128), (512, 160), (480, 512), (288, 448)])
    features = [_feature(tumor, "Tumor"), _feature(stroma, "Stroma"), _feature(tumor, None)]
    folder = _annotations_folder(tmp_path / "annotations", features)
    out = tmp_path / "labeled.csv"
    args = ("--annotations", folder, "--out", out, *TILING)
    result = run_cli("qupath", "import", slide, *args)
    assert result.code == 0, result.err
    assert "1 unclassified polygons of 3 objects are skipped" in result.err
    table = pd.read_csv(out)
    with pytest.warns(UserWarning, match="1 unclassified polygons"):
        annotations = read_qupath_geojson(folder / "s1.svs.geojson")
    expected = label_patches(patches, annotations)
    keep = np.asarray([label is not None for label in expected])
    assert table.columns.tolist()[:7] == ["slide", "x", "y", "level", "size", "mpp", "tissue"]
    assert table["label"].tolist() == expected[keep].tolist()
    assert table["x"].tolist() == patches["x"][keep].tolist()
    assert (table["cover"] >= 0.5).all() and (table["label"] == "Tumor").sum() == 8
    assert f"wrote {keep.sum()} patches of 1 slides" in result.out
    # The labeled table is ready to embed: `skhisto embed` reads a CSV patch table as patches.
    embed = ("--backbone", "resnet18", "--no-pretrained", "--image-size", "32", "--no-cache")
    result = run_cli("embed", out, "--out", tmp_path / "labeled.npz", *embed)
    assert result.code == 0, result.err
    data = np.load(tmp_path / "labeled.npz")
    assert data["labels"].tolist() == table["label"].tolist()
    assert data["x"].tolist() == table["x"].tolist() and len(data["embeddings"]) == len(table)
    # --keep-unlabeled keeps every patch; the CSV exports back to QuPath by its labels.
    result = run_cli("qupath", "import", slide, *args, "--keep-unlabeled", "--min-overlap", "1")
    assert result.code == 0, result.err
    table = pd.read_csv(out, keep_default_na=False)
    assert len(table) == 64 and set(table["label"]) == {"", "Tumor", "Stroma"}
    result = run_cli("qupath", "export", out, "--out", tmp_path / "back")
    assert result.code == 0, result.err
    with pytest.warns(UserWarning, match="unclassified"):  # the unlabeled patches
        back = read_qupath_geojson(tmp_path / "back" / "s1.geojson")
    assert len(back) == (table["label"] != "").sum()
    assert shapely.union_all(back["geometry"][back["classification"] == "Tumor"]).equals(tumor)


@pytest.mark.parametrize(
    "features, args, code, words",
    [
        (None, ("--annotations", "nowhere"), 1, ("--annotations 'nowhere' does not exist",)),
        ([_feature(shapely.Point(1, 1), "a")], (), 1, ("holds no classified polygon",)),
        (
            [_feature(box(4000, 4000, 4100, 4100), "a"), _feature(box(0, 0, 64, 64), "a")],
            (),
            1,
            ("1 of 2 annotations lie outside slide 's1.tif' (512 x 512 px", "another level"),
        ),
        ([_feature(box(0, 0, 10, 10), "a")], (), 1, ("no patch of 64 is covered",)),
        ([], ("--min-overlap", "0"), 2, ("--min-overlap", "above 0")),
        ([], ("--out", "x.txt"), 2, ("--out", ".csv")),
    ],
)
def test_cli_import_errors_are_one_line(run_cli, slide, tmp_path, features, args, code, words):
    folder = tmp_path / "annotations"
    if features is not None:
        _annotations_folder(folder, features)
    if "--annotations" not in args:
        args = ("--annotations", folder, *args)
    if "--out" not in args:
        args = (*args, "--out", tmp_path / "labeled.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_cli("qupath", "import", slide, *args, *TILING)
    if code == 2:  # usage errors are said by the action's parser
        result.command = "qupath import"
    result.assert_one_line_error(code, *words)
    assert not (tmp_path / "labeled.csv").exists()


def test_cli_annotations_must_name_a_slide(run_cli, slide, tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    _write(folder / "other.geojson", [_feature(box(0, 0, 64, 64), "a")])
    result = run_cli(
        "qupath", "import", slide, "--annotations", folder, "--out", tmp_path / "l.csv"
    )
    result.assert_one_line_error(1, "no GeoJSON file", "is named after a slide", "'s1.tif'")


def test_cli_export_errors_are_one_line(run_cli, embeddings_file, tmp_path):
    images = embeddings_file()
    for argv, words in (
        (("nowhere.npz",), ("INPUT 'nowhere.npz' does not exist",)),
        ((images,), ("holds no patches of slides", "skhisto embed --slides")),
    ):
        result = run_cli("qupath", "export", *argv, "--out", tmp_path / "q")
        result.assert_one_line_error(1, *words)
    assert not (tmp_path / "q").exists()
    result = run_cli("qupath", "--out", tmp_path / "q")
    result.assert_one_line_error(2, "invalid choice")
