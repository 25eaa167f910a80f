"""Smoke run of benchmarks/bench_query.py --quick (timing part; the curves need the embedder)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_query.py"


def test_bench_query_quick_timing(tmp_path):
    pytest.importorskip("skactiveml")
    spec = importlib.util.spec_from_file_location("bench_query", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--quick", "--part", "timing", "--out", str(tmp_path)])
    summary = report["timing"]["summary"]
    # Same algorithm, same inputs: the same picks in the same order as scikit-activeml.
    assert summary["coreset"]["identical_order"] and summary["entropy"]["identical_order"]
    assert (tmp_path / "bench_query_quick.md").read_text().startswith("# bench_query (quick)")
