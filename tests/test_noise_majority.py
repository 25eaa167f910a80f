"""A noise rate at which a class's noisy label outnumbers its true one is warned about, once
((K-1)/K for uniform noise, 0.5 for asymmetric noise); issue 24."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from skhisto.model_selection import noise_robustness_curve
from skhisto.noise import AsymmetricNoise, UniformNoise


def majority_warnings(function, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function(*args, **kwargs)
    return [str(w.message) for w in caught if "no longer the majority" in str(w.message)]


@pytest.mark.parametrize(
    "noise, n_classes, warned",
    [
        (UniformNoise(0.4), 2, False),
        (UniformNoise(0.5), 2, True),  # (K-1)/K = 0.5: as many flipped as kept
        (UniformNoise(0.6), 2, True),
        (UniformNoise(0.6), 3, False),  # (K-1)/K = 0.667
        (UniformNoise(0.7), 3, True),
        (AsymmetricNoise(0.4), 3, False),
        (AsymmetricNoise(0.5), 3, True),  # all the flips go to one partner
    ],
)
def test_the_sampler_warns_from_the_majority_rate(noise, n_classes, warned):
    y = np.arange(12 * n_classes) % n_classes
    noise.set_params(random_state=0)
    messages = majority_warnings(noise.fit_resample, np.zeros((len(y), 1)), y)
    assert bool(messages) is warned
    if warned:
        assert f"K={n_classes}" in messages[0] and f"rate {noise.rate:g}" in messages[0]
        assert "below chance" in messages[0]


def test_the_curve_warns_once_naming_its_rates():
    y = np.repeat(["lung_aca", "lung_n"], 30)
    X = np.random.default_rng(0).normal(size=(60, 4)) + (y == "lung_n")[:, None]
    messages = majority_warnings(
        noise_robustness_curve,
        LogisticRegression(),
        X,
        y,
        [0.0, 0.5, 0.6],
        cv=3,
        random_state=0,
    )
    assert len(messages) == 1, messages
    assert "rate 0.5, 0.6 with K=2" in messages[0] and "(K-1)/K = 0.5" in messages[0]


def test_the_command_says_it_once(run_cli, lc25000_dir, tmp_path):
    two = tmp_path / "two"
    two.mkdir()
    for name in sorted(p.name for p in lc25000_dir.iterdir() if p.is_dir())[:2]:
        (two / name).symlink_to(lc25000_dir / name)
    result = run_cli(
        "noise-curve", two, "--no-pretrained", "--image-size", "32", "--per-class", "6",
        "--cv", "2", "--rates", "0", "0.6", "--max-epochs", "2", "--out-dir", tmp_path / "out",
    )  # fmt: skip
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if "no longer the majority" in line]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("skhisto noise-curve: warning: UniformNoise at rate 0.6 with K=2")
