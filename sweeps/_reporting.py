"""The statistics, calibration and export helpers that sweeps share with ``reports/``.

``reports/`` owns these (bootstrap intervals, paired tests, Holm, ECE, the confidence definition,
number formats, table and figure writers); this module is the one place in ``sweeps/`` that
imports them, so the two packages print the same numbers for the same runs. The last three
imports are not exported by ``reports`` yet.
"""

from __future__ import annotations

import pandas as pd

from reports import (
    CONFIDENCE_DEFINITION,
    BootstrapSpec,
    bootstrap_interval,
    ece,
    export_table,
    holm,
    paired_accuracy_test,
    save_figure,
)
from reports._collect import _calibration_confidence as calibration_confidence
from reports._format import interval, p_value, pct
from reports._stats import mean_metric


def interval_column(table: pd.DataFrame, low: str, high: str) -> list[str]:
    """:func:`interval` text of every row's ``low`` and ``high`` columns."""
    return [interval(a, b) for a, b in zip(table[low], table[high], strict=True)]


__all__ = [
    "CONFIDENCE_DEFINITION",
    "BootstrapSpec",
    "bootstrap_interval",
    "calibration_confidence",
    "ece",
    "export_table",
    "holm",
    "interval_column",
    "mean_metric",
    "p_value",
    "paired_accuracy_test",
    "pct",
    "save_figure",
]
