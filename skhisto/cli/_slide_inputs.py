"""What ``skhisto embed --slides`` reads: slides (tiled here) or TRIDENT/CLAM coordinate files."""

import csv
import os
from pathlib import Path

from ._errors import CommandError, positive_int

#: Extensions of the whole-slide formats OpenSlide reads.
SLIDE_EXTENSIONS = (
    *(".svs", ".ndpi", ".mrxs", ".scn", ".bif", ".vms", ".vmu", ".svslide"),
    *(".tif", ".tiff", ".dcm"),
)


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
    group.add_argument("--mpp", type=float, default=0.5, help="patch microns per pixel (0.5)")
    group.add_argument(
        "--patch-size", type=positive_int, default=224, metavar="N", help="patch side (224)"
    )
    group.add_argument(
        "--min-tissue", type=float, default=0.5, metavar="F", help="least tissue share (0.5)"
    )
    group.add_argument(
        "--slide-mpp", type=float, metavar="F", help="level-0 mpp of slides that lack it"
    )


def wants_slides(args):
    """Whether INPUT is read as slides: asked for, or a single file that can only be a slide."""
    source = Path(args.input)
    single = source.is_file() and source.suffix.lower() in SLIDE_EXTENSIONS
    return args.slides or args.coordinates is not None or single


def read_slides(args):
    """The patch table of INPUT's slides, one label per patch (None: unlabelled), and a summary."""
    slides, labels = _list_slides(Path(args.input))
    try:
        table = _coordinates(args, slides) if args.coordinates else _tile(args, slides)
    except (ValueError, OSError, ImportError) as exc:
        raise CommandError(str(exc)) from exc
    if len(table) == 0:
        raise CommandError(
            f"no patches: no tissue covers --min-tissue {args.min_tissue} of a "
            f"{args.patch_size} px patch at {args.mpp} mpp in {len(slides)} slide(s)"
        )
    by_slide = dict(zip(slides, labels, strict=True)) if labels is not None else None
    patch_labels = None if by_slide is None else [by_slide[s] for s in table["slide"]]
    kind = f"patches of {len(slides)} slides"
    return table, patch_labels, kind


def _tile(args, slides):
    from ..slides import SlideTiler

    if not 0 <= args.min_tissue <= 1:
        raise ValueError(f"--min-tissue must be between 0 and 1; got {args.min_tissue}")
    tiler = SlideTiler(
        patch_size=args.patch_size,
        mpp=args.mpp,
        min_tissue=args.min_tissue,
        slide_mpp=args.slide_mpp,
    )
    try:
        return tiler.tile(slides)
    except Exception as exc:  # InvalidParameterError names the parameter, not the option
        if type(exc).__name__ == "InvalidParameterError":
            raise ValueError(f"{exc} (options --mpp, --patch-size, --slide-mpp)") from exc
        raise


def _coordinates(args, slides):
    import pandas as pd

    from ..slides import read_coordinates

    source = Path(args.coordinates)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*.h5") if not p.name.startswith("."))
    elif source.is_file():
        files = [source]
    else:
        raise ValueError(f"--coordinates {args.coordinates!r} does not exist")
    if not files:
        raise ValueError(f"--coordinates folder {args.coordinates!r} holds no .h5 files")
    by_name = {Path(s).name.split(".")[0]: s for s in slides}
    tables = []
    for file in files:
        name = file.name.split(".")[0].removesuffix("_patches")
        if name in by_name:
            tables.append(read_coordinates(file, slide=by_name[name], slide_mpp=args.slide_mpp))
    if not tables:
        raise ValueError(
            f"no coordinate file of --coordinates {args.coordinates!r} names a slide of INPUT "
            f"(files like {files[0].name!r}; slides like {next(iter(by_name))!r})"
        )
    return pd.concat(tables, ignore_index=True)


def _list_slides(source):
    """Slide paths of INPUT and their labels (None when INPUT gives none)."""
    if not source.exists():
        raise CommandError(f"INPUT {str(source)!r} does not exist")
    if source.is_file() and source.suffix.lower() == ".csv":
        return _read_slide_csv(source)
    if source.is_file():
        return [os.fspath(source)], None
    entries = sorted(p for p in source.iterdir() if not p.name.startswith("."))
    classes = [p for p in entries if p.is_dir() and _slides_in(p)]
    if classes:
        pairs = [(os.fspath(s), c.name) for c in classes for s in _slides_in(c)]
        return [s for s, _ in pairs], [label for _, label in pairs]
    slides = _slides_in(source)
    if not slides:
        raise CommandError(
            f"INPUT folder {str(source)!r} holds no slides ({', '.join(SLIDE_EXTENSIONS)})"
        )
    return [os.fspath(s) for s in slides], None


def _slides_in(folder):
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in SLIDE_EXTENSIONS
    )


def _read_slide_csv(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"cannot read CSV {str(path)!r}: {exc}") from exc
    if not rows or "slide" not in rows[0]:
        columns = list(rows[0]) if rows else []
        raise CommandError(
            f"CSV {str(path)!r} lists no slides: it needs a 'slide' column (columns: {columns})"
        )
    slides = []
    for number, row in enumerate(rows, start=2):
        value = (row["slide"] or "").strip()
        full = value if os.path.isabs(value) else os.path.join(path.parent, value)
        if not value or not os.path.isfile(full):
            raise CommandError(f"CSV {str(path)!r} line {number}: no slide file {value!r}")
        slides.append(full)
    labels = [(row.get("label") or "").strip() for row in rows] if "label" in rows[0] else None
    return slides, labels
