"""Write the API reference from the packages' ``__all__`` before Sphinx reads the sources.

Every name in ``skhisto.__all__`` and in the ``__all__`` of each public subpackage gets a
page, so a new export appears in the reference without editing the docs. An object exported
by several packages (``skhisto.ActiveLearner`` is ``skhisto.active.ActiveLearner``) is
documented once, under its first name; its other names get a short page that points there
(documenting one class twice would register its canonical name twice).
"""

import importlib
import inspect
from pathlib import Path

#: The documented packages, in the reference's order: (module, title).
PACKAGES = (
    ("skhisto", "Estimators (``skhisto``)"),
    ("skhisto.embedding", "Embedding and the cache (``skhisto.embedding``)"),
    ("skhisto.backbones", "Backbone registry and weights (``skhisto.backbones``)"),
    ("skhisto.noise", "Label noise (``skhisto.noise``)"),
    ("skhisto.heads", "Heads and robust losses (``skhisto.heads``)"),
    ("skhisto.active", "Active sampling (``skhisto.active``)"),
    ("skhisto.contrastive", "Contrastive pretraining (``skhisto.contrastive``)"),
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
        options = ["   :members:"] if directive in ("autoclass", "autoexception") else []
        return [*lines, f".. {directive}:: {name}", *options, ""]
    kind, role = _KINDS[directive]
    return [
        *lines,
        f".. py:{kind}:: {name}",
        "   :no-index-entry:",
        "",
        f"   The same object as :{role}:`{home}`, documented there.",
        "",
    ]


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
    return {"parallel_read_safe": True, "parallel_write_safe": True}
