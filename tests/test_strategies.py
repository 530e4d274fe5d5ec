"""Contract tests over every registered strategy, plus the maths each one promises.

Every strategy: finite terms, a total that back-propagates into the model, the tasks it
declares. Then: zero weights contribute nothing; ``dss+mi`` with alpha3 = 0 equals ``dss``;
the ``code`` MI term equals the released formula on the model's own logits; the label branch is
detached where it should be; KL >= 0; single-task keeps its label when the rationale is cut.
Each strategy's ``reads`` names every loss key it touches (``bench ablate`` skips the others).
"""

from __future__ import annotations

import pytest
import torch

from bench.batching import collate, encode_pairs
from bench.data import LoadOptions, load_dataset
from bench.models import load_model
from bench.runner import tokenizer_corpus
from bench.strategy import LOSS_KEYS, STRATEGIES, TaskPair, reads_key, seq2seq_forward
from method import mi_code_loss
from tests.helpers import tiny_config

VARIANTS = [("finetune", {}), ("single-task", {}), ("dss", {}), ("dss+kl", {})] + [
    ("dss+mi", {"mi_variant": v}) for v in ("code", "paper", "infonce")
]


@pytest.fixture(scope="module")
def data():
    config = tiny_config()
    return load_dataset("synth", LoadOptions(data_dir=".", synth=config.synth))


def build(data, strategy: str, **overrides):
    config = tiny_config(strategy=strategy, **overrides)
    loaded = load_model(config.model, tokenizer_corpus(data), config.vocab_size, seed=0)
    impl = STRATEGIES.get(strategy)(config)
    impl.setup(loaded.model)
    sep = loaded.tokenizer.eos_token
    pairs = [impl.training_pairs(ex, sep) for ex in data.train[:6]]
    encoded = encode_pairs(
        loaded.tokenizer, pairs, config.max_input_length, config.max_target_length
    )
    batch = collate(encoded, list(range(6)))
    return loaded.model, impl, batch


def test_every_registered_strategy_is_covered():
    assert {name for name, _ in VARIANTS} == set(STRATEGIES.names())


@pytest.mark.parametrize(("name", "overrides"), VARIANTS)
def test_contract(data, name, overrides):
    model, strategy, batch = build(data, name, **overrides)
    assert set(batch) == set(strategy.tasks)
    out = strategy.loss(model, batch)
    assert out.total.ndim == 0 and torch.isfinite(out.total)
    assert all(torch.isfinite(v) and v.ndim == 0 for v in out.parts.values())
    out.total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_rationale_task_and_tokenizer_text(data):
    """A strategy names the task whose target is the rationale (evaluation generates rationales
    with it); the tokenizer corpus opens with the text the strategies declare, the string it
    always was (so recorded tokenizers and bundles stay what they are)."""
    example = data.train[0]
    for name in STRATEGIES.names():
        strategy = STRATEGIES.get(name)(tiny_config(strategy=name))
        if strategy.rationale_task is not None:
            pair = strategy.training_pairs(example, "</s>")[strategy.rationale_task]
            assert strategy.rationale_task in strategy.tasks and pair.target == example.rationale
    with_rationale = [n for n in STRATEGIES.names() if STRATEGIES.get(n).rationale_task]
    assert with_rationale == ["dss", "dss+kl", "dss+mi"]
    assert tokenizer_corpus(data)[0] == "predict:  explain:  So the answer is"


class RecordingConfig:
    """A config that records which attributes are read."""

    def __init__(self, config) -> None:
        self.config, self.seen = config, set()

    def __getattr__(self, name: str):
        self.seen.add(name)
        return getattr(self.config, name)


@pytest.mark.parametrize(("name", "overrides"), VARIANTS)
def test_reads_names_every_loss_key_the_strategy_touches(data, name, overrides):
    model, strategy, batch = build(data, name, **overrides)
    recording = RecordingConfig(strategy.config)
    strategy.config = recording
    strategy.setup(model)
    strategy.loss(model, batch)
    assert recording.seen & LOSS_KEYS <= strategy.reads <= LOSS_KEYS
    assert "lr" not in LOSS_KEYS and reads_key(name, "lr") and reads_key(name, "noise.level")


def test_only_the_auxiliary_strategies_read_alpha3():
    assert [n for n in STRATEGIES.names() if reads_key(n, "alpha3")] == ["dss+kl", "dss+mi"]


@pytest.mark.parametrize(("name", "overrides"), VARIANTS[2:])
def test_total_is_the_weighted_sum_of_parts(data, name, overrides):
    model, strategy, batch = build(data, name, alpha1=0.3, alpha2=0.6, alpha3=0.25, **overrides)
    out = strategy.loss(model, batch)
    extra = sum(v for k, v in out.parts.items() if k not in {"pred", "explain"})
    expected = 0.3 * out.parts["pred"] + 0.6 * out.parts["explain"] + 0.25 * extra
    torch.testing.assert_close(out.total, expected)


@pytest.mark.parametrize("variant", ["code", "paper", "infonce"])
def test_mi_with_zero_weight_equals_dss(data, variant):
    model, dss, batch = build(data, "dss")
    _, mi, _ = build(data, "dss+mi", alpha3=0.0, mi_variant=variant)
    model.eval()  # no dropout, so both see identical logits
    assert torch.equal(dss.loss(model, batch).total, mi.loss(model, batch).total)


def test_zero_weight_means_no_contribution(data):
    model, strategy, batch = build(data, "dss", alpha2=0.0)
    model.eval()
    out = strategy.loss(model, batch)
    torch.testing.assert_close(out.total, 0.5 * out.parts["pred"])


def _capture_logits(model):
    """Record every lm-head output (one per teacher-forced pass) with retained gradients."""
    captured = []

    def hook(_module, _inputs, output):
        output.retain_grad()
        captured.append(output)

    return captured, model.get_output_embeddings().register_forward_hook(hook)


def test_code_mi_equals_released_formula_on_model_logits(data):
    model, strategy, batch = build(data, "dss+mi", mi_variant="code")
    model.eval()
    captured, handle = _capture_logits(model)
    out = strategy.loss(model, batch)
    handle.remove()
    pred_logits, expl_logits = captured
    torch.testing.assert_close(out.parts["mi"], mi_code_loss(pred_logits, expl_logits))


@pytest.mark.parametrize(
    ("name", "variant"), [("dss+mi", "code"), ("dss+mi", "paper"), ("dss+kl", "code")]
)
def test_label_branch_is_detached_in_the_extra_term(data, name, variant):
    model, strategy, batch = build(
        data, name, alpha1=0.0, alpha2=0.0, alpha3=1.0, mi_variant=variant
    )
    captured, handle = _capture_logits(model)
    strategy.loss(model, batch).total.backward()
    handle.remove()
    pred_logits, expl_logits = captured
    assert pred_logits.grad is None or pred_logits.grad.abs().sum() == 0
    assert expl_logits.grad.abs().sum() > 0


def test_paper_variant_without_stop_grad_reaches_the_label_branch(data):
    model, strategy, batch = build(
        data, "dss+mi", alpha1=0.0, alpha2=0.0, alpha3=1.0, mi_variant="paper", mi_stop_grad=False
    )
    captured, handle = _capture_logits(model)
    strategy.loss(model, batch).total.backward()
    handle.remove()
    assert captured[0].grad.abs().sum() > 0


def test_infonce_head_is_trained(data):
    model, strategy, batch = build(data, "dss+mi", mi_variant="infonce", alpha3=1.0)
    strategy.loss(model, batch).total.backward()
    head = list(strategy.parameters())
    assert head and all(p.grad is not None and p.grad.abs().sum() > 0 for p in head)


def test_kl_is_non_negative(data):
    model, strategy, batch = build(data, "dss+kl")
    assert strategy.loss(model, batch).parts["kl"] >= -1e-6


def test_single_task_round_trip_and_truncation(data):
    _, strategy, _ = build(data, "single-task")
    assert strategy.parse_prediction("b=7. c=9. So the answer is 9") == "9"
    assert strategy.parse_prediction("no marker here") == ""
    assert strategy.candidate_target("b=7. So the answer is 3", "4") == "b=7. So the answer is 4"
    config = tiny_config(strategy="single-task")
    loaded = load_model(config.model, tokenizer_corpus(data), config.vocab_size, seed=0)
    long = TaskPair("x", "word " * 200, target_suffix=" So the answer is 42")
    for max_length in (8, 40):
        ids = encode_pairs(loaded.tokenizer, [{"predict": long}], 32, max_length)[
            "predict"
        ].label_ids[0]
        assert len(ids) == max_length and ids[-1] == loaded.tokenizer.eos_token_id
        assert (
            loaded.tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "").endswith("42")
        )
    text = loaded.tokenizer.decode(ids, skip_special_tokens=True)
    assert text.startswith("word") and text.endswith("So the answer is 42")


@pytest.mark.parametrize("all_positions", [False, True])
def test_packed_forward_loss_equals_the_models_own_loss(data, all_positions):
    """No logits for padding (packed) or all of them: the loss is the model's ``labels=`` loss."""
    model, _, batch = build(data, "dss")
    model.eval()
    task = batch["explain"]
    assert (task["labels"] == -100).any()  # the batch has padded target positions
    out = seq2seq_forward(model, task, all_positions=all_positions)
    want = model(**task).loss
    torch.testing.assert_close(out.loss, want, rtol=0, atol=1e-6)
    n_real = int((task["labels"] != -100).sum())
    expected_rows = task["labels"].numel() if all_positions else n_real
    assert out.log_probs.shape[:-1].numel() == expected_rows


def test_packed_forward_computes_no_logits_for_padding(data):
    model, _, batch = build(data, "dss")
    captured, handle = _capture_logits(model)
    seq2seq_forward(model, batch["explain"])
    handle.remove()
    assert captured[0].shape[0] == int((batch["explain"]["labels"] != -100).sum())


@pytest.mark.parametrize(("name", "overrides"), VARIANTS)
def test_label_target_strategies_score_candidates_on_their_own(data, name, overrides):
    """``label_target`` lets evaluation skip decoding: it must mean that a candidate's target
    and parsed prediction are the candidate itself, whatever was generated."""
    _, strategy, _ = build(data, name, **overrides)
    generated = "b=a+4=3+4=7. So the answer is 7"
    scored_alone = all(
        strategy.candidate_target(generated, c) == c and strategy.parse_prediction(c) == c
        for c in ("3", "entailment", "( 1 + 2 )")
    )
    assert strategy.label_target == scored_alone
