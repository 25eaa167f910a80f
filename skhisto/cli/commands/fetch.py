"""``skhisto fetch``: download (or unpack a local archive of) a public histology dataset."""

import os

from .._errors import CommandError
from .._outputs import announce, format_table

NAME = "fetch"
HELP = "download and unpack a public histology dataset"
DESCRIPTION = (
    "Download, verify (md5) and unpack a public H&E patch dataset into --dest, or unpack an "
    "archive already on disk (--archive); then list its classes."
)
EPILOG = """\
examples:
  skhisto fetch crc-val-he-7k --dest ~/skhisto_data
  skhisto fetch lc25000 --archive ~/Downloads/lung_colon_image_set.zip --part colon

datasets: nct-crc-he-100k (100,000 colorectal patches, 9 classes, 11.7 GB), crc-val-he-7k
(7,180 patches, 9 classes, 800 MB), lc25000 (lung and colon, 5 classes; no anonymous download:
get the zip from Kaggle or Academic Torrents and pass --archive).

--dest defaults to $SKHISTO_DATA_HOME, else ~/skhisto_data; a dataset already unpacked there is
not downloaded again. output: where the ImageFolder is, then images per class (class, n_images).
"""

#: DATASET -> name of its fetcher in skhisto.datasets.
FETCHERS = {
    "nct-crc-he-100k": "fetch_nct_crc_he_100k",
    "crc-val-he-7k": "fetch_crc_val_he_7k",
    "lc25000": "fetch_lc25000",
}


def add_arguments(parser):
    parser.add_argument(
        "dataset", metavar="DATASET", choices=sorted(FETCHERS), help=", ".join(FETCHERS)
    )
    parser.add_argument(
        "--dest", metavar="DIR", help="data home (default: $SKHISTO_DATA_HOME or ~/skhisto_data)"
    )
    parser.add_argument("--archive", metavar="FILE", help="a zip already downloaded")
    parser.add_argument(
        "--part", choices=("lung", "colon"), default="lung", help="lc25000 only (default: lung)"
    )


def run(args):
    import numpy as np

    from ... import datasets

    if args.part != "lung" and args.dataset != "lc25000":
        raise CommandError(f"--part is for lc25000, not {args.dataset}")
    if args.archive is not None and not os.path.isfile(args.archive):
        raise CommandError(f"--archive {args.archive!r} does not exist or is not a file")
    kwargs = {"part": args.part} if args.dataset == "lc25000" else {}
    try:
        home = datasets.get_data_home(args.dest)
    except OSError as exc:
        raise CommandError(f"cannot use --dest {args.dest!r}: {exc.strerror or exc}") from exc
    source = f" from {args.archive}" if args.archive else ""
    # Unpacking has no bar: say up front that the large archives take minutes.
    announce(
        NAME, f"{args.dataset} into {home}{source} (download, md5 check and unzip on first use)"
    )
    try:
        data = getattr(datasets, FETCHERS[args.dataset])(
            data_home=home, archive=args.archive, **kwargs
        )
    except datasets.DatasetUnavailableError as exc:  # say it in command-line words
        raise CommandError(str(exc).replace("pass archive=<path>", "pass --archive FILE")) from exc
    root = _folder_of(data)
    counts = np.bincount(data.target, minlength=len(data.target_names))
    rows = [
        {"class": name, "n_images": int(n)}
        for name, n in zip(data.target_names, counts, strict=True)
    ]
    print(f"{args.dataset}: {len(data.paths)} images in {root}")
    print(format_table(rows, ("class", "n_images")))
    return 0


def _folder_of(data):
    """The ImageFolder root: the folder common to all images, above the class folder if one."""
    common = os.path.commonpath(list(data.paths))
    return os.path.dirname(common) if len(data.target_names) == 1 else common
