"""Project-wide rules that no single module's tests can see."""

import ast
import re
import sys
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


# The layers, lowest first: a package imports only from layers below it (and itself).
# utils holds the shared internals; its private modules are open to every package.
LAYERS = (
    ("utils", "exceptions"),
    ("io",),
    ("backbones", "heads", "noise", "active", "slides", "plotting", "stain"),
    ("embedding", "cleaning", "model_selection", "datasets"),
    ("contrastive", "review"),
    ("cli",),
)
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}
SHIM = ("skhisto", "utils", "_sklearn_compat")


def _imported(path, node):
    """Dotted targets (package path plus imported name) of an import statement."""
    here = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if isinstance(node, ast.Import):
        return [tuple(alias.name.split(".")) for alias in node.names]
    if node.level:
        base = here[: len(here) - node.level + (path.name == "__init__.py")]
    else:
        base = []
    module = base + (node.module.split(".") if node.module else [])
    return [tuple(module + [alias.name]) for alias in node.names]


def _import_violations(path):
    """(line, target, why) for each import of ``path`` that breaks the contract."""
    source = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if source not in RANK:
        return []
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target in _imported(path, node):
            if target[:1] != ("skhisto",) or len(target) < 2 or target[1] == source:
                continue
            package = target[1]
            if package not in RANK:
                continue
            if RANK[package] > RANK[source]:
                found.append((node.lineno, ".".join(target), "imports a higher layer"))
            elif target[:3] != SHIM and any(part.startswith("_") for part in target[2:]):
                if package != "utils" or target[-1].startswith("_"):
                    found.append((node.lineno, ".".join(target), "imports a private name"))
    return found


def test_packages_import_only_lower_layers_and_public_names():
    broken = [
        f"{path.relative_to(PACKAGE)}:{line}: {target} ({why})"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, target, why in _import_violations(path)
    ]
    assert broken == [], "\n".join(broken)


def test_the_layer_rule_catches_upward_and_private_imports(tmp_path, monkeypatch):
    package = tmp_path / "skhisto"
    (package / "io").mkdir(parents=True)
    (package / "embedding").mkdir()
    (package / "io" / "_bad.py").write_text("from ..slides._table import PatchRegions\n")
    (package / "embedding" / "_bad.py").write_text(
        "from ..io._images import read_item\nfrom ..utils._labels import _plain\n"
        "from ..utils._sklearn_compat import _fit_context\nfrom ..utils._files import io_error\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    assert [why for *_, why in _import_violations(package / "io" / "_bad.py")] == [
        "imports a higher layer"
    ]
    assert [target for _, target, _ in _import_violations(package / "embedding" / "_bad.py")] == [
        "skhisto.io._images.read_item",
        "skhisto.utils._labels._plain",
    ]


def test_only_the_digest_module_hashes():
    # One algorithm per purpose (utils._digests.new_digest): a second copy of a key or
    # checksum recipe would drift and orphan what is on disk.
    hashing = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "_digests.py" and re.search(r"^\s*import hashlib", path.read_text(), re.M)
    ]
    assert hashing == [], "hash through skhisto.utils.new_digest / content_key"
