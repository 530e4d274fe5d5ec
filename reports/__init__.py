"""Reports: result tables with seeds, CIs and paired tests; paper verdicts; calibration (ECE,
reliability diagrams); figures; one self-contained HTML report (``bench report``).

Everything is read from the run store; ``build_report`` is what the CLI calls, the other names
are the library pieces (e.g. ``ablation_curve`` / ``noise_curve`` for sweeps). Names load
lazily, so ``import reports.cli`` (done by ``bench --help``) stays free of pandas/matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "reports._calibration": ["CONFIDENCE_DEFINITION", "brier", "ece", "mce", "reliability_table"],
    "reports._calibration_table": ["calibration_table", "paired_calibration_table"],
    "reports._collect": ["RunStore", "collect_runs"],
    "reports._ece_code": ["ReleasedFigures", "released_compute_ece", "released_pipeline"],
    "reports._export": ["export_table", "to_latex", "to_markdown"],
    "reports._figures": [
        "ablation_curve",
        "noise_curve",
        "reliability_figure",
        "save_figure",
        "training_curves_figure",
    ],
    "reports._html": ["Section"],
    "reports._load": ["Runs", "load_runs"],
    "reports._paper": ["Paper", "claims_table", "load_papers", "verdict_table"],
    "reports._report": ["ReportResult", "build_report"],
    "reports._stats": [
        "BootstrapSpec",
        "accuracy_difference",
        "accuracy_interval",
        "holm",
        "metric_difference",
        "metric_interval",
        "seeds_needed",
    ],
    "reports._tables": ["DEFAULT_PAIRS", "paired_table", "summary_table"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'reports' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


def __dir__() -> list[str]:
    return __all__
