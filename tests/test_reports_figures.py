"""Figure functions on small frames: reliability diagram, training curves, ablation and noise
curves (the functions ``bench ablate`` / ``bench sweep`` call), PNG + SVG output."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.calibration import CONFIDENCE_DEFINITION, reliability_table
from reports.figures import (
    ablation_curve,
    noise_curve,
    png_data_uri,
    reliability_figure,
    save_figure,
    training_curves_figure,
)


def _sweep() -> pd.DataFrame:
    rows = [
        {"strategy": s, "noise.type": t, "noise.level": level, "accuracy": acc}
        for s, base in (("dss", 0.6), ("dss+mi", 0.62))
        for t in ("swap", "drop")
        for level, acc in zip((0.0, 0.3, 0.6), (base, base - 0.1, base - 0.2), strict=True)
    ]
    frame = pd.DataFrame(rows)
    return frame.assign(ci_low=frame["accuracy"] - 0.05, ci_high=frame["accuracy"] + 0.05)


def test_ablation_curve_draws_one_line_and_band_per_strategy():
    fig = ablation_curve(_sweep()[lambda f: f["noise.type"] == "swap"], "noise.level")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == ["dss", "dss+mi"]
    assert ax.get_lines()[0].get_ydata().tolist() == [60.0, 50.0, 40.0]
    assert len(ax.collections) == 2  # the CI bands


def test_noise_curve_has_one_panel_per_noise_type():
    fig = noise_curve(_sweep())
    assert sorted(ax.get_title() for ax in fig.axes) == ["noise: drop", "noise: swap"]


def test_reliability_and_training_figures_save_png_and_svg(tmp_path):
    rng = np.random.default_rng(0)
    conf = rng.random(200)
    bins = reliability_table(conf, (rng.random(200) < conf).astype(float))
    fig = reliability_figure({"dss": bins, "dss+mi": bins}, "Reliability", CONFIDENCE_DEFINITION)
    assert len(fig.axes) == 4  # a diagram and a count histogram per strategy
    log = pd.DataFrame(
        [
            {"kind": "train", "step": step, "pred": 1 / step, "total": 2 / step, "strategy": s}
            for s in ("dss", "finetune")
            for step in (1, 2, 3)
        ]
        + [{"kind": "valid", "step": 3, "accuracy": 0.5, "strategy": "dss"}]
    )
    curves = training_curves_figure(log, "Training")
    assert [ax.get_title() for ax in curves.axes if ax.get_visible()] == [
        "pred",
        "total",
        "valid accuracy",
    ]
    paths = save_figure(fig, tmp_path, "reliability")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert "<svg" in paths[1].read_text()
    assert png_data_uri(curves).startswith("data:image/png;base64,")


def test_paired_differences_figure_shows_each_seed_and_the_interval():
    from reports.figures import paired_differences_figure

    rows = pd.DataFrame(
        {
            "seed_diffs": ["0.012;0.012;0.01", ""],  # paired, then unpaired (no seed dots)
            "diff": [0.0113, -0.02],
            "ci_low": [0.001, -0.05],
            "ci_high": [0.022, 0.01],
        }
    )
    fig = paired_differences_figure(rows, ["dss+mi − dss", "dss − finetune"], "Paired")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["dss+mi − dss", "dss − finetune"]
    from matplotlib.collections import PathCollection

    dots = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert sum(len(c.get_offsets()) for c in dots) == 3  # one dot per seed of the paired row
    assert sorted(round(x, 1) for x, _ in dots[0].get_offsets()) == [1.0, 1.2, 1.2]
