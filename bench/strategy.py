"""The loss-strategy interface: how one method turns examples into training pairs and a loss.

A strategy is a small ``torch.nn.Module`` (so a learned head, e.g. InfoNCE's projection, trains
and checkpoints with the model). The trainer calls :meth:`Strategy.loss` and logs every entry of
``LossOutput.parts``; it never asks which strategy it runs. Strategies register by name::

    @STRATEGIES.register("dss")
    class DistillStepByStep(Strategy): ...

Each strategy lists in ``reads`` the loss keys (:data:`LOSS_KEYS`) its loss reads; every other
config key is read by every strategy. ``bench ablate`` trains only the strategies that read the
key it varies (:func:`reads_key`).

Plug-in packages (``baselines``, ``method``) are found through the ``cotbench.strategies``
entry-point group declared in ``pyproject.toml``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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

# config keys that only a strategy's loss reads; a strategy names the ones it reads in ``reads``
LOSS_KEYS = frozenset(
    {
        "alpha1",
        "alpha2",
        "alpha3",
        "mi_variant",
        "mi_stop_grad",
        "infonce_dim",
        "infonce_temperature",
    }
)

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
    model and reads the label out of the generated text with :meth:`parse_prediction`; with
    ``generate_rationales`` it generates rationales from the source of ``rationale_task``.
    """

    tasks: tuple[str, ...] = ("predict",)
    rationale_task: str | None = None  # the task (one of ``tasks``) whose target is the rationale
    tokenizer_text: tuple[str, ...] = ()  # text the training pairs add to the data (task
    # prefixes, answer markers): a preset's trained tokenizer covers it (:func:`tokenizer_text`)
    predict_prefix: str = PREDICT_PREFIX
    label_target: bool = True  # the predict target is the bare label (candidates score alone)
    reads: frozenset[str] = frozenset()  # the LOSS_KEYS this strategy reads (a contract test
    # checks it); the rest of LOSS_KEYS cannot change its runs' numbers

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


def tokenizer_text() -> str:
    """The ``tokenizer_text`` of every registered strategy (in name order, each piece once)
    joined by spaces: the first text of a preset's tokenizer corpus.

    It is the same for every run, so every run on the same data shares one tokenizer; a strategy
    that declares new text changes the tokenizer of new runs (recorded runs keep their own).
    """
    pieces = (piece for name in STRATEGIES for piece in STRATEGIES.get(name).tokenizer_text)
    return " ".join(dict.fromkeys(pieces))


def reads_key(strategy: str, key: str) -> bool:
    """Whether config ``key`` (dotted for nested keys) can change the numbers of ``strategy``.

    >>> reads_key("finetune", "alpha3"), reads_key("dss+mi", "alpha3"), reads_key("dss", "lr")
    (False, True, True)
    """
    return key not in LOSS_KEYS or key in STRATEGIES.get(strategy).reads


@dataclass
class TaskOutput:
    """One task's teacher-forced pass: its loss and what auxiliary terms read.

    ``log_probs`` holds log-softmax rows over the vocabulary for the real target positions only,
    packed [N, V] in row-major order of ``mask`` (``rows`` gives each row's example), or for
    every position [B, T, V] when the pass was asked for ``all_positions``.
    """

    loss: torch.Tensor  # [] token-mean cross-entropy over the real target tokens, float32
    log_probs: torch.Tensor  # [N, V] packed, or [B, T, V] with all_positions
    mask: torch.Tensor  # [B, T] real target positions (labels != -100)
    decoder_hidden: torch.Tensor | None = None  # [B, T, H] last decoder layer, when asked for

    @property
    def rows(self) -> torch.Tensor:
        """[N] example index of each packed row."""
        return self.mask.nonzero(as_tuple=True)[0]


@contextmanager
def packed_output_head(model: nn.Module, mask: torch.Tensor) -> Iterator[None]:
    """Inside the block the output projection (``get_output_embeddings()``) receives only the
    decoder states where ``mask`` [B, T] is true, packed [N, H]: no logits for padding."""
    hook = model.get_output_embeddings().register_forward_pre_hook(
        lambda _module, args: (args[0][mask], *args[1:])
    )
    try:
        yield
    finally:
        hook.remove()


def seq2seq_forward(
    model: nn.Module,
    task: TaskBatch,
    *,
    all_positions: bool = False,
    hidden_states: bool = False,
) -> TaskOutput:
    """Teacher-forced pass of any ``AutoModelForSeq2SeqLM`` on one task's batch.

    Unless ``all_positions``, the output projection (``get_output_embeddings()``) and the
    softmax run on the real target positions only: a pre-hook packs the decoder states it
    receives from [B, T, H] to [N, H], so no logits are computed for padding. The loss equals
    the model's own ``labels=`` loss (token mean, -100 ignored).
    """
    labels = task["labels"]  # [B, T]
    mask = labels != -100
    with nullcontext() if all_positions else packed_output_head(model, mask):
        out = model(
            input_ids=task["input_ids"],
            attention_mask=task["attention_mask"],
            decoder_input_ids=model.prepare_decoder_input_ids_from_labels(labels=labels),
            output_hidden_states=hidden_states,
            use_cache=False,
        )
    logits = out.logits
    if not all_positions and logits.dim() == 3:  # the head saw something else: pack afterwards
        logits = logits[mask]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    if all_positions:
        token = log_probs.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)[mask]  # [N]
    else:
        token = log_probs.gather(-1, labels[mask][:, None]).squeeze(-1)  # [N]
    hidden = out.decoder_hidden_states[-1] if hidden_states else None
    return TaskOutput(loss=-token.mean(), log_probs=log_probs, mask=mask, decoder_hidden=hidden)
