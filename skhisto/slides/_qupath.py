"""QuPath round trips: patch tables as QuPath GeoJSON objects, QuPath annotations as labels.

QuPath's GeoJSON (File > Export objects as GeoJSON; read by File > Import objects, or by
dropping the file on the viewer) is a ``FeatureCollection`` (or a bare list of features)
of ``Feature`` objects whose ``geometry`` is in level-0 pixels, origin at the top left of
the full-resolution image, and whose ``properties`` hold ``objectType`` ("annotation",
"detection", "tile", ...), ``classification`` (``{"name", "color": [r, g, b]}``; a string,
or ``{"name", "colorRGB"}`` in QuPath 0.2), ``measurements`` (a dict of numbers since
QuPath 0.4, a list of ``{"name", "value"}`` before) and ``isLocked``; ``id`` is a UUID.
"""

import json
import math
import os
import uuid
from numbers import Real
from pathlib import Path

import numpy as np

from ..utils import atomic_write, warn
from ..utils._constraints import PATH
from ..utils._optional import import_pandas
from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, validate_params
from ._reader import open_slide

#: Colors of classes, in the sorted order of the classes of a table (tab10, as QuPath's
#: defaults are saturated primaries); more classes get colors derived from their names.
_PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
#: Namespace of the ids of exported patches: the same patch gets the same id in every export.
_NAMESPACE = uuid.UUID("6f1c1e2a-4b0e-4d5e-9a57-0c2a9e3d7b11")
OBJECT_TYPES = ("detection", "tile", "annotation")
#: Covers this close are equal (areas are floating point).
_TOLERANCE = 1e-9


def _import_shapely(feature):
    try:
        import shapely
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs shapely; install it with `pip install 'skhisto[slides]'`."
        ) from exc
    return shapely


def _footprints(table, what):
    """Level-0 corner and side of each patch of ``table``: ``(x, y, side)`` float arrays.

    ``size`` pixels at ``level`` span ``size * downsample(level)`` level-0 pixels; level 0
    needs no slide file, other levels read their downsamples from the slide.
    """
    missing = [c for c in ("slide", "x", "y", "level", "size") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what} takes a patch table (columns slide, x, y, level, size, as SlideTiler.tile "
            f"returns); {missing} are missing (it has {[str(c) for c in table.columns]})."
        )
    x = np.asarray(table["x"], dtype=np.float64)
    y = np.asarray(table["y"], dtype=np.float64)
    level = np.asarray(table["level"], dtype=np.int64)
    size = np.asarray(table["size"], dtype=np.float64)
    side = size.copy()
    slides = np.asarray([os.fspath(s) for s in table["slide"]], dtype=object)
    for path in dict.fromkeys(slides[level > 0]):
        rows = (slides == path) & (level > 0)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{what}: patches of slide {path!r} are at level {int(level[rows][0])}, whose "
                "size in level-0 pixels the slide file says, but it does not exist."
            )
        with open_slide(path) as slide:
            downsamples = np.asarray(slide.level_downsamples)
        if level[rows].max() >= len(downsamples):
            raise ValueError(
                f"{what}: a patch is at level {int(level[rows].max())}, but slide {path!r} has "
                f"{len(downsamples)} levels; is the table for another slide?"
            )
        side[rows] = size[rows] * downsamples[level[rows]]
    return x, y, side


def _per_patch(values, table, name, *, what):
    """A column of ``table`` (by name) or one value per patch, as an array."""
    if isinstance(values, str):
        if values not in table.columns:
            raise ValueError(
                f"{what} {values!r} is not a column of the table (it has "
                f"{[str(c) for c in table.columns]})."
            )
        return np.asarray(table[values], dtype=object), values
    values = np.asarray(values, dtype=object)
    if values.ndim != 1 or len(values) != len(table):
        raise ValueError(
            f"{what} {name!r} must have one value per patch ({len(table)}); it has shape "
            f"{values.shape}."
        )
    return values, name


def _class_names(values):
    """Class names as str; None where a value is missing (None, NaN, "")."""
    names = np.full(len(values), None, dtype=object)
    for i, value in enumerate(values):
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if str(value) != "":
            names[i] = str(value)
    return names


def _class_colors(names):
    """``{class: [r, g, b]}``: tab10 in sorted order, then colors derived from the names."""
    colors = {}
    for index, name in enumerate(sorted(set(names))):
        if index < len(_PALETTE):
            colors[name] = list(_PALETTE[index])
        else:
            digest = uuid.uuid5(_NAMESPACE, name).bytes
            colors[name] = [64 + digest[0] % 160, 64 + digest[1] % 160, 64 + digest[2] % 160]
    return colors


def _number(value, name, row):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, Real):
        raise ValueError(
            f"Measurement {name!r} must hold numbers (QuPath's measurements are numeric); row "
            f"{row} has {value!r}."
        )
    value = float(value)
    return None if math.isnan(value) else value


def _coordinate(value):
    value = float(value)
    return int(value) if value.is_integer() else round(value, 3)


@validate_params(
    {
        "table": [HasMethods(["groupby"])],
        "path": PATH,
        "classification": [str, "array-like", None],
        "measurements": [list, tuple, dict, None],
        "object_type": [StrOptions(set(OBJECT_TYPES))],
        "slide": PATH + [None],
        "colors": [dict, None],
    },
    prefer_skip_nested_validation=True,
)
def write_qupath_geojson(
    table,
    path,
    *,
    classification=None,
    measurements=None,
    object_type="detection",
    slide=None,
    colors=None,
):
    """Write one slide's patches as QuPath GeoJSON: a square object per patch.

    Each patch becomes a ``Feature`` with a closed square ``Polygon`` in the
    slide's level-0 pixels (``x``, ``y`` and ``size`` times the downsample of
    its ``level``), an ``id`` (a UUID derived from the slide's name and the
    patch, so re-exports keep ids), ``objectType``, an optional
    ``classification`` (``name`` and ``color``) and ``measurements`` (a dict of
    numbers, as QuPath 0.4 and later write it). QuPath opens the file with
    File > Import objects, or when it is dropped on the slide.

    Parameters
    ----------
    table : pandas.DataFrame
        A patch table (:meth:`SlideTiler.tile`, :func:`read_coordinates`,
        or the patch columns ``skhisto embed --slides`` stores), with any
        other columns (predictions, probabilities, ...).
    path : str or os.PathLike
        The ``.geojson`` file, written atomically.
    classification : str or array-like of shape (n_patches,), optional
        The class of each patch (a prediction, a label, a flag): a column of
        ``table`` or one value per row. Missing values (None, NaN, "") leave
        a patch unclassified.
    measurements : list of str or dict, optional
        Numbers shown per patch in QuPath's measurement table and usable to
        color objects (class probabilities, attention weights,
        ``label_quality``): columns of ``table``, or ``{name: values}`` with
        one value per row. Booleans are written as 0 and 1; NaN values are
        left out (QuPath shows a missing measurement as NaN).
    object_type : {"detection", "tile", "annotation"}, default="detection"
        QuPath's kind of object. Detections and tiles are light (QuPath
        handles millions); annotations can be edited.
    slide : str or os.PathLike, optional
        Which slide's rows to write, when ``table`` holds several (a file
        is one slide's objects: QuPath imports them over the open slide). A
        table of several slides without ``slide`` is refused.
    colors : dict, optional
        ``{class: (r, g, b)}``. By default classes get the tab10 colors in
        the sorted order of all the classes of ``classification`` (all the
        table's slides, so every file of a table colors a class alike).

    Returns
    -------
    str
        ``path``.

    See Also
    --------
    read_qupath_geojson : Reads QuPath's annotations back.

    Examples
    --------
    >>> import json, tempfile, os
    >>> import pandas as pd
    >>> from skhisto.slides import write_qupath_geojson
    >>> table = pd.DataFrame({"slide": ["s1.svs"] * 2, "x": [0, 224], "y": [0, 0],
    ...                       "level": [0, 0], "size": [224, 224]})
    >>> path = os.path.join(tempfile.mkdtemp(), "s1.geojson")
    >>> _ = write_qupath_geojson(table, path, classification=["tumour", "stroma"],
    ...                          measurements={"p_tumour": [0.9, 0.2]})
    >>> feature = json.load(open(path))["features"][1]
    >>> feature["geometry"]["coordinates"]
    [[[224, 0], [448, 0], [448, 224], [224, 224], [224, 0]]]
    >>> feature["properties"]["classification"], feature["properties"]["measurements"]
    ({'name': 'stroma', 'color': [31, 119, 180]}, {'p_tumour': 0.2})
    """
    what = "write_qupath_geojson"
    classes = None
    if classification is not None:
        name = classification if isinstance(classification, str) else "classification"
        classes = _class_names(_per_patch(classification, table, name, what="classification")[0])
    columns = {}
    if measurements is not None:
        items = (
            measurements.items()
            if isinstance(measurements, dict)
            else ((name, name) for name in measurements)
        )
        for name, values in items:
            if not isinstance(values, str) and isinstance(measurements, (list, tuple)):
                raise ValueError(f"measurements must name columns of the table; got {name!r}.")
            columns[str(name)] = _per_patch(values, table, str(name), what="Measurement")[0]
    if colors is None:
        colors = _class_colors([c for c in classes if c is not None] if classes is not None else [])
    else:
        colors = {str(k): [int(c) for c in v] for k, v in colors.items()}
    if "slide" not in table.columns:
        _footprints(table, what)  # names the missing columns
    slides = np.asarray([os.fspath(s) for s in table["slide"]], dtype=object)
    if slide is not None:
        slide = os.fspath(slide)
        rows = np.flatnonzero(
            (slides == slide) | (np.asarray([_stem(s) for s in slides]) == _stem(slide))
        )
        if not rows.size:
            raise ValueError(
                f"{what}: slide {slide!r} has no patches in the table (its slides are like "
                f"{slides[0]!r})."
            )
    else:
        unique = list(dict.fromkeys(slides))
        if len(unique) > 1:
            raise ValueError(
                f"{what}: the table holds patches of {len(unique)} slides (e.g. "
                f"{unique[0]!r}); a QuPath GeoJSON file holds one slide's objects, so pass "
                "slide= (one file per slide)."
            )
        rows = np.arange(len(table))
    part = table.iloc[rows]
    x, y, side = _footprints(part, what)
    features = []
    for k, row in enumerate(rows):
        x0, y0, x1, y1 = (_coordinate(v) for v in (x[k], y[k], x[k] + side[k], y[k] + side[k]))
        key = f"{_stem(slides[row])}:{x[k]:g}:{y[k]:g}:{side[k]:g}"
        properties = {"objectType": object_type}
        if object_type == "annotation":
            properties["isLocked"] = False
        if classes is not None and classes[row] is not None:
            name = classes[row]
            if name not in colors:
                raise ValueError(f"colors has no color for class {name!r}.")
            properties["classification"] = {"name": name, "color": list(colors[name])}
        if columns:
            values = {name: _number(v[row], name, int(row)) for name, v in columns.items()}
            properties["measurements"] = {n: v for n, v in values.items() if v is not None}
        features.append(
            {
                "type": "Feature",
                "id": str(uuid.uuid5(_NAMESPACE, key)),
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
                },
                "properties": properties,
            }
        )
    text = json.dumps({"type": "FeatureCollection", "features": features}, allow_nan=False)
    with atomic_write(path) as f:
        f.write(text.encode())
    return os.fspath(path)


def _stem(path):
    return Path(os.fspath(path)).name.split(".")[0]


def _features(data, path):
    """The features of a GeoJSON document, however QuPath wrote it."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise ValueError(f"GeoJSON {path!r}: its FeatureCollection has no 'features' list.")
        return features
    if isinstance(data, dict) and data.get("type") == "Feature":
        return [data]
    kind = data.get("type") if isinstance(data, dict) else type(data).__name__
    raise ValueError(
        f"GeoJSON {path!r} is a {kind!r}, not a FeatureCollection, a Feature or a list of "
        "features (as QuPath exports objects)."
    )


def _class_of(properties):
    classification = properties.get("classification")
    if isinstance(classification, dict):
        classification = classification.get("name")
    if classification is None or str(classification).strip() == "":
        return None
    return str(classification)


@validate_params({"path": PATH}, prefer_skip_nested_validation=True)
def read_qupath_geojson(path):
    """Read QuPath's classified polygons (annotations, or any objects) from GeoJSON.

    Reads what QuPath exports (File > Export objects as GeoJSON, or
    ``exportObjectsToGeoJson`` / ``exportAllObjectsToGeoJson`` in a script):
    a ``FeatureCollection``, a list of features or a single ``Feature``,
    with the classification as ``{"name": ...}`` (QuPath 0.3 and later) or
    a string. Polygons and multipolygons are kept with their holes (an
    invalid ring, e.g. a self-crossing freehand line, is repaired with
    :func:`shapely.make_valid`); points and lines are skipped, and so are
    unclassified objects, each kind counted in a ``UserWarning``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.geojson`` (or ``.json``) file.

    Returns
    -------
    pandas.DataFrame
        One row per classified polygonal object: ``geometry`` (a shapely
        Polygon or MultiPolygon, level-0 pixels), ``classification`` (the
        class name), ``object_type`` (QuPath's ``objectType``, "annotation"
        when not given) and ``id`` (None when not given).

    Raises
    ------
    ValueError
        When the file is not JSON or not GeoJSON features, or holds no
        classified polygon.

    See Also
    --------
    label_patches : The class of each patch of a slide from these annotations.

    Examples
    --------
    >>> import json, tempfile, os
    >>> from skhisto.slides import read_qupath_geojson
    >>> path = os.path.join(tempfile.mkdtemp(), "s1.geojson")
    >>> square = [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]]]
    >>> _ = open(path, "w").write(json.dumps({"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": square},
    ...      "properties": {"objectType": "annotation", "classification": {"name": "Tumor"}}}]}))
    >>> annotations = read_qupath_geojson(path)
    >>> annotations["classification"].tolist(), annotations["geometry"][0].area
    (['Tumor'], 10000.0)
    """
    shapely = _import_shapely("read_qupath_geojson")
    pd = import_pandas("read_qupath_geojson")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"GeoJSON file does not exist: {path!r}")
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"GeoJSON {path!r} is not JSON: {exc}") from exc
    features = _features(data, path)
    rows, unclassified, skipped = [], 0, {}
    for number, feature in enumerate(features):
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            raise ValueError(f"GeoJSON {path!r}: feature {number} has no 'geometry' object.")
        properties = feature.get("properties") or {}
        try:
            geometry = shapely.geometry.shape(feature["geometry"])
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise ValueError(
                f"GeoJSON {path!r}: feature {number} has an unreadable geometry ({exc})."
            ) from exc
        if geometry.geom_type == "GeometryCollection":  # QuPath's mixed ROIs: the areas
            parts = [g for g in geometry.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
            geometry = shapely.union_all(parts) if parts else geometry
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
            skipped[geometry.geom_type] = skipped.get(geometry.geom_type, 0) + 1
            continue
        name = _class_of(properties)
        if name is None:
            unclassified += 1
            continue
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
            parts = getattr(geometry, "geoms", [geometry])
            geometry = shapely.union_all(
                [g for g in parts if g.geom_type in ("Polygon", "MultiPolygon")]
            )
        object_type = properties.get("objectType", properties.get("object_type", "annotation"))
        rows.append((geometry, name, str(object_type), feature.get("id")))
    if unclassified or skipped:
        kinds = [f"{unclassified} unclassified polygons"] if unclassified else []
        kinds += [f"{n} {kind} objects" for kind, n in skipped.items()]
        warn(
            f"GeoJSON {path!r}: {' and '.join(kinds)} of {len(features)} objects are skipped "
            "(patches are labelled by classified polygons).",
            UserWarning,
        )
    if not rows:
        raise ValueError(
            f"GeoJSON {path!r} holds no classified polygon ({len(features)} objects"
            f"{', ' + str(unclassified) + ' of them unclassified' if unclassified else ''}); "
            "label patches with classified annotations (Polygon or MultiPolygon)."
        )
    geometry, names, types, ids = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "geometry": list(geometry),
            "classification": list(names),
            "object_type": list(types),
            "id": list(ids),
        }
    )


@validate_params(
    {
        "table": [HasMethods(["groupby"])],
        "annotations": [HasMethods(["groupby"])],
        "min_overlap": [Interval(Real, 0, 1, closed="right")],
        "return_cover": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def label_patches(table, annotations, *, min_overlap=0.5, return_cover=False):
    """The class of each patch: that of the annotations covering enough of it.

    A patch (its square in level-0 pixels: ``x``, ``y`` and ``size`` times
    the downsample of its ``level``) takes the class whose annotations cover
    at least ``min_overlap`` of its area (annotations of one class are
    merged, so overlapping ones count once). When several classes do, the
    one covering more wins; on equal cover (a patch inside both a large
    "Tissue" outline and a "Tumor" region drawn in it), the class of the
    smaller annotation, the more specific one. Holes are not covered.
    Candidates are found with a :class:`shapely.STRtree`, so a slide of
    100 000 patches and thousands of annotations is labelled in seconds.

    Parameters
    ----------
    table : pandas.DataFrame
        The patches of one slide (a patch table).
    annotations : pandas.DataFrame
        ``geometry`` (shapely polygons in level-0 pixels) and
        ``classification`` columns, as :func:`read_qupath_geojson` returns.
    min_overlap : float in (0, 1], default=0.5
        Least share of a patch's area a class must cover.
    return_cover : bool, default=False
        Also return the share of each patch its class covers (0 where
        unlabelled).

    Returns
    -------
    labels : ndarray of shape (n_patches,), dtype object
        The class names; None for a patch no class covers enough.
    cover : ndarray of shape (n_patches,), float
        Only with ``return_cover``.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely import box
    >>> from skhisto.slides import label_patches
    >>> table = pd.DataFrame({"slide": ["s1.svs"] * 3, "x": [0, 100, 200], "y": [0, 0, 0],
    ...                       "level": [0, 0, 0], "size": [100, 100, 100]})
    >>> annotations = pd.DataFrame({"geometry": [box(0, 0, 160, 100), box(160, 0, 300, 100)],
    ...                             "classification": ["Tumor", "Stroma"]})
    >>> label_patches(table, annotations).tolist()  # the middle one: 60% Tumor, 40% Stroma
    ['Tumor', 'Tumor', 'Stroma']
    >>> label_patches(table, annotations, min_overlap=0.7).tolist()
    ['Tumor', None, 'Stroma']
    """
    shapely = _import_shapely("label_patches")
    what = "label_patches"
    missing = [c for c in ("geometry", "classification") if c not in annotations.columns]
    if missing:
        raise ValueError(
            f"{what}: annotations need the columns 'geometry' and 'classification' (as "
            f"read_qupath_geojson returns); {missing} are missing."
        )
    if "slide" in table.columns:
        slides = list(dict.fromkeys(os.fspath(s) for s in table["slide"]))
        if len(slides) > 1:
            raise ValueError(
                f"{what}: the table holds patches of {len(slides)} slides (e.g. {slides[0]!r}), "
                "but annotations are drawn on one; label each slide's rows with its own "
                "annotations."
            )
    n = len(table)
    labels = np.full(n, None, dtype=object)
    best = np.zeros(n)
    if n == 0 or len(annotations) == 0:
        return (labels, best) if return_cover else labels
    x, y, side = _footprints(table, what)
    boxes = shapely.box(x, y, x + side, y + side)
    geometries = np.asarray(list(annotations["geometry"]), dtype=object)
    bad = [i for i, g in enumerate(geometries) if not isinstance(g, shapely.Geometry)]
    if bad:
        raise ValueError(
            f"{what}: annotation {bad[0]} has geometry {geometries[bad[0]]!r}, not a shapely "
            "geometry."
        )
    names = np.asarray([str(c) for c in annotations["classification"]], dtype=object)
    tree = shapely.STRtree(geometries)
    patch, hit = tree.query(boxes, predicate="intersects")
    if not patch.size:
        return (labels, best) if return_cover else labels
    areas = shapely.area(shapely.intersection(boxes[patch], geometries[hit]))
    sizes = shapely.area(geometries)
    groups = {}
    for p, h, area in zip(patch.tolist(), hit.tolist(), areas.tolist(), strict=True):
        groups.setdefault((p, names[h]), []).append((h, area))
    patch_area = side * side
    candidates = {}
    for (p, name), hits in groups.items():
        if len(hits) == 1:
            covered = hits[0][1]
        else:  # overlapping annotations of one class count once
            union = shapely.union_all(geometries[[h for h, _ in hits]])
            covered = shapely.area(shapely.intersection(boxes[p], union))
        share = min(covered / patch_area[p], 1.0)
        if share >= min_overlap - _TOLERANCE:
            smallest = min(sizes[h] for h, _ in hits)
            key = (-round(share, 9), smallest, name)
            if p not in candidates or key < candidates[p][0]:
                candidates[p] = (key, name, share)
    for p, (_, name, share) in candidates.items():
        labels[p], best[p] = name, share
    return (labels, best) if return_cover else labels
