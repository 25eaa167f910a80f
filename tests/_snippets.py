"""Python snippets of a markdown page as scripts, for the README and docs tests.

A snippet whose first line starts with ``# continues`` continues the python snippet before it
on the same page: it runs after it, in its namespace. Every other snippet runs alone.
"""

import subprocess
import sys

CONTINUES = "# continues"


def snippet_groups(page):
    """The page's python blocks as scripts: each block with the blocks that continue it.

    A script is the page's own lines with every line outside its blocks blanked, so a
    traceback (or a ruff finding) names the page's line at fault.
    """
    lines = page.read_text().splitlines()
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


def write_scripts(page, folder, stem):
    """Write the page's snippet groups as ``folder/{stem}_{i}.py``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    scripts = []
    for i, code in enumerate(snippet_groups(page)):
        scripts.append(folder / f"{stem}_{i}.py")
        scripts[-1].write_text(code + "\n")
    return scripts


def undefined_names(scripts):
    """Ruff's F821 (undefined name) findings in the scripts: "" when there are none."""
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821"]
    result = subprocess.run([*command, *map(str, scripts)], capture_output=True, text=True)
    return "" if result.returncode == 0 else result.stdout or result.stderr
