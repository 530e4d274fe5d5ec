"""Calibration metrics of top-label confidence: ECE (equal-width, equal-mass), MCE, Brier.

Inputs are a confidence in [0, 1] and a 0/1 correctness per example, as arrays ``[n]`` or
batched ``[m, n]`` (one row per bootstrap resample); outputs have the leading shape of the input.

Binning: equal-width bin ``k`` of ``K`` holds confidences in ``[k/K, (k+1)/K)`` (1.0 goes in the
last bin), the convention of torchmetrics' ``BinaryCalibrationError``; equal-mass bins hold the
examples in confidence order, ``floor(rank * K / n)``. ECE = sum_k (n_k / n) |acc_k - conf_k|;
MCE = max over non-empty bins of |acc_k - conf_k|; Brier = mean (conf - correct)^2.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

WIDTH, MASS = "width", "mass"
MIN_RELIABLE_N = 300  # below this many test examples per seed, ECE is flagged as noisy
CONFIDENCE_DEFINITION = (
    "confidence = for closed tasks (candidate answers), the probability of the top-ranked "
    "candidate renormalised over the candidates (teacher-forced scores), scored with that "
    "candidate's correctness, the same definition for every strategy; for open tasks (SVAMP), "
    "the probability of the greedy generated sequence with its correctness. Secondary "
    "(ECE greedy): the greedy output's candidate probability (0 when the output is no "
    "candidate) with the greedy output's correctness"
)
CONFIDENCE_SHORT = (  # the same definition, short enough to print under a figure
    "confidence: p(top-ranked candidate) renormalised over the candidates (closed tasks), "
    "p(generated sequence) (open tasks)"
)


def _rows(values: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(values, dtype=float))


def _shape_like(result: np.ndarray, template: np.ndarray) -> np.ndarray | float:
    return float(result[0]) if np.ndim(template) == 1 else result


def bin_ids(confidence: np.ndarray, n_bins: int, scheme: str = WIDTH) -> np.ndarray:
    """Bin index of every example, ``[m, n]`` ints in ``[0, n_bins)``."""
    conf = _rows(confidence)
    if scheme == WIDTH:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        ids = np.searchsorted(edges, conf, side="right") - 1
        return np.clip(ids, 0, n_bins - 1)
    if scheme == MASS:
        n = conf.shape[1]
        order = np.argsort(conf, axis=1, kind="stable")
        ids = np.empty_like(order)
        np.put_along_axis(ids, order, (np.arange(n) * n_bins) // n, axis=1)
        return ids
    raise ValueError(f"unknown binning scheme {scheme!r}; expected {WIDTH!r} or {MASS!r}")


def bin_stats(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int, scheme: str = WIDTH
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row and bin: count, mean confidence, accuracy (each ``[m, n_bins]``; NaN if empty)."""
    conf, hits = _rows(confidence), _rows(correct)
    m = conf.shape[0]
    flat = (bin_ids(conf, n_bins, scheme) + n_bins * np.arange(m)[:, None]).ravel()
    size = m * n_bins
    count = np.bincount(flat, minlength=size).reshape(m, n_bins).astype(float)
    conf_sum = np.bincount(flat, weights=conf.ravel(), minlength=size).reshape(m, n_bins)
    hit_sum = np.bincount(flat, weights=hits.ravel(), minlength=size).reshape(m, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return count, conf_sum / count, hit_sum / count


def ece(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10, scheme: str = WIDTH
) -> np.ndarray | float:
    """Expected calibration error (fraction, not percent)."""
    count, conf, acc = bin_stats(confidence, correct, n_bins, scheme)
    gaps = np.nan_to_num(np.abs(acc - conf)) * count
    return _shape_like(gaps.sum(axis=1) / count.sum(axis=1), confidence)


def mce(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10, scheme: str = WIDTH
) -> np.ndarray | float:
    """Maximum calibration error over non-empty bins."""
    _, conf, acc = bin_stats(confidence, correct, n_bins, scheme)
    return _shape_like(np.nanmax(np.abs(acc - conf), axis=1), confidence)


def brier(confidence: np.ndarray, correct: np.ndarray) -> np.ndarray | float:
    """Brier score of the top-label confidence: mean (confidence - correct)^2."""
    return _shape_like(((_rows(confidence) - _rows(correct)) ** 2).mean(axis=1), confidence)


CalibrationMetric = Callable[[np.ndarray, np.ndarray], np.ndarray]
METRICS: dict[str, tuple[str, CalibrationMetric]] = {
    "ece_w10": ("ECE, 10 equal-width bins", partial(ece, n_bins=10, scheme=WIDTH)),
    "ece_w15": ("ECE, 15 equal-width bins", partial(ece, n_bins=15, scheme=WIDTH)),
    "ece_m10": ("ECE, 10 equal-mass bins", partial(ece, n_bins=10, scheme=MASS)),
    "mce_w10": ("MCE, 10 equal-width bins", partial(mce, n_bins=10, scheme=WIDTH)),
    "brier": ("Brier score", brier),
}


def reliability_table(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10
) -> pd.DataFrame:
    """Equal-width reliability bins of pooled examples: edges, count, confidence, accuracy."""
    count, conf, acc = bin_stats(np.ravel(confidence), np.ravel(correct), n_bins, WIDTH)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "low": edges[:-1],
            "high": edges[1:],
            "count": count[0].astype(int),
            "confidence": conf[0],
            "accuracy": acc[0],
        }
    )
