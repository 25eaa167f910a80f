"""Sphinx configuration of the skhisto documentation.

Build: ``python -m pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
The example gallery runs on the shared H&E data: ``$SKHISTO_DATA`` or ``../shared/data`` from
the repository root.
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

# The gallery scripts read $SKHISTO_DATA: make it absolute, as Sphinx runs them from elsewhere.
_data = (ROOT / os.environ.get("SKHISTO_DATA", "../shared/data")).resolve()
os.environ["SKHISTO_DATA"] = str(_data)
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no network here: fail Hub look-ups at once
os.environ.setdefault("MPLBACKEND", "agg")

from sphinx.util import logging  # noqa: E402

import skhisto  # noqa: E402

project = "skhisto"
author = "skhisto developers"
copyright = "skhisto developers, BSD-3-Clause"
version = release = skhisto.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "skhisto_api",
    "skhisto_cli",
    "skhisto_notebook",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# docs/examples holds the gallery sources (rendered into auto_examples) and the notebook
# (rendered into notebooks/).
exclude_patterns = ["_build", "**.ipynb_checkpoints", "examples"]

# MyST: the Markdown pages (README-style) are used as they are.
myst_enable_extensions = ["colon_fence", "substitution"]
myst_heading_anchors = 3
# The quickstart notebook (examples/quickstart.ipynb, stored without outputs) is run at build
# time and written, with its outputs, as the page notebooks/quickstart (skhisto_notebook).

# API pages: written by skhisto_api from the packages' __all__; autosummary only makes the tables.
autosummary_generate = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn adds set_*_request methods (metadata routing) to every estimator.
    return True if name.startswith("set_") and name.endswith("_request") else skip


# Example gallery: docs/examples/plot_*.py run at build time on small real data.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # Only plot_*.py belong to the gallery: pipeline.py (the README's Example) and other
    # scripts kept in docs/examples are not rendered.
    "ignore_pattern": r"^(?!plot_)",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "abort_on_example_error": True,
    "reference_url": {"skhisto": None},
}


def _check_gallery_data(app, config):
    # A warning that names the folder (an error under -W), not a traceback from an example.
    if str(config.plot_gallery) in ("True", "1") and not (_data / "lc25000_lung").is_dir():
        logging.getLogger("skhisto.docs").warning(
            f"the example gallery runs on LC25000 patches, not found in {_data}/lc25000_lung: "
            "set SKHISTO_DATA to the folder that holds lc25000_lung; the examples are not run."
        )
        config.plot_gallery = "False"


html_theme = "pydata_sphinx_theme"
html_title = f"skhisto {version}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    app.connect("config-inited", _check_gallery_data)
