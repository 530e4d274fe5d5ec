"""Batch order and collation: pure in (seed, step), every example once per epoch, less padding
with length grouping, and tensors equal to padding each batch by hand."""

from __future__ import annotations

import pytest
import torch

from bench.batching import (
    IGNORE_INDEX,
    BatchOrder,
    EncodedTask,
    _padded,
    cached_encode_pairs,
    collate,
    encode_pairs,
    grouping_lengths,
)
from bench.config import RunConfig
from bench.data import LoadOptions, SynthConfig, load_dataset
from bench.models import load_model
from bench.runner import tokenizer_corpus
from bench.strategy import STRATEGIES


def _lengths(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(5, 200, (n,), generator=torch.Generator().manual_seed(seed))


def _legacy_indices(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The random order of the first published runs, written out."""
    per_epoch = -(-n // batch_size)
    epoch, position = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return order[position * batch_size : (position + 1) * batch_size].tolist()


def test_random_order_is_the_published_one():
    order = BatchOrder(103, 16, seed=3)
    for step in range(20):  # crosses epochs; the last batch of an epoch is smaller
        assert order.indices(step) == _legacy_indices(103, 16, 3, step)


def _two_lengths(n: int) -> torch.Tensor:
    """Independent input and target lengths, [n, 2]."""
    return torch.stack([_lengths(n, seed=1), _lengths(n, seed=2)], dim=1)


@pytest.mark.parametrize("lengths", [None, _lengths(1000), _two_lengths(1000)])
def test_each_epoch_holds_every_example_once_and_is_pure_in_the_step(lengths):
    order = BatchOrder(1000, 32, seed=1, lengths=lengths)
    for epoch in range(2):
        steps = range(epoch * order.per_epoch, (epoch + 1) * order.per_epoch)
        seen = [i for step in steps for i in order.indices(step)]
        assert sorted(seen) == list(range(1000))
    fresh = BatchOrder(1000, 32, seed=1, lengths=lengths)
    assert [fresh.indices(s) for s in (45, 3, 44)] == [order.indices(s) for s in (45, 3, 44)]
    assert BatchOrder(1000, 32, seed=2, lengths=lengths).indices(0) != order.indices(0)


def test_length_grouping_cuts_padding():
    lengths = _lengths(2000)

    def padded_share(order: BatchOrder) -> float:
        computed = real = 0
        for step in range(order.per_epoch):
            batch = lengths[order.indices(step)]
            computed += int(batch.max()) * len(batch)
            real += int(batch.sum())
        return 1 - real / computed

    random_share = padded_share(BatchOrder(2000, 32, seed=0))
    grouped_share = padded_share(BatchOrder(2000, 32, seed=0, lengths=lengths))
    assert random_share > 0.3 and grouped_share < random_share / 5


def _computed_positions(order: BatchOrder, lengths: torch.Tensor) -> torch.Tensor:
    """Positions computed per length column over one epoch: batch size x batch maximum."""
    computed = torch.zeros(lengths.shape[1], dtype=torch.long)
    for step in range(order.per_epoch):
        batch = lengths[order.indices(step)]
        computed += batch.max(dim=0).values * len(batch)
    return computed


def test_grouping_by_input_then_target_pads_both_lengths_less_than_by_total():
    lengths = _two_lengths(3000)
    by_total = _computed_positions(BatchOrder(3000, 32, 0, lengths.sum(dim=1)), lengths)
    two_level = _computed_positions(BatchOrder(3000, 32, 0, lengths), lengths)
    assert (two_level < by_total).all()
    assert two_level.sum() < 0.9 * by_total.sum()


def test_grouping_lengths_sum_every_task():
    predict = EncodedTask(*_padded([[5, 1], [6, 7, 1]], 0), *_padded([[9, 1], [1]], IGNORE_INDEX))
    explain = EncodedTask(*_padded([[5], [6, 7]], 0), *_padded([[4, 4, 1], [1]], IGNORE_INDEX))
    encoded = {"predict": predict, "explain": explain}
    assert grouping_lengths(encoded).tolist() == [8, 7]
    assert grouping_lengths(encoded, "input-then-target").tolist() == [[3, 5], [5, 2]]
    with pytest.raises(ValueError, match="expected total or input-then-target"):
        grouping_lengths(encoded, "width")


def test_collate_pads_each_task_to_its_batch_maximum():
    inputs = [[5, 6, 1], [7, 1], [8, 9, 10, 11, 1]]
    targets = [[3, 1], [4, 4, 4, 1], [1]]
    encoded = {"predict": EncodedTask(*_padded(inputs, 0), *_padded(targets, IGNORE_INDEX))}
    batch = collate(encoded, [1, 0])["predict"]
    assert batch["input_ids"].tolist() == [[7, 1, 0], [5, 6, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch["labels"].tolist() == [[4, 4, 4, 1], [3, 1, -100, -100]]


def test_encoding_cache_returns_the_same_tensors_and_keys_on_content(tmp_path):
    splits = load_dataset("synth", LoadOptions(data_dir=".", synth=SynthConfig(n_train=20)))
    tokenizer = load_model("tiny-t5-s", tokenizer_corpus(splits), 120, seed=0).tokenizer
    strategy = STRATEGIES.get("dss")(RunConfig())
    pairs = [strategy.training_pairs(ex, tokenizer.eos_token) for ex in splits.train]
    fresh = encode_pairs(tokenizer, pairs, 48, 48)
    stored = cached_encode_pairs(tokenizer, pairs, 48, 48, tmp_path)
    loaded = cached_encode_pairs(tokenizer, pairs, 48, 48, tmp_path)
    assert len(list((tmp_path / "encoded").iterdir())) == 1
    for encoded in (stored, loaded):
        assert encoded.keys() == fresh.keys()
        for task in fresh:
            for name in ("input_ids", "input_lengths", "label_ids", "label_lengths"):
                assert torch.equal(getattr(encoded[task], name), getattr(fresh[task], name))
    cached_encode_pairs(tokenizer, pairs, 48, 32, tmp_path)  # other limits, other entry
    cached_encode_pairs(tokenizer, pairs[:-1], 48, 48, tmp_path)  # other texts
    assert len(list((tmp_path / "encoded").iterdir())) == 3
