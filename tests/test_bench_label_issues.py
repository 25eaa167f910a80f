"""bench_label_issues.py --quick on real LC25000 tiles; cleanlab kept out of skhisto."""

import subprocess
import sys

import numpy as np
import pytest

DETECTORS = {"knn", "confident_learning", "ensemble", "cleanlab", "20-NN majority"}
FILTERS = {
    f"{m} {a}" for m in ("knn", "confident_learning", "ensemble") for a in ("filter", "relabel")
}


def check_run(run):
    """One run's figures: every method present, every share in [0, 1]."""
    assert set(run["detection"]) == DETECTORS
    for figures in run["detection"].values():
        for what in ("precision", "recall", "f1", "auroc", "flagged"):
            assert 0.0 <= figures[what] <= 1.0, (what, figures)
        assert figures["seconds"] >= 0.0
    assert set(run["estimated_rate"]) == {"knn", "confident_learning", "ensemble", "cleanlab"}
    assert all(0.0 <= r <= 1.0 for r in run["estimated_rate"].values())
    # The flips are the sampler's own: their share is the nominal rate, give or take a few tiles.
    assert abs(run["true_rate"] - run["rate"]) < 0.1
    # cleanlab saw the very out-of-fold probabilities our confident learning scored labels by.
    assert run["oof_max_difference"] == pytest.approx(0.0, abs=1e-6)
    cl, cleanlab = run["detection"]["confident_learning"], run["detection"]["cleanlab"]
    assert cl["auroc"] == pytest.approx(cleanlab["auroc"])
    assert set(run["balanced_accuracy"]) == {"clean labels", "through the noise", "GCE"} | FILTERS
    # Removing drops the flagged tiles; relabelling keeps every one.
    for method in ("knn", "confident_learning", "ensemble"):
        assert run["kept"][f"{method} relabel"] == run["n_train"]
        flagged = round(run["detection"][method]["flagged"] * run["n_train"])
        assert run["kept"][f"{method} filter"] == run["n_train"] - flagged
    assert all(0.0 <= a <= 1.0 for a in run["balanced_accuracy"].values())


@pytest.mark.slow
def test_bench_label_issues_quick(bench, lc25000_dir, tmp_path):
    cache = tmp_path / "cache"
    argv = ["--quick", "--data", str(lc25000_dir.parent), "--cache", str(cache)]
    payload = bench("bench_label_issues").main(argv)
    runs = payload["runs"]
    # 2 embeddings x 2 noises x 2 rates x 1 seed.
    assert len(runs) == 8
    assert {r["embedding"].split()[0] for r in runs} == {"SimCLR", "random-init"}
    for run in runs:
        check_run(run)
    # The clean-label floor of the noise-rate estimates: one per embedding and seed.
    for per_seed in payload["clean_label_estimate"].values():
        assert len(per_seed) == 1
        assert all(0.0 <= r <= 1.0 for r in per_seed[0].values())
    # The summary is the mean of the runs it groups.
    f1 = [r["detection"]["knn"]["f1"] for r in runs if r["noise"] == "uniform" and r["rate"] == 0.2]
    cell = [
        s
        for s in payload["summary"]
        if (s["noise"], s["rate"], s["what"], s["method"]) == ("uniform", 0.2, "f1", "knn")
    ]
    assert sorted(s["mean"] for s in cell) == pytest.approx(sorted(f1))
    page = (tmp_path / "label_issues_quick.md").read_text()
    assert "## Acceptance" in page and all(d in page for d in DETECTORS)
    assert (tmp_path / "label_issues_quick.png").stat().st_size > 0
    assert (tmp_path / "label_issues_quick.json").exists()
    # The embeddings were cached: a second run reads them instead of embedding again.
    cached = sorted(cache.glob("*.npz"))
    assert cached
    again = bench("bench_label_issues").main(argv)
    assert sorted(cache.glob("*.npz")) == cached
    assert again["embed_seconds"] == payload["embed_seconds"]
    np.testing.assert_allclose(
        [r["true_rate"] for r in again["runs"]], [r["true_rate"] for r in runs]
    )
    # --report-only rewrites the page from the JSON alone: the same page, nothing measured.
    page = (tmp_path / "label_issues_quick.md").read_text()
    (tmp_path / "label_issues_quick.md").unlink()
    report = bench("bench_label_issues").main([*argv, "--report-only"])
    assert report["runs"] == again["runs"]
    assert (tmp_path / "label_issues_quick.md").read_text() == page


def test_skhisto_never_imports_cleanlab():
    code = (
        "import sys, skhisto; "
        "skhisto.find_label_issues, skhisto.estimate_noise, skhisto.LabelIssueFilter; "
        "import skhisto.cleaning; "
        "assert 'cleanlab' not in sys.modules, 'skhisto imported cleanlab'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
