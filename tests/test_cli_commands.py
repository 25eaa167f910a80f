"""Every `skhisto` command at once: its --help, the command protocol and the import rules."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from skhisto.cli import COMMANDS

CLI = Path(__file__).resolve().parents[1] / "skhisto" / "cli"

#: Words each command's --help epilog must hold: an example, and the Python it runs.
EXAMPLES = {
    "skhisto": ["skhisto embed ../shared/data/lc25000_lung"],
    "backbones": ["skhisto backbones --format csv"],
    "embed": ["skhisto embed tiles.csv --backbone uni --out tiles.parquet", "FoundationEmbedder("],
    "noise-curve": [
        "skhisto noise-curve ../shared/data/lc25000_lung --no-pretrained",
        "noise_robustness_curve(",
        "noise_curve.csv",
    ],
    "label-issues": [
        "skhisto label-issues ../shared/data/lc25000_lung --no-pretrained",
        "LabelIssueFilter(method=METHOD",
        "find_label_issues(X, y, method=METHOD",
        "estimate_noise(",
        "label_issues.csv",
        "path, label, label_quality, issue,",
    ],
    "review": [
        "skhisto review results/label-issues/label_issues.csv --embeddings emb.npz",
        "skhisto.review.make_app(",
        "<stem>.decisions.csv",
    ],
    "audit": [
        "skhisto audit ../shared/data/lc25000_lung --no-pretrained",
        "audit_dataset(X, y, groups=groups",
        "audit.csv",
    ],
    "active": [
        "skhisto active emb.npz --strategy random coreset typiclust",
        "LogisticRegression(max_iter=1000",
        "make_query_strategy(NAME",
        "active.csv",
    ],
    "simclr": ["skhisto simclr ../shared/data/lc25000_lung --out encoder.safetensors"],
    "active-simclr": ["skhisto active-simclr ../shared/data/lc25000_lung --strategy coreset"],
    "cache": ["skhisto cache info"],
    "info": ["skhisto info emb.npz", "read_provenance(FILE)"],
    "doctor": ["skhisto doctor", "huggingface_hub.try_to_load_from_cache("],
    "fetch": ["skhisto fetch crc-val-he-7k"],
    "qupath": [
        "skhisto qupath export patches.npz --out qupath/",
        "skhisto qupath import slides/ --annotations annotations/",
        "write_qupath_geojson(table, path, classification=COLUMN",
        "label_patches(table, read_qupath_geojson(GEOJSON), min_overlap=F)",
    ],
}


def test_every_command_has_its_examples():
    assert set(EXAMPLES) == {"skhisto"} | {module.NAME for module in COMMANDS}


@pytest.mark.parametrize("command", EXAMPLES)
def test_help_exits_0_with_examples(command, run_cli):
    argv = ["--help"] if command == "skhisto" else [command, "--help"]
    result = run_cli(*argv)
    assert result.code == 0 and result.err == ""
    usage = "usage: skhisto" if command == "skhisto" else f"usage: skhisto {command}"
    assert result.out.startswith(usage)
    examples = " ".join(result.out.split("examples:")[1].split())
    for words in EXAMPLES[command]:
        assert words in examples, words


@pytest.mark.parametrize("module", COMMANDS, ids=lambda module: module.NAME)
def test_commands_follow_one_protocol(module):
    for name in ("NAME", "HELP", "DESCRIPTION", "EPILOG"):
        assert isinstance(getattr(module, name), str) and getattr(module, name)
    assert callable(module.add_arguments) and callable(module.run)
    assert module.__name__ == f"skhisto.cli.commands.{module.NAME.replace('-', '_')}"


def _imports(path):
    """(module, names) of every ``from ... import ...`` in ``path``, made absolute."""
    package = ".".join(path.relative_to(CLI.parents[1]).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
            yield module if node.level else node.module, [alias.name for alias in node.names]


def test_no_command_imports_another():
    for path in (CLI / "commands").glob("*.py"):
        for module, names in _imports(path):
            if path.name != "__init__.py":
                assert not module.startswith("skhisto.cli.commands"), (path.name, module)
                assert "commands" not in names, path.name


def test_the_cli_imports_only_public_names_of_the_library():
    offenders = []
    for path in CLI.rglob("*.py"):
        for module, names in _imports(path):
            if not module.startswith("skhisto.") or module.startswith("skhisto.cli"):
                continue
            private = [m for m in module.split(".")[1:] if m.startswith("_")]
            private += [n for n in names if n.startswith("_")]
            if private:
                offenders.append(f"{path.relative_to(CLI)}: {module} {names}")
    assert offenders == []


def test_the_shared_modules_import_no_command():
    for path in set(CLI.glob("_*.py")) - {CLI / "__init__.py"}:
        for module, _ in _imports(path):
            assert not module.startswith("skhisto.cli.commands"), (path.name, module)


def test_help_does_not_import_the_registered_classes():
    # The --noise and --strategy choices are read from the registries when a command needs them.
    code = (
        "import sys; from skhisto.cli import main; main(['--help']); "  # prints the help
        "assert 'skhisto.noise._uniform' not in sys.modules, 'noise models imported'; "
        "assert 'skhisto.active._coreset' not in sys.modules, 'strategies imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=CLI.parents[1])
