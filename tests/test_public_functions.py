"""Every public function validates its arguments through scikit-learn's ``validate_params``.

The functions are found, not listed: each name in a subpackage's ``__all__``
that is a function is checked, so a new public function without validation
fails here.
"""

import importlib
import inspect

import pytest
from sklearn.utils._param_validation import InvalidParameterError

import skhisto

# Where validate_params cannot apply; each entry says why.
EXEMPT = {
    # Takes any object: every value is some label, whose kind it names.
    "skhisto.utils.label_kind",
    # Only *arrays (any array-likes), which validate_params does not see.
    "skhisto.utils.digest_arrays",
    "skhisto.utils.content_key",
    # Take any object and say what it is not, naming the kinds they accept
    # (arrays, paths, patch tables, image sources); is_patch_table answers for any object.
    "skhisto.embedding.as_image_source",
    "skhisto.io.check_image_input",
    "skhisto.io.image_source",
    "skhisto.slides.is_patch_table",
}


class _Wrong:
    """An argument no constraint accepts (not a str, path, number, array or estimator)."""

    def __repr__(self):
        return "<wrong>"


def _public_functions():
    for package in (f"skhisto.{name}" for name in skhisto._SUBPACKAGES):
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            if inspect.isfunction(getattr(module, name)):
                yield f"{package}.{name}"


def _cases():
    for qualname in _public_functions():
        package, _ = qualname.rsplit(".", 1)
        yield pytest.param(qualname, id=qualname)


def _resolve(qualname):
    package, name = qualname.rsplit(".", 1)
    return getattr(importlib.import_module(package), name)


def _checked_parameter(func):
    """The first parameter ``validate_params`` checks, and the required ones before it."""
    constraints = func._skl_parameter_constraints
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    checked = [
        p.name for p in params if constraints.get(p.name, "no_validation") != "no_validation"
    ]
    required = [p.name for p in params if p.default is p.empty]
    return (checked[0] if checked else None), required


@pytest.mark.parametrize("qualname", _cases())
def test_public_function_rejects_a_wrong_argument_through_validate_params(qualname):
    func = _resolve(qualname)
    if qualname in EXEMPT:
        pytest.skip("exempt: see EXEMPT")
    parameters = inspect.signature(func).parameters
    if not parameters:
        return  # nothing to validate
    assert hasattr(func, "__wrapped__"), f"{qualname} is not decorated"
    assert hasattr(func, "_skl_parameter_constraints"), f"{qualname} lacks validate_params"
    name, required = _checked_parameter(func)
    assert name is not None, f"{qualname} validates none of its parameters"
    # Later required parameters are wrong too: the first checked one is named first.
    arguments = dict.fromkeys([*required, name], _Wrong())
    with pytest.raises(InvalidParameterError, match=rf"The '{name}' parameter of "):
        func(**arguments)


def test_the_enumeration_finds_functions_in_every_layer():
    found = set(_public_functions())
    assert {"skhisto.io.read_image", "skhisto.utils.iter_slices"} <= found
    assert "skhisto.SlideTiler" not in found  # classes are validated by _parameter_constraints


def test_every_exemption_is_still_a_public_function():
    assert EXEMPT <= set(_public_functions())
