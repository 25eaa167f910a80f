"""Smoke run of the stain-shift benchmark's --quick mode, and its shifted site."""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_stain", None)
    return importlib.import_module("bench_stain")


@pytest.mark.slow  # embeds a few dozen tiles five ways and trains 24 small heads
def test_bench_stain_quick(monkeypatch, tmp_path, lc25000_dir):
    pytest.importorskip("torchstain")
    bench = _bench(monkeypatch)
    payload = bench.main(["--quick", "--out", str(tmp_path), "--data", str(lc25000_dir)])
    assert {(r["head"], r["condition"]) for r in payload["rows"]} == {
        (head, condition) for head in ("LinearHead", "MLPHead") for condition in bench.CONDITIONS
    }
    assert all(0 <= r["shifted"] <= 1 for r in payload["rows"])
    assert payload["speed"]["macenko"]["max_diff"] <= 1
    assert (tmp_path / "bench_stain_quick.md").read_text().startswith("# Stain shift")
    assert (tmp_path / "bench_stain_quick.png").stat().st_size > 0


def test_the_shifted_site_keeps_white_and_changes_the_stain(monkeypatch):
    from skhisto.stain import make_stained_tiles

    bench = _bench(monkeypatch)
    tiles = make_stained_tiles(4, size=16, random_state=0)
    shifted = bench.shift_site(tiles, random_state=0)
    assert shifted.shape == tiles.shape and shifted.dtype == np.uint8
    white = (tiles == 255).all(axis=-1)
    assert (shifted[white] == 255).all()
    assert np.abs(shifted.astype(int) - tiles).mean() > 5
    np.testing.assert_array_equal(shifted, bench.shift_site(tiles, random_state=0))
