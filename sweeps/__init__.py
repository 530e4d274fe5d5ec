"""Sweeps: ablations over one config key (``bench ablate``) and Optuna studies (``bench sweep``).

Library functions behind the two commands: :func:`plan_ablation` / :func:`run_ablation` for a grid
over any config key; :class:`SweepSpec`, :func:`run_sweep` and :func:`finish_sweep` for an Optuna
study over a search space (:func:`load_space`) on a journal file or an RDB storage, with K worker
processes. Every trial and every ablation point is an ordinary run in the run store.

The names load on first use (they pull in torch), so ``bench --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AblationPlan": "sweeps._ablate",
    "ablation_table": "sweeps._ablate",
    "plan_ablation": "sweeps._ablate",
    "run_ablation": "sweeps._ablate",
    "finish_sweep": "sweeps._finish",
    "SearchSpace": "sweeps._spaces",
    "load_space": "sweeps._spaces",
    "space_names": "sweeps._spaces",
    "SweepSpec": "sweeps._spec",
    "prepare_study": "sweeps._study",
    "run_sweep": "sweeps._study",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sweeps' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
