"""Standard fine-tuning: input -> label, no task prefix, no rationale.

The papers' "standard finetuning" baseline; with ``label_type=llm`` it is standard distillation
(the student learns the teacher's labels).
"""

from __future__ import annotations

from bench.data import Example
from bench.strategy import STRATEGIES, Batch, LossOutput, Strategy, TaskPair, seq2seq_forward


@STRATEGIES.register("finetune")
class Finetune(Strategy):
    """L = L_pred on unprefixed inputs."""

    tasks = ("predict",)
    predict_prefix = ""

    def training_pairs(self, example: Example, sep: str) -> dict[str, TaskPair]:
        return {"predict": TaskPair(example.text_input(sep), example.label)}

    def loss(self, model, batch: Batch) -> LossOutput:
        pred = seq2seq_forward(model, batch["predict"])
        return LossOutput(total=pred.loss, parts={"pred": pred.loss})
