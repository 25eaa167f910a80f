"""The README's set-up commands and examples stay true: every python snippet runs as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _snippets import undefined_names, write_scripts
from conftest import child_env

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_snippets_define_every_name_they_use(tmp_path):
    """Fast check: each snippet group names only what it imports or defines (pyflakes F821)."""
    scripts = write_scripts(README, tmp_path, "readme_snippets")
    assert len(scripts) >= 3
    assert not undefined_names(scripts)


@pytest.mark.slow
def test_every_readme_snippet_runs_as_written(lc25000_dir, tmp_path):
    """Each group runs as a reader would, from a folder where ../shared/data is the shared data."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(lc25000_dir.parent)
    work, home = tmp_path / "work", tmp_path / "home"  # ~/.cache/skhisto lands in tmp_path
    home.mkdir()
    env = child_env(HOME=home)
    env.pop("SKHISTO_DATA", None)
    for script in write_scripts(README, work, "readme_snippets"):
        result = subprocess.run(
            [sys.executable, script.name], cwd=work, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{script.name}:\n{result.stderr[-3000:]}"
    assert (work / "noise_robustness.png").stat().st_size > 0
    assert (work / "learning_curve.png").stat().st_size > 0


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^python -m pip install.*$", readme, flags=re.M)
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_readme_example_is_the_main_job_script():
    readme = (ROOT / "README.md").read_text()
    example = re.search(r"## Example\n\n```python\n(.*?)```", readme, flags=re.S).group(1)
    script = (ROOT / "docs" / "examples" / "pipeline.py").read_text()
    for line in example.splitlines():
        if line.strip() and not line.startswith(("data =", "print(")):
            assert line in script, f"README line missing from docs/examples/pipeline.py: {line}"


def test_ruff_is_clean():
    import subprocess
    import sys

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
