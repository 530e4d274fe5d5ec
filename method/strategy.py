"""``dss+mi``: DSS plus the MI paper's mutual-information term (Chen et al., ACL Findings 2024).

``L = alpha1 * L_pred + alpha2 * L_explain + alpha3 * L_MI`` with ``mi_variant``:

- ``code``: what the released code computes (xinchen9/cot_distillation_ACL2024 @ 59ca033,
  ``model_utils.py``): see :func:`method.mi_code_loss`;
- ``paper``: the paper's description done properly (masked pooling, real distributions):
  :func:`bench.losses.pooled_divergence` with :func:`bench.losses.pooled_cross_entropy`;
- ``infonce``: a true lower bound on the MI of the two branches' pooled decoder states:
  :class:`method.InfoNCEHead` (a learned projection, trained with the model).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.dss import DistillingStepByStep
from bench.losses import pooled_cross_entropy, pooled_log_distribution
from bench.strategy import LOSS_KEYS, STRATEGIES, TaskOutput
from method.mi import InfoNCEHead, mi_code_from_log_probs


@STRATEGIES.register("dss+mi")
class DSSWithMI(DistillingStepByStep):
    """DSS plus ``alpha3`` times the chosen MI term (logged as ``mi``)."""

    reads = LOSS_KEYS  # every loss key: DSS's weights, alpha3 and the MI term's settings

    def __init__(self, config) -> None:
        super().__init__(config)
        self.needs_hidden_states = config.mi_variant == "infonce"
        self.needs_all_positions = config.mi_variant == "code"  # it pools padding too
        self.infonce: InfoNCEHead | None = None

    def setup(self, model: nn.Module) -> None:
        """Size the InfoNCE projection to the model's decoder width."""
        if self.config.mi_variant == "infonce":
            hidden = model.get_output_embeddings().weight.shape[1]
            self.infonce = InfoNCEHead(
                hidden, self.config.infonce_dim, self.config.infonce_temperature
            )

    def auxiliary_terms(self, pred: TaskOutput, expl: TaskOutput) -> dict[str, torch.Tensor]:
        variant, stop_grad = self.config.mi_variant, self.config.mi_stop_grad
        if variant == "code":
            return {"mi": mi_code_from_log_probs(pred.log_probs, expl.log_probs)}
        if variant == "paper":
            log_pred = pooled_log_distribution(pred, stop_grad)
            return {"mi": pooled_cross_entropy(log_pred, pooled_log_distribution(expl))}
        pred_hidden = pred.decoder_hidden.detach() if stop_grad else pred.decoder_hidden
        return {"mi": self.infonce(pred_hidden, pred.mask, expl.decoder_hidden, expl.mask)}
