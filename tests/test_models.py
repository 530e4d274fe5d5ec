"""Model factory: presets, the cached data-trained tokenizer, any local seq2seq checkpoint,
and a clear error for weights that are not on disk."""

from __future__ import annotations

import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration
from transformers.activations import NewGELUActivation

from bench.errors import ConfigError
from bench.models import fuse_activations, load_model
from bench.runner import RunOptions, run_one
from bench.tokenizer import trained_tokenizer
from tests.helpers import tiny_config

TEXTS = ["predict: explain: So the answer is", "a=3; b=a+4; what is b?", "b=a+4=7.", "7"] * 20


def test_tokenizer_is_trained_once_and_cached(tmp_path):
    first, path = trained_tokenizer(TEXTS, 60, cache_dir=tmp_path)
    stamp = path.stat().st_mtime_ns
    second, again = trained_tokenizer(TEXTS, 60, cache_dir=tmp_path)
    assert again == path and path.stat().st_mtime_ns == stamp
    assert first("a=3; b=a+4").input_ids == second("a=3; b=a+4").input_ids
    assert (first.pad_token_id, first.eos_token_id, first.unk_token_id) == (0, 1, 2)
    assert first("b").input_ids[-1] == first.eos_token_id
    _, other = trained_tokenizer([*TEXTS, "c=9"], 60, cache_dir=tmp_path)
    assert other != path


def test_preset_init_follows_the_seed():
    a = load_model("tiny-t5-s", TEXTS, 60, seed=1).model
    b = load_model("tiny-t5-s", TEXTS, 60, seed=1).model
    c = load_model("tiny-t5-s", TEXTS, 60, seed=2).model
    wa, wb, wc = (next(m.parameters()) for m in (a, b, c))
    assert (wa == wb).all() and not (wa == wc).all()


def test_missing_hub_weights_say_how_to_get_them(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="`hf download google/t5-v1_1-nonexistent`"):
        load_model("google/t5-v1_1-nonexistent", TEXTS, 60, seed=0)
    with pytest.raises(ConfigError, match="not a preset"):
        load_model("t5-huge-random", TEXTS, 60, seed=0)


@pytest.mark.slow
def test_any_local_seq2seq_checkpoint_trains(tmp_path):
    """A BART checkpoint on disk runs through the same core as the T5 presets."""
    tokenizer, _ = trained_tokenizer(TEXTS, 60, cache_dir=tmp_path / "cache")
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
        decoder_start_token_id=1,
        forced_eos_token_id=1,
    )
    path = tmp_path / "bart"
    BartForConditionalGeneration(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    run = tiny_config(strategy="dss+mi", model=str(path), max_steps=2, eval_every=2)
    result = run_one(run, RunOptions("t", runs_dir=tmp_path / "runs"), echo=lambda _: None)
    assert result.metrics["steps"] == 2 and 0.0 <= result.metrics["primary"]["accuracy"] <= 1.0


def test_fuse_activations_swaps_t5_gelu_for_the_same_function():
    """gated-gelu's composite tanh-GELU becomes one fused kernel; the outputs agree to rounding."""
    loaded = load_model("tiny-t5-s", ["a b c d e f"] * 20, 64, seed=0)
    model = loaded.model.eval()
    ids = torch.tensor([[5, 6, 7, 8, 1]])
    before = model(input_ids=ids, labels=ids).logits
    assert fuse_activations(model) == 2  # one encoder and one decoder feed-forward
    assert fuse_activations(model) == 0
    after = model(input_ids=ids, labels=ids).logits
    assert not any(isinstance(m, NewGELUActivation) for m in model.modules())
    torch.testing.assert_close(after, before, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("fused", [False, True])
def test_runner_fuses_activations_only_when_configured(tmp_path, monkeypatch, fused):
    import bench.runner

    swapped = []
    monkeypatch.setattr(bench.runner, "fuse_activations", lambda m: swapped.append(m) or 0)
    run = tiny_config(max_steps=1, eval_every=1, fused_activation=fused)
    run_one(run, RunOptions("t", runs_dir=tmp_path / "runs"), echo=lambda _: None)
    assert len(swapped) == int(fused)


def test_model_identity_of_every_source(tmp_path, monkeypatch):
    import huggingface_hub

    from bench.hub import hub_cache_snapshot
    from bench.provenance import file_sha256

    preset = load_model("tiny-t5-s", TEXTS, 60, seed=0)
    assert preset.identity == {"source": "preset", "preset": "tiny-t5-s", "weights": "random init"}

    local = tmp_path / "local"
    preset.model.save_pretrained(local)
    preset.tokenizer.save_pretrained(local)
    identity = load_model(str(local), TEXTS, 60, seed=0).identity
    assert identity["source"] == "local" and identity["path"] == str(local.resolve())
    assert identity["weights_sha256"] == {
        "model.safetensors": file_sha256(local / "model.safetensors")
    }

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    revision = "1234567890abcdef1234567890abcdef12345678"
    snapshot = hub_cache_snapshot(tmp_path / "hub", "someone/tiny", revision)
    preset.model.save_pretrained(snapshot)
    preset.tokenizer.save_pretrained(snapshot)
    identity = load_model("someone/tiny", TEXTS, 60, seed=0).identity
    assert identity == {"source": "hub", "repo_id": "someone/tiny", "revision": revision}
