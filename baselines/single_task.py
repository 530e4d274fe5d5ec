"""Single-task training (DSS paper, Table 2): one target, the rationale followed by the label.

The label is parsed back out of the generated text at evaluation (the text after the last
``ANSWER_MARKER``). When the target is too long, the rationale is cut, never the label.
"""

from __future__ import annotations

from bench.data import Example
from bench.strategy import STRATEGIES, Batch, LossOutput, Strategy, TaskPair, seq2seq_forward

ANSWER_MARKER = "So the answer is"


@STRATEGIES.register("single-task")
class SingleTask(Strategy):
    """L = cross-entropy of ``rationale + " So the answer is " + label``."""

    tasks = ("predict",)
    predict_prefix = ""
    label_target = False  # the label follows a generated rationale: evaluation must decode
    tokenizer_text = (ANSWER_MARKER,)

    def training_pairs(self, example: Example, sep: str) -> dict[str, TaskPair]:
        suffix = f" {ANSWER_MARKER} {example.label}"
        return {
            "predict": TaskPair(example.text_input(sep), example.rationale, target_suffix=suffix)
        }

    def loss(self, model, batch: Batch) -> LossOutput:
        out = seq2seq_forward(model, batch["predict"])
        return LossOutput(total=out.loss, parts={"single": out.loss})

    def parse_prediction(self, generated: str) -> str:
        """``"... So the answer is 42"`` -> ``"42"``; text without the marker -> ``""``."""
        _, marker, answer = generated.rpartition(ANSWER_MARKER)
        return answer.strip() if marker else ""

    def candidate_target(self, generated: str, candidate: str) -> str:
        """The generated rationale followed by the marker and ``candidate``."""
        rationale = (
            generated.rpartition(ANSWER_MARKER)[0] if ANSWER_MARKER in generated else generated
        )
        return f"{rationale.rstrip()} {ANSWER_MARKER} {candidate}".lstrip()
