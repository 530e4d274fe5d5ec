"""The training loop shared by every strategy, on Hugging Face Accelerate.

One optimizer step: ``grad_accum`` micro-batches, each ``strategy.loss(model, batch)``, backward,
gradient clipping, AdamW, linear schedule. Every ``eval_every`` steps the model is scored on the
VALIDATION split and the best weights are kept; test is never looked at here. Every
``checkpoint_every`` steps a resumable checkpoint (model, optimizer, scheduler, RNG states via
``Accelerator.save_state``, plus the loop's own state) is written atomically; a restarted run
resumes from the latest one, and because the batch order is a pure function of (seed, step) it
ends with the same numbers as an uninterrupted run on CPU. Each checkpoint lists the sha256 of
its files (``files.json``); one that does not match (a truncated or unreadable file) is moved
aside with a message and training resumes from the previous good one, or from step 0. A
non-finite training loss stops the run with an error instead of training on NaN. With
``early_stopping_patience`` the loop ends early once that many validations in a row bring no
new best (the learning-rate schedule still runs over ``max_steps``), and with
``early_stopping_loss_delta`` only once the training loss has stopped falling as well.

Under ``accelerate launch`` with several processes each process trains on its share of every
batch (gradients are averaged by DDP), every process evaluates (identical weights give identical
numbers), and only the main process writes files.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import set_seed
from torch import nn
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from bench.batching import BatchOrder, EncodedTask, collate, grouping_lengths
from bench.config import RunConfig
from bench.data import Example
from bench.errors import BenchError
from bench.evaluate import EvalSettings, evaluate
from bench.faults import crash_point
from bench.provenance import file_sha256
from bench.store import RunDir, write_json, write_jsonl
from bench.strategy import Batch, Strategy
from bench.tracking import finish_trackers, start_trackers


@dataclass
class TrainState:
    """The loop's own resumable state (the rest lives in Accelerate's checkpoint)."""

    step: int = 0
    best_step: int | None = None
    best_accuracy: float = float("-inf")
    history: list[dict] = field(default_factory=list)  # logged steps and validation evaluations


class TrainingModule(nn.Module):
    """Model + strategy as one module, so Accelerate prepares and checkpoints both."""

    def __init__(self, model: nn.Module, strategy: Strategy) -> None:
        super().__init__()
        self.model = model
        self.strategy = strategy

    def forward(self, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = self.strategy.loss(self.model, batch)
        return out.total, out.parts


def make_accelerator(
    config: RunConfig, log_with: Sequence[str] = (), logging_dir: Path | None = None
) -> Accelerator:
    """An Accelerator with the run's precision; deterministic algorithms on CPU; the
    experiment trackers ``log_with`` (:mod:`bench.tracking`) writing under ``logging_dir``.

    Accelerate keeps one precision per process (``AcceleratorState`` is a singleton), so a run
    whose precision differs from the previous run's in this process resets it first (the
    process group, ``PartialState``, stays).
    """
    mixed_precision = "bf16" if config.precision == "bf16" else "no"
    if AcceleratorState._shared_state.get("_mixed_precision", mixed_precision) != mixed_precision:
        AcceleratorState._reset_state(reset_partial_state=False)
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        log_with=list(log_with) or None,
        project_dir=str(logging_dir) if log_with and logging_dir else None,
    )
    if accelerator.device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    return accelerator


def _to_device(batch: Batch, device: torch.device) -> Batch:
    return {task: {k: v.to(device) for k, v in tensors.items()} for task, tensors in batch.items()}


CHECKSUMS = "files.json"  # in each checkpoint: {file name: sha256} of every other file


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at ``path`` cannot be resumed from, or None when it can."""
    try:
        state = TrainState(**json.loads((path / "trainer_state.json").read_text()))
        listed = json.loads((path / CHECKSUMS).read_text())
    except (OSError, ValueError, TypeError) as err:
        return f"{type(err).__name__}: {err}"
    if state.best_step is not None and not (path.parent / RunDir.BEST_CHECKPOINT).is_file():
        return f"{RunDir.BEST_CHECKPOINT} missing"
    for name, digest in sorted(listed.items()):
        try:
            if file_sha256(path / name) != digest:
                return f"{name} does not match its sha256"
        except OSError as err:
            return f"{name}: {err.strerror or err}"
    return None


def _resume_point(directory: Path, echo: Callable[[str], None]) -> Path | None:
    """The latest good checkpoint; damaged ones are renamed ``damaged-step-*`` and reported."""
    damaged = False
    for path in sorted(directory.glob("step-*"), reverse=True):
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        path.rename(path.with_name(f"damaged-{path.name}"))
        echo(f"{path}: damaged checkpoint ({problem}); moved aside")
        damaged = True
    if damaged:
        echo(f"{directory}: no good checkpoint left; training restarts from step 0")
    return None


def _save_checkpoint(accelerator: Accelerator, state: TrainState, directory: Path) -> None:
    """Every process saves its part (Accelerate writes per-process RNG states); the main
    process then renames the finished directory into place and drops older ones."""
    tmp = directory / f".tmp-step-{state.step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written temp dir from a crash
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=False)  # T5 shares its embeddings
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(tmp / "trainer_state.json", asdict(state))
        files = sorted(p for p in tmp.iterdir() if p.is_file())
        write_json(tmp / CHECKSUMS, {p.name: file_sha256(p) for p in files})
        final = directory / f"step-{state.step:08d}"
        tmp.rename(final)
        crash_point("checkpoint-saved")
        for old in directory.glob("step-*"):
            if old != final:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def broadcast_object(accelerator: Accelerator, value: object) -> object:
    """The main process's ``value`` on every process."""
    if accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]


def _save_best(accelerator: Accelerator, module: nn.Module, path: Path) -> None:
    if accelerator.is_main_process:
        tmp = path.with_suffix(".tmp")
        torch.save(module.state_dict(), tmp)
        tmp.replace(path)
    accelerator.wait_for_everyone()


@dataclass(frozen=True)
class TrainingJob:
    """What one run trains: the model with its tokenizer and strategy, the encoded training
    pairs, and the validation split with its evaluation settings."""

    config: RunConfig
    accelerator: Accelerator
    model: nn.Module
    tokenizer: PreTrainedTokenizerBase
    strategy: Strategy
    encoded: dict[str, EncodedTask]
    valid: Sequence[Example]
    eval_settings: EvalSettings


@dataclass(frozen=True)
class TrainHooks:
    """Where the loop reports; an exception raised by a callback stops training and propagates.

    ``on_step(step)`` runs after every optimizer step, once its checkpoint (when due) is saved
    (tests raise there to simulate a crash); ``on_validation(step, metrics)`` after every
    validation evaluation (e.g. to report to an Optuna pruner).
    """

    echo: Callable[[str], None] = print
    on_step: Callable[[int], None] | None = None
    on_validation: Callable[[int, dict], None] | None = None


def train(
    job: TrainingJob, run: RunDir, hooks: TrainHooks, run_name: str | None = None
) -> TrainState:
    """Train ``job``'s model with its strategy; returns the final loop state.

    The best-on-validation weights are left in ``run.best_checkpoint`` (model + strategy state
    dict); the model in memory holds the last weights. The accelerator's trackers
    (:mod:`bench.tracking`; ``run_name`` names the run there) follow the loop.
    """
    start_trackers(job.accelerator, job.config, run_name or run.name)
    try:
        return _train(job, run, hooks)
    finally:
        finish_trackers(job.accelerator)


def _train(job: TrainingJob, run: RunDir, hooks: TrainHooks) -> TrainState:
    """The loop of :func:`train`."""
    config, accelerator, encoded = job.config, job.accelerator, job.encoded
    set_seed(config.seed)
    ckpt_dir = run.checkpoints_dir
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    module = TrainingModule(job.model, job.strategy)
    optimizer = torch.optim.AdamW(
        module.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = get_linear_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    module, optimizer, scheduler = accelerator.prepare(module, optimizer, scheduler)

    state = TrainState()
    latest = _resume_point(ckpt_dir, hooks.echo) if accelerator.is_main_process else None
    latest = broadcast_object(accelerator, latest)
    if latest is not None:
        accelerator.load_state(str(latest))
        state = TrainState(**json.loads((latest / "trainer_state.json").read_text()))

    order = BatchOrder(
        len(next(iter(encoded.values()))),
        config.batch_size,
        config.seed,
        grouping_lengths(encoded, config.length_grouping_by) if config.length_grouping else None,
    )
    unwrapped = accelerator.unwrap_model(module)
    bar = tqdm(
        total=config.max_steps,
        initial=state.step,
        desc=f"{config.strategy} {config.dataset}",
        disable=None if accelerator.is_main_process else True,
        leave=False,
    )
    window: dict[str, float] = {}
    window_steps, window_examples, window_start = 0, 0, time.perf_counter()
    module.train()
    while state.step < config.max_steps and not patience_spent(state, config):
        for micro in range(config.grad_accum):
            indices = order.indices(state.step * config.grad_accum + micro)[
                accelerator.process_index :: accelerator.num_processes
            ]  # this process's share
            batch = _to_device(collate(encoded, indices), accelerator.device)
            with accelerator.autocast():
                total, parts = module(batch)
            accelerator.backward(total / config.grad_accum)
            for name, value in parts.items():  # each term is logged, unweighted
                window[name] = window.get(name, 0.0) + value.item() / config.grad_accum
            if not math.isfinite(total.item()):
                raise BenchError(
                    f"{config.strategy} on {config.dataset}: training loss is {total.item()} at "
                    f"step {state.step + 1} (lr {config.lr}); the run is not finished"
                )
            window["total"] = window.get("total", 0.0) + total.item() / config.grad_accum
            window_examples += len(indices)
        accelerator.clip_grad_norm_(module.parameters(), config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        state.step += 1
        window_steps += 1
        bar.update(1)

        if state.step % config.log_every == 0 or state.step == config.max_steps:
            elapsed = time.perf_counter() - window_start
            record = {k: v / window_steps for k, v in window.items()}
            record.update(
                step=state.step,
                lr=scheduler.get_last_lr()[0],
                examples_per_s=window_examples / max(elapsed, 1e-9),
            )
            state.history.append({"kind": "train", **record})
            accelerator.log(_scalars("train", record), step=state.step)  # no-op without trackers
            bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k not in {"step", "lr"}})
            window, window_steps, window_examples = {}, 0, 0
            window_start = time.perf_counter()

        if state.step % config.eval_every == 0 or state.step == config.max_steps:
            metrics = evaluate(
                unwrapped.model,
                job.tokenizer,
                unwrapped.strategy,
                job.valid,
                job.eval_settings,
                "validating",
            ).metrics
            state.history.append({"kind": "valid", "step": state.step, **metrics})
            accelerator.log(_scalars("valid", metrics), step=state.step)
            if metrics["accuracy"] > state.best_accuracy:
                state.best_accuracy, state.best_step = metrics["accuracy"], state.step
                _save_best(accelerator, unwrapped, run.best_checkpoint)
            if hooks.on_validation is not None:
                hooks.on_validation(state.step, metrics)

        if state.step % config.checkpoint_every == 0 and state.step < config.max_steps:
            _save_checkpoint(accelerator, state, ckpt_dir)
            if accelerator.is_main_process:
                write_jsonl(run.train_log_file, state.history)
        if hooks.on_step is not None:
            hooks.on_step(state.step)
    bar.close()
    if accelerator.is_main_process:
        write_jsonl(run.train_log_file, state.history)
    return state


def _scalars(prefix: str, record: dict) -> dict[str, float]:
    """``{"pred": 1.2, "step": 3}`` -> ``{"train/pred": 1.2}``: the numbers a tracker plots."""
    return {
        f"{prefix}/{k}": v
        for k, v in record.items()
        if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)
    }


def patience_spent(state: TrainState, config: RunConfig) -> bool:
    """Early stopping: the last ``early_stopping_patience`` validations brought no new best,
    the run has reached ``early_stopping_min_steps`` and, with ``early_stopping_loss_delta``,
    the training loss has settled too (:func:`training_loss_settled`).

    Read from the logged history, so a resumed run stops where an uninterrupted one does.
    """
    patience = config.early_stopping_patience
    if patience is None or state.best_step is None:
        return False
    if state.step < config.early_stopping_min_steps:
        return False
    since_best = [r for r in state.history if r["kind"] == "valid" and r["step"] > state.best_step]
    if len(since_best) < patience:
        return False
    delta = config.early_stopping_loss_delta
    return delta is None or training_loss_settled(
        state.history, state.step, patience * config.eval_every, delta
    )


def training_loss_settled(history: Sequence[dict], step: int, window: int, delta: float) -> bool:
    """The lowest logged training loss (``total``) of the last ``window`` steps is less than
    ``delta`` below the lowest logged before them: no branch of the loss is still descending.

    Accuracy alone misses a branch that learns while the label is flat (DSS's explain loss
    falling while its answers stay at chance).
    """
    cut = step - window
    losses = [(r["step"], r["total"]) for r in history if r["kind"] == "train"]
    before = [loss for at, loss in losses if at <= cut]
    recent = [loss for at, loss in losses if at > cut]
    if not before or not recent:
        return False
    return min(before) - min(recent) < delta


def load_best(module_model: nn.Module, strategy: Strategy, run: RunDir) -> None:
    """Load the best-on-validation weights saved by :func:`train` into model and strategy."""
    state = torch.load(run.best_checkpoint, map_location="cpu", weights_only=True)
    TrainingModule(module_model, strategy).load_state_dict(state)
