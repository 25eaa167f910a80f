"""Smoke run of the whole-slide benchmark's --quick mode."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow  # writes and tiles several slides and embeds their patches twice
def test_bench_slides_quick(monkeypatch, tmp_path, lc25000_dir):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_slides", None)
    bench = importlib.import_module("bench_slides")
    payload = bench.main(["--quick", "--out", str(tmp_path), "--data", str(lc25000_dir)])
    rates = payload["patches"]["patches_per_second"]
    assert payload["patches"]["patches"] > 0 and all(rate > 0 for rate in rates.values())
    assert [r["side_px"] for r in payload["tiler"]] == [s * 224 for s in bench.QUICK["tiler_sides"]]
    text = (tmp_path / "bench_slides_quick.md").read_text()
    assert text.startswith("# Whole-slide benchmarks") and "## Tiler" in text
