"""Smoke runs of the noise benchmarks' --quick modes (real LC25000 tiles, seconds each)."""

import pytest


@pytest.mark.slow
def test_bench_noise_grid_quick(bench, lc25000_dir, tmp_path):
    payload = bench("bench_noise_grid").main(["--quick", "--data", str(lc25000_dir.parent)])
    # The cached search embeds every tile once; by hand embeds them once too.
    assert payload["search_forwards"] == payload["by_hand_forwards"] == payload["n_images"]
    assert payload["max_score_difference"] == 0
    assert (tmp_path / "bench_noise_grid_quick.md").exists()


@pytest.mark.slow
def test_bench_noise_losses_quick(bench, lc25000_dir, tmp_path):
    payload = bench("bench_noise_losses").main(["--quick", "--data", str(lc25000_dir.parent)])
    assert {"early stopping/0.6/gce", "early stopping/0.0/cross_entropy"} <= set(payload["results"])
    assert set(payload["gce_minus_cross_entropy"]) == {
        "early stopping",
        "2 epochs, no early stopping",
    }
    assert (tmp_path / "bench_noise_losses_quick.json").exists()
