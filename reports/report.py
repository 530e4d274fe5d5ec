"""``build_report``: run store -> tables (CSV/Markdown/LaTeX), figures (PNG/SVG), one HTML file.

This is what ``bench report`` calls. It never fails on an empty or partial store: what is
missing (no runs, planned runs not finished, paper numbers without runs, no training logs, no
rationales) is listed at the top of the report instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench.store import RunDir, write_text_atomic
from reports.calibration import CONFIDENCE_DEFINITION, CONFIDENCE_SHORT
from reports.calibration_tables import calibration_table, paired_calibration_table
from reports.collect import RunStore, collect_runs
from reports.display import (
    calibration_display,
    claims_display,
    paired_calibration_display,
    paired_display,
    summary_display,
    verdict_display,
)
from reports.examples import example_blocks
from reports.export import export_table
from reports.html import Section, render, render_section, table_html
from reports.missing import missing_runs
from reports.notes import method_notes
from reports.output import claim_output
from reports.paper import claims_table, load_papers, verdict_table
from reports.report_sections import (
    ReportTables,
    ablation_section,
    answers_section,
    calibration_section,
    dataset_sections,
    provenance_section,
    training_section,
    verdict_section,
)
from reports.sections import load_sections
from reports.stats import BootstrapSpec
from reports.tables import DEFAULT_PAIRS, paired_table, summary_table

DEFAULT_SPEC = BootstrapSpec()
UNFINISHED_SHOWN = 5  # unfinished run directories named in the "missing" box


@dataclass
class ReportResult:
    """Where everything was written, and what the report says is missing."""

    html: Path
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    n_runs: int = 0


def _compute(
    store: RunStore,
    spec: BootstrapSpec,
    pairs: list[tuple[str, str]],
    suite: str | None,
    profile: str | None,
    papers_dir: str | Path | None,
) -> ReportTables:
    papers = load_papers(papers_dir)
    summary = summary_table(store, spec)
    paired = paired_table(store, spec, pairs)
    paired_calibration = paired_calibration_table(store, spec, pairs)
    return ReportTables(
        summary=summary,
        paired=paired,
        calibration=calibration_table(store, spec),
        paired_calibration=paired_calibration,
        verdicts=verdict_table(store, summary, papers),
        claims=claims_table(store, paired, paired_calibration, papers),
        missing=missing_runs(store, suite, profile),
    )


def _missing_messages(store: RunStore, tables: ReportTables, filters: str) -> list[str]:
    messages = []
    if store.empty:
        messages.append(f"No finished runs under {store.runs_dir} ({filters}).")
    if not tables.missing.empty:
        counts = tables.missing.groupby(["suite", "profile", "status"]).size()
        for (suite, profile, status), n in counts.items():
            messages.append(
                f"{n} run(s) planned by suite {suite}, profile {profile} (without --set "
                f"overrides): {status}."
            )
    if store.unfinished:
        shown = ", ".join(store.unfinished[:UNFINISHED_SHOWN])
        more = " and more" if len(store.unfinished) > UNFINISHED_SHOWN else ""
        messages.append(
            f"{len(store.unfinished)} started run(s) without finished metrics: {shown}{more}."
        )
    if not tables.verdicts.empty:
        absent = tables.verdicts[tables.verdicts["verdict"] == "missing"]
        if not absent.empty:
            messages.append(
                f"{len(absent)} paper number(s) have no run to compare with: "
                + ", ".join(sorted(set(absent["strategy"] + " on " + absent["dataset"])))
            )
    if not store.empty and store.train_log.empty:
        messages.append(f"No training logs ({RunDir.TRAIN_LOG}): no training curves.")
    return messages


def _header(store: RunStore, source: str, filters: str) -> list[str]:
    try:
        package = version("cotbench")
    except PackageNotFoundError:
        package = "unknown"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"{source} ({filters}); {len(store.runs)} finished run(s).",
        f"Generated {stamp} by cotbench {package}.",
    ]


def _export_all(
    store: RunStore, tables: ReportTables, tables_dir: Path, spec: BootstrapSpec
) -> list[Path]:
    keys = store.variant_keys
    exports = [
        ("runs", store.runs, store.runs, "One row per finished run"),
        (
            "summary",
            tables.summary,
            summary_display(tables.summary, keys),
            f"Test accuracy; {spec.describe()}",
        ),
        (
            "paired",
            tables.paired,
            paired_display(tables.paired, keys),
            "Paired comparisons; Holm over every comparison of the table",
        ),
        ("verdicts", tables.verdicts, verdict_display(tables.verdicts), "Paper numbers vs ours"),
        (
            "claims",
            tables.claims,
            claims_display(tables.claims),
            "Paper claims vs our paired tests",
        ),
        (
            "calibration",
            tables.calibration,
            calibration_display(tables.calibration, keys),
            CONFIDENCE_DEFINITION,
        ),
        (
            "paired_calibration",
            tables.paired_calibration,
            paired_calibration_display(tables.paired_calibration, keys),
            "Paired ECE differences; " + CONFIDENCE_DEFINITION,
        ),
        ("missing", tables.missing, tables.missing, "Planned runs without results"),
    ]
    paths = []
    for name, raw, display, caption in exports:
        paths += export_table(raw, display, tables_dir, name, caption)
    return paths


def build_report(
    runs_dir: str | Path = "runs",
    *,
    suite: str | None = None,
    profile: str | None = None,
    out: str | Path = "report.html",
    tables_dir: str | Path | None = None,
    spec: BootstrapSpec = DEFAULT_SPEC,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    extra_sections: Sequence[Section] = (),
    n_examples: int = 5,
    papers_dir: str | Path | None = None,
    source: str | None = None,
    force: bool = False,
) -> ReportResult:
    """Write the HTML report, every table (CSV/MD/TeX) and every figure (PNG/SVG).

    ``tables_dir`` defaults to ``<out stem>-tables`` beside ``out``; figures go to its
    ``figures/`` folder. The ``section.json`` files of ``bench ablate`` / ``bench sweep`` under
    ``runs_dir`` and then ``extra_sections`` are added after the ablation section. ``source``
    names where the runs come from in the header (default: ``Run store: <runs_dir>``).
    Another report's files there, or files no report wrote, raise ConfigError unless ``force``;
    this report's figures from an earlier run are removed (:func:`reports.output.claim_output`).
    """
    runs_dir, out = Path(runs_dir), Path(out)
    tables_dir = Path(tables_dir) if tables_dir else out.with_name(f"{out.stem}-tables")
    figures_dir = tables_dir / "figures"
    origin = source or f"Run store: {runs_dir}"
    owner = {"source": source or f"Run store: {runs_dir.resolve()}", "suite": suite}
    claim_output(out, tables_dir, {**owner, "profile": profile}, force)
    filters = f"suite {suite or 'any'}, profile {profile or 'any'}"
    suite_name = Path(suite).stem if suite and suite.endswith((".yaml", ".yml")) else suite
    store = collect_runs(runs_dir, suite_name, profile)
    pair_list = list(dict.fromkeys([*DEFAULT_PAIRS, *pairs]))
    tables = _compute(store, spec, pair_list, suite, profile, papers_dir)
    figures: list[Path] = []
    sections = [
        answers_section(tables, spec, figures_dir, figures),
        verdict_section(tables, spec),
        *dataset_sections(store, tables, spec, figures_dir, figures),
        calibration_section(store, tables, figures_dir, figures),
        training_section(store, figures_dir, figures),
    ]
    if not store.empty:
        sections.append(ablation_section(store, tables.summary, figures_dir, figures))
    sections += [*load_sections(runs_dir), *extra_sections]
    messages = _missing_messages(store, tables, filters)
    context = {
        "title": "cotbench report",
        "header_lines": _header(store, origin, filters),
        "missing_messages": messages,
        "missing_table": table_html(tables.missing) if not tables.missing.empty else "",
        "missing_count": len(tables.missing),
        "sections": [render_section(s) for s in sections],
        "example_blocks": example_blocks(store, n_examples),
        "confidence_short": CONFIDENCE_SHORT,
        "method_notes": method_notes(spec),
        "closing_sections": [render_section(provenance_section(store))],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, render(context))
    table_paths = _export_all(store, tables, tables_dir, spec)
    return ReportResult(out, table_paths, figures, messages, len(store.runs))
