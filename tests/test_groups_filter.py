"""LabelIssueFilter with groups: a slide's copies cannot vouch for its wrong label."""

import pytest
import sklearn
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from test_groups import _slides_with_one_wrong_diagnosis

from skhisto import LabelIssueFilter


@pytest.mark.parametrize("method", ["knn", "ensemble"])
def test_fit_resample_with_groups_removes_the_wrong_slide(method):
    X, y, groups = _slides_with_one_wrong_diagnosis()
    options = dict(method=method, n_neighbors=5, random_state=0)
    alone = LabelIssueFilter(**options)
    alone.fit_resample(X, y)
    assert not alone.label_issues_[groups == 0].any()  # its 7 copies agree with each patch
    grouped = LabelIssueFilter(**options)
    X_clean, y_clean = grouped.fit_resample(X, y, groups=groups)
    assert grouped.label_issues_[groups == 0].all()
    assert grouped.label_issues_[groups != 0].mean() < 0.05
    assert 0 not in groups[grouped.sample_indices_] and len(X_clean) == len(y_clean)


def test_groups_are_routed_to_the_filter_in_a_pipeline():
    X, y, groups = _slides_with_one_wrong_diagnosis()
    with sklearn.config_context(enable_metadata_routing=True):
        cleaner = LabelIssueFilter(n_neighbors=5).set_fit_resample_request(groups=True)
        pipe = make_pipeline(cleaner, LogisticRegression()).fit(X, y, groups=groups)
    fitted = pipe.named_steps["labelissuefilter"]
    assert fitted.label_issues_[groups == 0].all()
    # without groups (routing off), the same pipeline keeps the wrong slide
    plain = make_pipeline(LabelIssueFilter(n_neighbors=5), LogisticRegression()).fit(X, y)
    assert not plain.named_steps["labelissuefilter"].label_issues_[groups == 0].any()


def test_grid_search_splits_and_cleans_by_the_same_groups():
    X, y, groups = _slides_with_one_wrong_diagnosis()
    with sklearn.config_context(enable_metadata_routing=True):
        cleaner = LabelIssueFilter(n_neighbors=5).set_fit_resample_request(groups=True)
        pipe = make_pipeline(cleaner, LogisticRegression())
        search = GridSearchCV(
            pipe, {"labelissuefilter__action": ["remove", "relabel"]}, cv=GroupKFold(4)
        ).fit(X, y, groups=groups)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    fitted = search.best_estimator_.named_steps["labelissuefilter"]
    assert fitted.label_issues_[groups == 0].all()


def test_groups_of_the_wrong_length_are_refused():
    X, y, groups = _slides_with_one_wrong_diagnosis()
    with pytest.raises(ValueError, match=r"groups has 319 entries for 320 samples"):
        LabelIssueFilter().fit_resample(X, y, groups=groups[:-1])
