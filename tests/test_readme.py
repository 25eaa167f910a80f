"""The README's set-up commands and example stay true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
