"""Pre-tokenisation, deterministic batch order, and padding collation.

Examples are tokenised once per run (``encode_pairs``); a batch is then a pure function of index
lists (``collate``): no per-example Python beyond list slicing, no DataFrames. The batch order is
a function of (seed, step) alone, so a resumed run sees exactly the batches an uninterrupted one
would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from bench.strategy import Batch, TaskPair

IGNORE_INDEX = -100  # label padding ignored by the cross-entropy


@dataclass(frozen=True)
class EncodedTask:
    """Token ids of one task over all examples: encoder inputs and decoder targets."""

    input_ids: list[list[int]]
    label_ids: list[list[int]]


def _encode_targets(
    tokenizer: PreTrainedTokenizerBase, pairs: list[TaskPair], max_length: int
) -> list[list[int]]:
    full = tokenizer(
        [p.target + p.target_suffix for p in pairs], truncation=True, max_length=max_length
    )
    ids = full["input_ids"]
    for i, pair in enumerate(pairs):
        if not pair.target_suffix or len(ids[i]) < max_length:
            continue
        # too long: keep the whole suffix (it ends with the special tokens), cut the target
        suffix = tokenizer(pair.target_suffix)["input_ids"]
        head = tokenizer(pair.target, add_special_tokens=False)["input_ids"]
        ids[i] = (head[: max(0, max_length - len(suffix))] + suffix)[-max_length:]
    return ids


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[dict[str, TaskPair]],
    max_input_length: int,
    max_target_length: int,
) -> dict[str, EncodedTask]:
    """Tokenise every example's task pairs once: ``{task: EncodedTask}``."""
    tasks = pairs[0].keys() if pairs else ()
    encoded = {}
    for task in tasks:
        column = [p[task] for p in pairs]
        inputs = tokenizer([p.source for p in column], truncation=True, max_length=max_input_length)
        encoded[task] = EncodedTask(
            inputs["input_ids"], _encode_targets(tokenizer, column, max_target_length)
        )
    return encoded


def _pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)


def collate(encoded: dict[str, EncodedTask], indices: list[int], pad_id: int) -> Batch:
    """Pad the examples ``indices`` of every task into tensors.

    >>> enc = {"predict": EncodedTask([[5, 1], [6, 7, 1]], [[9, 1], [1]])}
    >>> collate(enc, [0, 1], pad_id=0)["predict"]["labels"].tolist()
    [[9, 1], [1, -100]]
    """
    batch: Batch = {}
    for task, enc in encoded.items():
        inputs = [enc.input_ids[i] for i in indices]
        batch[task] = {
            "input_ids": _pad(inputs, pad_id),  # [B, S]
            "attention_mask": _pad([[1] * len(r) for r in inputs], 0),  # [B, S]
            "labels": _pad([enc.label_ids[i] for i in indices], IGNORE_INDEX),  # [B, T]
        }
    return batch


def batch_indices(n_examples: int, batch_size: int, seed: int, micro_step: int) -> list[int]:
    """Example indices of micro-batch ``micro_step``: epoch-wise seeded permutations.

    Epoch ``e`` shuffles with a generator seeded by ``(seed, e)``; the last batch of an epoch
    may be smaller. Pure in its arguments, so resuming at any step reproduces the order.
    """
    per_epoch = -(-n_examples // batch_size)
    epoch, position = divmod(micro_step, per_epoch)
    generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n_examples, generator=generator)
    return order[position * batch_size : (position + 1) * batch_size].tolist()
