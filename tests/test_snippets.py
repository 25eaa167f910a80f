"""Every python and bash snippet of the README and the guide runs as written, in any order.

Each snippet (a block with the blocks that continue it, see tests/_snippets.py) runs alone in
a fresh folder where ``../shared/data`` is the shared data, as a reader who copies it into a
shell at the root of a clone, with ``skhisto`` and ``python`` this checkout's. A block that
cannot run here (it installs packages, needs weights, a GPU, the network, a person or the
reader's own slides) is marked in the page, with its reason:
``<!-- snippet: skip (installs packages) -->``; the run reports it as skipped, with the reason.

Run alone, no snippet can lean on another's files; two snippets that write the same file
would clash when a reader runs both in one folder (as the README's and the active-learning
guide's checkpoints once did): ``test_snippets_write_different_files`` refuses that.
"""

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _snippets import SKIP, page_groups
from conftest import child_env

ROOT = Path(__file__).resolve().parents[1]
# The README, the landing page and the user guide (with the two pages its toctree takes from
# docs/: backbones, contrastive).
GUIDE = [*sorted(ROOT.glob("docs/guide/*.md")), ROOT / "docs" / "backbones.md"]
PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", *GUIDE, ROOT / "docs" / "contrastive.md"]
GROUPS = [group for page in PAGES for group in page_groups(page)]

# The folders the commands write to without --out-dir.
DEFAULT_OUT_DIRS = {
    "noise-curve": "noise-curve",
    "active": "active",
    "label-issues": "label-issues",
    "audit": "audit",
    "simclr": "results",
    "active-simclr": "results",
}
BASH_OUTPUT_OPTIONS = ("--out", "--out-dir", "--checkpoint-dir", "--annotate")
PYTHON_OUTPUTS = re.compile(
    r"(?:checkpoint_dir=|savefig\(|save_encoder\(|to_csv\(|make_slide\(f?)\"(?P<name>[^\"{]+)"
)


# Runs a snippet's scripts in order: python ones in one namespace, bash ones with bash; the
# first failure ends it with its traceback or bash's error.
DRIVER = """\
import json, subprocess, sys

namespace = {"__name__": "__main__"}
for language, path in json.loads(sys.argv[1]):
    if language == "python":
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), namespace)
    else:
        subprocess.run(["bash", path], check=True)
"""


def _param(group):
    marks = [pytest.mark.skip(reason=f"{group.name}: {group.skip}")] if group.skip else []
    return pytest.param(group, id=group.name, marks=marks)


def test_pages_have_snippets_and_few_are_skipped():
    languages = {group.language for group in GROUPS}
    assert languages == {"python", "bash"}
    skipped = [group.name for group in GROUPS if group.skip]
    assert len(skipped) <= 0.4 * len(GROUPS), f"most snippets must run; skipped: {skipped}"


def test_every_skip_marker_sits_on_a_snippet():
    """A marker not right above a ```python or ```bash fence skips nothing: a typo, refused."""
    for page in PAGES:
        markers = [line for line in page.read_text().splitlines() if line.startswith("<!-- snip")]
        assert all(SKIP.match(line) for line in markers), (page.name, markers)
        skipped = [group for group in GROUPS if group.page == page and group.skip]
        assert len(markers) == len(skipped), f"{page.name}: a marker above no snippet"


def _bash_outputs(script):
    """(output path, the command line that writes it) of each skhisto command of a script."""
    text = re.sub(r"\\\n", " ", script)
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] != ["skhisto"] or len(words) < 2:
            continue
        given = [words[i + 1] for i, w in enumerate(words[:-1]) if w in BASH_OUTPUT_OPTIONS]
        if "--out-dir" not in words and words[1] in DEFAULT_OUT_DIRS and "--annotate" not in words:
            given.append(DEFAULT_OUT_DIRS[words[1]])
        for path in given:
            yield path, " ".join(words)


def _python_outputs(script):
    for line in script.splitlines():
        for match in PYTHON_OUTPUTS.finditer(line):
            yield match["name"], line.strip()


def test_snippets_write_different_files():
    """Two snippets that are not chained never write the same file or folder, unless with the
    very same command (which writes the same thing again)."""
    writers = {}
    for group in GROUPS:
        for language, script in group.scripts():
            find = _bash_outputs if language == "bash" else _python_outputs
            for path, command in find(script):
                writers.setdefault(path.rstrip("/"), {}).setdefault(command, set()).add(group.name)
    clashes = {
        path: commands
        for path, commands in writers.items()
        if len(commands) > 1 and len(set().union(*commands.values())) > 1
    }
    assert not clashes, clashes


@pytest.fixture(scope="session")
def reader_home(tmp_path_factory):
    """A reader's home, shared by the snippets of a session: ~/.cache/skhisto embeds once."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="session")
def reader_bin(tmp_path_factory):
    """``skhisto`` and ``python`` of this checkout first on the reader's PATH."""
    folder = tmp_path_factory.mktemp("bin")
    for name, command in (("python", ""), ("skhisto", " -m skhisto")):
        (folder / name).write_text(f'#!/bin/sh\nexec "{sys.executable}"{command} "$@"\n')
        (folder / name).chmod(0o755)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("group", [_param(group) for group in GROUPS])
def test_snippet_runs_as_written(group, lc25000_dir, tmp_path, reader_home, reader_bin):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(lc25000_dir.parent)
    # The reader's clone: the scripts the pages run (benchmarks/), and what the snippet writes.
    clone = tmp_path / "clone"
    ignore = shutil.ignore_patterns("__pycache__", "results")
    shutil.copytree(ROOT / "benchmarks", clone / "benchmarks", ignore=ignore)
    env = child_env(HOME=reader_home)
    env["PATH"] = f"{reader_bin}:{env['PATH']}"
    env.pop("SKHISTO_DATA", None)
    steps = []
    for i, (language, script) in enumerate(group.scripts()):
        path = tmp_path / f"{group.page.stem}_{group.first}_{i}.{language[:2]}"
        path.write_text(script)
        steps.append((language, str(path)))
    driver = tmp_path / "run_snippet.py"
    driver.write_text(DRIVER)
    result = subprocess.run(
        [sys.executable, str(driver), json.dumps(steps)],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, (
        f"{group.name} (the script's line numbers are the page's):\n{output}"
    )
