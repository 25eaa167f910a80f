"""What ``skhisto embed --slides`` reads: slides (tiled here) or TRIDENT/CLAM coordinate files."""

import os
from pathlib import Path

from ..utils import warn
from ._errors import CommandError
from ._inputs import SLIDE_EXTENSIONS, read_csv_rows, refuse_repeats
from ._options import non_negative_int, positive_float, positive_int, share

#: The SlideTiler parameters the tiling options set (its defaults when not given);
#: --coordinates takes its patches as they are.
TILING = ("mpp", "patch_size", "overlap", "min_tissue")


def add_slide_arguments(parser):
    group = parser.add_argument_group("whole-slide images")
    group.add_argument(
        "--slides",
        action="store_true",
        help="INPUT is a folder of slides (class folders give slide labels) or a CSV with a "
        "'slide' column (and an optional 'label'); implied by an INPUT slide file",
    )
    group.add_argument(
        "--coordinates",
        metavar="PATH",
        help="TRIDENT or CLAM patch-coordinate .h5 file, or a folder of them, instead of tiling",
    )
    for flag, kind, metavar, text in (
        ("--mpp", positive_float, "F", "patch microns per pixel"),
        ("--patch-size", positive_int, "N", "patch side in pixels"),
        ("--overlap", non_negative_int, "N", "pixels shared by neighbors"),
        ("--min-tissue", share, "F", "least tissue share of a patch"),
    ):
        action = group.add_argument(
            flag, type=kind, metavar=metavar, help=f"{text} (default: %(tiler_default)s)"
        )
        action.tiler_default = _TilerDefault(action.dest)
    group.add_argument(
        "--slide-mpp", type=positive_float, metavar="F", help="level-0 mpp of slides that lack it"
    )


class _TilerDefault:
    """SlideTiler's default of one parameter, read when --help is shown (not duplicated here)."""

    def __init__(self, name):
        self.name = name

    def __str__(self):
        import inspect

        from ..slides import SlideTiler

        return str(inspect.signature(SlideTiler).parameters[self.name].default)


def tiling_options(args):
    """The tiling options given on the command line, by SlideTiler parameter."""
    return {name: getattr(args, name) for name in TILING if getattr(args, name) is not None}


#: The columns of a CSV patch table (as `skhisto qupath import` writes), read as slide patches.
PATCH_TABLE_COLUMNS = ("slide", "x", "y", "level", "size")


def wants_slides(source, slides, coordinates):
    """Whether INPUT is read as slides: asked for, a single file that can only be a slide, or
    a CSV patch table (slide, x, y, level, size columns)."""
    source = Path(source)
    single = source.is_file() and source.suffix.lower() in SLIDE_EXTENSIONS
    return slides or coordinates is not None or single or is_patch_table_csv(source)


def is_patch_table_csv(source):
    """Whether ``source`` is a CSV whose header holds a patch table's columns."""
    if not (source.is_file() and source.suffix.lower() == ".csv"):
        return False
    try:
        with open(source, newline="", encoding="utf-8-sig") as f:
            header = {name.strip() for name in f.readline().split(",")}
    except (OSError, UnicodeDecodeError):
        return False  # said by the CSV reader, in its words
    return set(PATCH_TABLE_COLUMNS) <= header


def read_slides(source, *, coordinates=None, tiling=None, slide_mpp=None):
    """The patch table of INPUT's slides, one label per patch (None: unlabeled), a summary,
    and per-patch columns: ``slide``, and a slide CSV's other columns (e.g. ``patient``).

    ``tiling``: the SlideTiler parameters given (the others keep its defaults).
    """
    tiling = tiling or {}
    given = [f"--{name.replace('_', '-')}" for name in tiling]
    if coordinates and given:
        raise CommandError(
            f"{', '.join(given)} set how slides are tiled, but --coordinates gives the patches; "
            "pass one or the other"
        )
    if is_patch_table_csv(Path(source)):
        if coordinates or given:
            raise CommandError(
                f"INPUT {str(source)!r} is a patch table (slide, x, y, level, size): it gives "
                f"the patches, so {', '.join(given) or '--coordinates'} cannot apply"
            )
        return _read_patch_table(Path(source))
    slides, labels, per_slide = _list_slides(Path(source))
    try:
        if coordinates:
            table = _coordinates(coordinates, slides, slide_mpp)
        else:
            table = _tile(tiling, slides, slide_mpp)
    except (ValueError, OSError, ImportError) as exc:
        raise CommandError(str(exc).replace("slide_mpp", "--slide-mpp")) from exc
    if len(table) == 0:
        raise CommandError(f"no patches in {_count(len(slides), 'slide')} (see the warning)")
    by_slide = dict(zip(slides, labels, strict=True)) if labels is not None else None
    patch_labels = None if by_slide is None else [by_slide[s] for s in table["slide"]]
    kind = f"patches of {_count(len(slides), 'slide')}"
    maps = {name: dict(zip(slides, values, strict=True)) for name, values in per_slide.items()}
    columns = {name: [by[s] for s in table["slide"]] for name, by in maps.items()}
    columns["slide"] = table["slide"].astype(str).tolist()
    return table, patch_labels, kind, columns


def _read_patch_table(path):
    """A CSV patch table (as `skhisto qupath import` writes): its patches, labels (the
    ``label`` column, if any), kind, and its other columns by name."""
    import pandas as pd

    from ..slides import check_patch_table

    columns, rows = read_csv_rows(path)
    if not rows:
        raise CommandError(f"CSV {str(path)!r} lists no patches")
    table = pd.DataFrame(rows, columns=columns)
    try:
        for name in PATCH_TABLE_COLUMNS[1:]:
            table[name] = pd.to_numeric(table[name], errors="raise").astype("int64")
    except ValueError as exc:
        message = f"CSV {str(path)!r}: column {name!r} holds a non-integer: {exc}"
        raise CommandError(message) from exc
    table["slide"] = [
        value if os.path.isabs(value) else os.path.join(path.parent, value)
        for value in table["slide"].astype(str).str.strip()
    ]
    try:
        check_patch_table(table)
    except (ValueError, OSError) as exc:
        raise CommandError(f"CSV {str(path)!r}: {exc}") from exc
    labels = None
    if "label" in columns:
        labels = table["label"].fillna("").astype(str).str.strip().tolist()
    others = {
        name: table[name].fillna("").astype(str).tolist()
        for name in columns
        if name and name not in (*PATCH_TABLE_COLUMNS, "label")
    }
    others["slide"] = table["slide"].tolist()
    n_slides = table["slide"].nunique()
    kept = [*PATCH_TABLE_COLUMNS, *(c for c in ("mpp", "tissue") if c in columns)]
    for name in kept[len(PATCH_TABLE_COLUMNS) :]:
        table[name] = pd.to_numeric(table[name], errors="coerce")
    patches = table[kept].reset_index(drop=True)
    return patches, labels, f"patch table of {_count(n_slides, 'slide')}", others


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _tile(tiling, slides, slide_mpp):
    from ..slides import SlideTiler

    tiler = SlideTiler(**tiling, slide_mpp=slide_mpp)
    overlap, patch_size = tiler.overlap, tiler.patch_size
    if overlap >= patch_size:
        raise ValueError(f"--overlap {overlap} must be smaller than --patch-size {patch_size}")
    return tiler.tile(slides)


def _coordinates(coordinates, slides, slide_mpp):
    import pandas as pd

    from ..slides import read_coordinates

    source = Path(coordinates)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*.h5") if not p.name.startswith("."))
    elif source.is_file():
        files = [source]
    else:
        raise ValueError(f"--coordinates {coordinates!r} does not exist")
    if not files:
        raise ValueError(f"--coordinates folder {coordinates!r} holds no .h5 files")
    by_name = {Path(s).name.split(".")[0]: s for s in slides}
    tables, unmatched = [], []
    for file in files:
        name = file.name.split(".")[0].removesuffix("_patches")
        if name in by_name:
            tables.append(read_coordinates(file, slide=by_name.pop(name), slide_mpp=slide_mpp))
        else:
            unmatched.append(file.name)
    if not tables:
        raise ValueError(
            f"no coordinate file of --coordinates {coordinates!r} names a slide of INPUT "
            f"(files like {files[0].name!r}; slides like {Path(slides[0]).name!r})"
        )
    if by_name or unmatched:  # said, never skipped in silence
        warn(
            f"{_count(len(by_name), 'slide')} of INPUT without a coordinates file (e.g. "
            f"{next(iter(by_name), '-')!r}) and {_count(len(unmatched), 'coordinates file')} "
            f"without a slide (e.g. {next(iter(unmatched), '-')!r}) are left out",
            UserWarning,
        )
    return pd.concat(tables, ignore_index=True)


def _list_slides(source):
    """Slide paths of INPUT, their labels (None when INPUT gives none) and a slide CSV's
    other columns (name: one str per slide)."""
    if not source.exists():
        raise CommandError(f"INPUT {str(source)!r} does not exist")
    if source.is_file() and source.suffix.lower() == ".csv":
        return _read_slide_csv(source)
    if source.is_file():
        return [os.path.abspath(source)], None, {}
    entries = sorted(p for p in source.iterdir() if not p.name.startswith("."))
    classes = [p for p in entries if p.is_dir() and _slides_in(p)]
    if classes:
        pairs = [(os.path.abspath(s), c.name) for c in classes for s in _slides_in(c)]
        return [s for s, _ in pairs], [label for _, label in pairs], {}
    slides = _slides_in(source)
    if not slides:
        raise CommandError(
            f"INPUT folder {str(source)!r} holds no slides ({', '.join(SLIDE_EXTENSIONS)})"
        )
    return [os.path.abspath(s) for s in slides], None, {}


def _slides_in(folder):
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SLIDE_EXTENSIONS
    )


def _read_slide_csv(path):
    columns, rows = read_csv_rows(path)
    if not rows or "slide" not in columns:
        raise CommandError(
            f"CSV {str(path)!r} lists no slides: it needs a 'slide' column (columns: {columns})"
        )
    slides = []
    labeled = "label" in columns
    for number, row in enumerate(rows, start=2):
        value = (row["slide"] or "").strip()
        full = os.path.abspath(os.path.join(path.parent, value))  # an absolute value stays
        if not value or not os.path.isfile(full):
            raise CommandError(f"CSV {str(path)!r} line {number}: no slide file {value!r}")
        if labeled and not (row.get("label") or "").strip():
            raise CommandError(f"CSV {str(path)!r} line {number}: slide {value!r} has no label")
        slides.append(full)
    refuse_repeats(path, slides, "slide")
    labels = [row["label"].strip() for row in rows] if labeled else None
    others = {
        name: [(row.get(name) or "").strip() for row in rows]
        for name in columns
        if name and name not in ("slide", "label")
    }
    return slides, labels, others
