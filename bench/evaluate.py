"""Evaluation: batched greedy generation, candidate scoring, per-example records.

For every example the label is generated greedily from the strategy's prediction input and
parsed by the strategy; the generated sequence's probability is its confidence. For closed tasks
every candidate answer is also scored by teacher forcing (one batched forward pass over all
(example, candidate) pairs) and the probabilities are normalised over the candidates; both
confidences are saved so that calibration can choose its definition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from bench.batching import IGNORE_INDEX
from bench.data import Example
from bench.data._parsers import labels_match
from bench.metrics import accuracy_summary
from bench.strategy import EXPLAIN_PREFIX, Strategy


@dataclass(frozen=True)
class EvalSettings:
    """How to evaluate: dataset rule, batch size, truncation and generation budget."""

    metric: str  # "exact" or "equation"
    batch_size: int
    max_input_length: int
    max_target_length: int
    max_new_tokens: int
    generate_rationales: bool = False


def _tokenize(tokenizer, texts: list[str], max_length: int, device) -> dict[str, torch.Tensor]:
    enc = tokenizer(
        texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
    )
    return {
        "input_ids": enc["input_ids"].to(device),
        "attention_mask": enc["attention_mask"].to(device),
    }


@torch.no_grad()
def generate(
    model: nn.Module, tokenizer: PreTrainedTokenizerBase, sources: list[str], settings: EvalSettings
) -> tuple[list[str], list[float]]:
    """Greedy decoding of ``sources``: the texts and each sequence's log-probability."""
    device = next(model.parameters()).device
    inputs = _tokenize(tokenizer, sources, settings.max_input_length, device)
    out = model.generate(
        **inputs,
        max_new_tokens=settings.max_new_tokens,
        do_sample=False,
        num_beams=1,
        output_scores=True,
        return_dict_in_generate=True,
    )
    scores = model.compute_transition_scores(
        out.sequences, out.scores, normalize_logits=True
    )  # [B, N]
    generated = out.sequences[:, -scores.shape[1] :]  # [B, N] new tokens
    eos = generated == tokenizer.eos_token_id
    after_eos = (eos.cumsum(dim=1) - eos.long()) > 0  # positions after the first EOS
    logprob = scores.float().masked_fill(after_eos, 0.0).sum(dim=1)
    texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
    return [t.strip() for t in texts], logprob.tolist()


@torch.no_grad()
def sequence_logprobs(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    targets: list[str],
    settings: EvalSettings,
) -> torch.Tensor:
    """Teacher-forced log p(target | source) of each pair, summed over target tokens: [N]."""
    device = next(model.parameters()).device
    inputs = _tokenize(tokenizer, sources, settings.max_input_length, device)
    labels = _tokenize(tokenizer, targets, settings.max_target_length, device)
    label_ids = labels["input_ids"].masked_fill(
        labels["attention_mask"] == 0, IGNORE_INDEX
    )  # [N, T]
    logits = model(**inputs, labels=label_ids).logits.float()  # [N, T, V]
    logp = torch.log_softmax(logits, dim=-1)
    token_logp = logp.gather(-1, label_ids.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # [N, T]
    return token_logp.masked_fill(label_ids == IGNORE_INDEX, 0.0).sum(dim=1)


def _candidate_probs(
    model,
    tokenizer,
    strategy: Strategy,
    batch: Sequence[Example],
    generated: list[str],
    sep: str,
    settings: EvalSettings,
) -> list[dict[str, float] | None]:
    pairs = [(i, c) for i, ex in enumerate(batch) for c in ex.candidates]
    if not pairs:
        return [None] * len(batch)
    sources = [strategy.predict_source(batch[i], sep) for i, _ in pairs]
    targets = [strategy.candidate_target(generated[i], c) for i, c in pairs]
    logps = sequence_logprobs(model, tokenizer, sources, targets, settings).tolist()
    result: list[dict[str, float] | None] = []
    start = 0
    for ex in batch:
        if not ex.candidates:
            result.append(None)
            continue
        scores = torch.tensor(logps[start : start + len(ex.candidates)])
        start += len(ex.candidates)
        probs = torch.softmax(scores, dim=0).tolist()
        result.append(dict(zip(ex.candidates, probs, strict=True)))
    return result


def evaluate(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    strategy: Strategy,
    examples: Sequence[Example],
    settings: EvalSettings,
) -> tuple[dict[str, float | int], list[dict]]:
    """Score ``examples``: a metrics dict and one JSON-ready record per example."""
    was_training = model.training
    model.eval()
    sep = tokenizer.eos_token
    records: list[dict] = []
    for start in range(0, len(examples), settings.batch_size):
        batch = examples[start : start + settings.batch_size]
        sources = [strategy.predict_source(ex, sep) for ex in batch]
        generated, logprobs = generate(model, tokenizer, sources, settings)
        candidates = _candidate_probs(model, tokenizer, strategy, batch, generated, sep, settings)
        rationales = (
            generate(
                model, tokenizer, [EXPLAIN_PREFIX + ex.text_input(sep) for ex in batch], settings
            )[0]
            if settings.generate_rationales and "explain" in strategy.tasks
            else [None] * len(batch)
        )
        for ex, text, logprob, cand, rationale in zip(
            batch, generated, logprobs, candidates, rationales, strict=True
        ):
            prediction = strategy.parse_prediction(text)
            record = {
                "id": ex.id,
                "input": ex.text_input(" || "),
                "gold": ex.gold,
                "prediction": prediction,
                "generated": text,
                "correct": labels_match(settings.metric, prediction, ex.gold or ""),
                "confidence": math.exp(logprob),
                "candidate_probs": cand,
            }
            if cand is not None:
                best = max(cand, key=cand.get)
                record["candidate_prediction"] = best
                record["candidate_correct"] = labels_match(settings.metric, best, ex.gold or "")
            if rationale is not None:
                record["rationale"] = rationale
            records.append(record)
    model.train(was_training)
    return _summarise(records), records


def _summarise(records: list[dict]) -> dict[str, float | int]:
    metrics = accuracy_summary([r["correct"] for r in records])
    scored = [r for r in records if r["candidate_probs"] is not None]
    if scored:
        metrics["candidate_accuracy"] = accuracy_summary([r["candidate_correct"] for r in scored])[
            "accuracy"
        ]
    if records:
        metrics["mean_confidence"] = sum(r["confidence"] for r in records) / len(records)
    return metrics
