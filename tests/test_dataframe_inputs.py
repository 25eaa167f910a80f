"""A DataFrame of images: its `path` column is read, or it is refused with the hint (issue 24)."""

import numpy as np
import pandas as pd
import pytest

from skhisto import FoundationEmbedder
from skhisto.io import image_source

HINT = "pass df['path'] (and df['label'] as y)"


@pytest.fixture(scope="module")
def table(lc25000_small):
    paths = np.asarray(lc25000_small.paths)[[0, 150, 299]]
    labels = np.asarray(lc25000_small.target)[[0, 150, 299]]
    return pd.DataFrame({"label": labels, "path": paths, "patient": ["a", "b", "c"]})


def test_a_path_column_is_read(table):
    assert image_source(table).paths == table["path"].tolist()
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32, random_state=0)
    by_table = embedder.fit_transform(table, table["label"])
    np.testing.assert_array_equal(by_table, embedder.transform(table["path"].tolist()))


def test_a_table_without_one_is_refused_with_the_hint(table):
    with pytest.raises(TypeError, match=r"no 'path' column") as caught:
        image_source(table.rename(columns={"path": "file"}))
    assert HINT in str(caught.value) and "['label', 'file', 'patient']" in str(caught.value)
    embedder = FoundationEmbedder("resnet18", pretrained=False, image_size=32)
    with pytest.raises(TypeError, match=r"pass df\['path'\]"):
        embedder.fit(table.drop(columns="path"))
