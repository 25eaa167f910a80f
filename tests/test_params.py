"""Unseeded estimators get the run's seed, nested pipeline steps included."""

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skhisto import LinearHead, UniformNoise
from skhisto.utils._params import with_seed


def test_with_seed_reaches_pipeline_steps_and_keeps_set_seeds():
    pipe = make_pipeline(StandardScaler(), LinearHead())
    seeded = with_seed(pipe, 7)
    assert seeded.get_params()["linearhead__random_state"] == 7
    assert pipe.get_params()["linearhead__random_state"] is None  # the caller's is untouched
    kept = with_seed(make_pipeline(LogisticRegression(random_state=3)), 7)
    assert kept.get_params()["logisticregression__random_state"] == 3
    assert with_seed(UniformNoise(), 5).random_state == 5
