"""Noise models and query strategies by name: one registration next to each class."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skhisto.active import (
    CoresetSampling,
    UncertaintySampling,
    list_query_strategies,
    make_query_strategy,
    register_query_strategy,
    unregister_query_strategy,
)
from skhisto.noise import (
    AsymmetricNoise,
    BaseLabelNoise,
    UniformNoise,
    check_noise_rates,
    get_noise_model,
    list_noise_models,
    register_noise_model,
    unregister_noise_model,
)

ROOT = Path(__file__).resolve().parents[1]


class KeepNoise(BaseLabelNoise):
    def __init__(self, rate=0.0, *, random_state=None):
        super().__init__(random_state=random_state)
        self.rate = rate

    def _noisy_codes(self, codes, rng):
        return codes.copy()


def test_the_built_in_names():
    assert list_noise_models() == ["asymmetric", "group", "uniform"]
    assert get_noise_model("uniform") is UniformNoise
    assert get_noise_model("asymmetric") is AsymmetricNoise
    assert list_query_strategies() == ["coreset", "entropy", "margin", "random", "typiclust"]
    assert make_query_strategy("margin").get_params()["method"] == "margin"
    assert isinstance(make_query_strategy("entropy"), UncertaintySampling)
    assert make_query_strategy("coreset", random_state=3).random_state == 3
    assert isinstance(make_query_strategy("coreset"), CoresetSampling)


def test_a_name_is_registered_once_and_removed_cleanly():
    register_noise_model("keep")(KeepNoise)
    try:
        assert "keep" in list_noise_models()
        with pytest.raises(ValueError, match="'uniform' is already registered"):
            register_noise_model("uniform")(KeepNoise)
        register_noise_model("keep")(KeepNoise)  # the same class again (a reloaded module)
    finally:
        unregister_noise_model("keep")
    assert "keep" not in list_noise_models()
    with pytest.raises(ValueError, match="'keep' is not a registered noise model"):
        unregister_noise_model("keep")
    with pytest.raises(ValueError, match="'keep' is not a registered query strategy"):
        make_query_strategy("keep")
    with pytest.raises(ValueError, match="must be an instance of 'str'"):
        register_query_strategy(3)


def test_a_user_name_meets_the_built_in_ones_in_a_fresh_process():
    # Registered before the built-in modules are imported, a taken name still fails at once.
    code = (
        "from skhisto.noise import BaseLabelNoise, register_noise_model\n"
        "class Mine(BaseLabelNoise):\n"
        "    def __init__(self, rate=0.1, *, random_state=None):\n"
        "        super().__init__(random_state=random_state)\n"
        "        self.rate = rate\n"
        "    def _noisy_codes(self, codes, rng): return codes\n"
        "try:\n"
        "    register_noise_model('uniform')(Mine)\n"
        "except ValueError as exc:\n"
        "    assert 'already registered' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no error')\n"
        "import skhisto.noise._uniform\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_strategy_registration_under_two_names():
    register_query_strategy("least-confident", method="least_confident")(UncertaintySampling)
    try:
        strategy = make_query_strategy("least-confident", random_state=0)
        assert strategy.method == "least_confident"
    finally:
        unregister_query_strategy("least-confident")
    assert make_query_strategy("entropy").method == "entropy"


@pytest.mark.parametrize(
    "rates, message",
    [
        ([0.2, 1.0], r"noise rates in \[0, 1\)"),
        ([], r"noise rates in \[0, 1\)"),
        ([0.1, float("nan")], r"noise rates in \[0, 1\)"),
        (["a"], "numbers in"),
        ([0.2, 0.2], "repeated"),
    ],
)
def test_check_noise_rates_refuses(rates, message):
    with pytest.raises(ValueError, match=message):
        check_noise_rates(rates)


def test_check_noise_rates_reads_numbers():
    np.testing.assert_array_equal(check_noise_rates(["0", 0.5]), [0.0, 0.5])


def test_a_wrong_class_fails_where_it_is_registered():
    from skhisto.active import RandomSampling

    class NoRate(BaseLabelNoise):
        def _noisy_codes(self, codes, rng):
            return codes

    with pytest.raises(TypeError, match=r"noise model 'x' must be a subclass of BaseLabelNoise"):
        register_noise_model("x")(int)
    with pytest.raises(TypeError, match=r"'x' \(NoRate\) must take the parameters \['rate'\]"):
        register_noise_model("x")(NoRate)
    with pytest.raises(TypeError, match=r"query strategy 'q' must be a subclass of QueryStrategy"):
        register_query_strategy("q")(int)
    with pytest.raises(TypeError, match=r"must take the parameters \['foo'\]"):
        register_query_strategy("q", foo=3)(RandomSampling)
    assert "x" not in list_noise_models() and "q" not in list_query_strategies()


def test_a_noise_model_returning_bad_codes_is_named():

    class Short(BaseLabelNoise):
        def __init__(self, rate=0.1, *, random_state=None):
            super().__init__(random_state=random_state)
            self.rate = rate

        def _noisy_codes(self, codes, rng):
            return codes[:-1]

    with pytest.raises(ValueError, match=r"Short._noisy_codes must return one class code in"):
        Short().fit_resample(np.zeros((4, 1)), [0, 1, 0, 1])
