"""Deferred imports: packages export names that load their module on first use.

``import skhisto`` must not pay for torch, timm and skorch when only the numpy
parts are used, so every package ``__init__`` lists its exports in an
``if TYPE_CHECKING:`` block (what type checkers and IDEs read) and
:func:`attach` turns that block into a PEP 562 ``__getattr__`` that imports
each name's module on first use.
"""

import ast
import importlib
import sys
from pathlib import Path


def attach(package, init_file, submodules=()):
    """Module ``__getattr__`` and ``__dir__`` that import a package's exports on first use.

    The exports are the imports in the ``if TYPE_CHECKING:`` block of the
    package's ``__init__.py``: type checkers and IDEs read that block as usual,
    and this reads the same block, so the names are written once.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    init_file : str or path-like
        The package's ``__file__``.
    submodules : iterable of str, default=()
        Subpackages reachable as attributes (``skhisto.noise``) without an
        explicit import, as they were when the package imported them eagerly.

    Returns
    -------
    getattr_ : callable
        Imports the name's module on first access; the value is then stored in
        the package namespace, so later accesses cost a dict look-up.
    dir_ : callable
        The package namespace together with every deferred and submodule name.

    Examples
    --------
    >>> import skhisto.noise
    >>> from skhisto.utils._lazy import attach
    >>> getattr_, dir_ = attach("skhisto.noise", skhisto.noise.__file__)
    >>> getattr_("UniformNoise").__name__
    'UniformNoise'
    >>> "BaseLabelNoise" in dir_()
    True
    """
    where = deferred_imports(init_file)
    submodules = frozenset(submodules)

    def __getattr__(name):
        if name in where:
            module, attribute = where[name]
            value = getattr(importlib.import_module(module, package), attribute)
        elif name in submodules:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(where) | submodules)

    return __getattr__, __dir__


def deferred_imports(init_file):
    """``{name: (relative module, attribute)}`` from the ``if TYPE_CHECKING:`` block.

    Parameters
    ----------
    init_file : str or path-like
        A package's ``__init__.py``.

    Returns
    -------
    dict of str to tuple of (str, str)

    Examples
    --------
    >>> import skhisto.model_selection
    >>> from skhisto.utils._lazy import deferred_imports
    >>> deferred_imports(skhisto.model_selection.__file__)["noise_robustness_curve"]
    ('._noise_curve', 'noise_robustness_curve')
    """
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"))
    where = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    module = "." * stmt.level + (stmt.module or "")
                    where.update({a.asname or a.name: (module, a.name) for a in stmt.names})
    return where


class _TorchDeviceType(type):
    def __instancecheck__(cls, obj):
        # A torch.device can only exist once torch is imported: no need to import it here.
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(obj, torch.device)


class TorchDevice(metaclass=_TorchDeviceType):
    """``isinstance(obj, TorchDevice)`` is ``isinstance(obj, torch.device)``, without torch.

    For ``_parameter_constraints`` of estimators that must import without
    torch; validation errors name it ``torch.device`` as before.

    Examples
    --------
    >>> import torch
    >>> from skhisto.utils._lazy import TorchDevice
    >>> isinstance(torch.device("cpu"), TorchDevice), isinstance("cpu", TorchDevice)
    (True, False)
    """

    # scikit-learn's messages print "<module>.<qualname>" of the constraint's type.
    __module__ = "torch"
    __qualname__ = "device"


# TorchDevice claims torch's module name, which hides it from doctest's finder.
__test__ = {"TorchDevice": TorchDevice}
