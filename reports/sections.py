"""Report sections of ``bench ablate`` / ``bench sweep``: ``section.json`` files in the run store.

Each command writes its tables, figures and ``section.json`` (:func:`write_section`) into
``<runs_dir>/ablations/<name>/`` or ``<runs_dir>/sweeps/<name>/``; the HTML report finds them
there (:func:`load_sections`) and shows them as they are, recomputing nothing. A file that
cannot be read becomes a section saying so. Schema (paths relative to the section's directory)::

    {"schema": 1, "kind": "ablation" | "sweep", "title": str, "text": str,
     "tables": [{"caption": str, "csv": path, "display_csv": path, "markdown": path,
                 "latex": path}],
     "figures": [{"caption": str, "png": path, "svg": path}],
     "details": {...}}                  # kind-specific facts (key, values, best params, ...)

``csv`` holds raw numbers (fractions, one per column); ``display_csv``, ``markdown`` and ``latex``
the same table as text (percentages, intervals), which is what a report shows. An ablation's
``details.runs`` lists its run directories relative to the run store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import read_json, write_json, write_text_atomic
from reports.export import export_table
from reports.html import Section

ABLATIONS, SWEEPS = "ablations", "sweeps"  # the folders of the run store that hold sections
SECTION_DIRS = (ABLATIONS, SWEEPS)
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


def export_section_table(
    raw: pd.DataFrame, display: pd.DataFrame, directory: Path, name: str, caption: str
) -> dict[str, str]:
    """Write ``<name>.csv`` (raw), ``<name>.display.csv``, ``.md`` and ``.tex``; the entry."""
    csv, markdown, latex = (p.name for p in export_table(raw, display, directory, name, caption))
    display_csv = Path(directory) / f"{name}.display.csv"
    write_text_atomic(display_csv, display.to_csv(index=False))
    return {
        "caption": caption,
        "csv": csv,
        "display_csv": display_csv.name,
        "markdown": markdown,
        "latex": latex,
    }


def figure_entry(paths: list[Path], caption: str) -> dict[str, str]:
    """A section's figure entry from :func:`reports.figures.save_figure`'s png/svg paths."""
    png, svg = (p.name for p in paths)
    return {"caption": caption, "png": png, "svg": svg}


def write_section(
    directory: Path,
    *,
    kind: str,
    title: str,
    text: str,
    tables: list[dict[str, str]],
    figures: list[dict[str, str]],
    details: dict[str, Any],
) -> Path:
    """Write ``<directory>/section.json`` and return its path."""
    path = Path(directory) / SECTION_FILE
    write_json(
        path,
        {
            "schema": SECTION_SCHEMA,
            "kind": kind,
            "title": title,
            "text": text,
            "tables": tables,
            "figures": figures,
            "details": details,
        },
    )
    return path
