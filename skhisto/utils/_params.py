"""Seeding estimators the caller left unseeded, nested steps included."""

from sklearn.base import clone


def with_seed(estimator, seed):
    """A clone of ``estimator`` whose unset ``random_state`` parameters are ``seed``.

    Nested ones count (``pipeline.steps``' ``clf__random_state``), so a
    Pipeline proxy is as reproducible as a bare classifier; values the caller
    set are kept.
    """
    estimator = clone(estimator)
    unset = {
        name: seed
        for name, value in estimator.get_params(deep=True).items()
        if value is None and (name == "random_state" or name.endswith("__random_state"))
    }
    return estimator.set_params(**unset)
