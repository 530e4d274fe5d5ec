"""HTML rendering: sections of tables and figures, escaped tables, the Jinja2 template.

The template (``reports/templates/report.html.j2``) is rendered with autoescape on, so every
string from data or models is escaped; tables go through pandas' Styler with ``escape="html"``
and are then marked safe. Figures are embedded as base64 PNG: the file stands alone.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure

from reports.display import as_text
from reports.figures import png_data_uri

TEMPLATE = "report.html.j2"
_table_ids = itertools.count()


@dataclass
class Section:
    """A report section: a title, an optional paragraph, tables and figures.

    The ``extra_sections`` hook of :func:`reports.report.build_report` takes these: tables are
    ``(caption, DataFrame)`` (cells shown as text), figures ``(caption, matplotlib Figure or
    path of a PNG file)``.
    """

    title: str
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Figure | Path]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def table_html(frame: pd.DataFrame) -> Markup:
    """``frame`` as an HTML table with every cell and header escaped."""
    styler = (
        as_text(frame)
        .style.format(escape="html")
        .format_index(escape="html", axis=1)
        .hide(axis="index")
        .set_uuid(f"t{next(_table_ids)}")
        .set_table_attributes('class="data"')
    )
    return Markup(styler.to_html())  # safe: the Styler escaped every cell and header above


def figure_src(figure: Figure | Path) -> str:
    """A PNG data URI of a figure or of a PNG file."""
    if isinstance(figure, Path):
        return "data:image/png;base64," + base64.b64encode(figure.read_bytes()).decode("ascii")
    return png_data_uri(figure)


def render_section(section: Section) -> dict[str, Any]:
    """A template-ready dict: tables as safe HTML, figures as PNG data URIs."""
    return {
        "title": section.title,
        "text": section.text,
        "notes": section.notes,
        "tables": [{"caption": c, "html": table_html(t)} for c, t in section.tables if not t.empty],
        "figures": [{"caption": c, "src": figure_src(f)} for c, f in section.figures],
    }


def render(context: dict[str, Any]) -> str:
    """Render the report template with ``context`` (autoescape on)."""
    environment = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE).render(**context)
