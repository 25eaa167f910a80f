"""The extras match the jobs: the main job runs on the core install and the plot extra.

The main job (``skhisto noise-curve``, the README's first command) runs in a child Python in
which every installed distribution outside the core dependencies, the plot extra and what they
require in turn cannot be found: pytest, the docs tools and the other extras look absent, as
after ``pip install -e ".[plot]"`` on a fresh machine (``tests/test_readme.py`` checks that the
README installs that). Optional imports elsewhere (scikit-learn tries pytest) take the path
they take without them.
"""

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from conftest import child_env

ROOT = Path(__file__).resolve().parents[1]

BLOCKER = """\
import json, sys

BLOCKED = set(json.loads(sys.argv.pop(1)))


class Hide:
    \"\"\"A finder that finds nothing of the blocked distributions: as if not installed.\"\"\"

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED or not hasattr(self.finder, "find_spec"):
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, name):
        return getattr(self.finder, name)


sys.meta_path[:] = [Hide(finder) for finder in sys.meta_path]
from skhisto.cli import main

sys.exit(main(sys.argv[1:]))
"""


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(extras):
    """Normalized names of the core dependencies, ``extras``, and all they require, installed."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        todo += [Requirement(r) for r in project["optional-dependencies"][extra]]
    seen = {"skhisto"}
    while todo:
        requirement = todo.pop()
        name = _normal(requirement.name)
        if name in seen:
            continue
        try:
            requires = metadata.requires(requirement.name) or []
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        wanted = requirement.extras or {""}
        for line in requires:
            needed = Requirement(line)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(needed)
    return seen


def _blocked_modules(extras):
    """Top-level modules installed here that only distributions outside the closure provide."""
    allowed = _closure(extras)
    return sorted(
        module
        for module, distributions in metadata.packages_distributions().items()
        if not any(_normal(d) in allowed for d in distributions)
    )


def test_core_and_plot_leave_out_the_other_extras():
    blocked = set(_blocked_modules(["plot"]))
    assert {"pytest", "numpydoc", "sphinx", "dask", "transformers", "openslide"} <= blocked
    core = {"torch", "timm", "skorch", "sklearn", "pandas", "matplotlib", "threadpoolctl"}
    assert not core & blocked


@pytest.mark.slow
def test_main_job_runs_on_the_core_and_plot_extras(lc25000_dir, tmp_path):
    """`skhisto noise-curve` (small options, same code path) with only core + plot importable."""
    script = tmp_path / "main_job.py"
    script.write_text(BLOCKER)
    out = tmp_path / "noise-curve"
    command = [
        *("noise-curve", str(lc25000_dir), "--no-pretrained", "--per-class", "12"),
        *("--image-size", "32", "--cv", "2", "--rates", "0", "0.4", "--max-epochs", "3"),
        *("--cache", str(tmp_path / "cache"), "--out-dir", str(out)),
    ]
    blocked = json.dumps(_blocked_modules(["plot"]))
    result = subprocess.run(
        [sys.executable, str(script), blocked, *command],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (out / "noise_curve.csv").stat().st_size > 0
    assert (out / "noise_curve.png").stat().st_size > 0
