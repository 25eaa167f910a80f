"""Smoke run of the scale-out benchmark's --quick mode, every section (about a minute)."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow  # fresh processes, a Dask LocalCluster and joblib workers, each importing torch
def test_bench_scale_quick(monkeypatch, tmp_path, lc25000_dir):
    pytest.importorskip("distributed")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_scale", None)
    bench = importlib.import_module("bench_scale")
    payload = bench.main(["--quick", "--out", str(tmp_path), "--data", str(lc25000_dir)])
    cache = payload["cache"]["results"]
    assert [r["entries"] for r in cache] == bench.QUICK["cache"]["sizes"]
    assert all(r["warm_seconds"] > 0 for r in cache)
    grid = payload["grid"]["results"]
    for label in ("n_jobs=1", "n_jobs=2, new workers", "n_jobs=2, workers up"):
        assert grid[f"{label} cache rows"] == grid["images"]  # each image embedded once
    assert payload["dask"]["results"]["largest difference of the outputs"] < 1e-5
    assert payload["coreset"]["results"]["distinct_picks"] == bench.QUICK["coreset"]["n_picks"]
    assert [r["backbone"] for r in payload["projection"]["results"]] == ["resnet18", "kaiko-vitb16"]
    assert payload["neighbors"]["results"]["recall@10"] >= 0.95
    knn = [r for r in payload["label_issues"]["results"] if r["data"] == "clusters"]
    assert [r["rows"] for r in knn] == bench.QUICK["label_issues"]["sizes"]
    assert abs(knn[0]["f1 difference"]) <= 0.01 and knn[-1]["f1"] > 0.9
    (overlapping,) = [r for r in payload["label_issues"]["results"] if r["data"] == "overlapping"]
    assert 0 < overlapping["f1 exact"] < 1  # classes that overlap: some flips are missed
    real = payload["recall_real"]["results"]
    recalls = [value for key, value in real.items() if key.endswith("recall@10")]
    assert len(recalls) == len(bench.QUICK["recall_real"]["nprobes"])
    assert recalls == sorted(recalls) and recalls[-1] > recalls[0]  # more cells, more found
    text = (tmp_path / "bench_scale_quick.md").read_text()
    assert text.startswith("# Scale-out benchmarks") and "## Projection" in text
    assert "## k-NN label issues" in text
