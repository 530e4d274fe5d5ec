"""The report's sections: verdicts, per-dataset results, calibration, training curves,
ablations and provenance, each built from the computed tables and the run store.

Figures are written as PNG and SVG under the figures folder; the HTML embeds the PNG file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from reports.calibration import CONFIDENCE_DEFINITION, CONFIDENCE_SHORT, MIN_RELIABLE_N
from reports.calibration_tables import reliability_data
from reports.collect import RunStore
from reports.display import (
    calibration_display,
    ci_label,
    claims_display,
    paired_calibration_display,
    paired_display,
    summary_display,
    verdict_display,
)
from reports.examples import condition_label
from reports.figures import (
    ablation_curve,
    noise_curve,
    paired_differences_figure,
    reliability_figure,
    save_figure,
    training_curves_figure,
)
from reports.html import Section
from reports.paper import MISSING
from reports.provenance import provenance_tables
from reports.stats import BootstrapSpec
from reports.tables import ALPHA

NOISE_LEVEL = "noise.level"


@dataclass
class ReportTables:
    """Every computed table of one report (raw numbers)."""

    summary: pd.DataFrame
    paired: pd.DataFrame
    calibration: pd.DataFrame
    paired_calibration: pd.DataFrame
    verdicts: pd.DataFrame
    claims: pd.DataFrame
    missing: pd.DataFrame


def _safe(name: str) -> str:
    """A file-name-safe version of ``name``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def _save(fig: Figure, directory: Path, name: str, written: list[Path]) -> Path:
    """Write PNG and SVG, record both, return the PNG (embedded in the HTML from the file)."""
    paths = save_figure(fig, directory, _safe(name))
    written += paths
    return paths[0]


def _missing_note(frame: pd.DataFrame, what: str) -> str:
    """One line naming everything of ``frame`` (verdict rows) that has no runs, per item."""
    absent = frame[frame["verdict"] == MISSING]
    if absent.empty:
        return ""
    items = absent.groupby(what, sort=True)["dataset"].agg(lambda d: ", ".join(sorted(set(d))))
    return "No runs to compare with: " + "; ".join(f"{k} on {v}" for k, v in items.items()) + "."


def answers_section(
    tables: ReportTables, spec: BootstrapSpec, figures_dir: Path, written: list[Path]
) -> Section:
    """The papers' claims first: per claim, our verdict on every dataset with runs, with the
    paired difference, its CI and Holm p; one forest plot of every claim comparison; datasets
    without runs in one line at the end."""
    section = Section(
        "Answers: the papers' claims",
        f"Per claim, our paired comparison on each dataset with runs ({spec.level:.0%} CI, "
        f"Holm p over the report's comparisons; a claim holds when Holm p < {ALPHA} in the "
        "claimed direction). reproduced / not reproduced: same setting; not comparable: another "
        "model, profile or data size (reason shown).",
    )
    claims = tables.claims
    if claims.empty:
        section.notes.append("No paper claims loaded.")
        return section
    present = claims[claims["verdict"] != MISSING]
    display = claims_display(present)
    for (paper, text), rows in present.groupby(["paper", "claim"], sort=False):
        source = rows["source"].iloc[0]
        section.tables.append((f"{text} ({paper}; {source})", display.loc[rows.index]))
    if not present.empty:
        labels = [
            f"{r.dataset}: {r.a} − {r.b} ({r.metric})" for r in present.itertuples(index=False)
        ]
        fig = paired_differences_figure(
            present.assign(seed_diffs=present.get("seed_diffs", "")), labels, "Claims"
        )
        png = _save(fig, figures_dir, "claims", written)
        section.figures.append(
            (f"Every claim comparison: a − b in points (accuracy or ECE), {spec.level:.0%} CI", png)
        )
    note = _missing_note(claims, "claim")
    if note:
        section.notes.append(note)
    return section


def verdict_section(tables: ReportTables, spec: BootstrapSpec) -> Section:
    """Paper numbers beside ours, with verdicts (numbers without runs in one line)."""
    verdicts = tables.verdicts
    section = Section(
        "Paper numbers against ours",
        "Our accuracy beside each paper number. reproduced: same setting and the paper value "
        f"inside our {spec.level:.0%} CI; not comparable: another model, profile or data size "
        "(reason shown). † = reconstructed from stated gains, not read from a paper table.",
    )
    if verdicts.empty:
        return section
    shown = verdicts[verdicts["verdict"] != MISSING]
    section.tables.append(("Paper numbers vs ours (accuracy %)", verdict_display(shown)))
    note = _missing_note(verdicts.assign(item=verdicts["strategy"]), "item")
    if note:
        section.notes.append(note)
    return section


def _comparison_label(row: pd.Series, variant_keys: list[str]) -> str:
    variants = ", ".join(f"{k}={row[k]}" for k in variant_keys if k in row and pd.notna(row[k]))
    return f"{row['a']} − {row['b']}" + (f" ({variants})" if variants else "")


def dataset_sections(
    store: RunStore,
    tables: ReportTables,
    spec: BootstrapSpec,
    figures_dir: Path,
    written: list[Path],
) -> list[Section]:
    """One section per dataset: accuracy summary, paired comparisons and their per-seed dot
    plot."""
    if store.empty:
        return []
    summary = summary_display(tables.summary, store.variant_keys)
    paired = paired_display(tables.paired, store.variant_keys)
    family = tables.paired["holm_family"].iloc[0] if not tables.paired.empty else ""
    sections = []
    for dataset in sorted(tables.summary["dataset"].unique()):
        section = Section(f"Results: {dataset}")
        section.tables.append(
            (f"Test accuracy, {spec.describe()}", summary[summary["dataset"] == dataset])
        )
        if not paired.empty and (tables.paired["dataset"] == dataset).any():
            section.tables.append(
                (
                    "Paired comparisons on the same test examples; design: paired seeds when "
                    "both arms ran the same seeds, else unpaired; Holm family: "
                    f"{family}; a claim needs Holm p < {ALPHA}",
                    paired[paired["dataset"] == dataset],
                )
            )
            rows = tables.paired[tables.paired["dataset"] == dataset]
            labels = [_comparison_label(r, store.variant_keys) for _, r in rows.iterrows()]
            title = f"Paired differences: {dataset}"
            fig = paired_differences_figure(rows, labels, title)
            png = _save(fig, figures_dir, f"paired-{dataset}", written)
            section.figures.append((f"{title}; {spec.level:.0%} CIs", png))
        sections.append(section)
    return sections


def calibration_section(
    store: RunStore, tables: ReportTables, figures_dir: Path, written: list[Path]
) -> Section:
    """Calibration tables and one reliability diagram per suite x profile x dataset."""
    section = Section("Calibration", CONFIDENCE_DEFINITION + ".")
    if store.empty:
        section.notes.append("No finished runs: nothing to calibrate.")
        return section
    section.tables.append(
        (
            f"Calibration per condition (value [{ci_label(tables.calibration)}]); "
            + CONFIDENCE_DEFINITION,
            calibration_display(tables.calibration, store.variant_keys),
        )
    )
    section.tables.append(
        (
            "Paired ECE differences (10 equal-width bins; negative = a better calibrated); "
            "Holm family: "
            + (
                tables.paired_calibration["holm_family"].iloc[0]
                if not tables.paired_calibration.empty
                else "none"
            )
            + "; "
            + CONFIDENCE_DEFINITION,
            paired_calibration_display(tables.paired_calibration, store.variant_keys),
        )
    )
    for (suite, profile, dataset), runs in store.runs.groupby(["suite", "profile", "dataset"]):
        panels = {}
        for _, group in runs.groupby("config_hash", sort=False):
            label = condition_label(group.iloc[0], store.variant_keys)
            panels[label] = reliability_data(store, list(group["run_id"]))
        title = f"Reliability: {dataset} ({suite}, {profile})"
        fig = reliability_figure(dict(sorted(panels.items())), title, CONFIDENCE_SHORT)
        png = _save(fig, figures_dir, f"reliability-{suite}-{profile}-{dataset}", written)
        section.figures.append((f"{title}; pooled over seeds, 10 equal-width bins", png))
    if (tables.calibration["warning"] != "").any():
        section.notes.append(f"Fewer than {MIN_RELIABLE_N} test examples: ECE is noisy there.")
    return section


def training_section(store: RunStore, figures_dir: Path, written: list[Path]) -> Section:
    """Loss terms and validation accuracy vs step, one figure per suite x profile x dataset."""
    section = Section("Training curves")
    if store.train_log.empty:
        section.notes.append("No training logs.")
        return section
    labels = {r["run_id"]: condition_label(r, store.variant_keys) for _, r in store.runs.iterrows()}
    log = store.train_log.assign(strategy=store.train_log["run_id"].map(labels))
    for (suite, profile, dataset), runs in store.runs.groupby(["suite", "profile", "dataset"]):
        rows = log[log["run_id"].isin(runs["run_id"])]
        title = f"Training: {dataset} ({suite}, {profile})"
        fig = training_curves_figure(rows, title)
        png = _save(fig, figures_dir, f"training-{suite}-{profile}-{dataset}", written)
        section.figures.append((f"{title}: every loss term and validation accuracy vs step", png))
    return section


def ablation_section(
    store: RunStore, summary: pd.DataFrame, figures_dir: Path, written: list[Path]
) -> Section:
    """Accuracy vs every swept numeric config value (noise level: one panel per noise type)."""
    section = Section("Ablations and sweeps")
    numeric = [
        k for k in store.variant_keys if pd.to_numeric(summary[k], errors="coerce").notna().all()
    ]
    if not numeric:
        section.notes.append("No swept numeric config value in these runs.")
        return section
    for key in numeric:
        for (suite, profile, dataset), rows in summary.groupby(["suite", "profile", "dataset"]):
            others = [k for k in store.variant_keys if k != key]
            rows = rows.assign(condition=[condition_label(r, others) for _, r in rows.iterrows()])
            if key == NOISE_LEVEL:
                fig = noise_curve(rows.assign(strategy=rows["condition"]))
            else:
                fig = ablation_curve(rows, key, hue="condition")
            fig.suptitle(f"accuracy vs {key}: {dataset} ({suite}, {profile})")
            png = _save(fig, figures_dir, f"ablation-{key}-{suite}-{profile}-{dataset}", written)
            section.figures.append(
                (f"accuracy vs {key} with {ci_label(summary)} band: {dataset}", png)
            )
    return section


def provenance_section(store: RunStore) -> Section:
    """Versions, commits, devices, data and tokenizer checksums, config hashes."""
    tables = provenance_tables(store)
    captions = {
        "configs": "Config hashes per condition (the run directory names)",
        "versions": "Package versions (runs per version)",
        "git": "cotbench git commit of the runs",
        "environment": "Python, platform, device, threads",
        "data": "Data sources and sha256 checksums",
        "tokenizers": "Tokenizer checksums",
    }
    return Section(
        "Provenance",
        "Read from each run's env.json and config.json.",
        tables=[(captions[name], tables[name]) for name in captions],
    )
