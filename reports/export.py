"""Write a table as CSV (raw numbers), Markdown and LaTeX (booktabs; display strings).

Markdown is written here (no ``tabulate`` dependency); LaTeX comes from pandas' Styler with
``hrules=True`` (``\\toprule``/``\\midrule``/``\\bottomrule``) and LaTeX-escaped cells.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from bench.store import write_text_atomic
from reports.display import as_text


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame``'s cells as text (pipes escaped)."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = [cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |"
        for row in as_text(frame).itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
LATEX_SYMBOLS = {"±": r"$\pm$", "−": "-", "†": r"\dag{}", "×": r"$\times$"}  # pdflatex-safe


def escape_latex(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (one pass)."""
    return re.sub(
        "|".join(re.escape(c) for c in LATEX_SPECIAL), lambda m: LATEX_SPECIAL[m[0]], text
    )


def to_latex(frame: pd.DataFrame, caption: str | None = None) -> str:
    """A booktabs ``tabular`` (inside a ``table`` with ``caption`` when given)."""
    cells = as_text(frame).map(escape_latex)
    cells.columns = [escape_latex(str(c)) for c in frame.columns]
    kwargs = {"caption": escape_latex(caption), "position": "htbp"} if caption else {}
    text = cells.style.hide(axis="index").to_latex(
        hrules=True, column_format="l" * len(frame.columns), **kwargs
    )
    for symbol, replacement in LATEX_SYMBOLS.items():
        text = text.replace(symbol, replacement)
    return text


def export_table(
    raw: pd.DataFrame, display: pd.DataFrame, directory: Path, name: str, caption: str
) -> list[Path]:
    """``<name>.csv`` (raw), ``<name>.md`` and ``<name>.tex`` (display) under ``directory``."""
    directory = Path(directory)
    paths = [directory / f"{name}.{ext}" for ext in ("csv", "md", "tex")]
    write_text_atomic(paths[0], raw.to_csv(index=False))
    write_text_atomic(paths[1], f"{caption}\n\n{to_markdown(display)}")
    write_text_atomic(paths[2], to_latex(display, caption))
    return paths
