"""Helpers shared by the benchmark scripts: data location, result files, machine info."""

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from skhisto.utils import atomic_write

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def data_root(path=None):
    """Shared H&E data: ``--data``, ``$SKHISTO_DATA`` or ``../shared/data``."""
    root = Path(path or os.environ.get("SKHISTO_DATA") or ROOT.parent / "shared" / "data")
    if not root.is_dir():
        raise SystemExit(f"data folder not found: {root} (pass --data or set SKHISTO_DATA)")
    return root


def machine():
    """What the figures were measured on."""
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor()
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device or platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_results(name, payload, table):
    """Write ``<name>.json`` and ``<name>.md`` under benchmarks/results and print the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {**payload, "machine": machine()}
    write_text(RESULTS / f"{name}.json", json.dumps(payload, indent=2, default=str) + "\n")
    write_text(RESULTS / f"{name}.md", table + "\n")
    print(table)
    print(f"\nwritten to {RESULTS / name}.json and .md")


def write_text(path, text):
    """Write ``text`` to ``path`` atomically (a killed run never leaves half a result file)."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return path


def markdown_table(header, rows):
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
