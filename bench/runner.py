"""One run end to end: data -> batches -> strategy loss -> trainer -> test predictions -> store.

``run_one`` is what ``bench run`` calls for every planned run; a finished run with the same
config hash is a cache hit and is not retrained.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from accelerate import PartialState

from bench.batching import cached_encode_pairs
from bench.config import RunConfig
from bench.data import DatasetSplits, LoadOptions, apply_noise, load_dataset, resolve_data_dir
from bench.evaluate import EvalSettings, evaluate
from bench.models import fuse_activations, load_model
from bench.provenance import environment_record, file_sha256
from bench.store import (
    FINISHED,
    check_same_config,
    is_finished,
    move_aside,
    read_json,
    run_dir,
    run_lock,
    write_json,
    write_jsonl,
)
from bench.strategy import EXPLAIN_PREFIX, PREDICT_PREFIX, STRATEGIES
from bench.tokenizer import default_cache_dir
from bench.trainer import load_best, make_accelerator, train

TOKENIZER_EXTRA_TEXT = f"{PREDICT_PREFIX} {EXPLAIN_PREFIX} So the answer is"


@dataclass(frozen=True)
class RunResult:
    """Where a run lives, whether it was a cache hit, and its metrics."""

    directory: Path
    cached: bool
    metrics: dict


@functools.lru_cache(maxsize=8)
def _load_cached(
    name: str,
    options: LoadOptions,
    subsample: float,
    subsample_seed: int,
    max_train: int | None,
    max_eval: int | None,
    full_test: bool,
) -> DatasetSplits:
    return load_dataset(
        name,
        options,
        subsample=subsample,
        subsample_seed=subsample_seed,
        max_train=max_train,
        max_eval=max_eval,
        full_test=full_test,
    )


def load_run_data(config: RunConfig, data_dir: str | Path | None = None) -> DatasetSplits:
    """The run's splits before noise (loads are cached in-process across runs)."""
    options = LoadOptions(
        resolve_data_dir(data_dir), config.teacher, config.label_type, config.synth
    )
    return _load_cached(
        config.dataset,
        options,
        config.subsample,
        config.subsample_seed,
        config.max_train,
        config.max_eval,
        config.full_test,
    )


def tokenizer_corpus(splits: DatasetSplits) -> list[str]:
    """The text a preset's tokenizer is trained on: clean train inputs, rationales and labels.

    Strategy- and noise-independent, so every run on the same data shares one tokenizer.
    """
    texts = [TOKENIZER_EXTRA_TEXT]
    for ex in splits.train:
        texts.extend((*ex.input_parts, ex.rationale, ex.label, *ex.candidates))
    return texts


def run_one(
    config: RunConfig,
    *,
    suite: str,
    profile: str | None = None,
    runs_dir: str | Path = "runs",
    data_dir: str | Path | None = None,
    force: bool = False,
    echo: Callable[[str], None] = print,
    interrupt_at_step: int | None = None,
    on_validation: Callable[[int, dict], None] | None = None,
) -> RunResult:
    """Train and evaluate one run, or return the finished run with the same config.

    ``on_validation(step, metrics)`` is called after each validation evaluation (see
    :func:`bench.trainer.train`).
    """
    config.validate()
    directory = run_dir(Path(runs_dir), suite, config)
    # one process, or one of several under `accelerate launch` / `torchrun` (gloo on a CPU host)
    process = PartialState(cpu=not torch.cuda.is_available())
    finished = is_finished(directory)
    process.wait_for_everyone()
    if finished:
        check_same_config(directory, config)
        if not force:
            return RunResult(directory, True, read_json(directory / "metrics.json"))
        if process.is_main_process:
            echo(f"--force: previous run moved to {move_aside(directory)}")
        process.wait_for_everyone()
    with run_lock(directory) if process.is_main_process else nullcontext():
        return _train_and_evaluate(
            config, (suite, profile), directory, data_dir, interrupt_at_step, on_validation
        )


def _record_start(
    directory: Path, config: RunConfig, origin: tuple[str, str | None], loaded, env: dict
) -> None:
    """Write the resolved config (first), the tokenizer and the environment record."""
    suite, profile = origin
    write_json(
        directory / "config.json",
        {
            "suite": suite,
            "profile": profile,
            "config_hash": config.config_hash(),
            "seed": config.seed,
            "config": config.to_dict(),
        },
    )
    if loaded.tokenizer_file is not None:
        shutil.copyfile(loaded.tokenizer_file, directory / "tokenizer.json")
    elif getattr(loaded.tokenizer, "backend_tokenizer", None) is not None:
        loaded.tokenizer.backend_tokenizer.save(str(directory / "tokenizer.json"))
    write_json(directory / "env.json", env)


def _train_and_evaluate(
    config: RunConfig,
    origin: tuple[str, str | None],
    directory: Path,
    data_dir: str | Path | None,
    interrupt_at_step: int | None,
    on_validation: Callable[[int, dict], None] | None,
) -> RunResult:
    check_same_config(directory, config)
    started = time.perf_counter()
    splits = load_run_data(config, data_dir)
    train_examples = apply_noise(splits.train, config.noise)
    strategy = STRATEGIES.get(config.strategy)(config)
    accelerator = make_accelerator(config)
    main = accelerator.is_main_process
    with accelerator.main_process_first():  # one process trains a preset's tokenizer
        loaded = load_model(
            config.model,
            tokenizer_corpus(splits),
            config.vocab_size,
            config.seed,
            config.tokenizer,
        )
    model, tokenizer = loaded.model, loaded.tokenizer
    if config.fused_activation:
        fuse_activations(model)
    strategy.setup(model)
    if main:
        env = {
            **environment_record(accelerator.device),
            "num_processes": accelerator.num_processes,
            "data_sources": splits.sources,
            "tokenizer_sha256": file_sha256(loaded.tokenizer_file)
            if loaded.tokenizer_file
            else None,
            "n_examples": {
                "train": len(train_examples),
                "valid": len(splits.valid),
                "test": len(splits.test),
            },
        }
        _record_start(directory, config, origin, loaded, env)
    sep = tokenizer.eos_token
    encoded = cached_encode_pairs(
        tokenizer,
        [strategy.training_pairs(ex, sep) for ex in train_examples],
        config.max_input_length,
        config.max_target_length,
        default_cache_dir(),
    )
    settings = EvalSettings.for_run(config, splits.metric)
    state = train(
        config=config,
        accelerator=accelerator,
        model=model,
        tokenizer=tokenizer,
        strategy=strategy,
        encoded=encoded,
        valid=splits.valid,
        eval_settings=settings,
        work_dir=directory,
        interrupt_at_step=interrupt_at_step,
        on_validation=on_validation,
    )
    trained = time.perf_counter()

    model = accelerator.unwrap_model(model)
    test_settings = replace(settings, generate_rationales=config.generate_rationales)
    results = {"last": evaluate(model, tokenizer, strategy, splits.test, test_settings)}
    if state.best_step == state.step:
        results["best"] = results["last"]
    else:
        load_best(model, strategy, directory)
        results["best"] = evaluate(model, tokenizer, strategy, splits.test, test_settings)
    other = "last" if config.select == "best" else "best"
    files = {config.select: "predictions.jsonl", other: f"predictions-{other}.jsonl"}
    suite, profile = origin
    metrics = {
        "status": FINISHED,
        "suite": suite,
        "profile": profile,
        "dataset": config.dataset,
        "strategy": config.strategy,
        "seed": config.seed,
        "config_hash": config.config_hash(),
        "selected": config.select,
        "best_step": state.best_step,
        "steps": state.step,
        "valid_best_accuracy": state.best_accuracy,
        "test": {which: results[which][0] for which in ("best", "last")},
        "primary": results[config.select][0],
        "prediction_files": files,
        "timing": {"train_s": trained - started, "eval_s": time.perf_counter() - trained},
    }
    if main:
        for which, name in files.items():
            write_jsonl(directory / name, results[which][1])
        shutil.rmtree(directory / "checkpoints", ignore_errors=True)
        write_json(directory / "metrics.json", metrics)  # last: marks the run finished
    accelerator.wait_for_everyone()
    return RunResult(directory, False, metrics)
