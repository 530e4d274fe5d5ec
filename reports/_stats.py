"""Resampling statistics: two-level bootstrap CIs, paired differences, sign-flip tests, Holm.

Every function takes per-example arrays shaped ``[seeds, examples]`` (the same test examples in
the same order for every seed) and a :class:`BootstrapSpec` carrying the seed, so the same
inputs always give the same numbers. A bootstrap resample draws the seeds with replacement *and*
the test examples with replacement (one draw of example indices shared by all seeds), so the
interval covers both training-seed and test-set variation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Metric = Callable[..., np.ndarray]  # arrays [m, n] (one per input) -> values [m]
CHUNK_ELEMENTS = 4_000_000  # gathered values per chunk: bounds memory for large test sets


@dataclass(frozen=True)
class BootstrapSpec:
    """How intervals are resampled: count, seed and confidence level."""

    resamples: int = 2000  # bootstrap resamples per interval
    seed: int = 0  # seed of the resampling generator (recorded with every table)
    level: float = 0.95  # two-sided confidence level
    permutations: int = 10000  # sign flips per paired permutation test

    def describe(self) -> str:
        """One line for captions and method notes."""
        return (
            f"{self.level:.0%} percentile bootstrap over seeds and test examples, "
            f"{self.resamples} resamples, seed {self.seed}"
        )


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedResult:
    """Difference ``a - b`` on shared examples: estimate, interval, two-sided p-value."""

    estimate: float
    low: float
    high: float
    p_value: float
    n: int


def _as_arrays(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=float) for v in values]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2 or arrays[0].shape[1] == 0:
        raise ValueError(f"expected equal non-empty [seeds, examples] arrays, got {shapes}")
    return arrays


def _per_seed(metric: Metric, arrays: list[np.ndarray], seed_idx, example_idx) -> np.ndarray:
    """Metric of every resample: the mean over its resampled seeds.  Returns [chunk]."""
    chunk, n_seeds = seed_idx.shape
    gathered = [a[seed_idx[:, :, None], example_idx[:, None, :]] for a in arrays]  # [c, S, n]
    flat = metric(*(g.reshape(chunk * n_seeds, -1) for g in gathered))  # [c * S]
    return flat.reshape(chunk, n_seeds).mean(axis=1)


def _chunks(total: int, per_resample: int) -> list[int]:
    size = max(1, CHUNK_ELEMENTS // max(per_resample, 1))
    return [min(size, total - start) for start in range(0, total, size)]


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def point_estimate(metric: Metric, values: Sequence[np.ndarray]) -> float:
    """The metric of each seed (all examples), averaged over seeds."""
    arrays = _as_arrays(values)
    return float(metric(*arrays).mean())


def bootstrap_samples(
    metric: Metric, values: Sequence[np.ndarray], spec: BootstrapSpec
) -> np.ndarray:
    """``spec.resamples`` bootstrap values of the seed-averaged metric: [resamples]."""
    arrays = _as_arrays(values)
    n_seeds, n = arrays[0].shape
    rng = np.random.default_rng(spec.seed)
    out = []
    for chunk in _chunks(spec.resamples, n_seeds * n * len(arrays)):
        seed_idx = rng.integers(0, n_seeds, size=(chunk, n_seeds))
        example_idx = rng.integers(0, n, size=(chunk, n))
        out.append(_per_seed(metric, arrays, seed_idx, example_idx))
    return np.concatenate(out)


def bootstrap_interval(
    metric: Metric, values: Sequence[np.ndarray], spec: BootstrapSpec
) -> Interval:
    """Point estimate and percentile interval of a per-example metric over seeds."""
    low, high = _percentiles(bootstrap_samples(metric, values, spec), spec.level)
    return Interval(point_estimate(metric, values), low, high)


def mean_metric(correct: np.ndarray) -> np.ndarray:
    """Row means: accuracy of each row of a 0/1 matrix ``[m, n] -> [m]``."""
    return correct.mean(axis=1)


def paired_bootstrap(
    metric: Metric,
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    spec: BootstrapSpec,
) -> PairedResult:
    """``metric(a) - metric(b)`` on the same examples with a paired bootstrap.

    Each resample draws one set of example indices for both arms (the pairing) and the seeds of
    each arm independently. The p-value is the shifted-bootstrap two-sided test of a zero
    difference: the share of resampled differences at least ``|estimate|`` away from the
    estimate, with the usual +1 correction.
    """
    arrays_a, arrays_b = _as_arrays(a), _as_arrays(b)
    n = arrays_a[0].shape[1]
    if arrays_b[0].shape[1] != n:
        raise ValueError("paired arms must cover the same examples")
    estimate = point_estimate(metric, arrays_a) - point_estimate(metric, arrays_b)
    rng = np.random.default_rng(spec.seed)
    seeds_a, seeds_b = arrays_a[0].shape[0], arrays_b[0].shape[0]
    diffs = []
    for chunk in _chunks(spec.resamples, (seeds_a + seeds_b) * n * len(arrays_a)):
        example_idx = rng.integers(0, n, size=(chunk, n))
        idx_a = rng.integers(0, seeds_a, size=(chunk, seeds_a))
        idx_b = rng.integers(0, seeds_b, size=(chunk, seeds_b))
        diffs.append(
            _per_seed(metric, arrays_a, idx_a, example_idx)
            - _per_seed(metric, arrays_b, idx_b, example_idx)
        )
    samples = np.concatenate(diffs)
    low, high = _percentiles(samples, spec.level)
    extreme = np.sum(np.abs(samples - estimate) >= abs(estimate) - 1e-12)
    p_value = float((1 + extreme) / (1 + samples.size))
    return PairedResult(estimate, low, high, min(1.0, p_value), n)


def sign_flip_p_value(differences: np.ndarray, permutations: int, seed: int) -> float:
    """Two-sided paired permutation test of mean ``differences`` = 0 by random sign flips.

    Under the null each example's two arms are exchangeable, so each difference's sign is a fair
    coin; the p-value is ``(1 + #{|mean(flipped)| >= |mean(observed)|}) / (1 + permutations)``.
    """
    d = np.asarray(differences, dtype=float)
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    for chunk in _chunks(permutations, d.size):
        signs = rng.integers(0, 2, size=(chunk, d.size)) * 2 - 1  # [chunk, n] of +-1
        flipped = np.abs((signs * d).mean(axis=1))
        hits += int(np.sum(flipped >= observed - 1e-12))
    return (1 + hits) / (1 + permutations)


def paired_accuracy_test(a: np.ndarray, b: np.ndarray, spec: BootstrapSpec) -> PairedResult:
    """Accuracy difference of two arms ``[seeds, examples]`` on the same examples.

    Estimate and interval from :func:`paired_bootstrap`; p-value from a sign-flip permutation
    test on the per-example differences of the seed-averaged correctness.
    """
    boot = paired_bootstrap(mean_metric, [a], [b], spec)
    diffs = np.asarray(a, dtype=float).mean(axis=0) - np.asarray(b, dtype=float).mean(axis=0)
    p_value = sign_flip_p_value(diffs, spec.permutations, spec.seed)
    return PairedResult(boot.estimate, boot.low, boot.high, p_value, boot.n)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted
