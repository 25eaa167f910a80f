"""The one label check (skhisto.utils.check_labels / label_kind) used by every caller."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skhisto.utils import check_labels, label_kind


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (1, "int"),
        (np.uint8(1), "int"),
        (1.5, "float"),
        (np.float32(1), "float"),
        (True, "bool"),
        (np.bool_(False), "bool"),
        (1j, "complex"),
        ("a", "str"),
        (np.str_("a"), "str"),
        (b"a", "str"),
        ((1, 2), "tuple"),
        (None, None),
        (math.nan, None),
        (np.float64("nan"), None),
        (pd.NA, None),
        (pd.NaT, None),
    ],
)
def test_label_kind(value, kind):
    assert label_kind(value) == kind


@pytest.mark.parametrize(
    ("y", "kind"),
    [
        ([0, 1], "int"),
        (np.array([0.0, 1.0]), "float"),
        (np.array([True, False]), "bool"),
        (np.array(["a", "b"]), "str"),
        (pd.Series(["a", "b"], dtype="category"), "str"),
        (np.array([[0, 1], [1, 0]]), "int"),
        (5, None),  # a scalar is left to scikit-learn's checks
        ([[0], [0, 1]], "list"),
    ],
)
def test_valid_labels_return_their_kind(y, kind):
    assert check_labels(y, "Owner") == kind


@pytest.mark.parametrize(
    ("y", "kwargs", "match"),
    [
        ([], {}, r"^Owner: y is empty; it needs one label per sample\.$"),
        (["a", None, "b", np.nan], {}, r"^Owner: y has 2 missing labels .* at indices \[1, 3\]"),
        (np.array([0.0, np.nan]), {"indices": [7, 9]}, r"at indices \[9\]; drop those samples"),
        ([1, 2.5], {}, r"index 1 holds 2.5 \(float\) but index 0 holds 1 \(int\)"),
        ([True, 1], {}, r"index 1 holds 1 \(int\) but index 0 holds True \(bool\)"),
        (np.array([1, "a"], dtype=object), {"name": "classes"}, r"^Owner: classes mixes"),
        (
            np.array(["a", "b"]),
            {"indices": [4, 8], "kind": "int", "kind_source": "labels_"},
            r"^Owner: y mixes label types: index 4 holds 'a' \(str\) but labels_ has int labels; "
            r"convert the labels to one type first",
        ),
        ([0.0, math.inf], {"indices": [3, 5]}, r"^Owner: y has infinite labels at indices \[5\]"),
        (np.array([1, complex(0, math.inf)]), {}, r"infinite labels at indices \[1\]"),
    ],
)
def test_bad_labels_name_owner_argument_and_index(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_labels(y, "Owner", **kwargs)


def test_empty_labels_allowed_keep_the_expected_kind():
    assert check_labels([], "Owner", allow_empty=True) is None
    assert check_labels(np.array([]), "Owner", allow_empty=True, kind="str") == "str"


_LABEL = st.one_of(
    st.integers(-3, 3),
    st.floats(-3, 3, allow_nan=False),
    st.text(max_size=2),
    st.none(),
    st.just(math.nan),
)


@given(st.lists(_LABEL, min_size=1, max_size=8))
def test_raises_exactly_for_a_missing_label_or_mixed_kinds(labels):
    missing = any(v is None or v != v for v in labels)
    kinds = {type(v) for v in labels}
    if missing or len(kinds) > 1:
        with pytest.raises(ValueError, match="missing labels|mixes label types"):
            check_labels(labels, "Owner")
    else:
        assert (
            check_labels(labels, "Owner") == {int: "int", float: "float", str: "str"}[kinds.pop()]
        )
