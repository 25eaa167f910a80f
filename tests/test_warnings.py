"""Warnings name the user's line, however deep in skhisto (or a validation wrapper) they start."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from skhisto import FoundationEmbedder
from skhisto.backbones import create_backbone

PACKAGE = Path(__file__).resolve().parents[1] / "skhisto"


def _caught(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, UserWarning)]


def test_a_public_function_warns_at_the_callers_line():
    # create_backbone is wrapped by validate_params: a fixed stacklevel named sklearn's wrapper.
    build = lambda: create_backbone("vit_small_patch16_224", pretrained=False, image_size=32)  # noqa: E731
    caught = _caught(build)
    assert caught and {w.filename for w in caught} == {__file__}


def test_a_warning_from_inside_an_estimator_names_the_callers_line():
    embedder = FoundationEmbedder(backbone="vit_small_patch16_224", pretrained=False, image_size=32)
    images = np.zeros((1, 32, 32, 3), np.uint8)
    caught = _caught(lambda: embedder.fit(images).transform(images))
    assert caught and {w.filename for w in caught} == {__file__}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_skhisto_warns_only_through_utils_warn(path):
    if path.name == "_warnings.py":
        return
    assert not re.search(r"\bwarnings\.warn\(", path.read_text()), "use skhisto.utils.warn"
