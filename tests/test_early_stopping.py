"""Early stopping on validation accuracy (``early_stopping_patience``), end to end on the tiny
config with synth version 2 and the character tokenizer: where it stops, what it logs, and that
an interrupted run resumes to the same numbers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.errors import ConfigError
from bench.runner import RunOptions, run_one
from bench.store import read_json, read_jsonl, run_dir
from bench.trainer import TrainState, patience_spent, training_loss_settled
from tests.helpers import Interrupted, interrupt_at, run_numbers, tiny_config

pytestmark = pytest.mark.slow

STOPPING = {
    "strategy": "single-task",
    "synth.version": 2,
    "tokenizer": "char",
    "max_target_length": 64,
    "max_steps": 40,
    "eval_every": 2,
    "early_stopping_patience": 2,
}


def test_training_stops_after_patience_validations_without_a_new_best(tmp_path):
    config = tiny_config(**STOPPING)
    result = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    metrics = result.metrics
    valid = [r for r in read_jsonl(result.directory / "train_log.jsonl") if r["kind"] == "valid"]
    after_best = [r for r in valid if r["step"] > metrics["best_step"]]
    assert metrics["steps"] < config.max_steps  # the tiny task plateaus at once
    assert len(after_best) == config.early_stopping_patience
    assert valid[-1]["step"] == metrics["steps"]
    assert all(r["accuracy"] <= metrics["valid_best_accuracy"] for r in after_best)
    assert read_json(result.directory / "config.json")["config"]["tokenizer"] == "char"
    vocabulary = read_json(result.directory / "tokenizer.json")["model"]["vocab"]
    assert all(len(token) == 1 for token in list(vocabulary)[3:])  # one token per character


def test_an_early_stopped_run_resumes_to_the_same_numbers(tmp_path):
    config = tiny_config(**STOPPING)
    whole = run_one(config, RunOptions("t", runs_dir=tmp_path / "whole"), echo=lambda _: None)
    with pytest.raises(Interrupted):
        run_one(
            config, RunOptions("t", runs_dir=tmp_path), on_step=interrupt_at(3), echo=lambda _: None
        )
    assert (run_dir(tmp_path, "t", config) / "checkpoints").is_dir()
    resumed = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert run_numbers(resumed.directory) == run_numbers(whole.directory)


def test_patience_off_trains_every_step(tmp_path):
    config = tiny_config(**{**STOPPING, "early_stopping_patience": None, "max_steps": 8})
    result = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert result.metrics["steps"] == 8


def test_no_early_stop_before_the_minimum_step():
    """A flat phase before take-off is not a plateau: patience counts only from min_steps."""
    history = [{"kind": "valid", "step": s, "accuracy": 0.1} for s in (2, 4, 6, 8)]
    flat = TrainState(step=8, best_step=2, best_accuracy=0.1, history=history)
    config = tiny_config(**STOPPING)
    assert patience_spent(flat, config)
    assert not patience_spent(flat, replace(config, early_stopping_min_steps=10))
    assert patience_spent(replace(flat, step=10), replace(config, early_stopping_min_steps=10))
    assert not patience_spent(flat, replace(config, early_stopping_patience=None))
    with pytest.raises(ConfigError, match="early_stopping_min_steps"):
        replace(config, early_stopping_min_steps=-1).validate()
    # hashed only when set, so every earlier run keeps its hash
    assert replace(config, early_stopping_min_steps=0).config_hash() == config.config_hash()
    assert replace(config, early_stopping_min_steps=10).config_hash() != config.config_hash()


def _history(valid_steps, train_losses):
    """Flat validation accuracy at ``valid_steps``; ``train_losses`` as {step: total}."""
    valid = [{"kind": "valid", "step": s, "accuracy": 0.1} for s in valid_steps]
    train = [{"kind": "train", "step": s, "total": loss} for s, loss in train_losses.items()]
    return sorted(valid + train, key=lambda r: (r["step"], r["kind"]))


def test_a_falling_training_loss_holds_off_the_early_stop():
    """Accuracy flat for the whole patience window while the loss still falls (DSS's explain
    branch learning under a label at chance): the run goes on until the loss settles too."""
    config = tiny_config(**STOPPING, early_stopping_loss_delta=0.05)
    falling = _history((2, 4, 6, 8), {1: 0.9, 3: 0.8, 5: 0.6, 7: 0.5})
    state = TrainState(step=8, best_step=2, best_accuracy=0.1, history=falling)
    assert not patience_spent(state, config)  # window steps 5-8: 0.5, before: 0.8
    assert patience_spent(state, replace(config, early_stopping_loss_delta=None))
    settled = _history((2, 4, 6, 8), {1: 0.9, 3: 0.5, 5: 0.49, 7: 0.47})
    assert patience_spent(replace(state, history=settled), config)  # 0.47 vs 0.5: < 0.05
    assert not patience_spent(replace(state, history=settled), replace(config, eval_every=4))
    # the window reaches back past every logged loss: nothing to compare, no stop yet


def test_training_loss_settled_compares_lowest_losses_either_side_of_the_window():
    history = _history((), {10: 1.0, 20: 0.7, 30: 0.72, 40: 0.69})
    assert training_loss_settled(history, 40, 20, 0.05)  # 0.69 against 0.7
    assert not training_loss_settled(history, 40, 30, 0.05)  # 0.69 against 1.0
    assert not training_loss_settled(history, 40, 40, 0.05)  # no loss before the window
    assert not training_loss_settled(history, 50, 5, 0.05)  # no loss inside the window


def test_the_loss_delta_is_checked_and_hashed_only_when_set():
    config = tiny_config(**STOPPING)
    with pytest.raises(ConfigError, match="early_stopping_loss_delta"):
        replace(config, early_stopping_loss_delta=0.0).validate()
    assert replace(config, early_stopping_loss_delta=None).config_hash() == config.config_hash()
    assert replace(config, early_stopping_loss_delta=0.02).config_hash() != config.config_hash()


def test_an_end_to_end_run_stops_where_the_loss_settles(tmp_path):
    """The tiny task's accuracy plateaus at once (patience alone stops it within a few steps)
    while its training loss keeps falling: with the delta the run stops at the first
    validation where the loss has settled, not before."""
    config = tiny_config(**STOPPING, early_stopping_loss_delta=0.05)
    result = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    patience_only = run_one(
        replace(config, early_stopping_loss_delta=None),
        RunOptions("t", runs_dir=tmp_path),
        echo=lambda _: None,
    )
    log = read_jsonl(result.directory / "train_log.jsonl")
    stop, window = result.metrics["steps"], config.early_stopping_patience * config.eval_every
    assert patience_only.metrics["steps"] < stop < config.max_steps
    assert training_loss_settled(log, stop, window, 0.05)
    earlier = [r for r in log if r["step"] <= stop - config.eval_every]
    assert not training_loss_settled(earlier, stop - config.eval_every, window, 0.05)
