"""Per-example test results of a group of runs (one condition, several seeds) as arrays.

A condition's runs share their test examples; :func:`load_arm` stacks their ``predictions.jsonl``
into ``[seeds, examples]`` arrays in id order, the shape the bootstrap and paired tests take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.store import read_json, read_jsonl
from sweeps._reporting import calibration_confidence


@dataclass(frozen=True)
class Arm:
    """The test results of one condition over its seeds."""

    ids: tuple[str, ...]  # test example ids, sorted
    correct: np.ndarray  # [seeds, examples] 0/1
    confidence: np.ndarray  # [seeds, examples], see sweeps._reporting.CONFIDENCE_DEFINITION
    valid_accuracy: float  # mean over seeds of the best validation accuracy
    directories: tuple[Path, ...]


def load_arm(directories: Sequence[Path]) -> Arm:
    """Stack the predictions of finished runs that share their test examples."""
    ids: tuple[str, ...] | None = None
    correct, confidence, valid = [], [], []
    for directory in directories:
        rows = sorted(read_jsonl(directory / "predictions.jsonl"), key=lambda r: str(r["id"]))
        run_ids = tuple(str(r["id"]) for r in rows)
        if ids is not None and run_ids != ids:
            raise BenchError(f"{directory}: test examples differ from the other seeds' runs")
        ids = run_ids
        correct.append([float(r["correct"]) for r in rows])
        confidence.append([calibration_confidence(r)[0] for r in rows])
        valid.append(read_json(directory / "metrics.json")["valid_best_accuracy"])
    return Arm(
        ids=ids or (),
        correct=np.asarray(correct),
        confidence=np.asarray(confidence),
        valid_accuracy=float(np.mean(valid)),
        directories=tuple(directories),
    )
