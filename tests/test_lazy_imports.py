"""Imports cost what is used: the numpy-only parts load without torch, timm and skorch."""

import importlib
import json
import pickle
import subprocess
import sys

import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import skhisto
from skhisto.utils._lazy import deferred_imports

HEAVY = ("torch", "timm", "skorch")
PACKAGES = [
    "skhisto",
    *(f"skhisto.{name}" for name in skhisto._SUBPACKAGES if name != "exceptions"),
]


# Imports only ever add modules, so one fresh interpreter running the statements in turn
# shows which statement, if any, first brings in a heavy module.
STATEMENTS = [
    "import skhisto",
    "import skhisto.noise",
    "from skhisto import UniformNoise, CoresetSampling",
    "from skhisto.active import RandomSampling, TypiClustSampling, UncertaintySampling",
    "from skhisto.model_selection import noise_robustness_curve",
    "from skhisto.plotting import plot_learning_curve",
    "from skhisto.utils import atomic_write, check_identity, digest_arrays, iter_slices",
]


def test_numpy_parts_import_without_torch():
    code = "\n".join(
        ["import json, sys", "loaded = []"]
        + [
            f"{statement}\nloaded.append([m for m in {HEAVY!r} if m in sys.modules])"
            for statement in STATEMENTS
        ]
        + ["print(json.dumps(loaded))"]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = dict(zip(STATEMENTS, json.loads(out.stdout), strict=True))
    assert loaded == dict.fromkeys(STATEMENTS, [])


def test_torch_parts_still_resolve():
    assert skhisto.FoundationEmbedder.__name__ == "FoundationEmbedder"
    assert skhisto.noise.UniformNoise is skhisto.UniformNoise  # subpackages stay attributes


@pytest.mark.parametrize("package", PACKAGES)
def test_all_matches_the_type_checking_block(package):
    module = importlib.import_module(package)
    exported = set(module.__all__) - {"__version__"}
    assert exported == set(deferred_imports(module.__file__))
    assert set(module.__all__) <= set(dir(module))
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        skhisto.Nope  # noqa: B018
    assert not hasattr(skhisto.noise, "Nope")


def _instance(name):
    from sklearn.linear_model import LogisticRegression

    required = {  # the estimators whose __init__ takes positional arguments
        "ActiveLearner": (LogisticRegression(), skhisto.RandomSampling()),
        "NoisyLabelClassifier": (LogisticRegression(), skhisto.UniformNoise()),
        "TransitionMatrixNoise": ([[0.9, 0.1], [0.2, 0.8]],),
    }
    return getattr(skhisto, name)(*required.get(name, ()))


@pytest.mark.parametrize("name", [n for n in skhisto.__all__ if n[0].isupper()])
def test_estimators_still_pickle(name):
    instance = _instance(name)
    restored = pickle.loads(pickle.dumps(clone(instance)))
    assert type(restored) is type(instance)
    assert restored.get_params().keys() == instance.get_params().keys()


def test_coreset_device_constraint_without_importing_torch():
    import torch

    strategy = skhisto.CoresetSampling(device=torch.device("cpu"))
    strategy._validate_params()
    with pytest.raises(InvalidParameterError, match="'torch.device'"):
        skhisto.CoresetSampling(device=3)._validate_params()
