"""``skhisto qupath``: patches of slides as QuPath GeoJSON, QuPath annotations as patch labels."""

import argparse
import os
from pathlib import Path

from .._embeddings import EMBEDDING_FORMATS
from .._errors import CommandError
from .._options import file_ending, share
from .._outputs import check_out_dir, check_out_file
from .._slides import add_slide_arguments, read_slides, tiling_options

NAME = "qupath"
HELP = "patches of slides as QuPath objects, and QuPath annotations as patch labels"
DESCRIPTION = (
    "export: write the patches of slides (with predictions, labels, scores) as QuPath GeoJSON, "
    "one file per slide. import: tile slides and label each patch with the class of the QuPath "
    "annotations that cover enough of it."
)
EPILOG = """\
examples:
  skhisto qupath export patches.npz --out qupath/
  skhisto qupath export patches.npz --results results/label-issues/label_issues.csv --out qupath/
  skhisto qupath import slides/ --annotations annotations/ --out labeled.csv --mpp 0.5

export: INPUT is an embeddings file of slide patches (`skhisto embed --slides`, .npz or
.parquet) or a CSV patch table (columns slide, x, y, level, size; `skhisto qupath import`
writes one). --results is a CSV with one row per patch, keyed by 'path' (<slide>@<x>,<y>, as
`skhisto label-issues` writes it) or by 'slide', 'x', 'y' columns. Each slide's patches are
written to --out/<slide>.geojson, as
  write_qupath_geojson(table, path, classification=COLUMN, measurements=[...],
                       object_type=TYPE, slide=SLIDE)
The classification is --classification COLUMN (default: the first of 'prediction',
'suggested_label', 'label' there is); the measurements are --measurements COLUMN ...
(default: every numeric column of --results, e.g. label_quality and issue, and the patch's
tissue share). In QuPath: File > Import objects (or drop the file on the slide); color the
objects by a measurement with Measure > Show measurement maps.

import: SLIDES is a slide file, a folder of slides or a CSV of slides (as `skhisto embed
--slides` reads them), tiled with --mpp, --patch-size, ... (or read from --coordinates).
--annotations is QuPath GeoJSON (File > Export objects as GeoJSON): a file for one slide, or
a folder of <slide>.geojson files matched to slides by name (the part before the first dot).
Each slide's patches get
  labels = label_patches(table, read_qupath_geojson(GEOJSON), min_overlap=F)
the class whose annotations cover at least --min-overlap of the patch (the larger cover when
two do; on equal cover, the smaller annotation). --out is a CSV patch table with a 'label'
and a 'cover' column (patches no annotation labels are left out unless --keep-unlabeled).
"""

OBJECT_TYPES = ("detection", "tile", "annotation")
#: Patch-table columns that are never measurements.
_PLACE = ("slide", "x", "y", "level", "size", "mpp", "path")


def add_arguments(parser):
    actions = parser.add_subparsers(
        title="actions", dest="action", required=True, metavar="{export,import}"
    )
    export = actions.add_parser(
        "export",
        help="patches (and results) as QuPath GeoJSON, one file per slide",
        description="Write the patches of slides as QuPath GeoJSON, one file per slide.",
        epilog=EPILOG,
        formatter_class=parser.formatter_class,
    )
    export.add_argument("input", metavar="INPUT", help="embeddings of slide patches, or CSV")
    export.add_argument("--out", required=True, metavar="DIR", help="folder of .geojson files")
    export.add_argument(
        "--results", metavar="CSV", help="per-patch results (e.g. label_issues.csv)"
    )
    export.add_argument("--classification", metavar="COLUMN", help="the class of each patch")
    export.add_argument(
        "--measurements", nargs="+", metavar="COLUMN", help="numeric columns to show"
    )
    export.add_argument(
        "--object-type",
        choices=OBJECT_TYPES,
        default="detection",
        help="QuPath object kind (default: detection)",
    )
    labels = actions.add_parser(
        "import",
        help="label the patches of slides from QuPath annotations",
        description="Tile slides and label each patch from QuPath GeoJSON annotations.",
        epilog=EPILOG,
        formatter_class=parser.formatter_class,
    )
    labels.add_argument("input", metavar="SLIDES", help="slide file, folder of slides, or CSV")
    labels.add_argument(
        "--annotations", required=True, metavar="PATH", help="GeoJSON file or folder of them"
    )
    labels.add_argument(
        "--out", required=True, metavar="FILE", type=file_ending(".csv"), help="output CSV"
    )
    labels.add_argument(
        "--min-overlap",
        type=_min_overlap,
        default=0.5,
        metavar="F",
        help="least share of a patch its class covers (default: 0.5)",
    )
    labels.add_argument(
        "--keep-unlabeled", action="store_true", help="keep patches no annotation labels"
    )
    add_slide_arguments(labels)


def _min_overlap(text):
    value = share(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, up to 1, got {text!r}")
    return value


def run(args):
    if args.action == "export":
        return _export(args)
    return _import(args)


# export ------------------------------------------------------------------------------------


def _read_patches(source):
    """The patch table of INPUT (with its labels as 'label' where it has them)."""
    import numpy as np
    import pandas as pd

    path = Path(source)
    if not path.is_file():
        raise CommandError(f"INPUT {source!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                table = pd.DataFrame({k: data[k] for k in data.files if data[k].ndim == 1})
            table = table.rename(columns={"labels": "label"})
        elif suffix == ".parquet":
            table = pd.read_parquet(path)
        elif suffix == ".csv":
            table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        else:
            raise CommandError(
                f"INPUT {source!r}: expected an embeddings file of slide patches "
                f"({', '.join(EMBEDDING_FORMATS[:2])}) or a CSV patch table"
            )
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read INPUT {source!r}: {exc}") from exc
    missing = [c for c in ("slide", "x", "y", "level", "size") if c not in table.columns]
    if missing:
        raise CommandError(
            f"INPUT {source!r} holds no patches of slides (no {missing} columns); embed slides "
            "with `skhisto embed --slides`"
        )
    if "label" in table.columns and (table["label"].astype(str) == "").all():
        table = table.drop(columns="label")
    return table.reset_index(drop=True)


def _stem(path):
    return Path(str(path)).name.split(".")[0]


def _join_results(table, source):
    """``table`` with the columns of the --results CSV, row by row (by slide name and corner)."""
    import pandas as pd

    if not os.path.isfile(source):
        raise CommandError(f"--results {source!r} does not exist")
    try:
        results = pd.read_csv(source)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read --results {source!r}: {exc}") from exc
    if {"slide", "x", "y"} <= set(results.columns):
        keys = zip(results["slide"].map(_stem), results["x"], results["y"], strict=True)
    elif "path" in results.columns:
        keys = [_patch_key(p) for p in results["path"].astype(str)]
    else:
        raise CommandError(
            f"--results {source!r} names no patches: it needs a 'path' column (<slide>@<x>,<y>) "
            f"or 'slide', 'x', 'y' columns (it has {results.columns.tolist()})"
        )
    results.index = pd.MultiIndex.from_tuples(
        [(s, int(x), int(y)) if s is not None else (None, -1, -1) for s, x, y in keys]
    )
    mine = pd.MultiIndex.from_arrays(
        [table["slide"].map(_stem), table["x"].astype(int), table["y"].astype(int)]
    )
    found = mine.isin(results.index)
    if not found.any():
        raise CommandError(
            f"no row of --results {source!r} is a patch of INPUT (rows like "
            f"{str(results.iloc[0].get('path', results.index[0]))!r}); is it another run's?"
        )
    results = results[~results.index.duplicated()].drop(
        columns=[c for c in _PLACE if c in results.columns]
    )
    joined = results.reindex(mine).reset_index(drop=True)
    overlap = [c for c in joined.columns if c in table.columns]
    return pd.concat([table.drop(columns=overlap), joined], axis=1), int((~found).sum())


def _patch_key(path):
    slide, _, corner = path.rpartition("@")
    x, _, y = corner.partition(",")
    try:
        return _stem(slide), int(x), int(y)
    except ValueError:
        return None, -1, -1


def _export(args):
    from ...slides import write_qupath_geojson

    table = _read_patches(args.input)
    measured = []
    if args.results:
        before = set(table.columns)
        table, unmatched = _join_results(table, args.results)
        if unmatched:
            print(f"{unmatched} of {len(table)} patches have no row in --results")
        measured = [
            c for c in table.columns if c not in before and c not in _PLACE and _numeric(table[c])
        ]
    if "tissue" in table.columns:
        measured.append("tissue")
    classification = args.classification
    if classification is None:
        classification = next(
            (c for c in ("prediction", "suggested_label", "label") if c in table.columns), None
        )
    elif classification not in table.columns:
        raise CommandError(
            f"--classification {classification!r} is not a column of INPUT or --results "
            f"(columns: {table.columns.tolist()})"
        )
    measurements = args.measurements if args.measurements is not None else measured
    unknown = [c for c in measurements if c not in table.columns]
    if unknown:
        raise CommandError(
            f"--measurements {unknown[0]!r} is not a column of INPUT or --results "
            f"(columns: {table.columns.tolist()})"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {str(out)!r} is a file; name a folder for the .geojson files")
    check_out_dir(out, "--out")
    slides = list(dict.fromkeys(table["slide"].astype(str)))
    stems = [_stem(s) for s in slides]
    if len(set(stems)) < len(stems):
        raise CommandError(
            "two slides of INPUT share a name; their files would be the same "
            f"(<name>.geojson): {[s for s in slides if stems.count(_stem(s)) > 1][:2]}"
        )
    for slide, stem in zip(slides, stems, strict=True):
        try:
            write_qupath_geojson(
                table,
                out / f"{stem}.geojson",
                classification=classification,
                measurements=list(measurements),
                object_type=args.object_type,
                slide=slide,
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc
    what = f"classified by {classification!r}" if classification else "unclassified"
    shown = f"measurements {', '.join(measurements)}" if measurements else "no measurements"
    print(
        f"wrote {len(table)} {args.object_type}s of {len(slides)} slides ({what}; {shown}) to {out}"
    )
    return 0


def _numeric(column):
    values = column.dropna().infer_objects()  # True/False with gaps: object, then bool
    return len(values) > 0 and values.dtype.kind in "biuf"


# import ------------------------------------------------------------------------------------


def _geojson_files(source, slides):
    """``{slide: GeoJSON file}`` of the slides that have one."""
    from ...utils import warn

    path = Path(source)
    if path.is_file():
        if len(slides) > 1:
            raise CommandError(
                f"--annotations {source!r} is one file, but SLIDES holds {len(slides)} slides; "
                "pass a folder of <slide>.geojson files"
            )
        return {slides[0]: path}
    if not path.is_dir():
        raise CommandError(f"--annotations {source!r} does not exist")
    files = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in (".geojson", ".json") and p.name[0] != "."
    )
    if not files:
        raise CommandError(f"--annotations folder {source!r} holds no .geojson or .json files")
    by_name = {}
    for file in files:
        by_name.setdefault(_stem(file), file)
    matched = {s: by_name.pop(_stem(s)) for s in slides if _stem(s) in by_name}
    if not matched:
        raise CommandError(
            f"no GeoJSON file of --annotations {source!r} is named after a slide of SLIDES "
            f"(files like {files[0].name!r}; slides like {Path(slides[0]).name!r})"
        )
    alone = [s for s in slides if s not in matched]
    if alone or by_name:
        warn(
            f"{len(alone)} slides without annotations (e.g. "
            f"{Path(alone[0]).name if alone else '-'!r}) and {len(by_name)} GeoJSON files "
            f"without a slide (e.g. {next(iter(by_name), '-')!r}) are left out",
            UserWarning,
        )
    return matched


def _check_on_slide(annotations, slide, file):
    """Refuse annotations that lie outside their slide: another slide's, or another level's."""
    import shapely

    from ...slides import open_slide

    with open_slide(slide) as wsi:
        width, height = wsi.dimensions
    inside = shapely.intersects(shapely.box(0, 0, width, height), list(annotations["geometry"]))
    if not inside.all():
        x0, y0, x1, y1 = shapely.bounds(annotations["geometry"].iloc[int((~inside).argmax())])
        raise CommandError(
            f"--annotations {str(file)!r}: {int((~inside).sum())} of {len(inside)} annotations "
            f"lie outside slide {Path(slide).name!r} ({width} x {height} px at level 0; e.g. "
            f"one spans x {x0:g}-{x1:g}, y {y0:g}-{y1:g}); are they another slide's, or in "
            "another level's pixels? QuPath exports level-0 pixels"
        )


def _import(args):
    import numpy as np
    import pandas as pd

    from ...slides import label_patches, read_qupath_geojson
    from ...utils import atomic_write

    check_out_file(Path(args.out), ".csv")
    table, _, _, _ = read_slides(
        args.input,
        coordinates=args.coordinates,
        tiling=tiling_options(args),
        slide_mpp=args.slide_mpp,
    )
    slides = list(dict.fromkeys(table["slide"].astype(str)))
    files = _geojson_files(args.annotations, slides)
    parts = []
    for slide, file in files.items():
        try:
            annotations = read_qupath_geojson(file)
        except (ValueError, OSError) as exc:
            raise CommandError(f"--annotations: {exc}") from exc
        _check_on_slide(annotations, slide, file)
        part = table[table["slide"].astype(str) == slide].copy()
        labels, cover = label_patches(
            part, annotations, min_overlap=args.min_overlap, return_cover=True
        )
        part["label"] = [label if label is not None else "" for label in labels]
        part["cover"] = np.round(cover, 4)
        parts.append(part)
    labeled = pd.concat(parts, ignore_index=True)
    n_labeled = int((labeled["label"] != "").sum())
    if n_labeled == 0:
        raise CommandError(
            f"no patch of {len(labeled)} is covered to --min-overlap {args.min_overlap:g} by an "
            "annotation; draw larger annotations, or lower --min-overlap"
        )
    if not args.keep_unlabeled:
        labeled = labeled[labeled["label"] != ""]
    with atomic_write(args.out, "w") as f:
        labeled.to_csv(f, index=False)
    counts = labeled.loc[labeled["label"] != "", "label"].value_counts().sort_index()
    per_class = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(
        f"wrote {len(labeled)} patches of {len(files)} slides to {args.out}: {n_labeled} "
        f"labeled ({per_class})"
    )
    return 0
