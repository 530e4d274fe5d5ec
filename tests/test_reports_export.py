"""Table export: CSV (raw), Markdown and booktabs LaTeX (display), with escaping."""

from __future__ import annotations

import pandas as pd

from reports.display import interval, mean_std, p_value, pct
from reports.export import escape_latex, export_table, to_latex, to_markdown

DISPLAY = pd.DataFrame({"strategy": ["dss+mi", "a|b"], "acc_% (mean ± std)": ["61.30 ± 1.20", "x"]})


def test_markdown_table_escapes_pipes():
    text = to_markdown(DISPLAY)
    lines = text.splitlines()
    assert lines[0] == "| strategy | acc_% (mean ± std) |"
    assert lines[1] == "|---|---|"
    assert lines[3] == "| a\\|b | x |"


def test_latex_is_booktabs_and_escaped():
    text = to_latex(DISPLAY, caption="Accuracy_1 & more")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in text
    assert r"acc\_\% (mean $\pm$ std)" in text
    assert r"\caption{Accuracy\_1 \& more}" in text
    assert escape_latex(r"50% _ {x} \ ~") == (r"50\% \_ \{x\} \textbackslash{} \textasciitilde{}")


def test_export_table_writes_three_files(tmp_path):
    raw = pd.DataFrame({"accuracy": [0.613, 0.5]})
    paths = export_table(raw, DISPLAY, tmp_path / "tables", "summary", "Caption")
    assert [p.name for p in paths] == ["summary.csv", "summary.md", "summary.tex"]
    assert pd.read_csv(paths[0])["accuracy"].tolist() == [0.613, 0.5]
    assert paths[1].read_text().startswith("Caption\n\n| strategy")


def test_number_formats():
    assert pct(0.62189) == "62.19"
    assert pct(float("nan")) == ""
    assert interval(0.598, 0.63) == "[59.80, 63.00]"
    assert mean_std(0.613, 0.012) == "61.30 ± 1.20"
    assert mean_std(0.613, float("nan")) == "61.30"
    assert p_value(0.012345) == "0.0123"
    assert pct(-1e-6) == "0.00"


def test_missing_values_export_as_empty_cells():
    frame = pd.DataFrame({"a": [None, 1.5], "b": [float("nan"), "x"]})
    assert to_markdown(frame).splitlines()[2] == "|  |  |"
    assert "nan" not in to_latex(frame) and "None" not in to_latex(frame)
