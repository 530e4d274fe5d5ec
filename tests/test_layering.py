"""The packages import one way: the core (``bench``) imports nothing above it (``reports``,
``sweeps``, ``method``, ``baselines``); ``baselines`` imports nothing from ``method`` (the MI
method builds on the baselines, not the reverse; the shared loss pieces live in
``bench.losses``). ``bench --help`` lists the subcommands other packages provide without
importing the heavy libraries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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


def test_the_core_imports_nothing_above_it():
    assert not imported_packages("bench") & {"reports", "sweeps", "method", "baselines"}


HEAVY = ("torch", "pandas", "matplotlib", "optuna")
HELP_SCRIPT = f"""
import sys
from bench.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("heavy:", ",".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def test_help_lists_the_provided_commands_without_heavy_imports():
    out = subprocess.run(
        [sys.executable, "-c", HELP_SCRIPT], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    listed = set(re.search(r"positional arguments:\s+\{([a-z,]+)\}", out)[1].split(","))
    assert {"report", "export", "refresh", "verify", "ablate", "sweep"} <= listed
    assert out.splitlines()[-1] == "heavy: "
