"""The loss-strategy interface: how one method turns examples into training pairs and a loss.

A strategy is a small ``torch.nn.Module`` (so a learned head, e.g. InfoNCE's projection, trains
and checkpoints with the model). The trainer calls :meth:`Strategy.loss` and logs every entry of
``LossOutput.parts``; it never asks which strategy it runs. Strategies register by name::

    @STRATEGIES.register("dss")
    class DistillStepByStep(Strategy): ...

Plug-in packages (``baselines``, ``method``) are found through the ``cotbench.strategies``
entry-point group declared in ``pyproject.toml``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from bench.registry import Registry

if TYPE_CHECKING:
    from bench.config import RunConfig
    from bench.data import Example

PREDICT_PREFIX = "predict: "
EXPLAIN_PREFIX = "explain: "

TaskBatch = dict[str, torch.Tensor]  # input_ids, attention_mask, labels (-100 = padding) [B, T]
Batch = dict[str, TaskBatch]  # task name -> its tensors


@dataclass(frozen=True)
class TaskPair:
    """One training sequence pair: the encoder input text and the decoder target text.

    ``target_suffix`` is appended to ``target`` and survives truncation: when the whole target is
    longer than ``max_target_length`` the core cuts ``target``, never the suffix (single-task's
    label after a long rationale).
    """

    source: str
    target: str
    target_suffix: str = ""


@dataclass
class LossOutput:
    """The weighted total that is back-propagated and every unweighted term, by name."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor]


class Strategy(nn.Module, ABC):
    """Base class of loss strategies.

    Subclasses set ``tasks`` (the keys of :meth:`training_pairs` and of the batch) and implement
    :meth:`training_pairs` and :meth:`loss`. Evaluation feeds :meth:`predict_source` to the
    model and reads the label out of the generated text with :meth:`parse_prediction`.
    """

    tasks: tuple[str, ...] = ("predict",)
    predict_prefix: str = PREDICT_PREFIX

    def __init__(self, config: RunConfig) -> None:
        super().__init__()
        self.config = config

    def setup(self, model: nn.Module) -> None:
        """Called once with the built model (e.g. to size a learned head); default: nothing."""

    @abstractmethod
    def training_pairs(self, example: Example, sep: str) -> dict[str, TaskPair]:
        """The (source, target) text of each task for ``example``; ``sep`` joins NLI parts."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: Batch) -> LossOutput:
        """The loss of one batch (the trainer back-propagates ``total``)."""

    def predict_source(self, example: Example, sep: str) -> str:
        """The encoder input used to predict the label at evaluation."""
        return self.predict_prefix + example.text_input(sep)

    def parse_prediction(self, generated: str) -> str:
        """The label inside generated text (identity unless the target carries a rationale)."""
        return generated.strip()

    def candidate_target(self, generated: str, candidate: str) -> str:
        """The decoder target whose probability scores ``candidate`` (closed tasks)."""
        return candidate


STRATEGIES: Registry[type[Strategy]] = Registry("strategy", entry_point_group="cotbench.strategies")


def seq2seq_forward(model: nn.Module, task: TaskBatch, hidden_states: bool = False):
    """Teacher-forced forward pass of any ``AutoModelForSeq2SeqLM`` on one task's batch.

    Returns the model output: ``.loss`` (token-mean cross-entropy, -100 ignored), ``.logits``
    [B, T, V] and, when ``hidden_states``, ``.decoder_hidden_states`` (a tuple of [B, T, H]).
    """
    return model(
        input_ids=task["input_ids"],
        attention_mask=task["attention_mask"],
        labels=task["labels"],
        output_hidden_states=hidden_states,
    )
