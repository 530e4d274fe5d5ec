"""Seed-aware statistics: intervals and tests over ``[seeds, examples]`` results, and Holm.

A condition is trained with several seeds and scored on one shared test set, so a figure such as
an accuracy varies with the training seed *and* with the test examples. Intervals here cover the
expected value over both populations (another seed, another test set of the same size) and hold
their level at 3-10 seeds, which a percentile bootstrap over seeds does not (83% coverage at 3
seeds where these cover 96.5%; ``tests/test_reports_coverage.py`` measures both).

Accuracy (a mean of 0/1 outcomes) uses the crossed two-way random-effects decomposition
``x[s, i] = mu + v_s + u_i + e_si`` (seed, example, interaction): the variance of the grand mean
is ``var_u / n + var_v / S + var_e / (n S)``, estimated from the three ANOVA mean squares (the
seed component clamped at 0). The reference distribution is a t whose degrees of freedom grow
with the share of the variance that does not come from the seeds: ``(S - 1) / w`` with ``w``
the seed term's estimated share (see :func:`_degrees_of_freedom`). A difference of two arms is
analysed on the per-cell differences when the arms share their seeds (common random numbers: the
same seed gives both arms the same initial weights and batch order), and from each arm's own
decomposition when they do not.

Other metrics (ECE, Brier) combine a t-interval on the per-seed values with the test-set term
estimated by a bootstrap over examples: the covariance between two seeds' bootstrap replicates is
the part of the test-set variation that all seeds share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

Metric = Callable[..., np.ndarray]  # arrays [m, n] (one per input) -> values [m]
CHUNK_ELEMENTS = 4_000_000  # gathered values per chunk: bounds memory for large test sets
PAIRED, UNPAIRED, ONE_SEED = "paired seeds", "unpaired seeds", "one seed"
DESIGNS = (PAIRED, UNPAIRED, ONE_SEED)
METHOD = (
    "t-interval over seeds and test examples (two-way random effects for accuracy; "
    "seeds paired when both arms share them)"
)


@dataclass(frozen=True)
class BootstrapSpec:
    """Settings of the intervals: confidence level, and the example bootstrap of non-linear
    metrics (resamples and generator seed, recorded with every table)."""

    resamples: int = 2000  # example bootstrap resamples (ECE and other non-linear metrics)
    seed: int = 0  # seed of the resampling generator
    level: float = 0.95  # two-sided confidence level

    @classmethod
    def from_settings(cls, settings: dict) -> BootstrapSpec:
        """The spec a bundle's provenance records (older bundles also record the sign-flip
        ``permutations`` of the test these intervals replaced; ignored)."""
        return cls(**{k: v for k, v in settings.items() if k in ("resamples", "seed", "level")})

    def describe(self) -> str:
        """One line for captions and method notes."""
        return (
            f"{self.level:.0%} {METHOD}; non-linear metrics: example bootstrap with "
            f"{self.resamples} resamples, seed {self.seed}"
        )


@dataclass(frozen=True)
class Components:
    """Variance components of a seed-averaged figure on ``n`` examples and ``S`` seeds:
    ``var = example / n + seed / S + residual / (n S)``."""

    example: float  # shared by every seed: the test set's own variation
    seed: float  # between seeds (training variation)
    residual: float  # seed x example interaction (per-cell noise)

    def variance(self, n: int, seeds: int) -> float:
        """Variance of the mean over ``seeds`` seeds and ``n`` test examples."""
        return self.example / n + self.seed / seeds + self.residual / (n * seeds)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval, standard error, t degrees of freedom, the two-sided
    p-value of a zero value, and the design it was computed under."""

    estimate: float
    low: float
    high: float
    se: float
    df: float
    p_value: float
    n: int  # test examples
    seeds: int  # seeds (pairs, for a paired design; the smaller arm otherwise)
    design: str  # one of DESIGNS
    per_seed: tuple[float, ...]  # the figure (or paired difference) of each seed
    components: Components | None = None  # accuracy only: for planning (seeds needed)


def _matrix(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"expected a non-empty [seeds, examples] array, got {array.shape}")
    return array


def _as_arrays(values: Sequence[np.ndarray]) -> list[np.ndarray]:
    arrays = [_matrix(v) for v in values]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(
            f"expected equal [seeds, examples] arrays, got {[a.shape for a in arrays]}"
        )
    return arrays


def _finish(
    estimate: float,
    variance: float,
    df: float,
    level: float,
    *,
    n: int,
    seeds: int,
    design: str,
    per_seed: np.ndarray,
    components: Components | None = None,
) -> Estimate:
    se = float(np.sqrt(max(variance, 0.0)))
    df = float(max(df, 1.0))
    if se > 0:
        half = float(stats.t.ppf(0.5 + level / 2, df)) * se
        p_value = float(2 * stats.t.sf(abs(estimate) / se, df))
    else:  # every cell equal: no variation to test against
        half, p_value = 0.0, (1.0 if estimate == 0 else 0.0)
    return Estimate(
        float(estimate),
        float(estimate - half),
        float(estimate + half),
        se,
        df,
        p_value,
        n,
        seeds,
        design,
        tuple(float(v) for v in per_seed),
        components,
    )


def _mean_squares(x: np.ndarray) -> tuple[float, float, float]:
    """Seed, example and residual mean squares of a two-way layout ``[S, n]`` (S, n >= 2)."""
    seeds, n = x.shape
    grand = x.mean()
    seed_means, example_means = x.mean(axis=1), x.mean(axis=0)
    ms_seed = n * float(((seed_means - grand) ** 2).sum()) / (seeds - 1)
    ms_example = seeds * float(((example_means - grand) ** 2).sum()) / (n - 1)
    residual = x - seed_means[:, None] - example_means[None, :] + grand
    ms_residual = float((residual**2).sum()) / ((seeds - 1) * (n - 1))
    return ms_seed, ms_example, ms_residual


def _degrees_of_freedom(seed_term: float, seed_df: float, variance: float) -> float:
    """t degrees of freedom of ``variance`` when ``seed_term`` of it rests on ``seed_df`` degrees
    of freedom and the rest (test-set terms, thousands of examples) is known: ``seed_df / w``,
    ``w = seed_term / variance``.

    Satterthwaite's ``seed_df / w**2`` is the usual choice, but ``w`` is itself estimated from
    the seeds, and when it comes out small the interval is narrow twice over: at 3 seeds it
    covered 92-93% where the seed share is 50-90%. The first power held 94-96% at 3, 5 and 10
    seeds over every share (``tests/test_reports_coverage.py``).
    """
    if seed_term <= 0 or seed_df <= 0:
        return float("inf")
    return seed_df * max(1.0, variance / seed_term)


def _welch_df(terms: Sequence[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of ``(variance, df)`` terms."""
    total = sum(value for value, _ in terms)
    denominator = sum(value**2 / df for value, df in terms if df > 0)
    return total**2 / denominator if denominator > 0 else float("inf")


def _components(x: np.ndarray) -> Components:
    """Variance components of a two-way layout (clamped at 0: for planning)."""
    seeds, n = x.shape
    ms_seed, ms_example, ms_residual = _mean_squares(x)
    return Components(
        example=max(0.0, (ms_example - ms_residual) / seeds),
        seed=max(0.0, (ms_seed - ms_residual) / n),
        residual=ms_residual,
    )


def _one_seed(d: np.ndarray, level: float, per_seed: np.ndarray) -> Estimate:
    """One seed (or one example): only one source of variation, the spread of ``d``, can be
    estimated; ``per_seed`` is each seed's value."""
    n = d.size
    variance = float(d.var(ddof=1)) / n if n > 1 else 0.0
    return _finish(
        float(d.mean()), variance, n - 1, level, n=n, seeds=1, design=ONE_SEED, per_seed=per_seed
    )


def accuracy_interval(correct: np.ndarray, level: float = 0.95) -> Estimate:
    """Mean of a 0/1 matrix ``[seeds, examples]`` with its t-interval (p-value: of a zero mean)."""
    x = _matrix(correct)
    seeds, n = x.shape
    if seeds == 1:
        return _one_seed(x[0], level, x.mean(axis=1))
    if n == 1:
        return _one_seed(x[:, 0], level, x[:, 0])
    ms_seed, ms_example, ms_residual = _mean_squares(x)
    seed_term = ms_seed / (n * seeds)  # the spread of the per-seed means
    # var_v / S + var_e / (n S) from the seed means, var_u / n from the example means less the
    # interaction they carry; never below what the examples and the interaction alone give
    # (the seed variance is >= 0): an unlucky small seed spread must not undercut the noise
    # floor that thousands of examples measure precisely
    variance = max(seed_term + (ms_example - ms_residual) / (n * seeds), ms_example / (n * seeds))
    return _finish(
        float(x.mean()),
        variance,
        _degrees_of_freedom(seed_term, seeds - 1, variance),
        level,
        n=n,
        seeds=seeds,
        design=PAIRED,
        per_seed=x.mean(axis=1),
        components=_components(x),
    )


def seeds_paired(seeds_a: Sequence[int] | None, seeds_b: Sequence[int] | None) -> bool:
    """True when both arms ran exactly the same seeds (the common-random-numbers design)."""
    return seeds_a is not None and seeds_b is not None and sorted(seeds_a) == sorted(seeds_b)


def accuracy_difference(
    a: np.ndarray,
    b: np.ndarray,
    *,
    paired: bool,
    level: float = 0.95,
) -> Estimate:
    """``accuracy(a) - accuracy(b)`` over the same test examples (columns in the same order).

    ``paired``: row ``s`` of ``a`` and of ``b`` come from the same seed (rows in the same seed
    order), and the analysis runs on the per-cell differences. Otherwise each arm's seed and
    interaction terms are estimated on their own and the example term on the difference of the
    example means.
    """
    a, b = _matrix(a), _matrix(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError("the two arms must cover the same test examples")
    n = a.shape[1]
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired arms need equal shapes, got {a.shape} and {b.shape}")
        return accuracy_interval(a - b, level)
    seeds_a, seeds_b = a.shape[0], b.shape[0]
    if min(seeds_a, seeds_b) == 1 or n == 1:
        return _one_seed(a.mean(axis=0) - b.mean(axis=0), level, np.array([]))
    ms_a, ms_b = _mean_squares(a), _mean_squares(b)
    example_diff = a.mean(axis=0) - b.mean(axis=0)
    ms_example = float(example_diff.var(ddof=1))  # per example: var_du + e_a/S_a + e_b/S_b
    seed_a, seed_b = ms_a[0] / (n * seeds_a), ms_b[0] / (n * seeds_b)  # spread of seed means
    variance = (
        seed_a
        + seed_b
        + ms_example / n
        - ms_a[2] / (n * seeds_a)  # the interaction, counted in both the seed and example terms
        - ms_b[2] / (n * seeds_b)
    )
    variance = max(variance, ms_example / n)  # the seed variances are >= 0
    smaller = min(seeds_a, seeds_b)
    components = Components(  # per seed of the smaller arm, for planning
        example=max(0.0, ms_example - ms_a[2] / seeds_a - ms_b[2] / seeds_b),
        seed=(
            max(0.0, (ms_a[0] - ms_a[2]) / n) / seeds_a
            + max(0.0, (ms_b[0] - ms_b[2]) / n) / seeds_b
        )
        * smaller,
        residual=(ms_a[2] / seeds_a + ms_b[2] / seeds_b) * smaller,
    )
    seed_df = _welch_df([(seed_a, seeds_a - 1), (seed_b, seeds_b - 1)])
    return _finish(
        float(a.mean() - b.mean()),
        variance,
        _degrees_of_freedom(seed_a + seed_b, seed_df, variance),
        level,
        n=n,
        seeds=smaller,
        design=UNPAIRED,
        per_seed=np.array([]),
        components=components,
    )


def _chunks(total: int, per_resample: int) -> list[int]:
    size = max(1, CHUNK_ELEMENTS // max(per_resample, 1))
    return [min(size, total - start) for start in range(0, total, size)]


def _replicates(metric: Metric, arrays: list[np.ndarray], spec: BootstrapSpec) -> np.ndarray:
    """Per-seed metric values on ``spec.resamples`` example resamples shared by all seeds:
    ``[resamples, seeds]``."""
    seeds, n = arrays[0].shape
    rng = np.random.default_rng(spec.seed)
    out = []
    for chunk in _chunks(spec.resamples, seeds * n * len(arrays)):
        idx = rng.integers(0, n, size=(chunk, n))
        gathered = [a[:, idx].transpose(1, 0, 2).reshape(chunk * seeds, n) for a in arrays]
        out.append(np.asarray(metric(*gathered)).reshape(chunk, seeds))
    return np.concatenate(out)


def _shared_example_variance(replicates: np.ndarray) -> float:
    """The example-level variance all seeds share: the mean covariance of two different seeds'
    replicates (one seed: the whole replicate variance)."""
    seeds = replicates.shape[1]
    cov = np.atleast_2d(np.cov(replicates, rowvar=False))
    if seeds == 1:
        return float(cov[0, 0])
    off_diagonal = cov[~np.eye(seeds, dtype=bool)]
    return max(0.0, float(off_diagonal.mean()))


def _seed_t(
    per_seed: np.ndarray, shared: float, spec: BootstrapSpec, design: str, n: int
) -> Estimate:
    """t-interval of the seed mean: seed term from the spread, plus the shared example term."""
    seeds = per_seed.size
    seed_term = float(per_seed.var(ddof=1)) / seeds if seeds > 1 else 0.0
    variance = seed_term + shared
    df = _degrees_of_freedom(seed_term, seeds - 1, variance) if seeds > 1 else n - 1
    return _finish(
        float(per_seed.mean()),
        variance,
        df,
        spec.level,
        n=n,
        seeds=seeds,
        design=design if seeds > 1 else ONE_SEED,
        per_seed=per_seed,
    )


def metric_interval(metric: Metric, values: Sequence[np.ndarray], spec: BootstrapSpec) -> Estimate:
    """Seed-averaged ``metric`` of arrays ``[seeds, examples]`` with its t-interval."""
    arrays = _as_arrays(values)
    per_seed = np.asarray(metric(*arrays), dtype=float)
    shared = _shared_example_variance(_replicates(metric, arrays, spec))
    return _seed_t(per_seed, shared, spec, PAIRED, arrays[0].shape[1])


def metric_difference(
    metric: Metric,
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    spec: BootstrapSpec,
    *,
    paired: bool,
) -> Estimate:
    """``metric(a) - metric(b)`` (seed-averaged) on the same examples, with its t-interval.

    The example bootstrap draws one set of example indices for both arms (they share the test
    set); with ``paired`` seeds, row ``s`` of both arms is one seed and the per-seed differences
    carry the seed term.
    """
    arrays_a, arrays_b = _as_arrays(a), _as_arrays(b)
    n = arrays_a[0].shape[1]
    if arrays_b[0].shape[1] != n:
        raise ValueError("the two arms must cover the same test examples")
    seeds_a = arrays_a[0].shape[0]
    joined = [np.concatenate([x, y]) for x, y in zip(arrays_a, arrays_b, strict=True)]
    replicates = _replicates(metric, joined, spec)  # [R, S_a + S_b], shared example draws
    values = np.asarray(metric(*joined), dtype=float)
    rep_a, rep_b = replicates[:, :seeds_a], replicates[:, seeds_a:]
    val_a, val_b = values[:seeds_a], values[seeds_a:]
    if paired:
        if val_a.size != val_b.size:
            raise ValueError("paired arms need the same number of seeds")
        shared = _shared_example_variance(rep_a - rep_b)
        return _seed_t(val_a - val_b, shared, spec, PAIRED, n)
    if min(val_a.size, val_b.size) == 1:
        diff = rep_a.mean(axis=1) - rep_b.mean(axis=1)
        return _finish(
            float(val_a.mean() - val_b.mean()),
            float(diff.var(ddof=1)),
            n - 1,
            spec.level,
            n=n,
            seeds=1,
            design=ONE_SEED,
            per_seed=np.array([]),
        )
    cov = np.cov(replicates, rowvar=False)
    within_a = cov[:seeds_a, :seeds_a][~np.eye(seeds_a, dtype=bool)].mean()
    within_b = cov[seeds_a:, seeds_a:][~np.eye(val_b.size, dtype=bool)].mean()
    across = cov[:seeds_a, seeds_a:].mean()
    shared = max(0.0, float(within_a + within_b - 2 * across))
    seed_a = float(val_a.var(ddof=1)) / val_a.size
    seed_b = float(val_b.var(ddof=1)) / val_b.size
    variance = seed_a + seed_b + shared
    seed_df = _welch_df([(seed_a, val_a.size - 1), (seed_b, val_b.size - 1)])
    df = _degrees_of_freedom(seed_a + seed_b, seed_df, variance)
    return _finish(
        float(val_a.mean() - val_b.mean()),
        variance,
        df,
        spec.level,
        n=n,
        seeds=min(val_a.size, val_b.size),
        design=UNPAIRED,
        per_seed=np.array([]),
    )


def seeds_needed(
    components: Components,
    half_width: float,
    *,
    n: int,
    level: float = 0.95,
    max_seeds: int = 200,
) -> int | None:
    """Fewest seeds (pairs) whose interval on ``n`` examples has at most ``half_width``, with
    the t quantile the intervals use (:func:`_degrees_of_freedom`); None when not within
    ``max_seeds`` (the example term alone may be too wide: use more test examples)."""
    for seeds in range(2, max_seeds + 1):
        variance = components.variance(n, seeds)
        seed_term = components.seed / seeds + components.residual / (n * seeds)
        df = _degrees_of_freedom(seed_term, seeds - 1, variance)
        if float(stats.t.ppf(0.5 + level / 2, df)) * np.sqrt(variance) <= half_width:
            return seeds
    return None


def mean_metric(correct: np.ndarray) -> np.ndarray:
    """Row means: accuracy of each row of a 0/1 matrix ``[m, n] -> [m]``."""
    return correct.mean(axis=1)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (same order as given); a NaN (a comparison not made)
    stays NaN and does not count in the family."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.size, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = tested.size
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted
