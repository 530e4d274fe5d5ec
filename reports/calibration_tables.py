"""Calibration tables from the run store: ECE/MCE/Brier with bootstrap CIs, ``ece_code``,
reliability bins, and paired calibration differences (for the MI paper's "lower ECE" claim).

Confidence is defined in :data:`reports.calibration.CONFIDENCE_DEFINITION` (primary: the
top-ranked candidate with its correctness; ``ece_w10_greedy``: the greedy output); metrics are
computed per seed and averaged over seeds, with the seed-aware intervals of :mod:`reports.stats`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reports.calibration import METRICS, MIN_RELIABLE_N, ece, reliability_table
from reports.collect import RunStore
from reports.ece_code import first_token_agreement
from reports.stats import BootstrapSpec, metric_difference, metric_interval, seeds_paired
from reports.tables import (
    ALPHA,
    claim,
    estimate_columns,
    matched_groups,
    shared_matrices,
    with_family_holm,
)

CALIBRATION_FAMILY = "every calibration comparison of the table (one report)"


def small_n_warning(n: int) -> str:
    """The warning shown beside calibration numbers computed on few test examples."""
    return f"n = {n} < {MIN_RELIABLE_N}: ECE is noisy" if n < MIN_RELIABLE_N else ""


def ece_code_estimate(store: RunStore, run_ids: list[str]) -> float:
    """Mean over seeds of the released script's figure (first-token agreement; NaN without
    the run's tokenizer file)."""
    values = []
    for run_id in run_ids:
        tokenizer = store.run_dir(run_id).tokenizer_file  # the preset models write one
        if not tokenizer.is_file():
            return float("nan")
        rows = store.predictions[store.predictions["run_id"] == run_id]
        values.append(
            first_token_agreement(tokenizer, list(rows["generated"]), list(rows["gold"])).mean()
        )
    return float(np.mean(values))


def calibration_table(store: RunStore, spec: BootstrapSpec) -> pd.DataFrame:
    """Per condition: the calibrated answer's accuracy, mean confidence, every metric of
    :data:`METRICS` with its CI, the greedy-output ECE, ``ece_code`` and the small-n warning."""
    rows = []
    for key, runs in store.groups():
        run_ids = list(runs["run_id"])
        conf, ids = store.example_matrix(run_ids, "confidence")
        hits = store.example_matrix(run_ids, "confidence_correct", ids)[0]
        greedy = store.example_matrix(run_ids, "greedy_confidence", ids)[0]
        correct = store.example_matrix(run_ids, "correct", ids)[0]
        kinds = store.predictions.loc[store.predictions["run_id"].isin(run_ids), "confidence_kind"]
        row = {
            **key,
            "model": runs["model"].iloc[0],
            **{k: runs[k].iloc[0] for k in store.variant_keys},
            "n_seeds": len(run_ids),
            "n_test": len(ids),
            "confidence_kind": "/".join(sorted(set(kinds))),
            "accuracy": float(hits.mean()),  # of the answer the confidence belongs to
            "mean_confidence": float(conf.mean()),
        }
        for name, (_, metric) in METRICS.items():
            interval = metric_interval(metric, [conf, hits], spec)
            row.update(
                {
                    name: interval.estimate,
                    f"{name}_low": max(0.0, interval.low),  # clipped: the metrics are >= 0
                    f"{name}_high": interval.high,
                }
            )
        row["ece_w10_greedy"] = float(np.mean(ece(greedy, correct)))
        row["ece_code"] = ece_code_estimate(store, run_ids)
        row["warning"] = small_n_warning(len(ids))
        row.update({"boot_resamples": spec.resamples, "boot_seed": spec.seed, "level": spec.level})
        rows.append(row)
    return pd.DataFrame(rows)


def reliability_data(store: RunStore, run_ids: list[str], n_bins: int = 10) -> pd.DataFrame:
    """Equal-width reliability bins (primary confidence) over the pooled examples of
    ``run_ids``."""
    conf, ids = store.example_matrix(run_ids, "confidence")
    hits = store.example_matrix(run_ids, "confidence_correct", ids)[0]
    return reliability_table(conf, hits, n_bins)


def paired_calibration_table(
    store: RunStore,
    spec: BootstrapSpec,
    pairs: list[tuple[str, str]],
    metric: str = "ece_w10",
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """``metric(a) - metric(b)`` on shared examples with the seed-aware interval (paired by seed
    when the arms share their seeds); Holm over every row (one family).

    A negative difference means ``a`` is better calibrated; :func:`claim` names the *lower* one
    better here.
    """
    _, function = METRICS[metric]
    rows, seen = [], set()
    for a, b in pairs:
        for base, runs_a, runs_b in matched_groups(store, a, b):
            conf_a, conf_b = shared_matrices(store, runs_a, runs_b, "confidence")
            hits_a, hits_b = shared_matrices(store, runs_a, runs_b, "confidence_correct")
            if conf_a.shape[1] == 0:
                continue
            identity = (conf_a.tobytes(), conf_b.tobytes(), a, b)
            if identity in seen:
                continue
            seen.add(identity)
            paired = seeds_paired(list(runs_a["seed"]), list(runs_b["seed"]))
            result = metric_difference(
                function, [conf_a, hits_a], [conf_b, hits_b], spec, paired=paired
            )
            rows.append(
                {
                    **base,
                    "metric": metric,
                    "a": a,
                    "b": b,
                    "config_hash_a": runs_a["config_hash"].iloc[0],
                    "config_hash_b": runs_b["config_hash"].iloc[0],
                    "n_test": result.n,
                    **estimate_columns(result),
                    "warning": small_n_warning(result.n),
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = with_family_holm(frame, CALIBRATION_FAMILY)
    # lower is better: negate the difference so that claim() names the lower one
    frame["claim"] = [
        claim(r.a, r.b, -r.diff, r.p_holm, alpha).replace("better", "better calibrated")
        for r in frame.itertuples(index=False)
    ]
    return frame
