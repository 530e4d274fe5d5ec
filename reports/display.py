"""Display versions of the raw tables: readable column names, percentages, intervals as text.

Raw tables (fractions, one number per column) go to CSV; these string tables go to Markdown,
LaTeX and HTML. Accuracy-like numbers are shown in percent with two decimals.
"""

from __future__ import annotations

import math

import pandas as pd


def num(value: float, digits: int = 2) -> str:
    """A plain number with ``digits`` decimals (blank for NaN; never ``-0.00``)."""
    return "" if _missing(value) else f"{round(value, digits) + 0.0:.{digits}f}"


def pct(value: float) -> str:
    """0.6219 -> ``"62.19"`` (blank for NaN)."""
    return "" if _missing(value) else num(100 * value)


def interval(low: float, high: float, scale: float = 100.0, digits: int = 2) -> str:
    """``"[59.80, 63.00]"`` (blank when missing)."""
    if _missing(low) or _missing(high):
        return ""
    return f"[{num(scale * low, digits)}, {num(scale * high, digits)}]"


def mean_std(mean: float, std: float, scale: float = 100.0) -> str:
    """``"61.30 ± 1.20"``; just the mean when the std is undefined (one seed)."""
    if _missing(mean):
        return ""
    return num(scale * mean) + ("" if _missing(std) else f" ± {num(scale * std)}")


def p_value(p: float) -> str:
    """Three significant digits."""
    return "" if _missing(p) else f"{p:.3g}"


def ci_label(frame: pd.DataFrame, prefix: str = "") -> str:
    """``"95% CI"`` from the table's ``level`` column (plain ``"CI"`` without one)."""
    if "level" in frame and frame["level"].notna().any():
        return f"{prefix}{frame['level'].dropna().iloc[0]:.0%} CI"
    return f"{prefix}CI"


def interval_column(
    frame: pd.DataFrame, low: str = "ci_low", high: str = "ci_high", scale: float = 100.0
) -> list[str]:
    """:func:`interval` text of every row's ``low`` and ``high`` columns."""
    return [interval(a, b, scale) for a, b in zip(_col(frame, low), _col(frame, high), strict=True)]


def estimate_text(frame: pd.DataFrame, column: str, label: str, ci: str) -> dict[str, object]:
    """Display columns of an estimate: ``label`` (``column`` in percent) and ``ci`` (its interval,
    from the ``<column>_low`` and ``<column>_high`` columns)."""
    bounds = interval_column(frame, f"{column}_low", f"{column}_high")
    return {label: frame[column].map(pct), ci: bounds}


def difference_text(frame: pd.DataFrame, label: str, ci: str) -> dict[str, object]:
    """Display columns of a comparison (:func:`reports.tables.estimate_columns` and Holm): the
    difference in points as ``label``, its interval as ``ci``, and the Holm-adjusted p-value."""
    return {
        label: _col(frame, "diff").map(pct),
        ci: interval_column(frame),
        "p (Holm)": _col(frame, "p_holm").map(p_value),
    }


def _comparison_columns(
    frame: pd.DataFrame, variant_keys: list[str], *extra: str
) -> dict[str, object]:
    """The columns that name a comparison: profile, dataset, variant values, ``extra``, the
    two strategies, the design, seeds and test examples."""
    return {
        **_copied(frame, "profile", "dataset"),
        **_variants(frame, variant_keys),
        **_copied(frame, *extra, "a", "b", "design"),
        "seeds": frame["n_pairs"].astype(str),
        "n": frame["n_test"].astype(str),
    }


def _copied(frame: pd.DataFrame, *names: str) -> dict[str, pd.Series]:
    """Columns shown as they are."""
    return {name: frame[name] for name in names}


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as a string, missing values (None, NaN) as empty strings."""
    return frame.map(lambda v: "" if _missing(v) else str(v))


def setting(value: object) -> str:
    """A config value as text; floats to 4 significant digits (0.30000000000000004 -> 0.3)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _variants(frame: pd.DataFrame, variant_keys: list[str]) -> dict[str, pd.Series]:
    return {k: frame[k].map(setting) for k in variant_keys if k in frame}


def seed_values(cell: object) -> str:
    """A ``;``-separated cell of per-seed fractions as points, e.g. ``+1.2, +1.0``."""
    if _missing(cell) or cell == "":
        return "(unpaired)"
    return ", ".join(f"{100 * float(v):+.1f}" for v in str(cell).split(";"))


def summary_display(summary: pd.DataFrame, variant_keys: list[str]) -> pd.DataFrame:
    """Accuracy per condition: mean ± std over seeds and the bootstrap CI."""
    if summary.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            **_copied(summary, "suite", "profile", "dataset", "strategy"),
            **_variants(summary, variant_keys),
            "model": summary["model"],
            "seeds": summary["n_seeds"].astype(str),
            "n test": summary["n_test"].astype(str),
            "accuracy % (mean ± std)": [
                mean_std(m, s) for m, s in zip(summary["accuracy"], summary["std"], strict=True)
            ],
            ci_label(summary): interval_column(summary),
            "config": summary["config_hash"],
        }
    )


def paired_display(paired: pd.DataFrame, variant_keys: list[str]) -> pd.DataFrame:
    """Paired comparisons: both accuracies, the difference with its CI, p and Holm p, claim."""
    if paired.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            **_comparison_columns(paired, variant_keys),
            "acc a %": paired["accuracy_a"].map(pct),
            "acc b %": paired["accuracy_b"].map(pct),
            "a − b (points)": paired["diff"].map(pct),
            ci_label(paired): interval_column(paired),
            "per-seed a − b": paired["seed_diffs"].map(seed_values),
            "p": paired["p_value"].map(p_value),
            "p (Holm)": paired["p_holm"].map(p_value),
            "claim": paired["claim"],
        }
    )


def verdict_display(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Paper numbers beside ours with difference, verdict and reason."""
    if verdicts.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            **_copied(verdicts, "paper", "strategy", "dataset"),
            "paper %": [
                f"{v:.2f}" + (" †" if r else "")
                for v, r in zip(verdicts["paper_accuracy"], verdicts["reconstructed"], strict=True)
            ],
            "profile": _col(verdicts, "profile", "").fillna(""),
            "ours % (mean ± std)": [
                mean_std(m, s, scale=1.0)
                for m, s in zip(_col(verdicts, "accuracy"), _col(verdicts, "std"), strict=True)
            ],
            ci_label(verdicts, "our "): interval_column(verdicts, scale=1.0),
            "ours − paper": _col(verdicts, "diff").map(num),
            **_copied(verdicts, "verdict", "reason", "source"),
        }
    )


def claims_display(claims: pd.DataFrame) -> pd.DataFrame:
    """Directional claims per dataset with our paired evidence."""
    if claims.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            **_copied(claims, "paper", "claim", "dataset"),
            "profile": _col(claims, "profile", "").fillna(""),
            **difference_text(claims, "a − b (points)", ci_label(claims)),
            **_copied(claims, "verdict", "reason", "source"),
        }
    )


def calibration_display(calibration: pd.DataFrame, variant_keys: list[str]) -> pd.DataFrame:
    """Calibration per condition: each metric in percent with its CI, ``ece_code``, warning."""
    if calibration.empty:
        return pd.DataFrame()
    columns = {
        **_copied(calibration, "profile", "dataset", "strategy"),
        **_variants(calibration, variant_keys),
        "n": calibration["n_test"].astype(str),
        "confidence": calibration["confidence_kind"],
        "acc %": calibration["accuracy"].map(pct),
        "mean conf %": calibration["mean_confidence"].map(pct),
    }
    for name, label in (
        ("ece_w10", "ECE-10w %"),
        ("ece_w15", "ECE-15w %"),
        ("ece_m10", "ECE-10m %"),
        ("mce_w10", "MCE-10w %"),
        ("brier", "Brier ×100"),
    ):
        bounds = interval_column(calibration, f"{name}_low", f"{name}_high")
        columns[label] = [f"{pct(v)} {ci}" for v, ci in zip(calibration[name], bounds, strict=True)]
    columns["ECE-10w greedy %"] = calibration["ece_w10_greedy"].map(pct)
    columns["ece_code % (released script, est.)"] = calibration["ece_code"].map(pct)
    columns["warning"] = calibration["warning"]
    return pd.DataFrame(columns)


def paired_calibration_display(frame: pd.DataFrame, variant_keys: list[str]) -> pd.DataFrame:
    """Paired calibration differences (points), CI, Holm p and claim."""
    if frame.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            **_comparison_columns(frame, variant_keys, "metric"),
            **difference_text(frame, "a − b (points)", ci_label(frame)),
            "claim": frame["claim"],
            "warning": frame["warning"],
        }
    )


def _col(frame: pd.DataFrame, name: str, default: object = float("nan")) -> pd.Series:
    return frame[name] if name in frame else pd.Series(default, index=frame.index)
