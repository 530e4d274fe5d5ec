"""Seed-aware statistics of ``reports``: intervals, paired and unpaired differences, Holm and
planning, on synthetic data with known answers (coverage by simulation is in
``test_reports_coverage.py``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.stats import (
    ONE_SEED,
    PAIRED,
    UNPAIRED,
    BootstrapSpec,
    Components,
    accuracy_difference,
    accuracy_interval,
    holm,
    mean_metric,
    metric_difference,
    metric_interval,
    seeds_needed,
    seeds_paired,
)

SPEC = BootstrapSpec(resamples=1000, seed=0)


def test_holm_matches_a_hand_computed_case():
    # sorted: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> max with 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.2]) == pytest.approx([0.2])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    # a comparison not made (NaN) stays NaN and is no member of the family
    assert holm([0.01, math.nan, 0.04]) == pytest.approx([0.02, math.nan, 0.04], nan_ok=True)


def test_one_seed_interval_of_a_bernoulli_mean_has_the_binomial_width():
    rng = np.random.default_rng(1)
    correct = (rng.random((1, 4000)) < 0.7).astype(float)
    result = accuracy_interval(correct)
    assert result.design == ONE_SEED
    assert result.estimate == pytest.approx(correct.mean())
    assert result.per_seed == pytest.approx((correct.mean(),))  # the seed's own accuracy
    assert result.low < 0.7 < result.high
    expected_width = 2 * 1.96 * np.sqrt(0.7 * 0.3 / 4000)
    assert result.high - result.low == pytest.approx(expected_width, rel=0.05)


def test_disagreeing_seeds_widen_the_interval_with_t_quantiles():
    # Four seeds that disagree a lot on the same 400 examples: the CI must reflect the seeds.
    seeds = np.array([[1.0] * k + [0.0] * (400 - k) for k in (80, 160, 240, 320)])
    agreeing = np.array([[1.0, 0.0] * 200] * 4)  # same mean, only test-set variation
    across, within = accuracy_interval(seeds), accuracy_interval(agreeing)
    assert across.estimate == within.estimate == pytest.approx(0.5)
    assert within.high - within.low == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 400), rel=0.05)
    assert across.high - across.low > 2 * (within.high - within.low)
    assert across.per_seed == pytest.approx((0.2, 0.4, 0.6, 0.8))
    assert 3 <= across.df < 10  # the seed term dominates: close to S - 1


def test_paired_seeds_use_the_common_random_numbers():
    """Seed effects shared by both arms cancel in the paired design only."""
    rng = np.random.default_rng(2)
    seed_effect = rng.normal(0, 0.1, size=(5, 1))
    base = rng.random((5, 1000))
    a = (base < 0.7 + seed_effect).astype(float)
    b = (base < 0.65 + seed_effect).astype(float)
    paired = accuracy_difference(a, b, paired=True)
    unpaired = accuracy_difference(a, b, paired=False)
    assert paired.design == PAIRED and unpaired.design == UNPAIRED
    assert paired.estimate == pytest.approx(unpaired.estimate)
    assert paired.high - paired.low < (unpaired.high - unpaired.low) / 3
    assert len(paired.per_seed) == 5 and unpaired.per_seed == ()
    assert paired.low > 0 and paired.p_value < 0.01


def test_difference_is_antisymmetric():
    rng = np.random.default_rng(6)
    a = (rng.random((3, 300)) < 0.7).astype(float)
    b = (rng.random((3, 300)) < 0.5).astype(float)
    for paired in (True, False):
        forward = accuracy_difference(a, b, paired=paired)
        backward = accuracy_difference(b, a, paired=paired)
        assert forward.estimate == pytest.approx(-backward.estimate)
        assert forward.low == pytest.approx(-backward.high)
        assert forward.p_value == pytest.approx(backward.p_value)


def test_identical_arms_have_no_difference():
    rng = np.random.default_rng(3)
    a = (rng.random((3, 200)) < 0.6).astype(float)
    result = accuracy_difference(a, a.copy(), paired=True)
    assert (result.estimate, result.low, result.high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_seeds_paired_needs_the_same_seed_set():
    assert seeds_paired([0, 1, 2], [2, 1, 0])
    assert not seeds_paired([0, 1, 2], [0, 1, 3])
    assert not seeds_paired([0, 1], None)


def test_metric_interval_is_reproducible_from_its_spec():
    rng = np.random.default_rng(2)
    conf = rng.random((3, 300))
    hits = (rng.random((3, 300)) < conf).astype(float)
    from reports.calibration import ece

    first = metric_interval(ece, [conf, hits], SPEC)
    again = metric_interval(ece, [conf, hits], SPEC)
    other = metric_interval(ece, [conf, hits], BootstrapSpec(resamples=1000, seed=7))
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.per_seed == pytest.approx(tuple(ece(conf, hits)))


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="examples"):
        accuracy_interval(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="same test examples"):
        accuracy_difference(np.zeros((1, 3)), np.zeros((1, 4)), paired=False)
    with pytest.raises(ValueError, match="equal shapes"):
        accuracy_difference(np.zeros((2, 3)), np.zeros((3, 3)), paired=True)
    with pytest.raises(ValueError, match="same test examples"):
        metric_difference(mean_metric, [np.zeros((1, 3))], [np.zeros((1, 4))], SPEC, paired=False)


def test_seeds_needed_grows_as_the_target_narrows():
    components = Components(example=0.05, seed=0.0004, residual=0.2)
    loose = seeds_needed(components, 0.03, n=1000)
    tight = seeds_needed(components, 0.015, n=1000)
    assert loose is not None and tight is not None and tight > loose
    # the example term alone is wider than the target: no number of seeds reaches it
    assert seeds_needed(components, 0.005, n=1000) is None
    # and the planned width holds: t quantile x the variance at that many seeds
    assert 1.9 * np.sqrt(components.variance(1000, loose)) <= 0.03


@pytest.mark.parametrize(
    ("diff", "p", "expected"),
    [
        (0.03, 0.001, "a better"),
        (-0.03, 0.001, "b better"),
        (0.03, 0.2, "no significant difference"),  # the family-wise test does not reject
        (0.0, 0.001, "no significant difference"),
    ],
)
def test_a_claim_needs_the_adjusted_test(diff, p, expected):
    from reports.tables import claim

    assert claim("a", "b", diff, p) == expected


def test_power_planning_from_a_bundle(capsys):
    """`bench report --power` reads the paired comparisons' variance components and plans."""
    from bench.cli import main

    assert main(["report", "--bundle", "results/paper-table-cpu-minilm", "--power", "1.0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 8 and all("paired seeds, 3 seeds, n = 1000" in line for line in lines)
    assert all("±1.00 needs" in line or "not within" in line for line in lines)
    assert main(["report", "--bundle", "results/smoke-cpu", "--power", "1.0"]) == 0
    assert "cannot be planned from one seed" in capsys.readouterr().out
    assert main(["report", "--bundle", "results/smoke-cpu", "--power", "0"]) == 2
