"""ActiveLearner with groups: held-out patients are never queried nor trained on."""

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from test_groups import _near_copies

from skhisto import ActiveLearner, RandomSampling
from skhisto.exceptions import CheckpointMismatchError


def _learner(**params):
    options = dict(batch_size=40, n_rounds=5, test_size=0.25, random_state=0, verbose=False)
    return ActiveLearner(
        KNeighborsClassifier(n_neighbors=1), RandomSampling(random_state=0), **options | params
    )


def test_patch_level_held_out_score_leaks_and_grouped_one_does_not():
    X, y, groups = _near_copies(n_groups=60)
    patch = _learner().fit(X, y)
    grouped = _learner().fit(X, y, groups=groups)
    assert patch.history_[-1]["score"] > 0.95  # its held-out patches' copies were labeled
    assert abs(np.mean([h["score"] for h in grouped.history_]) - 0.5) < 0.15  # chance
    test = grouped.test_indices_
    assert len(test) == 120 and not set(groups[test]) & set(groups[grouped.labeled_indices_])
    assert not np.isin(patch.test_indices_, patch.labeled_indices_).any()


def test_the_held_out_groups_are_never_queried_until_the_pool_runs_out():
    X, y, groups = _near_copies(n_groups=20)
    with pytest.warns(UserWarning, match="every sample of the pool is labeled"):
        learner = _learner(n_rounds=10).fit(X, y, groups=groups)
    assert len(learner.labeled_indices_) == len(y) - len(learner.test_indices_)
    held = set(groups[learner.test_indices_])
    assert len(held) == 5 and not held & set(groups[learner.labeled_indices_])


def test_a_grouped_run_resumes_and_a_run_with_other_groups_is_refused(tmp_path):
    X, y, groups = _near_copies()
    full = _learner(n_rounds=4).fit(X, y, groups=groups)
    calls = []

    def flaky_oracle(indices):
        calls.append(len(indices))
        if len(calls) == 4:  # held-out labels, initial set, round 0: interrupted in round 1
            raise KeyboardInterrupt
        return y[indices]

    with pytest.raises(KeyboardInterrupt):
        _learner(n_rounds=4, checkpoint_dir=tmp_path).fit(X, flaky_oracle, groups=groups)
    resumed = _learner(n_rounds=4, checkpoint_dir=tmp_path).fit(X, y, groups=groups)
    np.testing.assert_array_equal(resumed.test_indices_, full.test_indices_)
    np.testing.assert_array_equal(resumed.labeled_indices_, full.labeled_indices_)
    assert [h["score"] for h in resumed.history_] == [h["score"] for h in full.history_]
    other = np.roll(groups, 4)
    with pytest.raises(CheckpointMismatchError, match="groups: not the same"):
        _learner(n_rounds=4, checkpoint_dir=tmp_path).fit(X, y, groups=other)
    with pytest.raises(CheckpointMismatchError, match="groups"):
        _learner(n_rounds=4, checkpoint_dir=tmp_path).fit(X, y)


def test_a_test_group_also_in_the_pool_is_refused_naming_it():
    X, y, groups = _near_copies()
    pool, test = groups != "patient-3", np.isin(groups, ["patient-3", "patient-4"])
    learner = _learner(test_size=None, n_rounds=1)
    with pytest.raises(ValueError, match=r"Group 'patient-4' is both in the pool"):
        learner.fit(
            X[pool],
            y[pool],
            groups=groups[pool],
            X_test=X[test],
            y_test=y[test],
            groups_test=groups[test],
        )
    only = groups == "patient-3"
    learner.fit(
        X[pool],
        y[pool],
        groups=groups[pool],
        X_test=X[only],
        y_test=y[only],
        groups_test=groups[only],
    )
    assert learner.test_indices_.size == 0 and learner.history_[0]["score"] is not None


def test_held_out_options_are_checked():
    X, y, groups = _near_copies()
    with pytest.raises(ValueError, match="Give test_size .* or X_test and y_test, not both"):
        _learner().fit(X, y, X_test=X, y_test=y)
    with pytest.raises(ValueError, match="groups_test names the groups of X_test"):
        _learner(test_size=None).fit(X, y, X_test=X, y_test=y, groups_test=groups)
    with pytest.raises(ValueError, match=r"groups has 319 entries for 320 samples"):
        _learner().fit(X, y, groups=groups[:-1])
    held = _learner().fit(X, y, groups=groups).test_indices_
    kept = np.setdiff1d(np.arange(len(y)), held)[0]
    with pytest.raises(ValueError, match=rf"initial\[1\] = {held[0]} is in the held-out set"):
        _learner().fit(X, y, groups=groups, initial=[kept, held[0]])
