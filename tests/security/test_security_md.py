"""SECURITY.md cannot rot: every test it names exists, and every control row names one."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NODE_ID = re.compile(r"`((?:[\w-]+/)*test_\w+\.py)::(test_\w+)(?:\[[^\]`]*\])?`")


def _functions(path):
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_named_test_exists():
    text = (ROOT / "SECURITY.md").read_text()
    named = NODE_ID.findall(text)
    assert len(named) >= 30
    missing = [
        f"{path}::{name}" for path, name in named if not (ROOT / path).is_file() or name not in _functions(ROOT / path)
    ]
    assert missing == []


def test_every_control_row_names_a_test():
    text = (ROOT / "SECURITY.md").read_text()
    table = text.split("## Controls", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Control")]
    assert len(rows) >= 15
    assert [row for row in rows if not NODE_ID.search(row) and not set(row) <= set("|-: ")] == []
