"""Plumbing shared by every benchmark script: arguments, data location, result files, machine info.

One meaning of ``--quick`` everywhere (:data:`QUICK_HELP`), one data location
(:func:`data_root`, :func:`lc25000_root`) and one results writer
(:func:`write_results`).
"""

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from skhisto.utils import atomic_write

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "results"

QUICK_HELP = (
    "smoke run: tiny sizes, seconds to a minute on a CPU; checks the script end to end, "
    "its figures mean nothing; writes <name>_quick.* to --out, never to docs/results"
)


def add_common_arguments(parser):
    """Add ``--quick``, ``--data`` and ``--out``, which every benchmark takes, to ``parser``."""
    parser.add_argument("--quick", action="store_true", help=QUICK_HELP)
    parser.add_argument(
        "--data",
        default=None,
        help="the shared data folder (holding lc25000_lung) or an ImageFolder root "
        "(default: $SKHISTO_DATA, else ../shared/data)",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for the result files (%(default)s)"
    )
    return parser


def data_root(path=None):
    """Shared H&E data: ``--data``, ``$SKHISTO_DATA`` or ``../shared/data``."""
    root = Path(path or os.environ.get("SKHISTO_DATA") or ROOT.parent / "shared" / "data")
    if not root.is_dir():
        raise SystemExit(f"data folder not found: {root} (pass --data or set SKHISTO_DATA)")
    return root


def lc25000_root(path=None):
    """The LC25000 lung folder of the shared data, or ``path`` itself if it is an ImageFolder."""
    root = data_root(path)
    return root / "lc25000_lung" if (root / "lc25000_lung").is_dir() else root


def machine():
    """What the figures were measured on."""
    import torch  # only here: the other helpers serve benchmarks that do not need it

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device or platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(name, payload, table, *, out=None, quick=False, docs=False, plot=None):
    """Write a benchmark's results, print its table and return the JSON path.

    ``<name>.json`` (the payload and :func:`machine`) goes to ``out``
    (benchmarks/results); ``<name>.md`` and the optional ``plot(path)`` png go
    next to it, or to docs/results when ``docs`` (published figures). A quick
    run is ``<name>_quick`` and never goes to docs/results.
    """
    out = Path(out or RESULTS)
    name = result_stem(name, quick)
    pages = DOCS if docs and not quick else out
    json_path = write_text(
        out / f"{name}.json",
        json.dumps({"machine": machine(), **payload}, indent=2, default=_jsonable) + "\n",
    )
    write_text(pages / f"{name}.md", table + "\n")
    if plot is not None:
        plot(pages / f"{name}.png")
    print(table)
    print(f"\nwritten to {json_path} and {pages / name}.md")
    return json_path


def result_stem(name, quick):
    """The file name stem of a run's results: ``<name>_quick`` for a quick run."""
    return f"{name}_quick" if quick else name


def _jsonable(value):
    """NumPy scalars and arrays as numbers and lists; anything else as its string."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (a killed run never leaves half a result file)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        f.write(text)
    return path


def markdown_table(header, rows):
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _status_mb(field):
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``...) in MB, or None."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb():
    """The process's resident set now, in MB (Linux; NaN elsewhere)."""
    value = _status_mb("VmRSS")
    return float("nan") if value is None else value


def peak_rss_mb():
    """The process's peak resident set since it started or :func:`reset_peak_rss`, in MB."""
    value = _status_mb("VmHWM")
    if value is not None:
        return value
    import resource  # not Linux: the lifetime peak (``ru_maxrss`` is KiB on Linux, bytes on macOS)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss():
    """Restart the peak-RSS mark (Linux), so the next :func:`peak_rss_mb` is one step's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
