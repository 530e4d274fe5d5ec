"""Accuracy tables: per-condition summaries over seeds, and paired comparisons with Holm.

Numbers are fractions in [0, 1]; :mod:`reports.export` formats them as percentages. Intervals
are the seed-aware t-intervals of :mod:`reports.stats`; every row records its level and the
example-bootstrap settings (``boot_resamples``, ``boot_seed``, ``level``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from reports.arm_spec import ArmSpec, parse_arm
from reports.collect import RunStore
from reports.stats import (
    BootstrapSpec,
    Estimate,
    accuracy_difference,
    accuracy_interval,
    holm,
    seeds_paired,
)

DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("dss+mi", "dss"), ("dss", "finetune"))
ALPHA = 0.05  # family-wise error rate of the Holm-corrected claims
NO_DIFFERENCE = "no significant difference"
ACCURACY_FAMILY = "every accuracy comparison of the table (one report or bundle)"
ESTIMATE_COLUMNS = (
    *("design", "n_pairs", "diff", "ci_low", "ci_high", "se", "df", "p_value", "seed_diffs"),
    *("var_example", "var_seed", "var_residual"),
)
TEXT_COLUMNS = ("design", "seed_diffs")


def _spec_columns(spec: BootstrapSpec) -> dict[str, float | int]:
    return {"boot_resamples": spec.resamples, "boot_seed": spec.seed, "level": spec.level}


def summary_table(store: RunStore, spec: BootstrapSpec) -> pd.DataFrame:
    """Per condition: mean and std of test accuracy over seeds, seed-aware t CI, seeds, n."""
    rows = []
    for key, runs in store.groups():
        run_ids = list(runs["run_id"])
        correct, ids = store.example_matrix(run_ids, "correct")
        per_seed = correct.mean(axis=1)
        interval = accuracy_interval(correct, spec.level)
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
                "ci_low": max(0.0, interval.low),  # clipped to the range of an accuracy
                "ci_high": min(1.0, interval.high),
                **_spec_columns(spec),
            }
        )
    return pd.DataFrame(rows)


def claim(a: str, b: str, diff: float, p_adjusted: float, alpha: float = ALPHA) -> str:
    """``"<a> better"`` / ``"<b> better"`` when the family-wise adjusted p-value is below
    ``alpha``; the interval and the p-value come from the same seed-aware t statistic, so the
    unadjusted interval then excludes 0 as well."""
    if p_adjusted < alpha and diff != 0:
        return f"{a} better" if diff > 0 else f"{b} better"
    return NO_DIFFERENCE


def format_seed_values(values: tuple[float, ...]) -> str:
    """Per-seed values as one CSV cell, ``;``-separated (empty for unpaired arms)."""
    return ";".join(f"{v:.6g}" for v in values)


def interval_columns(name: str, result: Estimate) -> dict[str, float]:
    """``name``, ``<name>_low`` and ``<name>_high``: an estimate and its interval as columns
    (what :func:`reports.display.estimate_text` shows)."""
    return {name: result.estimate, f"{name}_low": result.low, f"{name}_high": result.high}


def estimate_columns(result: Estimate | None) -> dict:
    """The columns every paired row carries: design, estimate, interval, t test, per seed
    (blank for a comparison not made, ``None``)."""
    if result is None:
        return {k: "" if k in TEXT_COLUMNS else math.nan for k in ESTIMATE_COLUMNS}
    components = result.components
    return {
        "design": result.design,
        "n_pairs": result.seeds,
        "diff": result.estimate,
        "ci_low": result.low,
        "ci_high": result.high,
        "se": result.se,
        "df": result.df,
        "p_value": result.p_value,
        "seed_diffs": format_seed_values(result.per_seed),
        "var_example": components.example if components else float("nan"),
        "var_seed": components.seed if components else float("nan"),
        "var_residual": components.residual if components else float("nan"),
    }


def with_family_holm(frame: pd.DataFrame, family: str) -> pd.DataFrame:
    """``p_holm`` over every tested row of ``frame`` (one family; a row without a p-value is
    no member) and the family's description."""
    frame["p_holm"] = holm(frame["p_value"].to_numpy(dtype=float))
    frame["holm_family"] = f"{family} (m = {int(frame['p_value'].notna().sum())})"
    return frame


def matched_groups(
    store: RunStore, a: str, b: str
) -> list[tuple[dict, pd.DataFrame, pd.DataFrame]]:
    """Pairs of conditions of arms ``a`` and ``b`` (:func:`reports.arm_spec.parse_arm`) with
    equal suite, profile, dataset and variant values (e.g. the same ``noise.level`` in a
    sweep), except the variant keys that either arm names in its ``[key=value]`` qualifier.
    A condition is never paired with itself (``single-task:single-task[noise.type=swap]``
    pairs the plain condition with the swapped one only)."""
    if store.empty:
        return []
    arm_a, arm_b = parse_arm(a), parse_arm(b)
    named = arm_a.keys | arm_b.keys
    keys = ["suite", "profile", "dataset", *(k for k in store.variant_keys if k not in named)]
    matches = []
    for values, runs in store.runs.groupby(keys, sort=True, dropna=False):
        base = dict(zip(keys, values, strict=True))
        conditions = [
            [g for _, g in _arm_runs(store, runs, arm).groupby("config_hash")]
            for arm in (arm_a, arm_b)
        ]
        for run_a, run_b in itertools.product(*conditions):
            if run_a["config_hash"].iloc[0] != run_b["config_hash"].iloc[0]:  # not itself
                matches.append((base, run_a.sort_values("seed"), run_b.sort_values("seed")))
    return matches


def _arm_runs(store: RunStore, runs: pd.DataFrame, arm: ArmSpec) -> pd.DataFrame:
    if not arm.conditions:  # a plain strategy: no config needs reading
        return runs[runs["strategy"] == arm.strategy]
    keep = [
        arm.matches(strategy, store.configs.get(run_id, {}))
        for strategy, run_id in zip(runs["strategy"], runs["run_id"], strict=True)
    ]
    return runs[keep]


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
    """``a`` vs ``b`` on the same test examples; Holm over every row (one family).

    Effect = accuracy(a) - accuracy(b) with the seed-aware t-interval and test of
    :func:`reports.stats.accuracy_difference`: paired by seed when both arms ran the same
    seeds (``design`` says which). A comparison whose two arms have the same per-example
    results as an earlier row's (e.g. a noise type at level 0, which trains the clean runs
    again) is the same comparison and is left out.
    """
    rows, seen = [], set()
    for a, b in pairs:
        for base, runs_a, runs_b in matched_groups(store, a, b):
            correct_a, correct_b = shared_matrices(store, runs_a, runs_b, "correct")
            if correct_a.shape[1] == 0:
                continue
            identity = (correct_a.tobytes(), correct_b.tobytes(), a, b)
            if identity in seen:
                continue
            seen.add(identity)
            paired = seeds_paired(list(runs_a["seed"]), list(runs_b["seed"]))
            result = accuracy_difference(correct_a, correct_b, paired=paired, level=spec.level)
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
                    **estimate_columns(result),
                    **_spec_columns(spec),
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = with_family_holm(frame, ACCURACY_FAMILY)
    frame["claim"] = [
        claim(r.a, r.b, r.diff, r.p_holm, alpha) for r in frame.itertuples(index=False)
    ]
    return frame
