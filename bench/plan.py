"""Planning and executing a list of runs: the dry-run table and the executor."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from bench.config import RunConfig
from bench.errors import ConfigError
from bench.runner import DEFAULT_THREADS, RunResult, load_run_data, run_one
from bench.store import FINISHED, DamagedRun, read_json, run_dir, run_state


def _state(directory: Path) -> str:
    """The run's state, ``damaged`` for a damaged run."""
    try:
        return run_state(directory)
    except DamagedRun:
        return "damaged"


def _estimate_seconds(configs: list[RunConfig], runs_dir: Path, suite: str) -> float | None:
    """Mean wall time of finished runs with the same model and schedule, times the runs left."""
    seen = []
    for config in configs:
        directory = run_dir(runs_dir, suite, config)
        if _state(directory) == FINISHED:
            timing = read_json(directory / "metrics.json").get("timing", {})
            seen.append(timing.get("train_s", 0) + timing.get("eval_s", 0))
    if not seen:
        return None
    return sum(seen) / len(seen)


def describe_plan(suite: str, profile: str, configs: list[RunConfig], runs_dir: str | Path) -> str:
    """One line per run (cache hit or to train) and a total: steps, examples, estimated time."""
    runs_dir = Path(runs_dir)
    lines = [f"suite {suite}, profile {profile}: {len(configs)} runs"]
    todo = 0
    examples = 0
    for config in configs:
        state = _state(run_dir(runs_dir, suite, config))
        hit = state == FINISHED
        todo += not hit
        if not hit:
            examples += config.max_steps * config.batch_size * config.grad_accum
        label = {FINISHED: "cached", "damaged": "DAMAGED"}.get(state, "train")
        lines.append(
            f"  {label:7s} {config.dataset:6s} {config.strategy:12s} "
            f"seed {config.seed}  {config.model}  {config.max_steps} steps  "
            f"[{config.config_hash()}]"
        )
    per_run = _estimate_seconds(configs, runs_dir, suite)
    estimate = f", ~{per_run * todo / 60:.1f} min (from finished runs)" if per_run and todo else ""
    lines.append(f"to train: {todo} runs, {examples:,} training examples processed{estimate}")
    return "\n".join(lines)


def execute_plan(
    suite: str,
    profile: str | None,
    configs: list[RunConfig],
    *,
    runs_dir: str | Path,
    data_dir: str | Path | None,
    force: bool = False,
    jobs: int = 1,
    threads: int | None = None,
) -> list[RunResult]:
    """Run every config; print one line per run with its test accuracy.

    Every dataset of the plan is loaded and every existing run checked first, so missing or
    malformed data and damaged runs (without ``force``) fail before any training starts.
    ``jobs > 1`` trains that many runs at once, each in its own process; every run trains with
    ``threads`` torch threads (default :data:`bench.runner.DEFAULT_THREADS`) whatever ``jobs``
    is, so its numbers do not depend on ``jobs``; results come back in plan order.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs {jobs}: expected an integer >= 1")
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads {threads}: expected an integer >= 1")
    for config in configs:
        load_run_data(config, data_dir)
    if not force:
        for config in configs:
            run_state(run_dir(Path(runs_dir), suite, config))  # DamagedRun names the run
    kwargs = dict(
        suite=suite,
        profile=profile,
        runs_dir=runs_dir,
        data_dir=data_dir,
        force=force,
        threads=threads,
    )
    if jobs == 1:
        return [_report(i, len(configs), _timed_run(c, kwargs)) for i, c in enumerate(configs, 1)]
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        jobs, context, initializer=_worker_init, initargs=(threads or DEFAULT_THREADS,)
    )
    with pool:
        futures = [pool.submit(_timed_run, c, kwargs) for c in configs]
        done = {}
        for future in as_completed(futures):
            done[futures.index(future)] = future.result()
            _report(len(done), len(configs), done[futures.index(future)])
    return [done[i][0] for i in range(len(configs))]


def _worker_init(threads: int) -> None:
    """A ``--jobs`` worker: ``threads`` torch threads; Ctrl-C ends it without a traceback (the
    main process reports it; the run resumes from its last checkpoint)."""
    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))


def _timed_run(config: RunConfig, kwargs: dict) -> tuple[RunResult, RunConfig, float]:
    start = time.perf_counter()
    return run_one(config, **kwargs), config, time.perf_counter() - start


def _report(i: int, total: int, outcome: tuple[RunResult, RunConfig, float]) -> RunResult:
    result, config, seconds = outcome
    status = "cached" if result.cached else f"{seconds:.0f}s"
    acc = result.metrics["primary"]["accuracy"]
    print(
        f"[{i}/{total}] {config.dataset} {config.strategy} seed {config.seed}: "
        f"test acc {acc:.4f} ({status}) -> {result.directory}",
        flush=True,
    )
    return result
