"""Sections written by ``bench ablate`` / ``bench sweep``: ``section.json`` files in the run store.

Each ``<runs_dir>/ablations/*/section.json`` and ``<runs_dir>/sweeps/*/section.json`` (schema 1,
see ``sweeps/_section.py``) names a title, a paragraph, tables (CSV files) and figures (PNG
files) relative to its directory; they are shown as they are, nothing is recomputed. A file
that cannot be read becomes a section saying so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bench.store import read_json
from reports._html import Section

SECTION_DIRS = ("ablations", "sweeps")
SECTION_FILE = "section.json"
SECTION_SCHEMA = 1


def _load(path: Path) -> Section:
    data = read_json(path)
    if data.get("schema") != SECTION_SCHEMA:
        raise ValueError(f"schema {data.get('schema')!r}, expected {SECTION_SCHEMA}")
    folder = path.parent
    return Section(
        title=data["title"],
        text=data.get("text", ""),
        tables=[
            (
                t["caption"],
                pd.read_csv(folder / t.get("display_csv", t["csv"]), keep_default_na=False),
            )
            for t in data.get("tables", [])
        ],
        figures=[(f["caption"], folder / f["png"]) for f in data.get("figures", [])],
    )


def load_sections(runs_dir: Path) -> list[Section]:
    """Every ablation and sweep section under ``runs_dir``, in path order."""
    sections = []
    for kind in SECTION_DIRS:
        for path in sorted(Path(runs_dir).glob(f"{kind}/*/{SECTION_FILE}")):
            try:
                sections.append(_load(path))
            except (OSError, KeyError, ValueError, json.JSONDecodeError) as err:
                title = f"{kind}: {path.parent.name}"
                sections.append(Section(title, notes=[f"{path} could not be read: {err}"]))
    return sections
