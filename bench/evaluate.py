"""Evaluation: batched greedy generation, candidate scoring, per-example records.

For every example the label is generated greedily from the strategy's prediction input and
parsed by the strategy; the generated sequence's probability is its confidence. For closed tasks
every candidate answer is also scored by teacher forcing (the encoder and the first decoder
step once per example, their cache shared by its candidates) and the probabilities are
normalised over the candidates; both confidences are saved so that calibration can choose its
definition.

``closed_eval="score"`` skips the decoding loop on closed tasks: the candidate pass also shows
which candidate, if any, greedy decoding would emit, so prediction and accuracy are those of
generation at the cost of one forward pass.
"""

from __future__ import annotations

import copy
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase
from transformers.modeling_outputs import BaseModelOutput

from bench.batching import IGNORE_INDEX
from bench.config import RunConfig
from bench.data import Example
from bench.data.parsers import labels_match
from bench.metrics import accuracy_summary
from bench.strategy import Strategy, packed_output_head


@dataclass(frozen=True)
class EvalResult:
    """What an evaluation gives: the metrics and one JSON-ready record per example."""

    metrics: dict[str, float | int]
    records: list[dict]


@dataclass(frozen=True)
class EvalSettings:
    """How to evaluate: dataset rule, batch size, truncation and generation budget."""

    metric: str  # "exact" or "equation"
    batch_size: int
    max_input_length: int
    max_target_length: int
    max_new_tokens: int
    generate_rationales: bool = False
    closed_eval: str = "generate"  # or "score": closed tasks without a decoding loop
    length_grouping: bool = False  # batches of similar input length, grouped candidate passes

    @classmethod
    def for_run(cls, config: RunConfig, metric: str) -> EvalSettings:
        """The settings of a run's validation evaluations (``metric``: the dataset's rule)."""
        return cls(
            metric,
            config.eval_batch_size,
            config.max_input_length,
            config.max_target_length,
            config.max_new_tokens,
            closed_eval=config.closed_eval,
            length_grouping=config.eval_length_grouping,
        )


def eval_batches(
    tokenizer: PreTrainedTokenizerBase, sources: list[str], settings: EvalSettings
) -> list[list[int]]:
    """Indices of ``sources`` per evaluation batch: in order, or with ``length_grouping``
    sorted by input tokens (longest first) so that each batch pads little."""
    order = list(range(len(sources)))
    if settings.length_grouping and sources:
        ids = tokenizer(sources, truncation=True, max_length=settings.max_input_length)
        lengths = torch.tensor([len(row) for row in ids["input_ids"]])
        order = torch.argsort(lengths, descending=True, stable=True).tolist()
    size = settings.batch_size
    return [order[i : i + size] for i in range(0, len(order), size)]


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


@dataclass(frozen=True)
class CandidateScores:
    """One source's candidates: log p(target | source) each, and the one greedy decoding emits.

    ``greedy`` indexes the candidate whose every token (its EOS included) is the argmax of the
    model's next-token distribution given the candidate's own prefix, and that fits in
    ``max_new_tokens``: greedy decoding produces exactly that sequence. ``None`` when it
    produces none of them. ``greedy_text`` is that candidate decoded as generation decodes it
    (``""`` when ``greedy`` is None).
    """

    logprobs: list[float]
    greedy: int | None
    greedy_text: str = ""


@torch.no_grad()
def score_candidates(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    sources: list[str],
    targets: list[list[str]],
    settings: EvalSettings,
) -> list[CandidateScores]:
    """Teacher-forced scores of every source's candidate targets.

    The encoder and the decoder's first step (every candidate starts from the same decoder
    start token) run once per source; their cache, the cross-attention keys and values
    included, is copied to each of the source's candidates, and one more decoder pass over all
    (source, target) pairs scores the remaining positions, with logits only at real tokens.
    With ``settings.length_grouping`` that pass runs once per group of candidates of similar
    length (``_length_groups``), each padded to its own longest.
    """
    device = next(model.parameters()).device
    inputs = _tokenize(tokenizer, sources, settings.max_input_length, device)
    encoder_hidden = model.get_encoder()(**inputs).last_hidden_state  # [B, S, H]
    owner = torch.tensor([i for i, row in enumerate(targets) for _ in row], device=device)
    labels = _tokenize(
        tokenizer, [t for row in targets for t in row], settings.max_target_length, device
    )
    label_ids = labels["input_ids"].masked_fill(labels["attention_mask"] == 0, IGNORE_INDEX)
    decoder_ids = model.prepare_decoder_input_ids_from_labels(labels=label_ids)  # [P, T]
    first = model(
        encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden),
        attention_mask=inputs["attention_mask"],
        decoder_input_ids=decoder_ids[:1, :1].expand(len(sources), 1),
        use_cache=True,
    )
    first_log_probs = torch.log_softmax(first.logits[:, 0].float(), dim=-1)  # [B, V]
    first_tokens = label_ids[:, 0]  # [P]: every target has at least its EOS
    logp = first_log_probs[owner, first_tokens]  # [P]
    misses = (first_log_probs.argmax(-1)[owner] != first_tokens).float()
    rest = label_ids[:, 1:] != IGNORE_INDEX  # [P, T - 1]: tokens after the first
    if settings.length_grouping:
        groups = _length_groups(rest.sum(dim=1))
    else:  # one pass over every candidate, padded to the longest
        groups = [torch.arange(len(owner), device=device)] if rest.shape[1] else []
    for i, group in enumerate(groups):
        width = int(rest[group].sum(dim=1).max())
        cache = first.cache if i == len(groups) - 1 else copy.deepcopy(first.cache)
        cache.batch_select_indices(owner[group])  # in place: the last group takes the original
        real = rest[group, :width]  # [G, W]
        with packed_output_head(model, real):
            logits = model(
                encoder_outputs=BaseModelOutput(last_hidden_state=encoder_hidden[owner[group]]),
                attention_mask=inputs["attention_mask"][owner[group]],
                decoder_input_ids=decoder_ids[group, 1 : 1 + width],
                cache=cache,
                use_cache=True,
            ).logits
        if logits.dim() == 3:  # the head saw something else: pack afterwards
            logits = logits[real]
        log_probs = torch.log_softmax(logits.float(), dim=-1)  # [N, V]
        rows = group[real.nonzero(as_tuple=True)[0]]
        real_tokens = label_ids[group, 1 : 1 + width][real]  # [N]
        logp.index_add_(0, rows, log_probs.gather(-1, real_tokens[:, None]).squeeze(-1))
        misses.index_add_(0, rows, (log_probs.argmax(-1) != real_tokens).float())
    greedy = (misses == 0) & (labels["attention_mask"].sum(dim=1) <= settings.max_new_tokens)
    scores, start = [], 0
    for row in targets:
        stop = start + len(row)
        hits = (greedy[start:stop].nonzero().flatten() + start).tolist()
        text = (
            tokenizer.decode(labels["input_ids"][hits[0]], skip_special_tokens=True) if hits else ""
        )
        first = hits[0] - start if hits else None
        scores.append(CandidateScores(logp[start:stop].tolist(), first, text.strip()))
        start = stop
    return scores


def _length_groups(lengths: torch.Tensor) -> list[torch.Tensor]:
    """Indices of ``lengths`` [P] grouped by the power of two that bounds each length (zeros
    left out), longest first, each group sorted longest first: passes that pad at most 2x."""
    order = torch.argsort(lengths, descending=True, stable=True)
    order = order[lengths[order] > 0]
    bucket = torch.ceil(torch.log2(lengths[order].double())).long()
    return list(
        torch.split(order, torch.unique_consecutive(bucket, return_counts=True)[1].tolist())
    )


def _candidate_probs(scores: CandidateScores, candidates: tuple[str, ...]) -> dict[str, float]:
    probs = torch.softmax(torch.tensor(scores.logprobs), dim=0).tolist()
    return dict(zip(candidates, probs, strict=True))


def _scored_predictions(scores: list[CandidateScores]) -> tuple[list[str], list[float]]:
    """What greedy decoding would have generated, read off the candidate scores: the greedy
    candidate's text and log-probability; ``""`` and -inf (confidence 0) where greedy
    decoding emits no candidate."""
    texts = [score.greedy_text for score in scores]
    logprobs = [float("-inf") if s.greedy is None else s.logprobs[s.greedy] for s in scores]
    return texts, logprobs


def show_progress() -> bool:
    """A progress bar only on a terminal and on the main rank (as the training bar)."""
    return os.environ.get("RANK", "0") == "0" and sys.stderr.isatty()


def _progress(batches: list, total: int, desc: str) -> Iterable:
    """``batches`` with a tqdm bar on stderr counting examples (nothing off a terminal)."""
    if not show_progress():
        yield from batches
        return
    with tqdm(total=total, desc=desc, unit="ex", leave=False, file=sys.stderr) as bar:
        for rows in batches:
            yield rows
            bar.update(len(rows))


def evaluate(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    strategy: Strategy,
    examples: Sequence[Example],
    settings: EvalSettings,
    desc: str = "evaluating",
) -> EvalResult:
    """Score ``examples``: the metrics and one JSON-ready record per example.

    With ``settings.generate_rationales`` each record also holds a rationale generated from the
    source of the strategy's ``rationale_task`` (strategies without one have none). On a
    terminal a progress bar labelled ``desc`` counts the examples (:func:`show_progress`).

    With ``closed_eval="score"``, a strategy whose target is the bare label, and candidates for
    every example, no decoding loop runs: the candidate pass tells which candidate greedy
    decoding would emit (the same prediction and accuracy; ``generated`` is null and the
    prediction empty where it would emit something else).
    """
    was_training = model.training
    model.eval()
    sep = tokenizer.eos_token
    all_sources = [strategy.predict_source(ex, sep) for ex in examples]
    by_row: dict[int, dict] = {}
    batches = eval_batches(tokenizer, all_sources, settings)
    for rows in _progress(batches, len(examples), desc):
        batch = [examples[i] for i in rows]
        sources = [all_sources[i] for i in rows]
        closed = all(ex.candidates for ex in batch)
        score_only = settings.closed_eval == "score" and strategy.label_target and closed
        if score_only:
            scores = score_candidates(
                model, tokenizer, sources, [list(ex.candidates) for ex in batch], settings
            )
            generated, logprobs = _scored_predictions(scores)
        else:
            generated, logprobs = generate(model, tokenizer, sources, settings)
            targets = [
                [strategy.candidate_target(text, c) for c in ex.candidates]
                for ex, text in zip(batch, generated, strict=True)
            ]
            scores = (
                score_candidates(model, tokenizer, sources, targets, settings)
                if closed
                else [None] * len(batch)
            )
        rationales = (
            generate(
                model, tokenizer, [_rationale_source(strategy, ex, sep) for ex in batch], settings
            )[0]
            if settings.generate_rationales and strategy.rationale_task is not None
            else [None] * len(batch)
        )
        for row, ex, text, logprob, score, rationale in zip(
            rows, batch, generated, logprobs, scores, rationales, strict=True
        ):
            prediction = strategy.parse_prediction(text)
            cand = _candidate_probs(score, ex.candidates) if score is not None else None
            record = {
                "id": ex.id,
                "input": ex.text_input(" || "),
                "gold": ex.gold,
                "prediction": prediction,
                "generated": None if score_only and score.greedy is None else text,
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
            by_row[row] = record
    model.train(was_training)
    records = [by_row[row] for row in range(len(examples))]
    return EvalResult(_summarise(records), records)


def _rationale_source(strategy: Strategy, example: Example, sep: str) -> str:
    """The encoder input of ``strategy``'s rationale task for ``example``, as in training."""
    return strategy.training_pairs(example, sep)[strategy.rationale_task].source


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
