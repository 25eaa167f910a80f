"""``skhisto embed``: embed images with a backbone into a .npz, .parquet or Zarr store."""

import contextlib
import importlib.util
import os
import time

from .._backbone_options import BackboneOptions, add_backbone_arguments
from .._embeddings import EMBEDDING_FORMATS, paths_to_store
from .._errors import CommandError
from .._groups import add_groups_argument, pick_groups
from .._inputs import check_not_slides, read_input
from .._options import (
    add_input_argument,
    add_max_images_argument,
    add_per_class_argument,
    file_ending,
    positive_int,
    seed,
)
from .._outputs import announce, check_out_dir, check_out_file
from .._slides import add_slide_arguments, read_slides, tiling_options, wants_slides
from .._tracking_options import add_tracking_arguments, log_metrics, run_tracker

EPILOG = """\
examples:
  skhisto embed ../shared/data/lc25000_lung --backbone resnet18 --no-pretrained --out emb.npz
  skhisto embed ../shared/data/lc25000_lung --per-class 100 --backbone resnet18 --out emb.npz
  skhisto embed tiles.csv --backbone uni --out tiles.parquet
  skhisto embed tiles.csv --backbone uni --out tiles.zarr --workers 4
  skhisto embed tiles.csv --backbone uni --out /shared/tiles.zarr --scheduler tcp://host:8786

INPUT is a folder of class folders (<root>/<class>/<image>; labels are the class names), a flat
folder of images (no labels), or a CSV with a 'path' column and an optional 'label' column
(relative paths are read from the CSV's folder).

whole-slide images (needs skhisto[slides]): INPUT is a slide file (.svs, .ndpi, .mrxs, .tif, ...),
or, with --slides, a folder of slides, a folder of class folders of slides (slide labels), or a
CSV with a 'slide' column and an optional 'label' column. Each slide is tiled into tissue
patches of --patch-size pixels at --mpp microns per pixel (skhisto.slides.SlideTiler), or its
patches are read from TRIDENT's or CLAM's coordinate files (--coordinates, a .h5 file or a
folder of them, matched to slides by name). Regions are read from the slides; no patch file is
written. One row per patch: `paths` holds its slide, and the patch table's columns (slide, x,
y, level, size, mpp, tissue) are stored beside the embeddings.
  skhisto embed slides/ --slides --backbone uni --mpp 0.5 --out patches.npz
  skhisto embed slides/ --coordinates trident/patches --backbone uni --out p.npz

output: a .npz holds the arrays `embeddings` (float32, one row per image), `paths` (the files
read, str, absolute so that commands run in any folder find them) and `labels` (str; empty
strings when INPUT has no labels). A .parquet (needs pandas and pyarrow) holds the columns
`path`, `label`, then one float32 column per dimension, named <backbone>_0, <backbone>_1, ...
Rows are those of the Python API:
  FoundationEmbedder(NAME, weights=FILE, pretrained=..., image_size=N,
                     random_state=N).fit_transform(paths)
The file is written atomically: an interrupted run leaves no partial file, and the images it
embedded are in the cache (~/.cache/skhisto or $SKHISTO_CACHE; --no-cache turns it off), so
the same command again starts where it stopped.

groups: the patient or slide of each image (--groups; by default a CSV's 'group', 'patient'
or 'slide' column, and for slide patches their slide CSV's 'group' or 'patient' column, else
their slide) is stored with the embeddings (`groups` in a .npz or .zarr, a `group` column in a
.parquet), and the commands that split or compare images read it back:
  skhisto embed tiles/ --groups 'TCGA-..-....' --backbone uni --out tiles.npz
  skhisto noise-curve tiles.npz     # folds keep each patient's tiles together

A .zarr store (needs skhisto[scale]) holds the same arrays, `embeddings` in chunks of
--chunk-size rows, and is written chunk by chunk (skhisto.embedding.embed_dataset): run the
same command again after a crash and only the unfinished chunks are embedded. --workers N runs
the chunks on a local Dask cluster of N single-threaded workers; --scheduler ADDRESS on a
running Dask cluster, whose workers must see INPUT's files, the store and the cache at the same
paths. Both write a .zarr store only.
"""


NAME = "embed"
HELP = "embed images with a backbone into a .npz, .parquet or .zarr store"
DESCRIPTION = (
    "Embed every image of INPUT with a frozen backbone and write one row per image, with its "
    "path and label."
)


def add_arguments(parser):
    add_input_argument(parser, "INPUT", "image folder, class folders, CSV, or slides (--slides)")
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        type=file_ending(*EMBEDDING_FORMATS),
        help="output .npz, .parquet or .zarr (a chunked store, resumable)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=positive_int, metavar="N", help="embed on a local Dask cluster of N"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="embed on the Dask cluster at ADDRESS"
    )
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=1024,
        metavar="N",
        help="images per chunk (one task) of a .zarr store (default: 1024)",
    )
    add_per_class_argument(parser, classes="class folders, or a CSV's labels")
    add_max_images_argument(parser, of="images of INPUT")
    seed_help = "seed of a random init and of the --per-class and --max-images draws (default: 0)"
    parser.add_argument("--random-state", type=seed, default=0, metavar="N", help=seed_help)
    add_groups_argument(parser)
    add_backbone_arguments(parser)
    add_slide_arguments(parser)
    add_tracking_arguments(parser, "the rows, dimension and seconds written")


def _check_output(out, *, slides, workers, scheduler, chunk_size):
    """Refuse an output that cannot be written before any image is embedded."""
    if out.suffix.lower() == ".zarr" and slides:
        raise CommandError(
            f"--out {str(out)!r}: a .zarr store holds image files' embeddings; write the patches "
            "of slides to .npz or .parquet"
        )
    if out.suffix.lower() == ".zarr":
        missing = [m for m in ("zarr", "distributed") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(
                f"--out {str(out)!r}: a .zarr store needs {' and '.join(missing)}; "
                "pip install 'skhisto[scale]'"
            )
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {str(out)!r} is a file; name a .zarr folder")
        check_out_dir(out.parent, "--out", target=out)
        return
    if workers or scheduler or chunk_size != 1024:
        flag = "--workers" if workers else "--scheduler" if scheduler else "--chunk-size"
        raise CommandError(f"{flag} writes a chunked .zarr store: name --out something.zarr")
    if out.suffix.lower() == ".parquet":
        missing = [m for m in ("pandas", "pyarrow") if importlib.util.find_spec(m) is None]
        if missing:
            raise CommandError(
                f"--out {str(out)!r}: writing .parquet needs pandas and pyarrow; "
                f"pip install {' '.join(missing)}, or write .npz"
            )
    check_out_file(out, ".npz or .parquet")


def run(args):
    from ...embedding import embedding_provenance

    backbone = BackboneOptions.from_args(args)
    slides = wants_slides(args.input, args.slides, args.coordinates)
    cluster = {"workers": args.workers, "scheduler": args.scheduler}
    _check_output(args.out, slides=slides, chunk_size=args.chunk_size, **cluster)
    patches = None
    if slides and args.per_class is not None:
        raise CommandError("--per-class draws images of class folders, not patches of slides")
    if slides and args.max_images is not None:
        raise CommandError("--max-images draws images of INPUT, not patches of slides")
    if slides:
        patches, labels, kind, columns = read_slides(
            args.input,
            coordinates=args.coordinates,
            tiling=tiling_options(args),
            slide_mpp=args.slide_mpp,
        )
        X, paths = patches, patches["slide"].tolist()
        what = "patches"
    else:
        listing = read_input(
            args.input,
            max_per_class=args.per_class,
            random_state=args.random_state,
            max_images=args.max_images,
        )
        paths, labels, kind, columns = listing.paths, listing.labels, listing.kind, listing.columns
        check_not_slides(paths)
        X, what = paths, "images"
    groups = pick_groups(args.groups, columns=columns, paths=paths, source=args.input)
    run_tracker(NAME, args)  # --log-to: opened before any work
    start = time.perf_counter()
    embedder = backbone.make_embedder(verbose=True).fit(X)
    record = embedding_provenance(embedder)  # backbone, weights, preprocessing, when
    run_tracker(NAME, args, provenance=record)
    labels = labels if labels is not None else [""] * len(paths)
    summary = f"{len(paths)} {what} ({kind}{groups.clause()}) with {args.backbone}, "
    summary += backbone.describe_weights()
    stored = {} if groups.values is None else {"group": groups.values}
    if args.out.suffix.lower() == ".zarr":
        options = {"labels": labels, "groups": groups.values, "chunk_size": args.chunk_size}
        shape = _embed_to_zarr(paths, embedder, args.out, summary, cluster, **options)
    else:
        announce(NAME, summary)
        embeddings = embedder.transform(X)
        columns = {"path": paths_to_store(paths), "label": labels, **stored}
        if patches is not None:
            columns.update({name: patches[name].to_numpy() for name in patches.columns})
        if args.out.suffix.lower() == ".npz":
            _write_npz(args.out, embeddings, columns, record)
        else:
            names = embedder.get_feature_names_out()
            _write_parquet(args.out, embeddings, columns, names, record)
        shape = embeddings.shape
    seconds = time.perf_counter() - start
    log_metrics({"rows": shape[0], "dimension": shape[1], "seconds": seconds})
    print(f"wrote {shape[0]} x {shape[1]} embeddings to {args.out}")
    return 0


def _write_npz(out, embeddings, columns, record):
    import json

    import numpy as np

    from ...utils import atomic_write

    arrays = {"paths": columns.pop("path"), "labels": columns.pop("label"), **columns}
    if "group" in arrays:
        arrays["groups"] = arrays.pop("group")
    arrays = {
        k: np.asarray(v, dtype=str if k in ("paths", "labels", "groups", "slide") else None)
        for k, v in arrays.items()
    }
    with atomic_write(out) as f:
        np.savez(f, embeddings=embeddings, provenance=np.array(json.dumps(record)), **arrays)


def _write_parquet(out, embeddings, columns, names, record):
    import json

    import pandas as pd

    from ...embedding import PROVENANCE_KEY
    from ...utils import atomic_write

    frame = pd.concat(
        [pd.DataFrame(columns), pd.DataFrame(embeddings, columns=list(names))], axis=1
    )
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # another engine: the record rides in the frame's attrs
        frame.attrs[PROVENANCE_KEY.decode()] = json.dumps(record)
        with atomic_write(out) as f:
            frame.to_parquet(f, index=False)
        return
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), PROVENANCE_KEY: json.dumps(record).encode()}
    with atomic_write(out) as f:
        pq.write_table(table.replace_schema_metadata(metadata), f)


def _embed_to_zarr(paths, embedder, out, summary, cluster, **options):
    from ...embedding import embed_dataset, prepare_store

    # The store's paths are the ones its chunks read (on workers too) and readers show: absolute,
    # unless a store an older version began holds them as given, resumed as it is.
    paths = paths if _stored_as_given(out, paths) else paths_to_store(paths)
    try:  # a store made for other inputs is refused before a cluster starts
        prepare_store(paths, embedder, out, **options)
    except (ValueError, FileExistsError) as exc:
        raise CommandError(str(exc)) from exc
    with _dask_client(**cluster) as client:
        announce(NAME, summary)
        store = embed_dataset(paths, embedder, out, client=client, verbose=True, **options)
    return store["embeddings"].shape


def _stored_as_given(out, paths):
    """Whether the store at ``out`` holds ``paths`` as given, some relative (an older version's)."""
    from ...embedding import open_store

    given = [os.fspath(p) for p in paths]
    if all(os.path.isabs(p) for p in given) or not out.exists():
        return False
    try:
        return open_store(out)["paths"][:].tolist() == given
    except (OSError, ImportError):  # not a store: prepare_store says so
        return False


@contextlib.contextmanager
def _dask_client(workers=None, scheduler=None):
    """A Client for --workers / --scheduler (closed with the run), else None."""
    if not (workers or scheduler):
        yield None
        return
    from distributed import Client, LocalCluster

    if workers:
        kwargs = dict(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        with LocalCluster(**kwargs) as local, Client(local) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        message = f"--scheduler {scheduler!r}: no Dask scheduler answered ({exc})"
        raise CommandError(message) from exc
    with client:
        yield client
