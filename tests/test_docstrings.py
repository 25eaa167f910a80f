"""Every public class and function has a numpydoc Examples section (they run as doctests)."""

import importlib
import inspect
import pkgutil

import pytest

import skhisto


def public_modules():
    """``skhisto`` and its modules and subpackages whose names do not start with ``_``."""
    names = [info.name for info in pkgutil.iter_modules(skhisto.__path__)]
    return ["skhisto", *(f"skhisto.{name}" for name in names if not name.startswith("_"))]


def public_objects():
    """(qualified name, object) of every class and function in a public ``__all__``."""
    seen = {}
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                seen.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return sorted(seen.values(), key=lambda item: item[0])


def test_the_public_api_is_found():
    names = [name for name, _ in public_objects()]
    # The estimators named in the issue, and names from subpackage-only __all__s.
    for expected in ("skhisto.SimCLREmbedder", "skhisto.ActiveSimCLR", "skhisto.CoresetSampling"):
        assert expected in names
    assert "skhisto.datasets.fetch_lc25000" in names and "skhisto.utils.atomic_write" in names
    assert len(names) > 50  # the discovery did not silently come back (nearly) empty


@pytest.mark.parametrize(
    ("name", "obj"), public_objects(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_public_name_has_an_examples_section(name, obj):
    lines = [line.strip() for line in (inspect.getdoc(obj) or "").splitlines()]
    assert any(
        line == "Examples" and underline.startswith("---")
        for line, underline in zip(lines, lines[1:], strict=False)
    ), f"{name} has no numpydoc 'Examples' section"
    assert ">>> " in inspect.getdoc(obj).split("Examples", 1)[1], f"{name}: Examples runs nothing"
