"""The two designs behind one interface: batch of a step, loss of a batch, token counts.

``CotbenchDesign`` is the core as it trains (``encode_pairs``, ``BatchOrder`` with lengths,
``collate``, the registered strategy's loss); ``ReferenceDesign`` is ``_reference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from bench.batching import BatchOrder, collate, encode_pairs, grouping_lengths
from bench.config import RunConfig
from bench.models import fuse_activations
from bench.perf.reference import (
    IGNORE_INDEX,
    RandomOrder,
    TaskPrefixCollator,
    reference_features,
    reference_loss,
)
from bench.strategy import Strategy, TaskPair

DESIGNS = ("reference", "cotbench")  # the designs' names, in report order
AnyBatch = dict[str, dict[str, torch.Tensor]]  # task -> input_ids, attention_mask, labels, ...
LossParts = tuple[torch.Tensor, dict[str, torch.Tensor]]


class Design(Protocol):
    """What the measurements need from a design."""

    name: str

    def prepare(self, model: nn.Module) -> nn.Module: ...

    def indices(self, step: int) -> list[int]: ...

    def batch(self, indices: list[int]) -> AnyBatch: ...

    def loss(self, model: nn.Module, batch: AnyBatch) -> LossParts: ...


class CotbenchDesign:
    """cotbench's pre-tokenised tensors, length-grouped order and strategy loss."""

    name = "cotbench"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        pairs: list[dict[str, TaskPair]],
        strategy: Strategy,
        config: RunConfig,
    ) -> None:
        self.encoded = encode_pairs(
            tokenizer, pairs, config.max_input_length, config.max_target_length
        )
        lengths = (
            grouping_lengths(self.encoded, config.length_grouping_by)
            if config.length_grouping
            else None
        )
        self.order = BatchOrder(len(pairs), config.batch_size, config.seed, lengths)
        self.strategy = strategy
        self.fused_activation = config.fused_activation

    def prepare(self, model: nn.Module) -> nn.Module:
        """The model as the core trains it (fused activations when the config asks)."""
        if self.fused_activation:
            fuse_activations(model)
        return model

    def indices(self, step: int) -> list[int]:
        return self.order.indices(step)

    def batch(self, indices: list[int]) -> AnyBatch:
        return collate(self.encoded, indices)

    def loss(self, model: nn.Module, batch: AnyBatch) -> LossParts:
        out = self.strategy.loss(model, batch)
        return out.total, out.parts


class ReferenceDesign:
    """The reference's per-example features, random order, DataFrame collator and loss."""

    name = "reference"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        pairs: list[dict[str, TaskPair]],
        model: nn.Module,
        config: RunConfig,
    ) -> None:
        self.features = reference_features(
            tokenizer, pairs, config.max_input_length, config.max_target_length
        )
        self.collator = TaskPrefixCollator(tokenizer, model)
        self.order = RandomOrder(len(pairs), config.batch_size, config.seed)
        self.config = config
        self.with_mi = config.strategy == "dss+mi"

    def prepare(self, model: nn.Module) -> nn.Module:
        """The Hugging Face model as loaded."""
        return model

    def indices(self, step: int) -> list[int]:
        return self.order.indices(step)

    def batch(self, indices: list[int]) -> AnyBatch:
        return self.collator([self.features[i] for i in indices])

    def loss(self, model: nn.Module, batch: AnyBatch) -> LossParts:
        return reference_loss(model, batch, self.config, self.with_mi)


@dataclass
class TokenCounts:
    """Real (non-pad) and computed (padded) token positions, encoder and decoder."""

    encoder_real: int = 0
    encoder_computed: int = 0
    decoder_real: int = 0
    decoder_computed: int = 0

    def add(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )

    @property
    def real(self) -> int:
        return self.encoder_real + self.decoder_real

    @property
    def computed(self) -> int:
        return self.encoder_computed + self.decoder_computed

    def padded_share(self) -> dict[str, float]:
        """Padded / computed positions: encoder, decoder and total."""

        def share(real: int, computed: int) -> float:
            return 1.0 - real / computed if computed else 0.0

        return {
            "encoder": share(self.encoder_real, self.encoder_computed),
            "decoder": share(self.decoder_real, self.decoder_computed),
            "total": share(self.real, self.computed),
        }


def token_counts(batch: AnyBatch) -> TokenCounts:
    """Token counts of a batch of either design (every task's tensors)."""
    counts = TokenCounts()
    for tensors in batch.values():
        counts = counts.add(
            TokenCounts(
                int(tensors["attention_mask"].sum()),
                tensors["input_ids"].numel(),
                int((tensors["labels"] != IGNORE_INDEX).sum()),
                tensors["labels"].numel(),
            )
        )
    return counts


def to_device(batch: AnyBatch, device: torch.device) -> AnyBatch:
    """Every tensor of ``batch`` on ``device``."""
    return {task: {k: v.to(device) for k, v in t.items()} for task, t in batch.items()}
