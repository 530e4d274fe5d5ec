"""Evaluation: candidate scoring without a decoding loop predicts what greedy generation does."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.batching import BatchOrder, collate, encode_pairs
from bench.data import LoadOptions, load_dataset
from bench.evaluate import (
    EvalSettings,
    _length_groups,
    eval_batches,
    evaluate,
    generate,
    score_candidates,
)
from bench.models import load_model
from bench.runner import tokenizer_corpus
from bench.strategy import STRATEGIES
from tests.helpers import own_logprob, tiny_config


@pytest.fixture(scope="module")
def trained():
    """A tiny finetune model after 40 steps: it emits digits, not always a candidate one."""
    config = tiny_config(strategy="finetune", **{"synth.n_train": 256, "synth.n_test": 64})
    splits = load_dataset("synth", LoadOptions(data_dir=".", synth=config.synth))
    loaded = load_model(config.model, tokenizer_corpus(splits), config.vocab_size, seed=0)
    model, tokenizer = loaded.model, loaded.tokenizer
    strategy = STRATEGIES.get("finetune")(config)
    sep = tokenizer.eos_token
    encoded = encode_pairs(
        tokenizer, [strategy.training_pairs(ex, sep) for ex in splits.train], 48, 48
    )
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    order = BatchOrder(len(splits.train), 16, seed=0)
    for step in range(40):
        strategy.loss(model, collate(encoded, order.indices(step))).total.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    settings = EvalSettings("exact", 16, 48, 48, max_new_tokens=8)
    return model, tokenizer, strategy, splits.test, settings


def test_scoring_predicts_exactly_what_generation_predicts(trained):
    model, tokenizer, strategy, test, settings = trained
    generated = evaluate(model, tokenizer, strategy, test, settings)
    score_settings = dataclasses.replace(settings, closed_eval="score")
    scored = evaluate(model, tokenizer, strategy, test, score_settings)
    gen = generated.records
    in_candidates = [g["generated"] in ex.candidates for g, ex in zip(gen, test, strict=True)]
    assert any(in_candidates) and not all(in_candidates)  # both branches are exercised
    for g, s, inside in zip(gen, scored.records, in_candidates, strict=True):
        assert s["correct"] == g["correct"]
        if inside:
            assert s["prediction"] == g["prediction"] == s["generated"]
            assert s["confidence"] == pytest.approx(g["confidence"], rel=1e-4)
        else:
            assert s["prediction"] == "" and s["generated"] is None and s["confidence"] == 0
        for c, p in g["candidate_probs"].items():
            assert s["candidate_probs"][c] == pytest.approx(p, abs=1e-5)
    assert scored.metrics["accuracy"] == generated.metrics["accuracy"]
    assert scored.metrics["candidate_accuracy"] == generated.metrics["candidate_accuracy"]


def test_candidate_scores_equal_the_models_own_loss(trained):
    """The batched pass with the shared first-step cache gives each pair's own log-probability."""
    model, tokenizer, strategy, test, settings = trained
    sources = [strategy.predict_source(ex, tokenizer.eos_token) for ex in test[:4]]
    targets = [list(ex.candidates) for ex in test[:4]]
    batched = score_candidates(model, tokenizer, sources, targets, settings)
    for source, row, scores in zip(sources, targets, batched, strict=True):
        for target, logp in zip(row, scores.logprobs, strict=True):
            assert logp == pytest.approx(own_logprob(model, tokenizer, source, target), abs=1e-4)


def test_greedy_candidate_is_the_generated_text(trained):
    model, tokenizer, strategy, test, settings = trained
    sources = [strategy.predict_source(ex, tokenizer.eos_token) for ex in test]
    generated, _ = generate(model, tokenizer, sources, settings)
    scores = score_candidates(
        model, tokenizer, sources, [list(e.candidates) for e in test], settings
    )
    for text, ex, score in zip(generated, test, scores, strict=True):
        expected = ex.candidates.index(text) if text in ex.candidates else None
        assert score.greedy == expected


def test_length_groups_cover_every_candidate_with_tokens_left_within_a_factor_of_two():
    lengths = torch.tensor([0, 5, 1, 16, 2, 9, 3, 4, 1, 0, 8])
    groups = _length_groups(lengths)
    covered = torch.cat(groups).sort().values
    assert covered.tolist() == [i for i, n in enumerate(lengths.tolist()) if n > 0]
    for group in groups:
        in_group = lengths[group]
        assert in_group.tolist() == sorted(in_group.tolist(), reverse=True)
        assert int(in_group.max()) < 2 * int(in_group.min())  # at most 2x padding
    assert [int(lengths[g].max()) for g in groups] == [16, 8, 4, 2, 1]


def test_eval_batches_keep_order_or_sort_by_input_tokens(trained):
    _, tokenizer, strategy, test, settings = trained
    sources = [strategy.predict_source(ex, tokenizer.eos_token) for ex in test]
    plain = eval_batches(tokenizer, sources, settings)
    assert plain == [list(range(i, min(i + 16, len(test)))) for i in range(0, len(test), 16)]
    grouped = eval_batches(tokenizer, sources, dataclasses.replace(settings, length_grouping=True))
    order = [i for batch in grouped for i in batch]
    assert sorted(order) == list(range(len(test))) and order != list(range(len(test)))
    lengths = [len(tokenizer(sources[i])["input_ids"]) for i in order]
    assert lengths == sorted(lengths, reverse=True)


def test_grouped_candidate_passes_give_each_pair_its_own_log_probability(trained):
    model, tokenizer, strategy, test, settings = trained
    sources = [strategy.predict_source(ex, tokenizer.eos_token) for ex in test[:3]]
    targets = [["1", "12 34", "5 6 7 8 9 10 11"], ["123", "4"], ["9 9 9 9", "0", "77"]]
    grouped = dataclasses.replace(settings, length_grouping=True)
    lengths = torch.tensor([len(tokenizer(t)["input_ids"]) - 1 for row in targets for t in row])
    assert len(_length_groups(lengths)) >= 3  # several passes of different widths
    for scores_of in (settings, grouped):
        batched = score_candidates(model, tokenizer, sources, targets, scores_of)
        for source, row, scores in zip(sources, targets, batched, strict=True):
            for target, logp in zip(row, scores.logprobs, strict=True):
                own = own_logprob(model, tokenizer, source, target)
                assert logp == pytest.approx(own, abs=1e-4)


@pytest.mark.parametrize("closed_eval", ["generate", "score"])
def test_grouped_evaluation_gives_the_plain_records_in_order(trained, closed_eval):
    model, tokenizer, strategy, test, settings = trained
    plain_settings = dataclasses.replace(settings, closed_eval=closed_eval)
    grouped_settings = dataclasses.replace(plain_settings, length_grouping=True)
    plain = evaluate(model, tokenizer, strategy, test, plain_settings)
    grouped = evaluate(model, tokenizer, strategy, test, grouped_settings)
    assert [r["id"] for r in grouped.records] == [ex.id for ex in test]
    for p, g in zip(plain.records, grouped.records, strict=True):
        assert (g["prediction"], g["correct"], g["generated"]) == (
            p["prediction"],
            p["correct"],
            p["generated"],
        )
        assert g["confidence"] == pytest.approx(p["confidence"], rel=1e-4, abs=1e-6)
        for c, prob in p["candidate_probs"].items():
            assert g["candidate_probs"][c] == pytest.approx(prob, abs=1e-5)
    assert grouped.metrics["accuracy"] == plain.metrics["accuracy"]


def test_rationales_are_generated_from_the_strategys_rationale_task(trained):
    model, tokenizer, finetune, test, settings = trained
    settings = dataclasses.replace(settings, generate_rationales=True)
    plain = evaluate(model, tokenizer, finetune, test[:4], settings)
    assert all("rationale" not in r for r in plain.records)  # finetune has no rationale task
    dss = STRATEGIES.get("dss")(tiny_config(strategy="dss"))
    sources = ["explain: " + ex.text_input(tokenizer.eos_token) for ex in test[:4]]
    records = evaluate(model, tokenizer, dss, test[:4], settings).records
    assert [r["rationale"] for r in records] == generate(model, tokenizer, sources, settings)[0]


def test_a_terminal_gets_an_evaluation_progress_bar(trained, monkeypatch, capsys):
    model, tokenizer, strategy, test, settings = trained
    plain = evaluate(model, tokenizer, strategy, test[:20], settings)
    assert capsys.readouterr().err == ""  # not a terminal: no bar
    monkeypatch.setattr("bench.evaluate.show_progress", lambda: True)
    barred = evaluate(model, tokenizer, strategy, test[:20], settings, "test")
    assert plain == barred
    assert "test:   0%|          | 0/20 [" in capsys.readouterr().err  # counts examples
