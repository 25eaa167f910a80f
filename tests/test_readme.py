"""The README's set-up commands and examples stay true: every python snippet runs as written."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import child_env

ROOT = Path(__file__).resolve().parents[1]
#: A snippet whose first line starts so continues the python snippet before it: it runs after it,
#: in its namespace. Every other snippet runs alone.
CONTINUES = "# continues"


def _snippet_groups():
    """README python blocks as scripts: each block with the blocks that continue it.

    A script is README.md's own lines with every line outside its blocks blanked, so a
    traceback names the README line at fault.
    """
    lines = (ROOT / "README.md").read_text().splitlines()
    groups, inside = [], None
    for number, line in enumerate(lines):
        if inside is None and line == "```python":
            inside = number + 1
        elif inside is not None and line == "```":
            block = range(inside, number)
            if groups and lines[inside].startswith(CONTINUES):
                groups[-1].update(block)
            else:
                groups.append(set(block))
            inside = None
    return [
        "\n".join(line if number in group else "" for number, line in enumerate(lines))
        for group in groups
    ]


def _write_scripts(folder):
    folder.mkdir(parents=True, exist_ok=True)
    scripts = []
    for i, code in enumerate(_snippet_groups()):
        scripts.append(folder / f"readme_snippets_{i}.py")
        scripts[-1].write_text(code + "\n")
    return scripts


def test_readme_snippets_define_every_name_they_use(tmp_path):
    """Fast check: each snippet group names only what it imports or defines (pyflakes F821)."""
    scripts = _write_scripts(tmp_path)
    assert len(scripts) >= 3
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--isolated",
            "--select",
            "F821",
            *map(str, scripts),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_every_readme_snippet_runs_as_written(lc25000_dir, tmp_path):
    """Each group runs as a reader would, from a folder where ../shared/data is the shared data."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(lc25000_dir.parent)
    work, home = tmp_path / "work", tmp_path / "home"  # ~/.cache/skhisto lands in tmp_path
    home.mkdir()
    env = child_env(HOME=home)
    env.pop("SKHISTO_DATA", None)
    for script in _write_scripts(work):
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
