"""The packages import one way: ``baselines`` imports nothing from ``method`` (the MI method
builds on the baselines, not the reverse); the shared loss pieces live in ``bench.losses``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def imported_packages(package: str) -> set[str]:
    """Top-level names every module of ``package`` imports (at any depth of the module)."""
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
    return names


def test_baselines_do_not_import_the_method():
    assert "method" not in imported_packages("baselines")
