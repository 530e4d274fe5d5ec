"""``bench perf``: the reference design matches cotbench's losses, the collator's halves, padded
shares, and the command's JSON and errors (tiny synth set-up, seconds)."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from transformers.activations import NewGELUActivation

from bench.cli import main
from bench.perf.designs import token_counts
from bench.perf.measure import Trainee, time_training
from bench.perf.reference import TaskPrefixCollator
from bench.perf.run import QUICK, STRATEGY_NAMES, PerfSettings, loss_parity, prepare


@pytest.fixture(scope="module")
def setup():
    return prepare(PerfSettings(**QUICK, quick=True))


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_reference_and_cotbench_losses_match(setup, strategy):
    parity = loss_parity(setup, strategy)
    expected = {"total", "pred", "explain"} | ({"mi"} if strategy == "dss+mi" else set())
    assert set(parity) == expected | {"max_abs_diff"}
    assert parity["max_abs_diff"] < 1e-5


def test_only_cotbench_trains_with_fused_activations(setup):
    """The reference keeps Hugging Face's composite GELU; the core's copy has the fused one."""
    reference, cotbench = (setup.trainee(d, "dss").model for d in setup.designs("dss"))

    def composite(model):
        return sum(isinstance(m, NewGELUActivation) for m in model.modules())

    assert composite(reference) > 0 and composite(cotbench) == 0
    assert composite(setup.loaded.model) > 0  # the shared initial weights are left alone


def test_reference_collator_splits_and_pads_the_halves(setup):
    features = [
        {
            "input_ids": [5, 6, 1],
            "attention_mask": [1, 1, 1],
            "labels": [7, 1],
            "expl_input_ids": [8, 1],
            "expl_attention_mask": [1, 1],
            "expl_labels": [9, 10, 11, 1],
        },
        {
            "input_ids": [5, 1],
            "attention_mask": [1, 1],
            "labels": [7, 12, 1],
            "expl_input_ids": [8, 13, 14, 1],
            "expl_attention_mask": [1, 1, 1, 1],
            "expl_labels": [1],
        },
    ]
    batch = TaskPrefixCollator(setup.loaded.tokenizer, setup.loaded.model)(features)
    pad = setup.loaded.tokenizer.pad_token_id
    pred, expl = batch["pred"], batch["expl"]
    assert pred["input_ids"].tolist() == [[5, 6, 1], [5, 1, pad]]
    assert pred["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert pred["labels"].tolist() == [[7, 1, -100], [7, 12, 1]]
    assert expl["input_ids"].tolist() == [[8, 1, pad, pad], [8, 13, 14, 1]]
    assert expl["attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert expl["labels"].tolist() == [[9, 10, 11, 1], [1, -100, -100, -100]]
    assert expl["decoder_input_ids"][:, 1:].tolist() == [[9, 10, 11], [1, pad, pad]]


def test_padded_share_of_a_hand_made_batch():
    batch = {
        "predict": {
            "input_ids": torch.tensor([[4, 5, 1, 0], [4, 5, 6, 1]]),
            "attention_mask": torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]]),
            "labels": torch.tensor([[5, 1, -100], [1, -100, -100]]),
        },
        "explain": {
            "input_ids": torch.tensor([[4, 1], [4, 1]]),
            "attention_mask": torch.tensor([[1, 1], [1, 1]]),
            "labels": torch.tensor([[7, 1], [1, -100]]),
        },
    }
    counts = token_counts(batch)
    assert (counts.encoder_real, counts.encoder_computed) == (11, 12)
    assert (counts.decoder_real, counts.decoder_computed) == (6, 10)
    share = counts.padded_share()
    assert share["encoder"] == pytest.approx(1 / 12)
    assert share["decoder"] == pytest.approx(4 / 10)
    assert share["total"] == pytest.approx(5 / 22)


def test_quick_json_has_sane_values(capfd):
    assert main(["perf", "--quick", "--json"]) == 0
    out, err = capfd.readouterr()
    assert "USDT" not in err and "profiler_start" not in err  # kineto's lines are silenced
    result = json.loads(out)
    for strategy in STRATEGY_NAMES:
        train = result["train"][strategy]
        assert train["speedup"] > 0
        for design in ("reference", "cotbench"):
            d = train[design]
            assert d["examples_per_s"] > 0 and d["real_tokens_per_s"] > 0
            assert 0 <= d["data_share"] <= 1 and d["mfu"] > 0
            assert all(0 <= v <= 1 for v in d["padded_share"].values())
            assert d["peak_step_bytes"] > 0
            assert d["executed_flops"] >= d["useful_flops"] > 0
        assert result["parity"][strategy]["max_abs_diff"] < 1e-5
    assert all(r > 0 for r in result["memory_mi_over_dss"].values())
    for design, overhead in result["mi_step_overhead"].items():
        dss, mi = (result["train"][s][design]["seconds"] for s in STRATEGY_NAMES)
        assert overhead == pytest.approx(mi / dss - 1) and overhead > -1
    ev = result["eval"]
    assert ev["speedup"] > 0 and 0 <= ev["identical_labels"] <= 1
    assert result["settings"]["train_examples"] == QUICK["steps"] * QUICK["batch"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch", "0"], "--batch: expected an integer >= 1"),
        (["--model", "no-such-model"], "model 'no-such-model'"),
        (["--steps", "100"], "training examples"),
    ],
)
def test_bad_arguments_give_one_error_line(capsys, args, message):
    assert main(["perf", "--quick", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err
    assert len(err.splitlines()) == 1


class _FakeDesign:
    def __init__(self, name: str) -> None:
        self.name = name

    def indices(self, step: int) -> list[int]:
        return [step]

    def batch(self, indices: list[int]) -> dict:
        ones = torch.ones(1, 2, dtype=torch.long)
        return {"predict": {"input_ids": ones, "attention_mask": ones, "labels": ones}}


def test_timed_steps_rotate_the_trainees_so_none_runs_twice_in_a_row():
    calls: list[tuple[str, str]] = []

    class Recording(Trainee):
        def step(self, batch, precision, max_grad_norm):
            calls.append(self.key)

    model = torch.nn.Linear(1, 1)
    trainees = [
        Recording(_FakeDesign(d), s, model, torch.optim.SGD(model.parameters(), lr=0.1))
        for s in ("dss", "dss+mi")
        for d in ("reference", "cotbench")
    ]
    logs = time_training(trainees, steps=8, warmup=0, precision="fp32", max_grad_norm=1.0)
    assert all(a != b for a, b in itertools.pairwise(calls))
    for t in trainees:
        positions = [i % 4 for i, key in enumerate(calls) if key == t.key]
        assert sorted(positions) == [0, 0, 1, 1, 2, 2, 3, 3]
        assert logs[t.key].batches == [[step] for step in range(8)]
