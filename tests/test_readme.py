"""The README's set-up commands and examples stay true (its snippets run in test_snippets.py)."""

import re
import subprocess
import sys
from pathlib import Path

from _snippets import undefined_names, write_scripts

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_snippets_define_every_name_they_use(tmp_path):
    """Fast check: each snippet group names only what it imports or defines (pyflakes F821)."""
    scripts = write_scripts(README, tmp_path, "readme_snippets")
    assert len(scripts) >= 3
    assert not undefined_names(scripts)


# Every README snippet, python and bash, runs as written in tests/test_snippets.py.


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^python -m pip install.*pytest.*$", readme, flags=re.M)
    assert commands == ['python -m pip install -e ".[dev]" && python -m pytest -n 2 -q']
    assert commands[0] in (ROOT / ".ci" / "run").read_text()


def test_readme_main_job_installs_without_the_dev_extra():
    """The set-up installs the core and plot extras for the main job; only the tests need dev."""
    setup = (ROOT / "README.md").read_text().split("## Set up", 1)[1].split("\n## ", 1)[0]
    installs = re.findall(r"^python -m pip install -e (\S+)", setup, flags=re.M)
    assert installs[0] == '".[plot]"', installs
    assert [extra for extra in installs if "dev" in extra] == ['".[dev]"']
    assert "--index-url https://download.pytorch.org/whl/cpu" in setup
    first_run = re.search(r"```bash\n(skhisto [^\n]*)\n```", setup)
    assert first_run[1] == "skhisto noise-curve ../shared/data/lc25000_lung --no-pretrained"


def test_readme_example_is_the_main_job_script():
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"## Example\n\n```python\n(.*?)```", readme, flags=re.S).group(1)
    script = (ROOT / "docs" / "examples" / "pipeline.py").read_text()
    for line in example.splitlines():
        if line.strip() and not line.startswith(("data =", "print(")):
            assert line in script, f"README line missing from docs/examples/pipeline.py: {line}"


def test_ruff_is_clean():

    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_backbone_table_in_docs_is_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("table", ROOT / "docs" / "make_backbone_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "backbones.md").read_text() == module.render(), (
        "run python docs/make_backbone_table.py"
    )
