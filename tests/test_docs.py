"""The documentation: it builds with warnings as errors, every public name has an API page, and
every python snippet of its pages defines the names it uses."""

import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _snippets import undefined_names, write_scripts
from conftest import child_env

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Build outputs that a local build leaves in docs/ (gitignored): never copied into a test build.
BUILD_OUTPUTS = ("_build", "api", "auto_examples", "notebooks", "sg_execution_times.rst")


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_public_names():
    api = _load("skhisto_api", DOCS / "_ext" / "skhisto_api.py")
    names = set()
    for package, _ in api.PACKAGES:
        names.update(f"{package}.{name}" for name in api.public_names(package))
    return api, names


def test_api_reference_covers_every_public_package():
    api, _ = _all_public_names()
    documented = {package for package, _ in api.PACKAGES}
    import skhisto

    subpackages = {f"skhisto.{name}" for name in skhisto._SUBPACKAGES}
    assert subpackages | {"skhisto", "skhisto.cli"} <= documented


def test_api_pages_written_for_every_name_in_all(tmp_path):
    api, names = _all_public_names()
    written = set(api.write_api(tmp_path))
    assert written == names
    pages = {path.stem for path in (tmp_path / "generated").glob("*.rst")}
    assert pages == names
    index = (tmp_path / "index.rst").read_text()
    assert all(f"generated/{name}\n" in index for name in names)


def test_api_page_of_a_reexported_class_points_to_its_first_name(tmp_path):
    api, _ = _all_public_names()
    api.write_api(tmp_path)
    alias = (tmp_path / "generated" / "skhisto.active.ActiveLearner.rst").read_text()
    assert ":class:`skhisto.ActiveLearner`" in alias
    assert "autoclass" not in alias
    home = (tmp_path / "generated" / "skhisto.ActiveLearner.rst").read_text()
    assert ".. autoclass:: ActiveLearner" in home


def test_cli_reference_lists_every_subcommand():
    cli_help = _load("skhisto_cli", DOCS / "_ext" / "skhisto_cli.py")
    from skhisto.cli import COMMANDS

    helps = dict(cli_help.command_helps())
    assert set(helps) == {"skhisto"} | {f"skhisto {module.NAME}" for module in COMMANDS}
    for module in COMMANDS:
        assert helps[f"skhisto {module.NAME}"].startswith(f"usage: skhisto {module.NAME}")


def _copy_sources(dest):
    """The docs and what their pages include, so that the build writes nothing in the repo."""
    ignore = shutil.ignore_patterns(*BUILD_OUTPUTS, "__pycache__", ".ipynb_checkpoints")
    shutil.copytree(DOCS, dest / "docs", ignore=ignore)
    shutil.copytree(ROOT / "benchmarks" / "results", dest / "benchmarks" / "results")
    shutil.copy2(ROOT / "CHANGELOG.md", dest / "CHANGELOG.md")
    return dest / "docs"


class _PageText(HTMLParser):
    """The text of an HTML page in chunks: (text, inside <pre> or <code>); no script or style."""

    def __init__(self):
        super().__init__()
        self.chunks, self._literal, self._hidden = [], 0, 0

    def handle_starttag(self, tag, attrs):
        self._literal += tag in ("pre", "code")
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._literal -= tag in ("pre", "code") and self._literal > 0
        self._hidden -= tag in ("script", "style") and self._hidden > 0

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.chunks.append((data, bool(self._literal)))


# Markdown that a page shows as typed instead of rendering it: in text outside code, and (the
# fence) anywhere, as a stray fence turns the rest of the page into a code block.
UNRENDERED_ANYWHERE = {"a code fence": re.compile(r"```|~~~")}
UNRENDERED_PROSE = {
    "**bold**": re.compile(r"\*\*[^\s*][^*\n]*?[^\s*]\*\*(?!\w)"),
    "a [link](target)": re.compile(r"\[[^\]\n]+\]\([^)\s,]*[./#][^)\s,]*\)"),
    "a {role}`target`": re.compile(r"\{[a-z:-]+\}`"),
    "a {{ substitution }}": re.compile(r"\{\{[^}]*\}\}"),
    "a # heading": re.compile(r"(?:^|\n)\s*#{1,6} \w"),
    "a ::: fence": re.compile(r"(?:^|\n)\s*:::"),
}


def unrendered_markdown(html_dir):
    """``[(page, what, excerpt)]``: Markdown left as text in the built HTML pages."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        relative = page.relative_to(html_dir)
        if relative.parts[0] in ("_static", "_sources", "_modules", "_images", "_downloads"):
            continue
        parser = _PageText()
        parser.feed(page.read_text(errors="replace"))
        for text, literal in parser.chunks:
            checks = dict(UNRENDERED_ANYWHERE, **({} if literal else UNRENDERED_PROSE))
            for what, pattern in checks.items():
                match = pattern.search(text)
                if match:
                    start = max(match.start() - 30, 0)
                    found.append((str(relative), what, text[start : match.end() + 30]))
    return found


def test_unrendered_markdown_is_found(tmp_path):
    """The check of the built pages finds what a stray fence or a raw block leaves."""
    page = (
        "<html><body><h1>Title</h1><p>Kept <strong>bold</strong> and <a href='x'>a link</a>"
        " with <code>**kwargs</code>.</p><pre>x = 2**3 ** 2\n```{image} a.png\n</pre>"
        "<p>Raw **bold** and [a link](page.md) and {doc}`page`.</p>"
        "<script>var s = '**not text**';</script></body></html>"
    )
    (tmp_path / "page.html").write_text(page)
    found = {what for _, what, _ in unrendered_markdown(tmp_path)}
    assert found == {"a code fence", "**bold**", "a [link](target)", "a {role}`target`"}


def test_markdown_pages_have_no_stray_fence():
    """No fence opens without a language (the closing fence typed twice opens one, and the
    page below it turns into a code block); no fenced block holds a fence line."""
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = MdParserConfig(enable_extensions={"colon_fence", "substitution"})
    parser = create_md_parser(config, RendererHTML)
    for page in [ROOT / "README.md", *_doc_pages()]:
        for token in parser.parse(page.read_text()):
            if token.type != "fence":
                continue
            where = f"{page.relative_to(ROOT)}:{token.map[0] + 1}"
            assert token.info.strip(), f"{where}: a fence without a language (```text if literal)"
            inner = [line for line in token.content.splitlines() if line.startswith("```")]
            assert not inner, f"{where}: a fenced block holds a fence line: {inner[0]!r}"


def test_notebook_page_is_written_from_the_notebook(tmp_path):
    """Without running it (no data), the page holds every cell and says it was not run."""
    pytest.importorskip("nbformat")
    notebook = _load("skhisto_notebook", DOCS / "_ext" / "skhisto_notebook.py")
    page = notebook.render(DOCS / notebook.NOTEBOOK, tmp_path, run=False).read_text()
    cells = json.loads((DOCS / notebook.NOTEBOOK).read_text())["cells"]
    assert page.count("```python\n") == sum(cell["cell_type"] == "code" for cell in cells)
    assert "It was not run" in page and "{download}`quickstart.ipynb" in page
    assert notebook._fence("a ``` b", "text").startswith("````text\n")
    assert notebook._terminal_text("50%\r100%\ndone") == "100%\ndone"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path, lc25000_dir):
    # The example gallery runs on the shared data: lc25000_dir skips when it is absent.
    pytest.importorskip("sphinx_gallery", reason="the docs extra is not installed")
    source = _copy_sources(tmp_path / "src")
    env = child_env(SKHISTO_DATA=lc25000_dir.parent)
    html = tmp_path / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    result = subprocess.run(
        [*command, str(source), str(html)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-5000:]
    _, names = _all_public_names()
    missing = [name for name in names if not (html / "api" / "generated" / f"{name}.html").exists()]
    assert not missing, f"no API page for {missing}"
    examples = sorted(path.stem for path in (DOCS / "examples").glob("plot_*.py"))
    assert examples and all((html / "auto_examples" / f"{n}.html").exists() for n in examples)
    assert "skhisto embed" in (html / "guide" / "cli.html").read_text()
    # What a -W build lets through: Markdown shown as typed, such as the landing page's text
    # and figure inside a code block after a stray fence.
    unrendered = unrendered_markdown(html)
    assert not unrendered, "\n".join(map(str, unrendered))
    index = (html / "index.html").read_text()
    assert re.search(r"<h2[^>]*>What it is for", index), "the landing page lost a heading"
    assert '<img alt="Balanced accuracy' in index
    # The quickstart notebook: a page with its outputs (a table and two figures), and the file.
    notebook = (html / "notebooks" / "quickstart.html").read_text()
    assert notebook.count("<img") >= 2 and "MLPHead" in notebook and "<table" in notebook
    assert list((html / "_downloads").rglob("quickstart.ipynb"))


def _doc_pages():
    """The docs' markdown pages, without what a local build left in docs/."""
    pages = DOCS.rglob("*.md")
    return sorted(p for p in pages if not set(p.relative_to(DOCS).parts) & set(BUILD_OUTPUTS))


def test_python_fences_in_docs_are_spelled_python():
    """The snippet checks find blocks by their ```python fence: no other spelling hides one."""
    for page in _doc_pages():
        for line in page.read_text().splitlines():
            if line.lstrip().startswith("```py"):
                assert line == "```python", f"{page.relative_to(ROOT)}: {line!r}"


def test_docs_snippets_define_every_name_they_use(tmp_path):
    """Each python block of docs/**/*.md, with the blocks that continue it, is self-contained."""
    scripts = []
    for page in _doc_pages():
        stem = "_".join(page.relative_to(DOCS).with_suffix("").parts)
        scripts += write_scripts(page, tmp_path, stem)
    assert len(scripts) >= 10  # the guide, the home page and the contrastive page
    assert not undefined_names(scripts)
