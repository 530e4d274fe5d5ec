"""Baseline strategies: ``finetune``, ``single-task``, ``dss`` and ``dss+kl``.

Importing the package registers them in :data:`bench.strategy.STRATEGIES` (it is listed in the
``cotbench.strategies`` entry-point group, so the core finds it without naming it).
"""

from baselines.dss import DistillingStepByStep
from baselines.finetune import Finetune
from baselines.kl import DSSWithKL
from baselines.single_task import ANSWER_MARKER, SingleTask

__all__ = [
    "ANSWER_MARKER",
    "DSSWithKL",
    "DistillingStepByStep",
    "Finetune",
    "SingleTask",
]
