"""docs/findings.md: every generated table equals what its committed bundle gives today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[1]
SPEC = importlib.util.spec_from_file_location("findings_tables", ROOT / "docs/findings/tables.py")
tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(tables)


def test_findings_tables_are_generated_from_the_bundles():
    document = ROOT / "docs" / "findings.md"
    blocks = tables.BLOCK.findall(document.read_text())
    assert {name.split(":")[0] for name, _, _ in blocks} == set(tables.BLOCKS)
    assert tables.check(document) == []


def test_a_changed_number_is_caught(tmp_path):
    bundle = ROOT / "results" / "smoke-cpu"
    body = tables.summary_block(bundle)
    document = tmp_path / "docs" / "findings.md"
    document.parent.mkdir()
    document.write_text(f"<!-- begin summary {bundle} -->\n{body}<!-- end -->\n")
    assert tables.check(document) == []
    changed = body.replace("| 9.4 |", "| 9.5 |", 1)
    assert changed != body
    document.write_text(f"<!-- begin summary {bundle} -->\n{changed}<!-- end -->\n")
    assert tables.check(document) == [f"summary {bundle}"]
