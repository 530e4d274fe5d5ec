"""Resampling statistics of ``reports``: bootstrap intervals, paired tests, Holm, on synthetic
data with known answers (no runs needed)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from reports._stats import (
    BootstrapSpec,
    bootstrap_interval,
    holm,
    mean_metric,
    paired_accuracy_test,
    paired_bootstrap,
    sign_flip_p_value,
)

SPEC = BootstrapSpec(resamples=1000, seed=0, permutations=2000)


def test_holm_matches_a_hand_computed_case():
    # sorted: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> max with 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.2]) == pytest.approx([0.2])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_bootstrap_interval_of_a_bernoulli_mean_has_the_binomial_width():
    rng = np.random.default_rng(1)
    correct = (rng.random((1, 4000)) < 0.7).astype(float)
    result = bootstrap_interval(mean_metric, [correct], SPEC)
    assert result.estimate == pytest.approx(correct.mean())
    assert result.low < 0.7 < result.high
    expected_width = 2 * 1.96 * np.sqrt(0.7 * 0.3 / 4000)
    assert result.high - result.low == pytest.approx(expected_width, rel=0.15)


def test_bootstrap_over_seeds_widens_the_interval():
    # Four seeds that disagree a lot on the same 400 examples: the CI must reflect the seeds.
    seeds = np.array([[1.0] * k + [0.0] * (400 - k) for k in (80, 160, 240, 320)])
    agreeing = np.array([[1.0, 0.0] * 200] * 4)  # same mean, only test-set variation
    across = bootstrap_interval(mean_metric, [seeds], SPEC)
    within = bootstrap_interval(mean_metric, [agreeing], SPEC)
    assert across.estimate == within.estimate == pytest.approx(0.5)
    assert within.high - within.low == pytest.approx(2 * 1.96 * np.sqrt(0.25 / 400), rel=0.15)
    assert across.high - across.low > 2 * (within.high - within.low)


def test_same_bootstrap_seed_same_numbers():
    rng = np.random.default_rng(2)
    correct = (rng.random((2, 300)) < 0.5).astype(float)
    first = bootstrap_interval(mean_metric, [correct], SPEC)
    again = bootstrap_interval(mean_metric, [correct], SPEC)
    other = bootstrap_interval(mean_metric, [correct], BootstrapSpec(resamples=1000, seed=7))
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)


def test_paired_test_on_a_sure_difference():
    a, b = np.ones((2, 50)), np.zeros((3, 50))
    result = paired_accuracy_test(a, b, SPEC)
    assert (result.estimate, result.low, result.high) == (1.0, 1.0, 1.0)
    assert result.p_value == pytest.approx(1 / (SPEC.permutations + 1))
    assert result.n == 50


def test_paired_test_on_identical_arms():
    rng = np.random.default_rng(3)
    a = (rng.random((1, 200)) < 0.6).astype(float)
    result = paired_accuracy_test(a, a.copy(), SPEC)
    assert result.estimate == 0.0
    assert result.p_value == 1.0


def test_paired_test_finds_a_real_effect_and_covers_it():
    rng = np.random.default_rng(4)
    a = (rng.random((1, 2000)) < 0.8).astype(float)
    b = (rng.random((1, 2000)) < 0.6).astype(float)
    result = paired_accuracy_test(a, b, SPEC)
    assert result.low < 0.2 < result.high
    assert result.p_value < 0.001


def test_sign_flip_p_value_matches_exact_enumeration():
    d = np.array([0.5, -0.25, 1.0, 0.75, -0.5, 0.25, 1.0, 0.5, -0.75, 0.25, 0.5, 1.0])
    observed = abs(d.mean())
    flips = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    exact = np.mean(np.abs((flips * d).mean(axis=1)) >= observed - 1e-12)
    assert sign_flip_p_value(d, 20000, seed=0) == pytest.approx(exact, abs=0.01)


def test_sign_flip_test_holds_its_level_under_the_null():
    rng = np.random.default_rng(5)
    rejections = 0
    trials = 200
    for trial in range(trials):
        a = (rng.random(200) < 0.6).astype(float)
        b = (rng.random(200) < 0.6).astype(float)
        rejections += sign_flip_p_value(a - b, 500, seed=trial) < 0.05
    assert 0.01 <= rejections / trials <= 0.10


def test_paired_bootstrap_is_antisymmetric():
    rng = np.random.default_rng(6)
    a = (rng.random((2, 300)) < 0.7).astype(float)
    b = (rng.random((2, 300)) < 0.5).astype(float)
    forward = paired_bootstrap(mean_metric, [a], [b], SPEC)
    backward = paired_bootstrap(mean_metric, [b], [a], SPEC)
    assert forward.estimate == pytest.approx(-backward.estimate)
    assert forward.p_value == pytest.approx(backward.p_value)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="examples"):
        bootstrap_interval(mean_metric, [np.zeros((2, 0))], SPEC)
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap(mean_metric, [np.zeros((1, 3))], [np.zeros((1, 4))], SPEC)


@pytest.mark.parametrize(
    ("diff", "p", "interval", "expected"),
    [
        (0.03, 0.001, (0.01, 0.05), "a better"),
        (-0.03, 0.001, (-0.05, -0.01), "b better"),
        (0.03, 0.001, (-0.02, 0.09), "no significant difference"),  # seeds disagree
        (0.03, 0.2, (0.01, 0.05), "no significant difference"),  # test does not reject
    ],
)
def test_a_claim_needs_the_test_and_the_interval(diff, p, interval, expected):
    from reports._tables import claim

    assert claim("a", "b", diff, p, interval) == expected
