"""Degenerate labels get an answer, not a wrong one (issue 21, class 3).

A label that a single sample carries cannot be compared with anything: it is reported as
suspect, never hidden, and never distorts the statistics of the other classes. Too few
samples per class for any statistic is an error that says so.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs

from skhisto import LabelIssueFilter, estimate_noise, find_label_issues

CENTERS = [[0, 0], [8, 0], [0, 8]]


@pytest.fixture(scope="module")
def clean():
    return make_blobs(300, centers=CENTERS, random_state=0)


@pytest.mark.parametrize("method", ["knn", "confident_learning", "ensemble"])
def test_a_singleton_label_is_flagged_and_distorts_nothing(clean, method):
    X, y = clean
    y_odd = y.copy()
    y_odd[5] = 7  # one sample carries a label nobody else has
    with pytest.warns(UserWarning, match=r"1 of the 4 classes of y have a single sample \(7\)"):
        issues, scores = find_label_issues(
            X, y_odd, method=method, random_state=0, return_scores=True
        )
    assert issues[5] and scores[5] == 0
    others = np.delete(np.arange(len(y)), 5)
    expected = find_label_issues(X[others], y[others], method=method, random_state=0)
    np.testing.assert_array_equal(issues[others], expected)  # no correct label flagged by it
    with pytest.warns(UserWarning, match="single sample"):
        rate, transition = estimate_noise(X, y_odd, method=method, random_state=0)
    assert rate == pytest.approx(
        estimate_noise(X[others], y[others], method=method, random_state=0)[0]
    )
    assert transition.shape == (4, 4) and np.allclose(transition.sum(axis=1), 1)


def test_a_singleton_is_relabelled_to_the_class_of_its_neighbours(clean):
    X, y = clean
    y_odd = y.copy()
    y_odd[5] = 7
    with pytest.warns(UserWarning, match="single sample"):
        _, relabelled = LabelIssueFilter(action="relabel").fit_resample(X, y_odd)
    assert relabelled[5] == y[5]


def test_one_sample_per_class_is_an_error_that_says_so(clean):
    X, _ = clean
    for function in (find_label_issues, estimate_noise):
        with pytest.raises(ValueError, match=r"6 of the 6 classes of y have a single sample"):
            function(X[:6], np.arange(6))
    with pytest.raises(ValueError, match=r"2 of the 3 classes .* 1 \(0\) more than one"):
        estimate_noise(X[:8], np.r_[np.zeros(6, int), 1, 2])


@settings(max_examples=15, deadline=None)
@given(st.sets(st.integers(0, 299), min_size=1, max_size=5))
def test_every_singleton_is_flagged_whatever_the_data(clean, rows):
    X, y = clean
    y_odd = y.copy()
    for label, row in enumerate(sorted(rows), start=10):
        y_odd[row] = label
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        issues = find_label_issues(X, y_odd)
    assert issues[sorted(rows)].all()
    assert not np.delete(issues, sorted(rows)).any()  # clean clusters: nothing else
