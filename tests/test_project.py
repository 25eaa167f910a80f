"""Project-wide rules that no single module's tests can see."""

import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skhisto"
PRIVATE_SKLEARN = re.compile(
    r"^\s*from sklearn(?:\.\w+)*\._\w+ import|^\s*from sklearn(?:\.\w+)* import .*\b_\w+", re.M
)


def test_sklearn_private_api_is_used_only_through_the_compat_layer():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "_sklearn_compat.py" and PRIVATE_SKLEARN.search(path.read_text())
    ]
    assert offenders == [], "import these through skhisto.utils._sklearn_compat"


def test_the_rule_catches_private_imports():
    assert PRIVATE_SKLEARN.search("from sklearn.base import BaseEstimator, _fit_context\n")
    assert PRIVATE_SKLEARN.search("from sklearn.utils._param_validation import Interval\n")
    assert not PRIVATE_SKLEARN.search("from sklearn.base import BaseEstimator, clone\n")


def test_query_strategy_is_abstract():
    # Before: QueryStrategy().query(...) died with "cannot unpack non-iterable NoneType".
    from skhisto.active import QueryStrategy

    with pytest.raises(TypeError, match="abstract"):
        QueryStrategy()
