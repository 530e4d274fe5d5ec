"""Groups of runs as arms: one condition's per-example test results over its seeds, and the
paired comparison of two arms on the same test examples (what ``bench ablate`` and ``bench
sweep`` tabulate).

The runs are read with :func:`reports.collect.collect_runs` (each prediction re-scored from
prediction and gold) and stacked with :meth:`~reports.collect.RunStore.example_matrix` in seed
order, so that two arms with the same seeds are paired row by row.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from bench.errors import BenchError
from bench.store import RunDir
from reports.collect import RunStore, collect_runs
from reports.stats import BootstrapSpec, accuracy_difference, seeds_paired
from reports.tables import estimate_columns

Key = TypeVar("Key", bound=Hashable)


@dataclass(frozen=True)
class Arm:
    """The test results of one condition over its seeds."""

    ids: tuple[str, ...]  # test example ids, sorted
    correct: np.ndarray  # [seeds, examples] 0/1
    confidence: np.ndarray  # [seeds, examples], see reports.calibration.CONFIDENCE_DEFINITION
    confidence_correct: np.ndarray  # [seeds, examples] 0/1: what the confidence is scored on
    seeds: tuple[int, ...]  # the run seed of each row
    valid_accuracy: float  # mean over seeds of the best validation accuracy


def collect_arms(runs_dir: str | Path, groups: Mapping[Key, Sequence[RunDir]]) -> dict[Key, Arm]:
    """The arm of every group of finished runs under ``runs_dir`` (BenchError naming a run that
    is not finished, or whose test examples differ from its group's other runs)."""
    runs_dir = Path(runs_dir)
    store = collect_runs(runs_dir, only=[run.path for runs in groups.values() for run in runs])
    return {key: _arm(store, [run.path for run in runs]) for key, runs in groups.items()}


def _arm(store: RunStore, directories: list[Path]) -> Arm:
    runs = store.runs.set_index("run_id")
    run_ids = [str(d.relative_to(store.runs_dir)) for d in directories]
    for run_id in run_ids:
        if run_id not in runs.index:
            raise BenchError(f"{store.run_dir(run_id).path}: not a finished run")
    runs = runs.loc[run_ids].sort_values("seed", kind="stable")
    ordered = list(runs.index)
    correct, ids = store.example_matrix(ordered, "correct")
    sizes = store.predictions[store.predictions["run_id"].isin(ordered)].groupby("run_id").size()
    for run_id, size in sizes.items():
        if size != len(ids):
            raise BenchError(
                f"{store.run_dir(run_id).path}: test examples differ from the other seeds' runs"
            )
    return Arm(
        ids=tuple(ids),
        correct=correct,
        confidence=store.example_matrix(ordered, "confidence", ids)[0],
        confidence_correct=store.example_matrix(ordered, "confidence_correct", ids)[0],
        seeds=tuple(int(seed) for seed in runs["seed"]),
        valid_accuracy=float(np.mean(runs["valid_best_accuracy"].to_numpy(dtype=float))),
    )


def compare_arms(arm: Arm, baseline: Arm, spec: BootstrapSpec) -> dict:
    """Test accuracy of ``arm`` minus ``baseline``, paired by seed when they share their seeds:
    the columns of :func:`reports.tables.estimate_columns`, blank when the two arms were scored
    on different test examples."""
    if arm.ids != baseline.ids:
        return estimate_columns(None)
    paired = seeds_paired(arm.seeds, baseline.seeds)
    return estimate_columns(
        accuracy_difference(arm.correct, baseline.correct, paired=paired, level=spec.level)
    )
