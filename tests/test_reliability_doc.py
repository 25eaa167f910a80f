"""docs/reliability.md stays current: every case it lists names a test that exists."""

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
ROW = re.compile(r"^\|(?P<case>[^|]+)\|(?P<behaviour>.+)\|\s*`(?P<test>tests/[^`]+)`\s*\|$")


def _rows(section):
    text = DOC.read_text()
    part = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    return [m for line in part.splitlines() if (m := ROW.match(line.strip()))]


@functools.cache
def _test_names(path):
    tree = ast.parse((ROOT / path).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef) and item.name.startswith("test")
            )
    return names


def _missing(rows):
    missing = []
    for row in rows:
        path, _, name = row["test"].partition("::")
        name = name.split("[", 1)[0]
        if not (ROOT / path).is_file() or name not in _test_names(path):
            missing.append(row["test"])
    return missing


def test_every_listed_case_names_an_existing_test():
    rows = _rows("Bad input") + _rows("Faults")
    assert rows, "no rows parsed from docs/reliability.md"
    assert _missing(rows) == []


def test_table_covers_at_least_60_bad_inputs_and_12_faults():
    assert len(_rows("Bad input")) >= 60
    assert len(_rows("Faults")) >= 12


def test_row_parser_rejects_a_row_without_a_test():
    assert not ROW.match("| empty input | raises | no test |")
    assert ROW.match("| empty input | raises | `tests/test_io.py::test_x` |")
