"""Figures of ablations and sweeps: metric vs value with CI bands; Optuna's history and importance.

The ablation figure is drawn on a :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot). The
sweep figures are Optuna's own matplotlib plots, drawn inside an ``rc_context`` so that the style
they set does not leak into later figures.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

PANEL_SIZE = (4.8, 3.4)  # inches per panel
BAND_ALPHA = 0.2  # opacity of the CI bands
PANELS = (("accuracy", "test accuracy"), ("ece", "ECE"))


def ablation_figure(
    table: pd.DataFrame, key: str, values: Sequence[Any], defaults: Mapping[str, Any]
) -> Figure:
    """Test accuracy and ECE vs the value of ``key``: one row per dataset, a line per strategy.

    Values sit at equal spacing in grid order (so 0, 0.01 and 1.0 are all readable); the band is
    each value's 95% CI and a dashed line marks the dataset's default value. A strategy whose
    ``reads_key`` is False (one row, its default run) is a flat dotted line across the grid.
    """
    values = list(values)
    datasets = list(dict.fromkeys(table["dataset"]))
    width, height = PANEL_SIZE
    fig = Figure(figsize=(width * len(PANELS), height * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(PANELS), squeeze=False)
    for row, dataset in zip(axes, datasets, strict=True):
        rows = table[table["dataset"] == dataset]
        for ax, (column, label) in zip(row, PANELS, strict=True):
            for i, (strategy, part) in enumerate(rows.groupby("strategy", sort=False)):
                x = [values.index(v) for v in part[key]]
                if "reads_key" in part and not part["reads_key"].iloc[0]:
                    # its default run stands for every value: a flat dotted line across the grid
                    part = pd.concat([part.iloc[:1]] * 2)
                    x, style = [0, len(values) - 1], {"linestyle": ":", "marker": None}
                    name = f"{strategy} (does not read {key})"
                else:
                    style, name = {"marker": "o"}, str(strategy)
                ax.plot(x, 100 * part[column], color=f"C{i}", label=name, **style)
                ax.fill_between(
                    x,
                    100 * part[f"{column}_low"],
                    100 * part[f"{column}_high"],
                    color=f"C{i}",
                    alpha=BAND_ALPHA,
                    linewidth=0,
                )
            ax.axvline(values.index(defaults[dataset]), color="0.5", linestyle="--", linewidth=1)
            ax.set_xticks(range(len(values)), [str(v) for v in values])
            ax.set(xlabel=key, ylabel=f"{label} (%)", title=f"{dataset}: {label}")
        row[0].legend(fontsize=7)
    return fig


def optuna_figures(study: Any, directory: Path) -> dict[str, list[Path]]:
    """Optuna's optimisation-history and parameter-importance plots as PNG and SVG.

    Returns ``{"history": paths, "importance": paths}``; importance is left out when Optuna cannot
    compute it (fewer than two finished trials, or no parameter that varies).
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization.matplotlib import (
        plot_optimization_history,
        plot_param_importances,
    )

    from sweeps._reporting import save_figure

    paths = {}
    plots = {"history": plot_optimization_history, "importance": plot_param_importances}
    for name, plot in plots.items():
        with matplotlib.rc_context(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)  # PED-ANOVA on tied values
            try:
                ax = plot(study)
            except (ValueError, RuntimeError):  # too few trials for importances
                continue
            figure = ax.figure
            figure.set_layout_engine("constrained")
            paths[name] = save_figure(figure, directory, f"optuna-{name}")
            plt.close(figure)
    return paths
