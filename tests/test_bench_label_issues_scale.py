"""Smoke run of the label-issue scale benchmark's --quick mode (synthetic, seconds)."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow  # spawns a fresh process per size, each importing torch
def test_bench_label_issues_scale_quick(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_label_issues_scale", None)
    bench = importlib.import_module("bench_label_issues_scale")
    payload = bench.main(["--quick", "--out", str(tmp_path)])
    sizes = [r["n"] for r in payload["results"]]
    assert sizes == bench.QUICK["sizes"]
    for result in payload["results"]:
        # Separable synthetic classes: the detector finds the flips, in measured time and memory.
        assert result["f1"] > 0.9
        assert result["seconds"] > 0
        assert 0 <= result["rss_increase_mb"] <= result["peak_rss_mb"]
    assert (tmp_path / "bench_label_issues_scale_quick.md").exists()
