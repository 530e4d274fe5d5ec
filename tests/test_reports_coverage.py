"""Coverage and false-positive rate of the reports' intervals, measured by simulation.

Each simulated study trains S seeds of two arms and scores them on n test examples drawn afresh:
correctness is Bernoulli with a logit of example difficulty (shared by both arms), an
example x arm interaction (some examples favour one arm), a seed effect per arm (correlated
across arms under common random numbers) and the arm's effect. The true difference is the
population one (over new seeds and new test examples), computed by Gauss-Hermite quadrature.
Over 2,000 studies the 95% intervals must cover it 93-97% of the time at 3, 5 and 10 seeds, and
under the null the test must reject at a = 0.05 in 3-7% of studies. The percentile bootstrap
over independently resampled seeds, which the reports used before, fails the same check (83%
coverage at 3 seeds where this module's interval covers 96.5%).
"""

from __future__ import annotations

import numpy as np
import pytest

from reports.stats import BootstrapSpec, accuracy_difference, accuracy_interval, metric_difference
from reports.stats import mean_metric as row_means

STUDIES = 2000
BASE_LOGIT = 0.8  # about 69% accuracy
DIFFICULTY = 1.5  # sd of example difficulty (logit), shared by both arms
INTERACTION = 0.6  # sd of the example x arm interaction (logit)
SEED_SD = 0.25  # sd of a seed's effect (logit): seed variance dominates at few seeds
SEED_CORRELATION = 0.5  # common random numbers: a seed's effect in both arms


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _population_accuracy(logit: float, sd: float) -> float:
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float((_sigmoid(logit + sd * nodes) * weights).sum() / weights.sum())


def _true_difference(effect: float, seed_sd: float = SEED_SD) -> float:
    sd = np.sqrt(DIFFICULTY**2 + INTERACTION**2 / 4 + seed_sd**2)
    return _population_accuracy(BASE_LOGIT + effect, sd) - _population_accuracy(BASE_LOGIT, sd)


def _studies(
    rng,
    seeds: int,
    n: int,
    effect: float,
    studies: int = STUDIES,
    correlation: float = SEED_CORRELATION,
    seed_sd: float = SEED_SD,
):
    """Correctness of both arms, ``[studies, seeds, n]`` each; ``correlation`` of a seed's
    effect across the arms (0: unrelated seeds)."""
    difficulty = DIFFICULTY * rng.normal(size=(studies, 1, n))
    interaction = INTERACTION * rng.normal(size=(studies, 1, n)) / 2
    shared_seed = rng.normal(size=(studies, seeds, 1))
    common, own = np.sqrt(correlation), np.sqrt(1 - correlation)
    seed_a = seed_sd * (common * shared_seed + own * rng.normal(size=(studies, seeds, 1)))
    seed_b = seed_sd * (common * shared_seed + own * rng.normal(size=(studies, seeds, 1)))
    logit_a = BASE_LOGIT + effect + difficulty + interaction + seed_a
    logit_b = BASE_LOGIT + difficulty - interaction + seed_b
    a = rng.random(logit_a.shape) < _sigmoid(logit_a)
    b = rng.random(logit_b.shape) < _sigmoid(logit_b)
    return a.astype(float), b.astype(float)


def _coverage_and_rejections(seeds: int, n: int, effect: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    truth = _true_difference(effect)
    a, b = _studies(rng, seeds, n, effect)
    covered = rejected = 0
    for study in range(STUDIES):
        result = accuracy_difference(a[study], b[study], paired=True)
        covered += result.low <= truth <= result.high
        rejected += result.p_value < 0.05
    return covered / STUDIES, rejected / STUDIES


@pytest.mark.parametrize("seeds", [3, 5, 10])
def test_paired_interval_covers_the_true_difference(seeds):
    coverage, _ = _coverage_and_rejections(seeds, n=400, effect=0.15, seed=seeds)
    assert 0.93 <= coverage <= 0.97, f"{seeds} seeds: coverage {coverage:.3f}"


@pytest.mark.parametrize("seeds", [3, 5, 10])
def test_paired_test_holds_its_level_under_the_null(seeds):
    _, false_positives = _coverage_and_rejections(seeds, n=400, effect=0.0, seed=100 + seeds)
    assert 0.03 <= false_positives <= 0.07, f"{seeds} seeds: false positives {false_positives:.3f}"


@pytest.mark.parametrize("seeds", [3, 10])
def test_unpaired_interval_covers_the_true_difference(seeds):
    """Arms trained with unrelated seeds (no common random numbers)."""
    rng = np.random.default_rng(200 + seeds)
    truth = _true_difference(0.15)
    a, b = _studies(rng, seeds, 400, 0.15, correlation=0.0)
    covered = sum(
        (r := accuracy_difference(a[s], b[s], paired=False)).low <= truth <= r.high
        for s in range(STUDIES)
    )
    assert 0.93 <= covered / STUDIES <= 0.97


def test_one_arm_interval_covers_the_population_accuracy():
    rng = np.random.default_rng(7)
    sd = np.sqrt(DIFFICULTY**2 + INTERACTION**2 / 4 + SEED_SD**2)
    truth = _population_accuracy(BASE_LOGIT, sd)
    _, b = _studies(rng, 3, 400, 0.0)
    covered = sum((r := accuracy_interval(b[s])).low <= truth <= r.high for s in range(STUDIES))
    assert 0.93 <= covered / STUDIES <= 0.97


def _percentile_bootstrap_independent_seeds(a, b, resamples, rng):
    """The reports' former interval: seeds of each arm resampled independently, examples
    jointly, percentile limits. Vectorised over resamples."""
    seeds, n = a.shape
    examples = rng.integers(0, n, size=(resamples, 1, n))
    rows_a = rng.integers(0, seeds, size=(resamples, seeds, 1))
    rows_b = rng.integers(0, seeds, size=(resamples, seeds, 1))
    diffs = a[rows_a, examples].mean(axis=(1, 2)) - b[rows_b, examples].mean(axis=(1, 2))
    return np.percentile(diffs, [2.5, 97.5])


def test_the_former_percentile_bootstrap_under_covers_at_three_seeds():
    """The check above can fail: the interval the reports used before covers far less than
    95% at 3 seeds when the seed variance dominates (here with unrelated seeds, the case that
    interval assumed)."""
    rng = np.random.default_rng(11)
    truth = _true_difference(0.15, seed_sd=1.0)
    studies = 400
    a, b = _studies(rng, 3, 200, 0.15, studies=studies, correlation=0.0, seed_sd=1.0)
    former = ours = 0
    for study in range(studies):
        low, high = _percentile_bootstrap_independent_seeds(a[study], b[study], 400, rng)
        former += low <= truth <= high
        result = accuracy_difference(a[study], b[study], paired=False)
        ours += result.low <= truth <= result.high
    assert former / studies < 0.88  # measured: 0.83
    assert ours / studies > 0.93  # the same studies with this module's interval: 0.965


def test_metric_difference_agrees_with_the_accuracy_decomposition():
    """The bootstrap route for non-linear metrics gives the analytic accuracy interval back
    when the metric is the mean."""
    rng = np.random.default_rng(3)
    a, b = _studies(rng, 5, 600, 0.2, studies=1)
    analytic = accuracy_difference(a[0], b[0], paired=True)
    bootstrap = metric_difference(
        row_means, [a[0]], [b[0]], BootstrapSpec(resamples=4000, seed=1), paired=True
    )
    assert bootstrap.estimate == pytest.approx(analytic.estimate)
    assert bootstrap.se == pytest.approx(analytic.se, rel=0.15)
    assert bootstrap.per_seed == pytest.approx(analytic.per_seed)
