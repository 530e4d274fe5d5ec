"""Distilling Step-by-Step (Hsieh et al., 2023): multi-task training on labels and rationales.

``L = alpha1 * L_pred + alpha2 * L_explain`` with the task prefixes ``predict: `` and
``explain: `` (google-research/distilling-step-by-step @ ef94426, ``model_utils.py``
``TaskPrefixTrainer``: alpha * pred + (1 - alpha) * explain, alpha = 0.5). Subclasses add terms
through :meth:`DistillingStepByStep.auxiliary_terms`, weighted by ``alpha3``.
"""

from __future__ import annotations

import torch

from bench.data import Example
from bench.strategy import (
    EXPLAIN_PREFIX,
    PREDICT_PREFIX,
    STRATEGIES,
    Batch,
    LossOutput,
    Strategy,
    TaskOutput,
    TaskPair,
    seq2seq_forward,
)


@STRATEGIES.register("dss")
class DistillingStepByStep(Strategy):
    """Two teacher-forced passes per batch: ``predict: x -> y`` and ``explain: x -> rationale``."""

    tasks = ("predict", "explain")
    rationale_task = "explain"
    tokenizer_text = (PREDICT_PREFIX, EXPLAIN_PREFIX)
    reads = frozenset({"alpha1", "alpha2"})  # alpha3 weighs auxiliary terms, which DSS has none of
    needs_hidden_states = False  # subclasses that pool decoder hidden states set True
    needs_all_positions = False  # subclasses whose term reads padded positions' logits set True

    def training_pairs(self, example: Example, sep: str) -> dict[str, TaskPair]:
        text = example.text_input(sep)
        return {
            "predict": TaskPair(PREDICT_PREFIX + text, example.label),
            "explain": TaskPair(EXPLAIN_PREFIX + text, example.rationale),
        }

    def auxiliary_terms(self, pred: TaskOutput, expl: TaskOutput) -> dict[str, torch.Tensor]:
        """Extra unweighted terms (summed, times ``alpha3``); DSS has none."""
        return {}

    def loss(self, model, batch: Batch) -> LossOutput:
        cfg = self.config
        pred, expl = (
            seq2seq_forward(
                model,
                batch[task],
                all_positions=self.needs_all_positions,
                hidden_states=self.needs_hidden_states,
            )
            for task in ("predict", "explain")
        )
        parts = {"pred": pred.loss, "explain": expl.loss}
        total = cfg.alpha1 * pred.loss + cfg.alpha2 * expl.loss
        for name, term in self.auxiliary_terms(pred, expl).items():
            parts[name] = term
            total = total + cfg.alpha3 * term
        return LossOutput(total=total, parts=parts)
