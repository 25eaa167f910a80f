"""Write the API reference from the packages' ``__all__`` before Sphinx reads the sources.

Every name in ``skhisto.__all__`` and in the ``__all__`` of each public subpackage gets a
page, so a new export appears in the reference without editing the docs. An object exported
by several packages (``skhisto.ActiveLearner`` is ``skhisto.active.ActiveLearner``) is
documented once, under its first name; its other names get a short page that points there
(documenting one class twice would register its canonical name twice).
"""

import importlib
import importlib.util
import inspect
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

from skhisto.utils._lazy import deferred_imports

#: The documented packages, in the reference's order: (module, title).
PACKAGES = (
    ("skhisto", "Estimators (``skhisto``)"),
    ("skhisto.embedding", "Embedding and the cache (``skhisto.embedding``)"),
    ("skhisto.slides", "Whole-slide images (``skhisto.slides``)"),
    ("skhisto.stain", "Stain normalisation and augmentation (``skhisto.stain``)"),
    ("skhisto.backbones", "Backbone registry and weights (``skhisto.backbones``)"),
    ("skhisto.noise", "Label noise (``skhisto.noise``)"),
    ("skhisto.cleaning", "Label-issue detection and cleaning (``skhisto.cleaning``)"),
    ("skhisto.heads", "Heads and robust losses (``skhisto.heads``)"),
    ("skhisto.active", "Active sampling (``skhisto.active``)"),
    ("skhisto.contrastive", "Contrastive pretraining (``skhisto.contrastive``)"),
    ("skhisto.review", "The review page (``skhisto.review``)"),
    ("skhisto.model_selection", "Experiments (``skhisto.model_selection``)"),
    ("skhisto.plotting", "Plots (``skhisto.plotting``)"),
    ("skhisto.datasets", "Datasets (``skhisto.datasets``)"),
    ("skhisto.io", "Image input (``skhisto.io``)"),
    ("skhisto.utils", "Utilities (``skhisto.utils``)"),
    ("skhisto.exceptions", "Exceptions (``skhisto.exceptions``)"),
    ("skhisto.cli", "Command line (``skhisto.cli``)"),
)

#: Names that are not API objects.
SKIP = {"__version__"}


def public_names(module_name):
    """The documented names of a package: its ``__all__`` (``skhisto.cli``: ``main``)."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or ["main"]
    return [name for name in names if name not in SKIP]


def api_entries():
    """The reference's contents: ``[(package, title, [(name, directive, home)])]``.

    ``directive`` is the autodoc directive (``autoclass``, ``autoexception``,
    ``autofunction``, ``autodata``); ``home`` is None on an object's first name and,
    on its other names, the full name they point to.
    """
    seen = {}
    entries = []
    for package, title in PACKAGES:
        module = importlib.import_module(package)
        rows = []
        for name in public_names(package):
            obj = getattr(module, name)
            directive = _directive(obj)
            # Only classes and functions are shared objects; constants are documented each time.
            key = id(obj) if directive != "autodata" else None
            home = seen.get(key) if key is not None else None
            if key is not None and home is None:
                seen[key] = f"{package}.{name}"
            rows.append((name, directive, home))
        entries.append((package, title, rows))
    return entries


def _directive(obj):
    if inspect.isclass(obj):
        return "autoexception" if issubclass(obj, BaseException) else "autoclass"
    if inspect.isroutine(obj):
        return "autofunction"
    return "autodata"


#: autodoc directive -> (plain py directive, cross-reference role).
_KINDS = {
    "autoclass": ("class", "class"),
    "autoexception": ("exception", "exc"),
    "autofunction": ("function", "func"),
}


def _title(text, underline="="):
    return [text, underline * len(text), ""]


def _stub(package, name, directive, home):
    fullname = f"{package}.{name}"
    lines = [*_title(fullname), f".. currentmodule:: {package}", ""]
    if home is None:
        return [*lines, f".. {directive}:: {name}", *_options(package, name, directive), ""]
    kind, role = _KINDS[directive]
    return [
        *lines,
        f".. py:{kind}:: {name}",
        "   :no-index-entry:",
        "",
        f"   The same object as :{role}:`{home}`, documented there.",
        "",
    ]


#: Constants whose value is worth printing on their page (others: a dict, a store object).
_PLAIN = (bool, int, float, str, tuple, frozenset, type(None))


def _options(package, name, directive):
    if directive in ("autoclass", "autoexception"):
        return ["   :members:"]
    if directive == "autodata":
        value = getattr(importlib.import_module(package), name)
        return [] if isinstance(value, _PLAIN) else ["   :no-value:"]
    return []


def constant_doc(package, name):
    """The ``#:`` comment above a constant where it is defined (a package re-exports it)."""
    module = importlib.import_module(package)
    where = deferred_imports(module.__file__) if hasattr(module, "__path__") else {}
    modname, attribute = where.get(name, ("", name))
    modname = importlib.util.resolve_name(modname, package) if modname else package
    return ModuleAnalyzer.for_module(modname).find_attr_docs().get(("", attribute), [])


def _constant_docstring(app, what, name, obj, options, lines):
    # autodoc reads the comment in the documenting package only; else it shows int's docstring.
    if what == "data":
        package, _, attribute = name.rpartition(".")
        lines[:] = list(constant_doc(package, attribute))


def write_api(outdir):
    """Write ``index.rst`` and one page per name under ``outdir``; return the full names."""
    outdir = Path(outdir)
    generated = outdir / "generated"
    generated.mkdir(parents=True, exist_ok=True)
    index = [
        *_title("API reference"),
        "Every public name, by package; generated from each package's ``__all__``.",
        "Names exported by two packages are documented under the first and point there",
        "from the other.",
        "",
    ]
    fullnames = []
    for package, title, rows in api_entries():
        index += [*_title(title, "-"), f".. currentmodule:: {package}", "", ".. autosummary::", ""]
        index += [f"   {name}" for name, _, _ in rows]
        index += ["", ".. toctree::", "   :hidden:", ""]
        for name, directive, home in rows:
            fullname = f"{package}.{name}"
            fullnames.append(fullname)
            _write(generated / f"{fullname}.rst", _stub(package, name, directive, home))
            index.append(f"   generated/{fullname}")
        index.append("")
    _write(outdir / "index.rst", index)
    return fullnames


def _write(path, lines):
    # Rewrite only on change, so that Sphinx's incremental builds stay incremental.
    text = "\n".join(lines) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _on_builder_inited(app):
    write_api(Path(app.srcdir) / "api")


def setup(app):
    # Before autosummary (priority 500) reads the sources.
    app.connect("builder-inited", _on_builder_inited, priority=100)
    app.connect("autodoc-process-docstring", _constant_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
