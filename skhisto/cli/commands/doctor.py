"""``skhisto doctor``: check the environment: torch and its device, optional readers, the cache,
Hugging Face Hub access and token, and which registry weights are on this machine."""

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

from .._backbone_options import default_cache_dir

NAME = "doctor"
HELP = "check the environment: device, threads, OpenSlide, Dask/Zarr, tracking, cache, Hub, weights"
DESCRIPTION = (
    "Check what skhisto needs and can use here, one line per check (ok, warn or missing, and "
    "a hint): torch and its device (CUDA, MPS), the thread count, OpenSlide, Dask and Zarr, "
    "Parquet, TensorBoard and MLflow (--log-to), the review page, "
    "the embedding cache (location, free space, permissions), Hugging Face Hub access and "
    "token, and which registry backbones have their weights on this machine. Nothing is "
    "downloaded; the Hub is asked once, with a short timeout."
)
EPILOG = """\
examples:
  skhisto doctor
  skhisto doctor --offline --cache /shared/lab/skhisto-cache
  skhisto doctor --json

exit status: 0 unless something required is broken (torch or timm does not import:
status "error"); warn and missing lines are advice.

The checks are, in Python:
  torch.cuda.is_available(), torch.backends.mps.is_available(), torch.get_num_threads()
  importlib.util.find_spec("openslide"), ..."dask", "distributed", "zarr", "pyarrow",
  ..."tensorboard", "mlflow" (--log-to), "starlette", "uvicorn" (skhisto review)
  shutil.disk_usage(CACHE), os.access(CACHE, os.W_OK)
  huggingface_hub.get_token()      # the token is never printed
  huggingface_hub.try_to_load_from_cache(HUB_ID, FILE) for each row of
  skhisto.backbones.list_backbones(as_frame=False) with a hub_id (a URL entry: torch's hub
  checkpoints folder)
The Hub check sends one HEAD request to the Hub's endpoint (--timeout seconds; --offline or
HF_HUB_OFFLINE=1 skip it) and says "offline" when it does not answer.
"""

OK, WARN, MISSING, ERROR = "ok", "warn", "missing", "error"
LOW_SPACE_GB = 5


def add_arguments(parser):
    parser.add_argument(
        "--cache", metavar="DIR", help=f"cache directory (default: {default_cache_dir()})"
    )
    parser.add_argument("--offline", action="store_true", help="do not try to reach the Hub")
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="S",
        help="seconds to wait for the Hub (default: 3)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")


def _check(name, status, detail, hint=""):
    return {"check": name, "status": status, "detail": detail, "hint": hint}


def _torch():
    try:
        import torch
    except ImportError as exc:
        return None, [_check("torch", ERROR, str(exc), "pip install torch (skhisto needs it)")]
    found = [_check("torch", OK, f"torch {torch.__version__}")]
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if cuda:
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        found.append(_check("device", OK, f"CUDA {torch.version.cuda}: {', '.join(names)}"))
    elif mps:
        found.append(_check("device", OK, "Apple MPS"))
    else:
        built = f"torch built for CUDA {torch.version.cuda}" if torch.version.cuda else "CPU torch"
        found.append(
            _check(
                "device",
                WARN,
                f"CPU only: no CUDA or MPS device ({built})",
                "embedding thousands of tiles is slow on a CPU; run on a GPU machine "
                "(the cache shares its embeddings)",
            )
        )
    return torch, found


def _threads(torch):
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    omp = os.environ.get("OMP_NUM_THREADS")
    threads = torch.get_num_threads() if torch is not None else None
    detail = f"{threads} torch threads, {cpus} CPUs available" + (
        f", OMP_NUM_THREADS={omp}" if omp else ""
    )
    if threads is not None and cpus and threads > cpus:
        hint = f"set OMP_NUM_THREADS={cpus}: more threads than CPUs slows every fit"
        return _check("threads", WARN, detail, hint)
    return _check("threads", OK, detail)


def _installed_version(module):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return getattr(sys.modules.get(module), "__version__", "?")


def _module(name, modules, hint, *, missing=MISSING):
    """Installed or not, by their metadata: none is imported (Dask's import takes seconds)."""
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        return _check(name, missing, f"{', '.join(absent)} not installed", hint)
    return _check(name, OK, ", ".join(f"{m} {_installed_version(m)}" for m in modules))


def _tracking():
    """--log-to's backends (the ``tracking`` extra): TensorBoard and MLflow, each optional."""
    versions = {}
    for backend, module, dists in (
        ("tensorboard", "tensorboard", ["tensorboard"]),
        ("mlflow", "mlflow", ["mlflow", "mlflow-skinny"]),
    ):
        if importlib.util.find_spec(module) is not None:
            versions[backend] = next(
                (f"{d} {v}" for d in dists if (v := _installed_version(d)) != "?"), module
            )
    hint = "pip install 'skhisto[tracking]' for --log-to tensorboard|mlflow"
    if not versions:
        return _check("tracking", MISSING, "tensorboard, mlflow not installed", hint)
    absent = [b for b in ("tensorboard", "mlflow") if b not in versions]
    detail = ", ".join(versions.values())
    if absent:
        return _check("tracking", OK, f"{detail}; no {absent[0]}", hint)
    return _check("tracking", OK, detail)


def _openslide():
    hint = "pip install 'skhisto[slides]' to read whole-slide images"
    if importlib.util.find_spec("openslide") is None:
        return _check("openslide", MISSING, "openslide-python not installed", hint)
    try:  # imported: the C library is found only then
        import openslide
    except Exception as exc:
        return _check("openslide", WARN, f"openslide does not import: {exc}", hint)
    library = getattr(openslide, "__library_version__", "?")
    return _check("openslide", OK, f"openslide-python {openslide.__version__}, library {library}")


def _nearest_existing(path):
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _cache(root):
    root = Path(root).expanduser()
    exists = root.is_dir()
    where = _nearest_existing(root)
    writable = os.access(where, os.W_OK | os.X_OK)
    free = shutil.disk_usage(where).free / 2**30
    caches = [p for p in root.glob("*/fingerprint.json")] if exists else []
    detail = (
        f"{root} ({'exists' if exists else 'not created yet'}, "
        f"{'writable' if writable else 'read-only'}, {free:,.1f} GB free, "
        f"{len(caches)} backbone fingerprints)"
    )
    if not writable:
        hint = "read-only: it serves what it holds; pass --cache DIR or set SKHISTO_CACHE"
        return _check("cache", WARN, detail, hint)
    if exists and (root.stat().st_mode & 0o1002) == 0o002:
        return _check("cache", WARN, detail, "writable by every user: chmod o-w it")
    if free < LOW_SPACE_GB:
        hint = f"under {LOW_SPACE_GB} GB free; a cohort's embeddings can take more"
        return _check("cache", WARN, detail, hint)
    return _check("cache", OK, detail)


def _token():
    try:
        from huggingface_hub import get_token
    except ImportError:
        return _check("hub token", MISSING, "huggingface_hub not installed", "pip install it")
    source = "HF_TOKEN" if os.environ.get("HF_TOKEN") else "huggingface-cli login"
    if get_token():  # never printed
        return _check("hub token", OK, f"a token is set (from {source})")
    return _check(
        "hub token",
        WARN,
        "no token",
        "gated backbones (uni, virchow2, ...) need `huggingface-cli login` or HF_TOKEN, after "
        "accepting their terms",
    )


def _hub_reachable(endpoint, timeout):
    """Whether the Hub's endpoint answers an HTTPS request within ``timeout`` seconds."""
    import threading
    import urllib.error
    import urllib.request

    answer = {}

    def ask():
        request = urllib.request.Request(endpoint, method="HEAD")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                answer["ok"] = True
        except urllib.error.HTTPError:  # an HTTP answer, even an error, is the Hub answering
            answer["ok"] = True
        except (OSError, ValueError) as exc:
            answer["error"] = getattr(exc, "reason", exc)

    thread = threading.Thread(target=ask, daemon=True)  # DNS has no timeout of its own
    thread.start()
    thread.join(timeout)
    return answer.get("ok", False), answer.get("error", f"no answer in {timeout:g} s")


def _hub(offline, timeout):
    from huggingface_hub import constants

    endpoint = constants.ENDPOINT
    if offline or constants.HF_HUB_OFFLINE:
        why = "--offline" if offline else "HF_HUB_OFFLINE is set"
        return _check("hub access", WARN, f"offline ({why})", "only cached weights load")
    ok, error = _hub_reachable(endpoint, timeout)
    if ok:
        return _check("hub access", OK, f"{endpoint} answers")
    return _check(
        "hub access",
        WARN,
        f"offline: {endpoint} unreachable ({error})",
        "weights in the hub cache still load; elsewhere download them and pass --weights FILE, "
        "or set HF_HUB_OFFLINE=1",
    )


def _hub_files(row):
    """The cached weight file (or snapshot folder) of a Hub entry, or None."""
    from huggingface_hub import constants, try_to_load_from_cache

    for filename in row.get("weight_files") or ():
        found = try_to_load_from_cache(row["hub_id"], filename)
        if isinstance(found, str):
            return found
    snapshots = Path(constants.HF_HUB_CACHE, f"models--{row['hub_id'].replace('/', '--')}")
    snapshots = snapshots / "snapshots"
    if row.get("loader") == "transformers" and snapshots.is_dir() and any(snapshots.iterdir()):
        return str(snapshots)
    return None


def _weights():
    from urllib.parse import urlparse

    import torch

    from ...backbones import get_backbone_info, list_backbones

    found = []
    for row in list_backbones(as_frame=False):
        info = get_backbone_info(row["name"])
        name = f"weights {row['name']}"
        if info.hub_id:
            local = _hub_files({**row, "weight_files": info.weight_files})
            gated = " (gated: accept its terms, log in)" if info.gated else ""
            if local:
                found.append(_check(name, OK, f"in the hub cache: {local}"))
            else:
                hint = f"downloaded from {info.hub_id} on first use{gated}, or --weights FILE"
                found.append(_check(name, MISSING, "not in the hub cache", hint))
        elif info.url:
            target = Path(torch.hub.get_dir()) / "checkpoints" / Path(info.url).name
            if target.is_file():
                found.append(_check(name, OK, f"in torch's hub cache: {target}"))
            else:
                host = urlparse(info.url).hostname
                hint = f"downloaded from {host} on first use, or --weights FILE"
                found.append(_check(name, MISSING, "not downloaded", hint))
        else:
            hint = "its authors share it by request: pass --weights FILE"
            found.append(_check(name, MISSING, "no public download", hint))
    return found


def _checks(args):
    torch, found = _torch()
    found.append(_threads(torch))
    found.append(_module("timm", ["timm"], "pip install timm (skhisto needs it)", missing=ERROR))
    found.append(_openslide())
    found.append(
        _module("dask/zarr", ["dask", "distributed", "zarr"], "pip install 'skhisto[scale]'")
    )
    found.append(_module("parquet", ["pyarrow"], "pip install pyarrow to write and read .parquet"))
    found.append(_tracking())
    found.append(
        _module(
            "review page",
            ["starlette", "uvicorn"],
            "pip install 'skhisto[review]' for skhisto review",
        )
    )
    found.append(_cache(args.cache or default_cache_dir()))
    found.append(_token())
    found.append(_hub(args.offline, args.timeout))
    if torch is not None:
        try:
            found += _weights()
        except ImportError as exc:  # the registry needs timm, reported above
            found.append(_check("weights", ERROR, f"the registry does not load: {exc}"))
    return found


def run(args):
    from ... import __version__

    found = _checks(args)
    broken = [c for c in found if c["status"] == ERROR]
    if args.json:
        print(json.dumps(found, indent=2))
        return 1 if broken else 0
    python = ".".join(map(str, sys.version_info[:3]))
    print(f"skhisto {__version__}, Python {python}, {sys.platform}")
    width = max(len(c["check"]) for c in found)
    for c in found:
        hint = f"  (hint: {c['hint']})" if c["hint"] else ""
        print(f"{c['status']:<8}{c['check']:<{width}}  {c['detail']}{hint}")
    counts = {s: sum(c["status"] == s for c in found) for s in (OK, WARN, MISSING, ERROR)}
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return 1 if broken else 0
