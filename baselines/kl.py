"""DSS + a KL term between the two tasks' pooled output distributions (the MI paper's comparison).

``L = alpha1 * L_pred + alpha2 * L_explain + alpha3 * KL(p_pred || p_explain)`` where each p is
the masked, max-pooled, renormalised softmax of that branch's decoder logits
(:func:`bench.losses.pooled_distribution`), the label branch detached when ``mi_stop_grad``.
"""

from __future__ import annotations

import torch

from baselines.dss import DistillingStepByStep
from bench.losses import pooled_kl, pooled_log_distribution
from bench.strategy import STRATEGIES, TaskOutput


@STRATEGIES.register("dss+kl")
class DSSWithKL(DistillingStepByStep):
    """DSS plus ``alpha3`` times the pooled-distribution KL divergence."""

    reads = frozenset({"alpha1", "alpha2", "alpha3", "mi_stop_grad"})

    def auxiliary_terms(self, pred: TaskOutput, expl: TaskOutput) -> dict[str, torch.Tensor]:
        stop_grad = self.config.mi_stop_grad
        return {
            "kl": pooled_kl(pooled_log_distribution(pred, stop_grad), pooled_log_distribution(expl))
        }
