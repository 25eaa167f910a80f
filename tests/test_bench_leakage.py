"""Smoke run of the leakage benchmark's --quick mode."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow  # embeds a few dozen tiles and cross-validates two heads four ways
def test_bench_leakage_quick(monkeypatch, tmp_path, lc25000_dir):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_leakage", None)
    bench = importlib.import_module("bench_leakage")
    payload = bench.main(["--quick", "--out", str(tmp_path), "--data", str(lc25000_dir)])
    assert {(r["labels"], r["head"]) for r in payload["rows"]} == {
        (labels, head)
        for labels in ("tissue", "random per patient")
        for head in ("LinearHead", "5-NN")
    }
    assert all(0 <= r[key] <= 1 for r in payload["rows"] for key in ("patch", "grouped"))
    assert (tmp_path / "bench_leakage_quick.md").read_text().startswith("# Leakage")


def test_patients_keep_one_class_and_one_stain(lc25000_dir, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench_leakage")
    images, tissue, groups, names = bench.patients(
        lc25000_dir, patients_per_class=3, per_patient=2, random_state=0
    )
    assert len(images) == 18 and len(set(groups)) == 9
    for patient in set(groups):
        assert len(set(tissue[groups == patient])) == 1
