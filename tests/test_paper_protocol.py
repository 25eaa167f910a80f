"""MLPHead reproduces the label-noise paper's own training loop on real LC25000 embeddings.

The loop is our plain-torch reimplementation of the paper's ``train.py``
(``benchmarks/_paper_loop.py``, shared with ``bench_paper_protocol.py``):
clean validation split before the noise, SGD with cosine schedule, Gaussian
feature augmentation, any decrease improves, last weights kept.
"""

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skhisto import FoundationEmbedder, NoisyLabelClassifier, UniformNoise

_LOOP = Path(__file__).resolve().parents[1] / "benchmarks" / "_paper_loop.py"


@pytest.fixture(scope="module")
def paper_loop():
    spec = importlib.util.spec_from_file_location("_paper_loop", _LOOP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lc25000_split(lc25000_small):
    """Standardised random-init resnet18 embeddings of 300 tiles, stratified 70/30."""
    X = FoundationEmbedder(
        "resnet18", pretrained=False, image_size=64, random_state=0, verbose=False
    ).fit_transform(lc25000_small.paths)
    y = np.asarray(lc25000_small.target)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(np.float32),
        scaler.transform(X_test).astype(np.float32),
        y_train,
        y_test,
    )


@pytest.mark.slow
@pytest.mark.parametrize("rate", [0.0, 0.6])
@pytest.mark.parametrize("seed", [0, 1])
def test_mlp_head_with_the_paper_protocol_reproduces_the_paper_loop(
    paper_loop, lc25000_split, rate, seed
):
    X_train, X_test, y_train, y_test = lc25000_split
    clf = NoisyLabelClassifier(
        paper_loop.paper_mlp_head(seed=seed),
        UniformNoise(rate),
        random_state=seed,
        validation_fraction=paper_loop.PAPER["val_size"],
    ).fit(X_train, y_train)
    head_score = balanced_accuracy_score(y_test, clf.predict(X_test))

    # The same clean validation split and the same noisy labels for the paper's loop.
    valid = clf.validation_indices_
    train = np.setdiff1d(np.arange(len(y_train)), valid)
    _, y_noisy = UniformNoise(rate, random_state=seed).fit_resample(X_train[train], y_train[train])
    model, losses = paper_loop.train_paper_loop(
        X_train[train], y_noisy, X_train[valid], y_train[valid], seed=seed, init_draws=2
    )
    loop_score = balanced_accuracy_score(y_test, paper_loop.predict_paper_loop(model, X_test))

    assert abs(head_score - loop_score) <= 0.02, (head_score, loop_score)
    # Same stopping epoch and the same validation curve, epoch by epoch.
    head_losses = [epoch["valid_loss"] for epoch in clf.estimator_.net_.history]
    np.testing.assert_allclose(head_losses, losses, rtol=1e-4)
    assert len(losses) < paper_loop.PAPER["epochs"]  # early stopping did stop it


@pytest.mark.slow
def test_bench_paper_protocol_quick(monkeypatch, lc25000_dir, tmp_path):
    monkeypatch.syspath_prepend(str(_LOOP.parent))
    bench = importlib.import_module("bench_paper_protocol")
    payload = bench.main(["--quick", "--data", str(lc25000_dir.parent), "--out", str(tmp_path)])
    assert set(payload["results"]) == {f"{r}/{m}" for r in (0.0, 0.6) for m in bench.METHODS}
    # Our loop and MLPHead with the paper's settings see the same draws: the same scores.
    for rate in (0.0, 0.6):
        loop = payload["results"][f"{rate}/paper loop (plain torch)"]
        head = payload["results"][f"{rate}/MLPHead, paper protocol + optimiser"]
        assert loop == head
    assert (tmp_path / "bench_paper_protocol_quick.md").exists()
