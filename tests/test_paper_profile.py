"""The ``paper`` and ``small`` profiles of ``paper-table``, end to end on a CPU without weights.

Each profile's model (``google/t5-v1_1-base`` / ``-small``) is a random init of the published
configuration, written in the hub's file layout (untied ``lm_head``, SentencePiece
``spiece.model`` trained here) into a Hugging Face cache and loaded by name, offline, through
the loader a user's cache goes through. The run keeps the profile's model, precision (``paper``:
bf16 autocast, on the CPU here), ``fused_activation`` and schedule keys, and shrinks only sizes:
a handful of CQA examples, short sequences, batch 2 with 2 accumulated micro-batches, 2 steps,
a checkpoint after step 1, a crash there, and a resume to the end. Runtime ~1 min (T5-v1.1-base
is 248M parameters: its checkpoints dominate).
"""

from __future__ import annotations

import math
import os

import huggingface_hub.constants
import pytest
import torch

from bench import runner
from bench.hub import EXTRA_IDS, T5_V1_1, hub_cache_snapshot, write_random_t5_v1_1
from bench.models import fuse_activations, load_model
from bench.runner import RunOptions, load_run_data, run_one, tokenizer_corpus
from bench.store import read_json, read_jsonl
from bench.suites import load_suite, plan_runs
from bench.trainer import make_accelerator
from tests.helpers import Interrupted, interrupt_at

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(autouse=True)
def _sentencepiece():
    """T5 v1.1's tokenizer needs the ``paper`` extra (in ``dev``): fails, never skips, in CI."""
    try:
        import google.protobuf  # noqa: F401
        import sentencepiece  # noqa: F401
    except ImportError as err:
        message = f"{err.name} missing: pip install 'cotbench[paper]'"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)


SHRINK = {  # sizes only: model, precision, fused_activation, lr, schedule keys stay the profile's
    "max_train": 8,
    "max_eval": 2,
    "batch_size": 2,
    "grad_accum": 2,
    "max_steps": 2,
    "eval_every": 2,  # one validation pass (the best weights are 1 GB at base size)
    "checkpoint_every": 1,
    "max_input_length": 24,
    "max_target_length": 12,
    "max_new_tokens": 3,
    "eval_batch_size": 2,
    "log_every": 1,
}


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face hub cache that every ``from_pretrained`` of this test reads."""
    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _profile_run(profile: str, strategy: str):
    _, (config,) = plan_runs(
        load_suite("paper-table"),
        profile,
        datasets=["cqa"],
        strategies=[strategy],
        seeds=[0],
        overrides=SHRINK,
    )
    return config


def test_bf16_autocast_is_active_on_cpu_and_precision_can_change():
    """The paper profile's precision key turns on bf16 autocast, on a CPU too; runs of another
    precision later in the same process get theirs (Accelerate's state is per process)."""
    layer = torch.nn.Linear(4, 4)
    for profile, dtype in [("small", torch.float32), ("paper", torch.bfloat16)] * 2:
        accelerator = make_accelerator(_profile_run(profile, "dss"))
        with accelerator.autocast():
            assert layer(torch.ones(1, 4)).dtype == dtype, profile


def test_random_t5_v1_1_loads_like_the_hub_checkpoint(hub_cache, dss_data_dir):
    name = "google/t5-v1_1-small"
    texts = tokenizer_corpus(load_run_data(_profile_run("small", "dss")))
    write_random_t5_v1_1(name, hub_cache_snapshot(hub_cache, name), texts)
    loaded = load_model(name, [], 0, 0)
    model, tokenizer = loaded.model, loaded.tokenizer
    assert sum(p.numel() for p in model.parameters()) == 76_961_152  # the published size
    assert model.lm_head.weight is not model.shared.weight  # v1.1: untied output layer
    assert not model.config.scale_decoder_outputs  # and no d_model**-0.5 rescaling
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    assert "<extra_id_0>" in tokenizer.get_vocab() and len(tokenizer) > EXTRA_IDS
    assert tokenizer("So the answer is").input_ids[-1] == 1  # EOS appended, as T5's
    assert loaded.tokenizer_file is None  # a pretrained model's own tokenizer
    assert fuse_activations(model) == 16  # one gated-GELU per feed-forward block (8 + 8)


@pytest.mark.parametrize(("profile", "strategy"), [("paper", "dss+mi"), ("small", "dss+kl")])
def test_profile_trains_checkpoints_and_resumes(
    profile, strategy, hub_cache, dss_data_dir, tmp_path, monkeypatch
):
    config = _profile_run(profile, strategy)
    assert config.model in T5_V1_1 and config.fused_activation
    assert config.precision == ("bf16" if profile == "paper" else "fp32")
    write_random_t5_v1_1(
        config.model,
        hub_cache_snapshot(hub_cache, config.model),
        tokenizer_corpus(load_run_data(config)),
    )
    fused = []
    monkeypatch.setattr(
        runner, "fuse_activations", lambda model: fused.append(fuse_activations(model))
    )
    options = RunOptions("paper-table", profile, runs_dir=tmp_path / "runs")
    with pytest.raises(Interrupted):
        run_one(config, options, on_step=interrupt_at(1))
    layers = T5_V1_1[config.model]["num_layers"] + T5_V1_1[config.model]["num_decoder_layers"]
    assert fused == [layers]  # one gated-GELU per feed-forward block, all swapped
    result = run_one(config, options)  # resumes from the step-1 checkpoint
    directory = result.directory
    assert not result.cached and result.metrics["steps"] == 2
    assert len(read_jsonl(directory / "predictions.jsonl")) == 2
    train = [r for r in read_jsonl(directory / "train_log.jsonl") if r["kind"] == "train"]
    assert [r["step"] for r in train] == [1, 2]
    assert all(math.isfinite(v) for r in train for k, v in r.items() if k != "kind")
    env = read_json(directory / "env.json")
    assert env["device"] == "cpu" and env["n_examples"]["train"] == 8
    assert read_json(directory / "config.json")["config"]["model"] == config.model
