"""Report sections: a JSON file describing an ablation's or a sweep's tables and figures.

``bench ablate`` and ``bench sweep`` each write ``section.json`` next to their outputs; the HTML
report finds them under ``<runs_dir>/ablations/*/`` and ``<runs_dir>/sweeps/*/`` and renders them
without recomputing anything. Schema (paths relative to the section's directory)::

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

from pathlib import Path
from typing import Any

import pandas as pd

from bench.store import write_json, write_text_atomic
from sweeps._reporting import export_table

SECTION_FILE = "section.json"
SECTION_SCHEMA = 1


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
    """A section's figure entry from :func:`sweeps._reporting.save_figure`'s png/svg paths."""
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
