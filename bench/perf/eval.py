"""Evaluation throughput on a closed task: greedy generation of every example (the reference)
against cotbench's candidate scoring (``closed_eval="score"``), both timed from source text to
predicted label (the per-example records ``evaluate`` writes are left out of both)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from torch import nn
from transformers import PreTrainedTokenizerBase

from bench.data import Example
from bench.evaluate import EvalSettings, eval_batches, generate, score_candidates
from bench.perf.measure import sync
from bench.strategy import Strategy


def scored_labels(model, tokenizer, strategy, examples, settings) -> list[str]:
    """cotbench: one candidate-scoring pass per batch (batched as ``evaluate`` batches them);
    the label greedy decoding would emit (``""`` where it would emit no candidate)."""
    sep = tokenizer.eos_token
    sources = [strategy.predict_source(ex, sep) for ex in examples]
    labels = [""] * len(examples)
    for rows in eval_batches(tokenizer, sources, settings):
        scores = score_candidates(
            model,
            tokenizer,
            [sources[i] for i in rows],
            [list(examples[i].candidates) for i in rows],
            settings,
        )
        for i, score in zip(rows, scores, strict=True):
            if score.greedy is not None:
                labels[i] = examples[i].candidates[score.greedy]
    return labels


def generated_labels(model, tokenizer, strategy, examples, settings) -> list[str]:
    """The reference: greedy generation of every example in order, label parsed from the
    text."""
    sep = tokenizer.eos_token
    labels: list[str] = []
    for start in range(0, len(examples), settings.batch_size):
        batch = examples[start : start + settings.batch_size]
        texts, _ = generate(
            model, tokenizer, [strategy.predict_source(ex, sep) for ex in batch], settings
        )
        labels.extend(strategy.parse_prediction(t) for t in texts)
    return labels


def _same_label(generated: str, scored: str, candidates: Sequence[str]) -> bool:
    """Equal labels, or neither a candidate (scoring reports no label where greedy decoding
    would emit a non-candidate)."""
    return generated == scored or (generated not in candidates and scored not in candidates)


def compare_eval(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    strategy: Strategy,
    examples: Sequence[Example],
    settings: EvalSettings,
) -> dict[str, float | int]:
    """Examples/s of both paths, their ratio and the fraction of identical predicted labels."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    sync(device)
    start = time.perf_counter()
    generated = generated_labels(model, tokenizer, strategy, examples, settings)
    sync(device)
    generate_s = time.perf_counter() - start
    scored = scored_labels(model, tokenizer, strategy, examples, settings)
    sync(device)
    score_s = time.perf_counter() - start - generate_s
    model.train(was_training)
    n = len(examples)
    same = sum(
        _same_label(g, s, ex.candidates)
        for g, s, ex in zip(generated, scored, examples, strict=True)
    )
    return {
        "examples": n,
        "generate_examples_per_s": n / generate_s,
        "score_examples_per_s": n / score_s,
        "speedup": generate_s / score_s,
        "identical_labels": same / n,
        "generated_is_candidate": sum(
            g in ex.candidates for g, ex in zip(generated, examples, strict=True)
        )
        / n,
    }
