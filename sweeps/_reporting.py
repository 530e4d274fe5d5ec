"""The statistics, calibration and export helpers that sweeps share with ``reports/``.

``reports/`` owns these (seed-aware intervals, paired tests, Holm, ECE, the confidence definition,
number formats, table and figure writers); this module is the one place in ``sweeps/`` that
imports them, so the two packages print the same numbers for the same runs. The last three
imports are not exported by ``reports`` yet.
"""

from __future__ import annotations

import pandas as pd

from reports import (
    CONFIDENCE_DEFINITION,
    BootstrapSpec,
    ece,
    export_table,
    holm,
    save_figure,
)
from reports._collect import calibration_point
from reports._format import interval, p_value, pct
from reports._stats import (
    accuracy_difference,
    accuracy_interval,
    metric_interval,
    seeds_paired,
)


def interval_column(table: pd.DataFrame, low: str, high: str) -> list[str]:
    """:func:`interval` text of every row's ``low`` and ``high`` columns."""
    return [interval(a, b) for a, b in zip(table[low], table[high], strict=True)]


__all__ = [
    "CONFIDENCE_DEFINITION",
    "BootstrapSpec",
    "accuracy_difference",
    "accuracy_interval",
    "calibration_point",
    "ece",
    "export_table",
    "holm",
    "interval_column",
    "metric_interval",
    "p_value",
    "pct",
    "save_figure",
    "seeds_paired",
]
