"""Accuracy tables: per-condition summaries over seeds, and paired comparisons with Holm.

Numbers are fractions in [0, 1]; :mod:`reports._export` formats them as percentages. Every row
records how its interval was resampled (``boot_resamples``, ``boot_seed``, ``level``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports._collect import RunStore
from reports._stats import (
    BootstrapSpec,
    bootstrap_interval,
    holm,
    mean_metric,
    paired_accuracy_test,
)

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("dss+mi", "dss"), ("dss", "finetune"))
ALPHA = 0.05  # family-wise error rate of the Holm-corrected claims
NO_DIFFERENCE = "no significant difference"


def _spec_columns(spec: BootstrapSpec) -> dict[str, float | int]:
    return {"boot_resamples": spec.resamples, "boot_seed": spec.seed, "level": spec.level}


def summary_table(store: RunStore, spec: BootstrapSpec) -> pd.DataFrame:
    """Per condition: mean and std of test accuracy over seeds, bootstrap CI, seeds, n."""
    rows = []
    for key, runs in store.groups():
        run_ids = list(runs["run_id"])
        correct, ids = store.example_matrix(run_ids, "correct")
        per_seed = correct.mean(axis=1)
        interval = bootstrap_interval(mean_metric, [correct], spec)
        first = runs.iloc[0]
        rows.append(
            {
                **key,
                "model": first["model"],
                **{k: first[k] for k in store.variant_keys},
                "n_seeds": len(run_ids),
                "seeds": ",".join(str(s) for s in runs["seed"]),
                "n_test": len(ids),
                "n_train": first.get("n_train"),
                "accuracy": interval.estimate,
                "std": float(np.std(per_seed, ddof=1)) if len(run_ids) > 1 else float("nan"),
                "ci_low": interval.low,
                "ci_high": interval.high,
                **_spec_columns(spec),
            }
        )
    return pd.DataFrame(rows)


def claim(
    a: str,
    b: str,
    diff: float,
    p_adjusted: float,
    interval: tuple[float, float],
    alpha: float = ALPHA,
) -> str:
    """``"<a> better"`` / ``"<b> better"`` only when the adjusted p-value is below ``alpha`` AND
    the bootstrap interval of ``diff`` excludes 0.

    The permutation test flips examples of seed-averaged predictions, so it asks whether these
    trained models differ; the interval also resamples the seeds, so it asks whether another
    seed would keep the sign. A method-level claim needs both.
    """
    low, high = interval
    if p_adjusted < alpha and diff != 0 and (low > 0 or high < 0):
        return f"{a} better" if diff > 0 else f"{b} better"
    return NO_DIFFERENCE


def matched_groups(
    store: RunStore, a: str, b: str
) -> list[tuple[dict, pd.DataFrame, pd.DataFrame]]:
    """Pairs of conditions of strategies ``a`` and ``b`` with equal suite, profile, dataset and
    variant values (e.g. the same ``noise.level`` in a sweep)."""
    if store.empty:
        return []
    keys = ["suite", "profile", "dataset", *store.variant_keys]
    matches = []
    for values, runs in store.runs.groupby(keys, sort=True, dropna=False):
        base = dict(zip(keys, values, strict=True))
        arm_a = [g for _, g in runs[runs["strategy"] == a].groupby("config_hash")]
        arm_b = [g for _, g in runs[runs["strategy"] == b].groupby("config_hash")]
        for run_a, run_b in itertools.product(arm_a, arm_b):
            matches.append((base, run_a.sort_values("seed"), run_b.sort_values("seed")))
    return matches


def shared_matrices(
    store: RunStore, runs_a: pd.DataFrame, runs_b: pd.DataFrame, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """``column`` of both arms as ``[seeds, examples]`` over the test ids both arms have."""
    ids_a = store.example_matrix(list(runs_a["run_id"]), column)[1]
    ids_b = set(store.example_matrix(list(runs_b["run_id"]), column)[1])
    shared = [i for i in ids_a if i in ids_b]
    values_a = store.example_matrix(list(runs_a["run_id"]), column, shared)[0]
    values_b = store.example_matrix(list(runs_b["run_id"]), column, shared)[0]
    return values_a, values_b


def paired_table(
    store: RunStore,
    spec: BootstrapSpec,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """``a`` vs ``b`` on the same test examples, Holm-corrected across datasets.

    Effect = accuracy(a) - accuracy(b) with a paired bootstrap CI; p-value from a sign-flip
    permutation test; the Holm family is one pair (and variant) over all datasets.
    """
    rows = []
    for a, b in pairs:
        for base, runs_a, runs_b in matched_groups(store, a, b):
            correct_a, correct_b = shared_matrices(store, runs_a, runs_b, "correct")
            if correct_a.shape[1] == 0:
                continue
            result = paired_accuracy_test(correct_a, correct_b, spec)
            rows.append(
                {
                    **base,
                    "a": a,
                    "b": b,
                    "config_hash_a": runs_a["config_hash"].iloc[0],
                    "config_hash_b": runs_b["config_hash"].iloc[0],
                    "n_seeds_a": len(runs_a),
                    "n_seeds_b": len(runs_b),
                    "n_test": result.n,
                    "accuracy_a": float(correct_a.mean()),
                    "accuracy_b": float(correct_b.mean()),
                    "diff": result.estimate,
                    "ci_low": result.low,
                    "ci_high": result.high,
                    "p_value": result.p_value,
                    "permutations": spec.permutations,
                    **_spec_columns(spec),
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    family = ["suite", "profile", "a", "b", *store.variant_keys]
    frame["p_holm"] = frame.groupby(family, dropna=False)["p_value"].transform(
        lambda p: holm(p.to_numpy())
    )
    frame["claim"] = [
        claim(r.a, r.b, r.diff, r.p_holm, (r.ci_low, r.ci_high), alpha)
        for r in frame.itertuples(index=False)
    ]
    return frame
