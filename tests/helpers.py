"""Small configs shared by the tests: a tiny T5 on a tiny synth task (seconds per run)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.config import RunConfig, apply_overrides

TINY = {
    "dataset": "synth",
    "model": "tiny-t5-s",
    "vocab_size": 120,
    "synth": {"n_train": 48, "n_valid": 8, "n_test": 12, "steps": 2},
    "max_input_length": 48,
    "max_target_length": 48,
    "max_new_tokens": 24,
    "lr": 3e-3,
    "batch_size": 8,
    "max_steps": 6,
    "eval_every": 3,
    "checkpoint_every": 2,
    "log_every": 1,
    "eval_batch_size": 16,
}


def tiny_config(**overrides) -> RunConfig:
    """The tiny test config with ``overrides`` (dotted keys allowed)."""
    return apply_overrides(apply_overrides(RunConfig(), TINY), overrides).validate()


class Interrupted(Exception):
    """A simulated crash during training (raised by :func:`interrupt_at`)."""


def interrupt_at(step: int) -> Callable[[int], None]:
    """An ``on_step`` callback (``run_one``) that raises :class:`Interrupted` at ``step``."""

    def on_step(current: int) -> None:
        if current == step:
            raise Interrupted(f"interrupted at step {current}")

    return on_step


@torch.no_grad()
def own_logprob(model, tokenizer, source: str, target: str) -> float:
    """log p(target | source) from the model's own ``labels=`` loss (token mean x tokens)."""
    inputs = tokenizer(source, return_tensors="pt")
    labels = tokenizer(target, return_tensors="pt")["input_ids"]
    loss = model(**inputs, labels=labels).loss
    return -float(loss) * labels.shape[1]
