"""Matplotlib figures: reliability diagrams, training curves, ablation and noise curves, and the
figure of ``bench ablate`` (test accuracy and ECE against the varied value).

Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg canvas; no pyplot, no
global backend state). Every function takes plain frames and returns the figure;
:func:`save_figure` writes PNG and SVG, :func:`png_data_uri` embeds a PNG in HTML.
"""

from __future__ import annotations

import base64
import io
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

LOG_META_COLUMNS = {"kind", "step", "lr", "examples_per_s", "run_id", "strategy", "seed"}
VALID_ACCURACY = "valid accuracy"
MAX_COLUMNS = 4  # panels per row of the training-curve figure
MIN_FIGURE_WIDTH = 6.0  # inches: room for the printed confidence definition
PNG_DPI = 110
RELIABILITY_COLUMNS = 5  # reliability panels per row at most
PAGE_WIDTH_PX = 1400  # the browser width the figures are sized for
PAGE_MARGINS_PX = 104  # the report's main and section padding at that width (2 x 3.2rem + borders)
PANEL_PX_KEY = "cotbench-min-panel-px"  # PNG text: smallest panel height at PAGE_WIDTH_PX
STRIP = "strip"  # label of an axes that belongs to the panel above it (a count histogram)
BAND_ALPHA = 0.2  # opacity of the CI bands
ABLATION_PANEL = (4.8, 3.4)  # inches per panel of the ablation figure
ABLATION_METRICS = (("accuracy", "test accuracy"), ("ece", "ECE"))


def _caption(fig: Figure, text: str) -> None:
    """Print ``text`` under the axes, wrapped to the figure's width (the layout makes room)."""
    wrapped = "\n".join(textwrap.wrap(text, max(40, int(fig.get_figwidth() * 17))))
    fig.supxlabel(wrapped, fontsize=7, color="0.3")


def _reliability_rows(labels: list[str]) -> list[list[str]]:
    """Panel labels in rows: one group of rows per strategy (a label's first word), at most
    :data:`RELIABILITY_COLUMNS` panels a row."""
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(label.split(" ")[0], []).append(label)
    return [
        members[i : i + RELIABILITY_COLUMNS]
        for members in groups.values()
        for i in range(0, len(members), RELIABILITY_COLUMNS)
    ]


def reliability_figure(panels: Mapping[str, pd.DataFrame], title: str, definition: str) -> Figure:
    """Small multiples, one panel per label (e.g. condition) from
    :func:`reports.calibration.reliability_table` frames, one row (or more) per strategy and
    at most :data:`RELIABILITY_COLUMNS` a row, shared axes: bars = bin accuracy, shaded gap to
    the bin's mean confidence, the diagonal, and a bin count histogram underneath;
    ``definition`` (the confidence used) is printed on the figure."""
    rows = _reliability_rows(list(panels)) or [[]]
    n_cols = max(1, max(len(row) for row in rows))
    fig = Figure(
        figsize=(max(3.2 * n_cols, MIN_FIGURE_WIDTH), 3.9 * len(rows) + 0.9), layout="constrained"
    )
    grid = fig.add_gridspec(2 * len(rows), n_cols, height_ratios=[3, 1] * len(rows))
    first_top = first_bottom = None
    for r, row_labels in enumerate(rows):
        for c, label in enumerate(row_labels):
            bins = panels[label]
            top = fig.add_subplot(grid[2 * r, c], sharex=first_top, sharey=first_top)
            bottom = fig.add_subplot(grid[2 * r + 1, c], sharex=first_top)
            first_top, first_bottom = first_top or top, first_bottom or bottom
            _reliability_panel(top, bottom, bins, label, first=(r, c) == (0, 0))
            if c == 0:
                top.set_ylabel("accuracy in bin")
                bottom.set_ylabel("examples")
    fig.suptitle(title)
    _caption(fig, definition)
    return fig


def _reliability_panel(top, bottom, bins: pd.DataFrame, label: str, first: bool) -> None:
    width = float(bins["high"].iloc[0] - bins["low"].iloc[0])
    filled = bins[bins["count"] > 0]
    top.bar(
        filled["low"],
        filled["accuracy"],
        width=width,
        align="edge",
        color="tab:blue",
        edgecolor="black",
        linewidth=0.6,
    )
    for row in filled.itertuples(index=False):
        low_y, high_y = sorted((row.accuracy, row.confidence))
        top.add_patch(
            Rectangle(
                (row.low, low_y),
                width,
                high_y - low_y,
                facecolor="tab:red",
                alpha=0.3,
                hatch="//",
                edgecolor="tab:red",
                linewidth=0,
            )
        )
    top.plot([0, 1], [0, 1], "--", color="0.3", linewidth=1)
    top.set(xlim=(0, 1), ylim=(0, 1))
    top.set_title("\n".join(textwrap.wrap(label, 34)), fontsize=8)
    top.tick_params(labelbottom=False)
    if first:
        handles = [
            Line2D([0], [0], linestyle="--", color="0.3"),
            Rectangle((0, 0), 1, 1, facecolor="tab:blue", edgecolor="black"),
            Rectangle((0, 0), 1, 1, facecolor="tab:red", alpha=0.3, hatch="//"),
        ]
        labels = ["perfect calibration", "accuracy", "gap to confidence"]
        top.legend(handles, labels, loc="upper left", fontsize=7)
    bottom.bar(
        bins["low"],
        bins["count"],
        width=width,
        align="edge",
        color="0.6",
        edgecolor="black",
        linewidth=0.4,
    )
    bottom.set(xlim=(0, 1), xlabel="confidence", label=STRIP)


def _mean_band(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean and std over seeds of ``column`` per strategy and step."""
    stats = frame.dropna(subset=[column]).groupby(["strategy", "step"])[column]
    return stats.agg(["mean", "std"]).reset_index()


def training_curves_figure(log: pd.DataFrame, title: str) -> Figure:
    """Each loss term and validation accuracy vs step; per strategy the mean over seeds with a
    ±1 std band. ``log``: train-log rows with ``strategy`` (and ``run_id``) columns."""
    train, valid = log[log["kind"] == "train"], log[log["kind"] == "valid"]
    terms = [c for c in train.columns if c not in LOG_META_COLUMNS and train[c].notna().any()]
    panels = [*terms, *([VALID_ACCURACY] if not valid.empty else [])]
    n_cols = min(MAX_COLUMNS, max(len(panels), 1))
    n_rows = -(-max(len(panels), 1) // n_cols)
    fig = Figure(figsize=(3.4 * n_cols + 1.2, 2.8 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    colours = {s: f"C{i}" for i, s in enumerate(sorted(log["strategy"].unique()))}
    for ax, panel in zip(axes, panels, strict=False):
        source, column = (valid, "accuracy") if panel == VALID_ACCURACY else (train, panel)
        for strategy, curve in _mean_band(source, column).groupby("strategy"):
            ax.plot(
                curve["step"],
                curve["mean"],
                color=colours[strategy],
                label=strategy,
                marker="o" if panel == VALID_ACCURACY else None,
                markersize=3,
            )
            band = curve["std"].fillna(0.0)
            ax.fill_between(
                curve["step"],
                curve["mean"] - band,
                curve["mean"] + band,
                color=colours[strategy],
                alpha=0.2,
                linewidth=0,
            )
        ax.set(title=panel, xlabel="step")
    handles = [Line2D([0], [0], color=c) for c in colours.values()]
    fig.legend(handles, list(colours), loc="outside right upper", fontsize=7)
    fig.suptitle(title)
    _caption(fig, "line = mean over seeds; band = ±1 std over seeds (none with one seed)")
    return fig


def ablation_curve(
    frame: pd.DataFrame,
    x: str,
    y: str = "accuracy",
    low: str = "ci_low",
    high: str = "ci_high",
    hue: str = "strategy",
    ax=None,
    scale: float = 100.0,
) -> Figure:
    """``y`` vs the varied value ``x`` per ``hue`` with the ``low``-``high`` interval as a band.

    ``frame`` is e.g. :func:`reports.tables.summary_table`'s output for a sweep (one row per value).
    Draws into ``ax`` when given; returns the figure.
    """
    if ax is None:
        fig = Figure(figsize=(5, 3.6), layout="constrained")
        ax = fig.add_subplot()
    for i, (label, rows) in enumerate(frame.groupby(hue, sort=True)):
        rows = rows.sort_values(x)
        _band_line(ax, rows[x].astype(float), rows, (y, low, high), scale, f"C{i}", str(label))
    ax.set(xlabel=x, ylabel=f"{y} (%)" if scale == 100.0 else y)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax.figure


def _band_line(
    ax: Any,
    x: Sequence[float],
    rows: pd.DataFrame,
    columns: tuple[str, str, str],
    scale: float,
    colour: str,
    label: str,
    **style: Any,
) -> None:
    """One line of ``rows``' value column with its interval as a band; ``columns`` names the
    value, low and high columns."""
    value, low, high = columns
    ax.plot(x, scale * rows[value], color=colour, label=label, **{"marker": "o", **style})
    ax.fill_between(
        x,
        scale * rows[low],
        scale * rows[high],
        color=colour,
        alpha=BAND_ALPHA,
        linewidth=0,
    )


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
    width, height = ABLATION_PANEL
    fig = Figure(
        figsize=(width * len(ABLATION_METRICS), height * len(datasets)), layout="constrained"
    )
    axes = fig.subplots(len(datasets), len(ABLATION_METRICS), squeeze=False)
    for row, dataset in zip(axes, datasets, strict=True):
        rows = table[table["dataset"] == dataset]
        for ax, (column, label) in zip(row, ABLATION_METRICS, strict=True):
            for i, (strategy, part) in enumerate(rows.groupby("strategy", sort=False)):
                x = [values.index(v) for v in part[key]]
                if "reads_key" in part and not part["reads_key"].iloc[0]:
                    # its default run stands for every value: a flat dotted line across the grid
                    part = pd.concat([part.iloc[:1]] * 2)
                    x, style = [0, len(values) - 1], {"linestyle": ":", "marker": None}
                    name = f"{strategy} (does not read {key})"
                else:
                    style, name = {}, str(strategy)
                columns = (column, f"{column}_low", f"{column}_high")
                _band_line(ax, x, part, columns, 100.0, f"C{i}", name, **style)
            ax.axvline(values.index(defaults[dataset]), color="0.5", linestyle="--", linewidth=1)
            ax.set_xticks(range(len(values)), [str(v) for v in values])
            ax.set(xlabel=key, ylabel=f"{label} (%)", title=f"{dataset}: {label}")
        row[0].legend(fontsize=7)
    return fig


def noise_curve(frame: pd.DataFrame, y: str = "accuracy") -> Figure:
    """Accuracy vs ``noise.level`` per strategy with CI bands, one panel per ``noise.type``."""
    types = sorted(frame["noise.type"].astype(str).unique()) if "noise.type" in frame else [""]
    fig = Figure(figsize=(4.5 * len(types), 3.6), layout="constrained")
    axes = fig.subplots(1, len(types), squeeze=False)[0]
    for ax, kind in zip(axes, types, strict=True):
        rows = frame if kind == "" else frame[frame["noise.type"].astype(str) == kind]
        ablation_curve(rows, "noise.level", y=y, ax=ax)
        ax.set_title(f"noise: {kind}" if kind else "noise")
    return fig


def paired_differences_figure(rows: pd.DataFrame, labels: list[str], title: str) -> Figure:
    """One line per comparison of :func:`reports.tables.paired_table` rows: each seed's
    difference as a dot (paired designs), the mean as a diamond with its interval as a bar, 0
    dashed."""
    fig = Figure(figsize=(7.0, max(2.8, 0.9 + 0.45 * len(rows))), layout="constrained")
    ax = fig.add_subplot()
    for y, row in enumerate(rows.itertuples(index=False)):
        cell = row.seed_diffs  # ";"-separated fractions; empty (or NaN from a CSV) if unpaired
        seeds = [float(v) for v in str(cell).split(";")] if pd.notna(cell) and cell != "" else []
        ax.scatter([100 * v for v in seeds], [y] * len(seeds), s=14, color="0.45", zorder=2)
        ax.errorbar(
            100 * row.diff,
            y,
            xerr=[[100 * (row.diff - row.ci_low)], [100 * (row.ci_high - row.diff)]],
            fmt="D",
            color="tab:blue",
            markersize=5,
            capsize=3,
            zorder=3,
        )
    ax.axvline(0.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("a − b (accuracy points): dots = seeds, diamond and bar = mean and CI")
    ax.set_title(title, fontsize=9)
    return fig


def smallest_panel_px(fig: Figure, page_width_px: int = PAGE_WIDTH_PX) -> float:
    """Height in screen pixels of the figure's smallest visible panel when the report is shown
    at ``page_width_px`` (the PNG is scaled down to the content width when wider); a
    :data:`STRIP` under a panel (a count histogram) counts with it."""
    fig.draw_without_rendering()  # the constrained layout places the axes
    width_px = fig.get_figwidth() * PNG_DPI
    scale = min(1.0, (page_width_px - PAGE_MARGINS_PX) / width_px)
    heights = [
        ax.get_position().height * fig.get_figheight() * PNG_DPI * scale
        for ax in fig.axes
        if ax.get_visible() and ax.get_label() != STRIP
    ]
    return min(heights, default=0.0)


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG; its text records :func:`smallest_panel_px` under :data:`PANEL_PX_KEY`."""
    buffer = io.BytesIO()
    metadata = {"Software": None, PANEL_PX_KEY: f"{smallest_panel_px(fig):.1f}"}
    fig.savefig(buffer, format="png", dpi=PNG_DPI, metadata=metadata)
    return buffer.getvalue()


def png_data_uri(fig: Figure) -> str:
    """``data:image/png;base64,...`` for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode("ascii")


def save_figure(fig: Figure, directory: Path, name: str) -> list[Path]:
    """Write ``<name>.png`` and ``<name>.svg`` under ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    png, svg = directory / f"{name}.png", directory / f"{name}.svg"
    png.write_bytes(png_bytes(fig))
    fig.savefig(svg, format="svg", metadata={"Date": None})
    return [png, svg]
