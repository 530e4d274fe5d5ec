"""Per-example correctness by dataset rule, and accuracy with its standard error.

``exact``: the decoded label equals the gold text (DSS ``compute_text_acc``). ``equation``: the
two equation strings have the same value (DSS ``compute_equation_acc``), computed by the safe
arithmetic evaluator ``bench.data._parsers.equation_value`` instead of ``eval()``.
"""

from __future__ import annotations

import math

from bench.data._parsers import equation_value


def is_correct(metric: str, prediction: str, gold: str) -> bool:
    """Whether ``prediction`` matches ``gold`` under ``metric`` (``exact`` or ``equation``)."""
    if metric == "exact":
        return prediction.strip() == gold.strip()
    if metric == "equation":
        predicted, expected = equation_value(prediction), equation_value(gold)
        if predicted is None or expected is None:
            return False
        return math.isclose(predicted, expected, rel_tol=1e-9, abs_tol=1e-9)
    raise ValueError(f"unknown metric {metric!r}")


def accuracy_summary(correct: list[bool]) -> dict[str, float | int]:
    """``{"accuracy", "n", "n_correct", "stderr"}`` with the binomial standard error."""
    n = len(correct)
    hits = sum(correct)
    acc = hits / n if n else float("nan")
    stderr = math.sqrt(acc * (1 - acc) / n) if n else float("nan")
    return {"accuracy": acc, "n": n, "n_correct": hits, "stderr": stderr}
