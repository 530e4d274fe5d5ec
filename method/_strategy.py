"""``dss+mi``: DSS plus the MI paper's mutual-information term (Chen et al., ACL Findings 2024).

``L = alpha1 * L_pred + alpha2 * L_explain + alpha3 * L_MI`` with ``mi_variant``:

- ``code``: what the released code computes (xinchen9/cot_distillation_ACL2024 @ 59ca033,
  ``model_utils.py``): see :func:`method.mi_code_loss`;
- ``paper``: the paper's description done properly (masked pooling, real distributions):
  :func:`method.mi_paper_loss`;
- ``infonce``: a true lower bound on the MI of the two branches' pooled decoder states:
  :class:`method.InfoNCEHead` (a learned projection, trained with the model).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines._dss import DistillingStepByStep, target_mask
from bench.strategy import STRATEGIES, Batch
from method._mi import InfoNCEHead, mi_code_loss, mi_paper_loss


@STRATEGIES.register("dss+mi")
class DSSWithMI(DistillingStepByStep):
    """DSS plus ``alpha3`` times the chosen MI term (logged as ``mi``)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.needs_hidden_states = config.mi_variant == "infonce"
        self.infonce: InfoNCEHead | None = None

    def setup(self, model: nn.Module) -> None:
        """Size the InfoNCE projection to the model's decoder width."""
        if self.config.mi_variant == "infonce":
            hidden = model.get_output_embeddings().weight.shape[1]
            self.infonce = InfoNCEHead(
                hidden, self.config.infonce_dim, self.config.infonce_temperature
            )

    def auxiliary_terms(self, pred, expl, batch: Batch) -> dict[str, torch.Tensor]:
        variant = self.config.mi_variant
        if variant == "code":
            return {"mi": mi_code_loss(pred.logits, expl.logits)}
        pred_mask, expl_mask = target_mask(batch["predict"]), target_mask(batch["explain"])
        if variant == "paper":
            term = mi_paper_loss(
                pred.logits, pred_mask, expl.logits, expl_mask, stop_grad=self.config.mi_stop_grad
            )
            return {"mi": term}
        pred_hidden = pred.decoder_hidden_states[-1]  # [B, Lp, H]
        if self.config.mi_stop_grad:
            pred_hidden = pred_hidden.detach()
        return {
            "mi": self.infonce(pred_hidden, pred_mask, expl.decoder_hidden_states[-1], expl_mask)
        }
