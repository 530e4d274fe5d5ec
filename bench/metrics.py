"""Accuracy with its binomial standard error.

Per-example correctness follows the dataset's DSS rule
(:func:`bench.data.parsers.labels_match`: exact text match, or equal equation values computed
by the safe arithmetic evaluator for SVAMP; never ``eval()``).
"""

from __future__ import annotations

import math


def accuracy_summary(correct: list[bool]) -> dict[str, float | int]:
    """``{"accuracy", "n", "n_correct", "stderr"}`` with the binomial standard error."""
    n = len(correct)
    hits = sum(correct)
    acc = hits / n if n else float("nan")
    stderr = math.sqrt(acc * (1 - acc) / n) if n else float("nan")
    return {"accuracy": acc, "n": n, "n_correct": hits, "stderr": stderr}


def dataset_metric(dataset: str) -> str:
    """The correctness rule of a built-in dataset: ``equation`` (SVAMP) or ``exact``."""
    from bench.data.dss import SPECS

    spec = SPECS.get(dataset)
    return spec.metric if spec is not None else "exact"


def rescored(row: dict, metric: str) -> dict:
    """A prediction record with ``correct`` (and ``candidate_correct``) recomputed from its
    ``prediction`` (``candidate_prediction``) and ``gold``, so a stored flag is never trusted.

    Raises KeyError when the record lacks ``prediction``.
    """
    from bench.data.parsers import labels_match

    gold = row.get("gold") or ""
    out = {**row, "correct": labels_match(metric, str(row["prediction"]), gold)}
    if row.get("candidate_prediction") is not None:
        out["candidate_correct"] = labels_match(metric, str(row["candidate_prediction"]), gold)
    return out
