"""Pre-tokenisation, deterministic (optionally length-grouped) batch order, and collation.

Examples are tokenised once per run (``encode_pairs``) into padded id matrices; a batch is then
a pure function of an index list (``collate``): tensor indexing and slicing, no per-example
Python. The batch order (``BatchOrder``) is a function of (seed, step) alone, so a resumed run
sees exactly the batches an uninterrupted one would have seen. With example lengths it groups
examples of similar length into the same batch (shuffled within groups of ``GROUP_BATCHES``
batches, batch order shuffled), so that few padded positions are computed: by total tokens, or
by input tokens and then, within runs of ``SUBGROUP_BATCHES`` batches, by target tokens.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from transformers import PreTrainedTokenizerBase

from bench.strategy import Batch, TaskPair

IGNORE_INDEX = -100  # label padding ignored by the cross-entropy
GROUP_BATCHES = 50  # length grouping sorts windows of this many batches
SUBGROUP_BATCHES = 3  # input-then-target: runs this many batches long sorted by target tokens


@dataclass(frozen=True)
class EncodedTask:
    """Token ids of one task over all examples, padded: encoder inputs and decoder targets.

    ``input_ids`` [N, S] is padded with the pad id, ``label_ids`` [N, T] with ``IGNORE_INDEX``;
    the lengths [N] say where each row's real tokens end.
    """

    input_ids: torch.Tensor
    input_lengths: torch.Tensor
    label_ids: torch.Tensor
    label_lengths: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]


def _padded(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids -> ([N, max length] int64 padded with ``value``, lengths [N])."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    width = int(lengths.max()) if rows else 0
    matrix = torch.full((len(rows), width), value, dtype=torch.long)
    for i, row in enumerate(rows):  # once per run, at encoding time
        matrix[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return matrix, lengths


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
        input_ids, input_lengths = _padded(inputs["input_ids"], tokenizer.pad_token_id)
        labels = _encode_targets(tokenizer, column, max_target_length)
        label_ids, label_lengths = _padded(labels, IGNORE_INDEX)
        encoded[task] = EncodedTask(input_ids, input_lengths, label_ids, label_lengths)
    return encoded


def encoding_key(
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[dict[str, TaskPair]],
    max_input_length: int,
    max_target_length: int,
) -> str:
    """sha256 of everything ``encode_pairs`` reads: the tokenizer, the texts, the limits."""
    digest = hashlib.sha256()
    digest.update(type(tokenizer).__name__.encode())
    digest.update(tokenizer.backend_tokenizer.to_str().encode())
    digest.update(f"{max_input_length}/{max_target_length}".encode())
    for example in pairs:
        for task, pair in example.items():
            digest.update("\0".join((task, pair.source, pair.target, pair.target_suffix)).encode())
            digest.update(b"\1")
    return digest.hexdigest()


def cached_encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    pairs: list[dict[str, TaskPair]],
    max_input_length: int,
    max_target_length: int,
    cache_dir: Path,
) -> dict[str, EncodedTask]:
    """``encode_pairs``, stored under ``cache_dir`` by :func:`encoding_key` and loaded from there
    when the same tokenizer, texts and limits come again (the runs of a suite share them)."""
    key = encoding_key(tokenizer, pairs, max_input_length, max_target_length)
    path = cache_dir / "encoded" / f"{key[:24]}.pt"
    if path.is_file():
        try:
            stored = torch.load(path, weights_only=True)
            return {task: EncodedTask(*tensors) for task, tensors in stored.items()}
        except (OSError, RuntimeError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            pass  # a damaged cache entry: encode again and replace it
    encoded = encode_pairs(tokenizer, pairs, max_input_length, max_target_length)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    columns = {
        task: tuple(getattr(enc, f.name) for f in fields(enc)) for task, enc in encoded.items()
    }
    torch.save(columns, tmp)
    tmp.replace(path)  # atomic: a concurrent run reads the old or the new file, never half
    return encoded


def grouping_lengths(encoded: dict[str, EncodedTask], by: str = "total") -> torch.Tensor:
    """The sort keys of length grouping, summed over all tasks.

    ``total``: tokens each example puts through the model, inputs plus targets, [N].
    ``input-then-target``: input tokens and target tokens, [N, 2] (sorted in that order).
    """
    inputs = sum(enc.input_lengths for enc in encoded.values())
    targets = sum(enc.label_lengths for enc in encoded.values())
    if by == "total":
        return inputs + targets
    if by == "input-then-target":
        return torch.stack([inputs, targets], dim=1)
    raise ValueError(f"length grouping by {by!r}: expected total or input-then-target")


def collate(encoded: dict[str, EncodedTask], indices: Sequence[int]) -> Batch:
    """The examples ``indices`` of every task, padded to the batch's longest row.

    >>> rows = ([[5, 1], [6, 7, 1]], [[9, 1], [1]])
    >>> inputs, labels = _padded(rows[0], 0), _padded(rows[1], IGNORE_INDEX)
    >>> collate({"predict": EncodedTask(*inputs, *labels)}, [0, 1])["predict"]["labels"].tolist()
    [[9, 1], [1, -100]]
    """
    rows = torch.as_tensor(indices, dtype=torch.long)
    batch: Batch = {}
    for task, enc in encoded.items():
        input_lengths = enc.input_lengths[rows]  # [B]
        width = int(input_lengths.max())
        positions = torch.arange(width)
        batch[task] = {
            "input_ids": enc.input_ids[rows, :width],  # [B, S]
            "attention_mask": (positions < input_lengths[:, None]).long(),  # [B, S]
            "labels": enc.label_ids[rows, : int(enc.label_lengths[rows].max())],  # [B, T]
        }
    return batch


class BatchOrder:
    """Example indices of every micro-batch: epoch-wise seeded permutations, pure in the step.

    Epoch ``e`` shuffles with a generator seeded by ``(seed, e)`` and cuts the permutation into
    batches (the last one may be smaller). With ``lengths`` [N], each window of ``GROUP_BATCHES``
    batches of the permutation is sorted by length before cutting, and the epoch's batches are
    then shuffled with the same generator: the same examples per epoch, far less padding. With
    ``lengths`` [N, 2], the window is sorted by the first column and then each run of
    ``SUBGROUP_BATCHES`` batches by the second, so that neither length is padded much.
    """

    def __init__(
        self,
        n_examples: int,
        batch_size: int,
        seed: int,
        lengths: torch.Tensor | None = None,
    ) -> None:
        self.n_examples, self.batch_size, self.seed = n_examples, batch_size, seed
        self.lengths = lengths
        self.per_epoch = -(-n_examples // batch_size)
        self._cached: tuple[int, list[list[int]]] | None = None

    def indices(self, micro_step: int) -> list[int]:
        """The example indices of micro-batch ``micro_step`` (counted from the run's start)."""
        epoch, position = divmod(micro_step, self.per_epoch)
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self._epoch_batches(epoch))
        return self._cached[1][position]

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.n_examples, generator=generator)
        size = self.batch_size
        if self.lengths is None:
            return [order[i : i + size].tolist() for i in range(0, self.n_examples, size)]
        keys = self.lengths if self.lengths.dim() == 2 else self.lengths[:, None]
        window, run = size * GROUP_BATCHES, size * SUBGROUP_BATCHES
        batches = []
        for start in range(0, self.n_examples, window):
            part = _sorted_by(order[start : start + window], keys[:, 0])
            if keys.shape[1] == 2:
                part = torch.cat(
                    [_sorted_by(part[i : i + run], keys[:, 1]) for i in range(0, len(part), run)]
                )
            batches.extend(part[i : i + size] for i in range(0, len(part), size))
        shuffled = torch.randperm(len(batches), generator=generator)
        return [batches[i].tolist() for i in shuffled]


def _sorted_by(indices: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
    """``indices`` ordered by ``key[indices]``, longest first (stable: ties keep their order)."""
    return indices[torch.argsort(key[indices], descending=True, stable=True)]
