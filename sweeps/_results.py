"""Per-example test results of a group of runs (one condition, several seeds) as arrays.

A condition's runs share their test examples; :func:`load_arm` stacks their ``predictions.jsonl``
into ``[seeds, examples]`` arrays in id order, the shape the bootstrap and paired tests take.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.store import read_json, read_jsonl
from sweeps._reporting import (
    BootstrapSpec,
    accuracy_difference,
    calibration_point,
    holm,
    seeds_paired,
)


@dataclass(frozen=True)
class Arm:
    """The test results of one condition over its seeds."""

    ids: tuple[str, ...]  # test example ids, sorted
    correct: np.ndarray  # [seeds, examples] 0/1
    confidence: np.ndarray  # [seeds, examples], see sweeps._reporting.CONFIDENCE_DEFINITION
    confidence_correct: np.ndarray  # [seeds, examples] 0/1: what the confidence is scored on
    seeds: tuple[int, ...]  # the run seed of each row
    valid_accuracy: float  # mean over seeds of the best validation accuracy
    directories: tuple[Path, ...]


def load_arm(directories: Sequence[Path]) -> Arm:
    """Stack the predictions of finished runs that share their test examples (rows in seed
    order, so that two arms with the same seeds are paired row by row)."""
    ids: tuple[str, ...] | None = None
    correct, confidence, confidence_correct, valid, seeds = [], [], [], [], []
    for directory in sorted(directories, key=lambda d: read_json(d / "metrics.json")["seed"]):
        rows = sorted(read_jsonl(directory / "predictions.jsonl"), key=lambda r: str(r["id"]))
        run_ids = tuple(str(r["id"]) for r in rows)
        if ids is not None and run_ids != ids:
            raise BenchError(f"{directory}: test examples differ from the other seeds' runs")
        ids = run_ids
        correct.append([float(r["correct"]) for r in rows])
        points = [calibration_point(r) for r in rows]
        confidence.append([c for c, _, _ in points])
        confidence_correct.append([float(hit) for _, hit, _ in points])
        metrics = read_json(directory / "metrics.json")
        valid.append(metrics["valid_best_accuracy"])
        seeds.append(int(metrics["seed"]))
    return Arm(
        ids=ids or (),
        correct=np.asarray(correct),
        confidence=np.asarray(confidence),
        confidence_correct=np.asarray(confidence_correct),
        seeds=tuple(seeds),
        valid_accuracy=float(np.mean(valid)),
        directories=tuple(directories),
    )


def paired_columns(arm: Arm, baseline: Arm, spec: BootstrapSpec, test: bool = True) -> dict:
    """``diff`` (accuracy of ``arm`` minus ``baseline``), its CI and p-value; NaN when ``test``
    is False or the two arms were scored on different test examples."""
    if not test or arm.ids != baseline.ids:
        return {
            "design": "",
            "diff": math.nan,
            "diff_low": math.nan,
            "diff_high": math.nan,
            "p_value": math.nan,
        }
    paired = accuracy_difference(
        arm.correct,
        baseline.correct,
        paired=seeds_paired(arm.seeds, baseline.seeds),
        level=spec.level,
    )
    return {
        "design": paired.design,
        "diff": paired.estimate,
        "diff_low": paired.low,
        "diff_high": paired.high,
        "p_value": paired.p_value,
    }


def with_holm(rows: list[dict]) -> pd.DataFrame:
    """The rows as a table with ``p_holm``: Holm-adjusted over every tested row."""
    table = pd.DataFrame(rows)
    tested = table["p_value"].notna()
    table["p_holm"] = math.nan
    if tested.any():
        table.loc[tested, "p_holm"] = holm(table.loc[tested, "p_value"].tolist())
    return table
