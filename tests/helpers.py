"""Shared by the tests: a tiny T5 on a tiny synth task (seconds per run), a simulated crash,
what a resumed run must reproduce, and the CLI's one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from bench.config import RunConfig, apply_overrides
from bench.provenance import file_sha256
from bench.store import RunDir

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


@dataclass(frozen=True)
class RunNumbers:
    """What a resumed or repeated run must reproduce exactly (wall-clock rates aside)."""

    test: dict
    best_step: int | None
    steps: int
    predictions: dict[str, list[dict]]  # every prediction file's records, by file name
    log: list[dict]  # the training log without examples_per_s
    tokenizer: str  # sha256 of the run's tokenizer file


def run_numbers(directory: Path) -> RunNumbers:
    """The :class:`RunNumbers` of the finished run in ``directory``."""
    run = RunDir(directory)
    metrics = run.read_metrics()
    return RunNumbers(
        test=metrics["test"],
        best_step=metrics["best_step"],
        steps=metrics["steps"],
        predictions={n: run.read_predictions(n) for n in sorted(run.prediction_files().values())},
        log=[{k: v for k, v in r.items() if k != "examples_per_s"} for r in run.read_train_log()],
        tokenizer=file_sha256(run.tokenizer_file),
    )


def one_line_error(capsys, code: int, *needles: str) -> str:
    """The CLI's stderr after exit ``code``: checked to be one ``error:`` line (exit 2, no
    traceback) holding every needle."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@torch.no_grad()
def own_logprob(model, tokenizer, source: str, target: str) -> float:
    """log p(target | source) from the model's own ``labels=`` loss (token mean x tokens)."""
    inputs = tokenizer(source, return_tensors="pt")
    labels = tokenizer(target, return_tensors="pt")["input_ids"]
    loss = model(**inputs, labels=labels).loss
    return -float(loss) * labels.shape[1]
