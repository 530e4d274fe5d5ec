"""Calibration metrics against hand-computed cases (and torchmetrics when installed), and the
``ece_code`` contrast against the released pipeline's arithmetic on fixed inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reports.calibration import MASS, bin_ids, brier, ece, mce, reliability_table
from reports.calibration_tables import calibration_table, paired_calibration_table
from reports.collect import RunStore, calibration_point, greedy_confidence
from reports.ece_code import released_compute_ece, released_equal_mass_ece, released_pipeline
from reports.stats import BootstrapSpec

# Five examples away from bin edges. 10 equal-width bins: {0.95, 0.95} in bin 9 (acc 0.5, gap
# 0.45), {0.35, 0.35} in bin 3 (acc 0.5, gap 0.15), {0.65} in bin 6 (acc 1, gap 0.35).
CONF = np.array([0.95, 0.95, 0.35, 0.35, 0.65])
CORRECT = np.array([1.0, 0.0, 0.0, 1.0, 1.0])


def test_equal_width_ece_mce_brier_by_hand():
    assert ece(CONF, CORRECT, 10) == pytest.approx((2 * 0.45 + 2 * 0.15 + 0.35) / 5)
    assert ece(CONF, CORRECT, 15) == pytest.approx((2 * 0.45 + 2 * 0.15 + 0.35) / 5)
    assert mce(CONF, CORRECT, 10) == pytest.approx(0.45)
    squared = [0.05**2, 0.95**2, 0.35**2, 0.65**2, 0.35**2]
    assert brier(CONF, CORRECT) == pytest.approx(sum(squared) / 5)


def test_equal_mass_bins_by_hand():
    # n = 5, 10 bins: ranks 0..4 -> bins 0, 2, 4, 6, 8, one example each: ECE = mean |c - p|
    assert sorted(bin_ids(CONF, 10, MASS)[0]) == [0, 2, 4, 6, 8]
    assert ece(CONF, CORRECT, 10, MASS) == pytest.approx(np.mean(np.abs(CORRECT - CONF)))
    # n = 20, 10 bins: two examples per bin, in confidence order
    conf = np.linspace(0.05, 0.99, 20)
    assert np.bincount(bin_ids(conf, 10, MASS)[0]).tolist() == [2] * 10


def test_confidence_one_goes_in_the_last_bin():
    assert bin_ids(np.array([0.0, 1.0]), 10)[0].tolist() == [0, 9]


def test_perfect_calibration_gives_small_ece():
    rng = np.random.default_rng(0)
    conf = rng.random(100_000)
    correct = (rng.random(100_000) < conf).astype(float)
    assert ece(conf, correct, 10) < 0.01
    assert ece(conf, correct, 10, MASS) < 0.01


def test_batched_rows_equal_single_rows():
    rng = np.random.default_rng(1)
    conf, correct = rng.random((3, 50)), (rng.random((3, 50)) < 0.5).astype(float)
    batched = ece(conf, correct, 15)
    assert batched == pytest.approx([ece(conf[i], correct[i], 15) for i in range(3)])
    assert mce(conf, correct) == pytest.approx([mce(conf[i], correct[i]) for i in range(3)])


def test_reliability_table_counts_every_example():
    table = reliability_table(CONF, CORRECT, 10)
    assert table["count"].sum() == 5
    assert table.loc[9, "accuracy"] == pytest.approx(0.5)
    assert math.isnan(table.loc[0, "accuracy"])


def test_against_torchmetrics():
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torchmetrics.functional.classification")
    rng = np.random.default_rng(2)
    conf = rng.random(1000)
    correct = (rng.random(1000) < conf**2).astype(float)
    preds, target = torch.tensor(conf), torch.tensor(correct).long()
    for n_bins in (10, 15):
        expected = functional.binary_calibration_error(preds, target, n_bins=n_bins, norm="l1")
        assert ece(conf, correct, n_bins) == pytest.approx(float(expected), abs=1e-5)
    expected_max = functional.binary_calibration_error(preds, target, n_bins=10, norm="max")
    assert mce(conf, correct, 10) == pytest.approx(float(expected_max), abs=1e-5)


def test_released_pipeline_arithmetic_on_fixed_inputs():
    # Three examples, a 4-token vocabulary. First-step argmax: 1, 2, 3; gold first ids: 1, 1, 0.
    probs = np.array([[0.10, 0.60, 0.20, 0.10], [0.05, 0.15, 0.70, 0.10], [0.30, 0.20, 0.10, 0.40]])
    gold = [[1, 3, 1], [1, 1], [0, 2, 2, 1]]
    figures = released_pipeline(probs, gold)
    # each example is a "run": |[first token right] - p(token id 0)|
    per_example = [abs(1 - 0.10), abs(0 - 0.05), abs(0 - 0.30)]
    assert figures.ece_equal_mass == pytest.approx(np.mean(per_example))
    assert figures.ece_equal_mass_std == pytest.approx(np.std(per_example))
    # "acc": [first token right] / len(gold ids)
    assert figures.acc == pytest.approx(np.mean([1 / 3, 0, 0]))
    # "avg_probs": the mean of a softmax vector is 1 / V
    assert figures.avg_probs == pytest.approx(0.25)
    assert figures.avg_probs_std == pytest.approx(0.0)
    assert figures.abs_gap == pytest.approx(abs(1 / 9 - 0.25))


def test_released_compute_ece_on_one_flat_run():
    # a flat input is one run: 100 equal-mass bins of ceil(3 / 100) = 1 example each
    figures = released_compute_ece([0.9, 0.2, 0.6], [1, 0, 1], [1, 1, 1])
    assert figures.acc == pytest.approx(2 / 3)
    assert figures.avg_probs == pytest.approx((0.9 + 0.2 + 0.6) / 3)
    assert figures.ece_equal_mass == pytest.approx((0.2 + 0.4 + 0.1) / 3)


def test_released_equal_mass_ece_groups_by_ceil_of_n_over_100():
    # n = 150 -> 2 examples per bin in sorted order: pairs (p, p) with one right, one wrong
    probs = [i / 150 for i in range(75) for _ in range(2)]
    preds, labels = [1, 0] * 75, [1] * 150
    expected = np.mean([abs(0.5 - i / 150) for i in range(75)])
    assert released_equal_mass_ece(probs, preds, labels) == pytest.approx(expected)


def _store(tmp_path, n: int) -> RunStore:
    """dss+mi calibrated (confidence 0.5, half right), dss overconfident (0.99, half right)."""
    runs, predictions = [], []
    for strategy, confidence in (("dss+mi", 0.5), ("dss", 0.99)):
        run_id = f"s/cqa/{strategy}/h/seed-0"
        runs.append(
            {"run_id": run_id, "suite": "s", "profile": "p", "dataset": "cqa"}
            | {"strategy": strategy, "config_hash": f"h-{strategy}", "seed": 0, "model": "m"}
        )
        predictions.append(
            pd.DataFrame(
                {
                    "run_id": run_id,
                    "id": [f"q{i:04d}" for i in range(n)],
                    "correct": [i % 2 == 0 for i in range(n)],
                    "confidence": confidence,
                    "confidence_correct": [i % 2 == 0 for i in range(n)],
                    "greedy_confidence": [confidence if i % 4 else 0.0 for i in range(n)],
                    "confidence_kind": "candidate",
                    "gold": "a",
                    "generated": "a",
                }
            )
        )
    return RunStore(tmp_path, pd.DataFrame(runs), pd.concat(predictions), pd.DataFrame())


def test_calibration_and_paired_calibration_tables(tmp_path):
    spec = BootstrapSpec(resamples=200, seed=0)
    table = calibration_table(_store(tmp_path, 400), spec).set_index("strategy")
    assert table.loc["dss+mi", "ece_w10"] == pytest.approx(0.0)
    assert table.loc["dss", "ece_w10"] == pytest.approx(0.49)
    assert table.loc["dss", "brier"] == pytest.approx((0.99**2 + 0.01**2) / 2)
    # greedy outputs that are no candidate (every 4th, all of them right) get confidence 0
    assert table.loc["dss", "ece_w10_greedy"] == pytest.approx(
        0.25 * 1.0 + 0.75 * abs(0.99 - 1 / 3)
    )
    assert table.loc["dss", "warning"] == ""
    assert math.isnan(table.loc["dss", "ece_code"])  # no tokenizer.json in these fake runs
    paired = paired_calibration_table(_store(tmp_path, 400), spec, [("dss+mi", "dss")])
    assert paired["diff"].iloc[0] == pytest.approx(-0.49)
    assert paired["claim"].iloc[0] == "dss+mi better calibrated"
    assert paired["design"].iloc[0] == "one seed"
    assert paired["holm_family"].iloc[0].endswith("(m = 1)")
    small = calibration_table(_store(tmp_path, 200), spec)
    assert (small["warning"] == "n = 200 < 300: ECE is noisy").all()


def test_primary_confidence_is_the_top_ranked_candidate_for_every_strategy():
    """A greedy output that is no candidate keeps the top candidate's probability and
    correctness as its primary calibration point; the secondary (greedy) confidence is 0."""
    row = {
        "prediction": "maybe",
        "correct": False,
        "confidence": 0.01,
        "candidate_probs": {"yes": 0.6, "no": 0.2},  # renormalised: 0.75 / 0.25
        "candidate_prediction": "yes",
        "candidate_correct": True,
    }
    assert calibration_point(row) == (pytest.approx(0.75), True, "candidate")
    assert greedy_confidence(row) == 0.0
    open_task = {"prediction": "42", "correct": True, "confidence": 0.3, "candidate_probs": None}
    assert calibration_point(open_task) == (0.3, True, "sequence")
    assert greedy_confidence(open_task) == 0.3
