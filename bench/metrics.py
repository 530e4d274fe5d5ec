"""Accuracy with its binomial standard error.

Per-example correctness follows the dataset's DSS rule
(:func:`bench.data._parsers.labels_match`: exact text match, or equal equation values computed
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
