"""The snippets of a markdown page as scripts, for the README and docs tests.

A ```python or ```bash block whose first line starts with ``# continues`` continues the block
of its language before it on the same page that runs (or of the language it names: ``# continues
the bash block above``): it runs after it, in its folder, and the python blocks of a chain share
one namespace. Every other block runs alone, in a fresh folder.

A block that cannot run here says so in the page, on the line before its fence, with the
reason a reader sees in the source: ``<!-- snippet: skip (installs packages) -->``.
"""

import re
import subprocess
import sys
from dataclasses import dataclass, field

CONTINUES = "# continues"
LANGUAGES = ("python", "bash")
SKIP = re.compile(r"^<!-- snippet: skip \((?P<reason>[^)]+)\) -->$")


@dataclass
class Group:
    """A block of a page with the blocks that continue it, run in order in one folder."""

    page: object
    text: list  # the page's lines when it was read: the blocks' line numbers index them
    language: str  # the first block's
    first: int  # the 1-based line of the first block's fence
    skip: str = None  # the reason it is not run, from the page
    blocks: list = field(default_factory=list)  # (language, the page's 0-based code lines)

    @property
    def name(self):
        return f"{self.page.name}:{self.first}"

    def scripts(self, languages=LANGUAGES):
        """(language, script) per run of consecutive blocks of one language (of ``languages``).

        A script is the page with every line outside its blocks blanked, so that an error (or
        a ruff finding) names the page's line; a bash script stops at its first failing
        command.
        """
        text, runs = self.text, []
        for language, lines in self.blocks:
            if language not in languages:
                continue
            if runs and runs[-1][0] == language:
                runs[-1][1].update(lines)
            else:
                runs.append((language, set(lines)))
        scripts = []
        for language, lines in runs:
            body = "\n".join(line if n in lines else "" for n, line in enumerate(text))
            prefix = "set -euo pipefail" if language == "bash" else ""
            scripts.append((language, prefix + body + "\n"))
        return scripts


def page_groups(page, languages=LANGUAGES):
    """The page's blocks of ``languages`` as :class:`Group` s, in page order.

    A block whose first line starts with ``# continues`` joins the last group of its language,
    or of the language it names (``# continues the bash block above``), that runs: a skipped
    block in between (an alternative that needs weights, say) is passed over.
    """
    lines = page.read_text().splitlines()
    groups, last, inside = [], {}, None
    for number, line in enumerate(lines):
        if inside is None and line.startswith("```") and line[3:] in languages:
            inside, language = number + 1, line[3:]
            before = next((lines[n] for n in range(number - 1, -1, -1) if lines[n].strip()), "")
            skip = SKIP.match(before.strip())
        elif inside is not None and line == "```":
            block = (language, set(range(inside, number)))
            head = lines[inside] if inside < number else ""
            if head.startswith(CONTINUES):
                named = [other for other in languages if f"the {other} block" in head]
                target = last.get(named[0] if named else language)
                if target is None:
                    raise ValueError(f"{page.name}:{inside}: nothing above for it to continue")
                if skip:
                    raise ValueError(
                        f"{page.name}:{inside}: a block that continues another cannot be skipped "
                        "alone; skip the block it continues"
                    )
                target.blocks.append(block)
            else:
                reason = skip.group("reason") if skip else None
                target = Group(page, lines, language, inside, reason, [block])
                groups.append(target)
            if not target.skip:
                last[language] = target
            inside = None
    return groups


def snippet_groups(page):
    """The page's python blocks as scripts: each block with the blocks that continue it.

    A script is the page's own lines with every line outside its blocks blanked, so a
    traceback (or a ruff finding) names the page's line at fault.
    """
    groups = page_groups(page)
    return [script for group in groups for _, script in group.scripts(("python",))]


def write_scripts(page, folder, stem):
    """Write the page's python snippet groups as ``folder/{stem}_{i}.py``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    scripts = []
    for i, code in enumerate(snippet_groups(page)):
        scripts.append(folder / f"{stem}_{i}.py")
        scripts[-1].write_text(code)
    return scripts


def undefined_names(scripts):
    """Ruff's F821 (undefined name) findings in the scripts: "" when there are none."""
    command = [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F821"]
    result = subprocess.run([*command, *map(str, scripts)], capture_output=True, text=True)
    return "" if result.returncode == 0 else result.stdout or result.stderr
