"""Planning and executing a list of runs: the dry-run table and the executor."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.config import RunConfig
from bench.executors import Execution, Outcome, run_configs
from bench.runner import RunOptions, RunResult, load_run_data
from bench.store import FINISHED, DamagedRun, RunDir
from bench.text import plural


def _state(run: RunDir) -> str:
    """The run's state, ``damaged`` for a damaged run."""
    try:
        return run.state()
    except DamagedRun:
        return "damaged"


def _estimate_seconds(configs: list[RunConfig], runs_dir: Path, suite: str) -> float | None:
    """Mean wall time of finished runs with the same model and schedule, times the runs left."""
    seen = []
    for config in configs:
        run = RunDir.of(runs_dir, suite, config)
        if _state(run) == FINISHED:
            timing = run.read_metrics().get("timing", {})
            seen.append(timing.get("train_s", 0) + timing.get("eval_s", 0))
    if not seen:
        return None
    return sum(seen) / len(seen)


def describe_plan(
    suite: str,
    profile: str,
    configs: list[RunConfig],
    runs_dir: str | Path,
    notes: list[str] | None = None,
) -> str:
    """One line per run (cache hit or to train) and a total: steps, examples, estimated time.

    ``notes`` (one per config) end each run's line, e.g. an ablation's ``alpha3=0.1``.
    """
    runs_dir = Path(runs_dir)
    lines = [f"suite {suite}, profile {profile}: {plural(len(configs), 'run')}"]
    todo = 0
    examples = 0
    notes = notes or [""] * len(configs)
    for config, note in zip(configs, notes, strict=True):
        state = _state(RunDir.of(runs_dir, suite, config))
        hit = state == FINISHED
        todo += not hit
        if not hit:
            examples += config.max_steps * config.batch_size * config.grad_accum
        label = {FINISHED: "cached", "damaged": "DAMAGED"}.get(state, "train")
        lines.append(
            f"  {label:7s} {config.dataset:6s} {config.strategy:12s} "
            f"seed {config.seed}  {config.model}  {config.max_steps} steps  "
            f"[{config.config_hash()}]" + (f"  {note}" if note else "")
        )
    per_run = _estimate_seconds(configs, runs_dir, suite)
    estimate = f", ~{per_run * todo / 60:.1f} min (from finished runs)" if per_run and todo else ""
    lines.append(
        f"to train: {plural(todo, 'run')}, {plural(examples, 'training example')} "
        f"processed{estimate}"
    )
    return "\n".join(lines)


def execute_plan(
    configs: list[RunConfig], options: RunOptions, execution: Execution | None = None
) -> list[RunResult]:
    """Run every config with ``options``; print one line per run with its test accuracy.

    Every dataset of the plan is loaded and every existing run checked first, so missing or
    malformed data and damaged runs (without ``options.force``) fail before any training
    starts. ``execution`` (default: one run at a time, in this process) trains ``jobs`` runs at
    once, each in its own process, or spreads them over GPUs or a Ray cluster
    (:mod:`bench.executors`). Every run trains with ``execution.threads`` torch threads
    (default :data:`bench.runner.DEFAULT_THREADS`; a Ray task's reserved CPUs) whatever
    ``jobs`` is, so its numbers do not depend on ``jobs``; results come back in plan order.
    """
    execution = (execution or Execution()).validate()
    for config in configs:
        load_run_data(config, options.data_dir)
    if not options.force:
        for config in configs:
            options.run_dir(config).state()  # DamagedRun names the run
    threads = (
        options.threads
        or execution.threads
        or (execution.cpus_per_run if execution.executor == "ray" else None)
    )
    return run_configs(
        configs,
        replace(options, threads=threads),
        execution,
        lambda n, outcome: _report(n, len(configs), outcome),
    )


def _report(i: int, total: int, outcome: Outcome) -> RunResult:
    result, config, seconds = outcome
    status = "cached" if result.cached else f"{seconds:.0f}s"
    acc = result.metrics["primary"]["accuracy"]
    print(
        f"[{i}/{total}] {config.dataset} {config.strategy} seed {config.seed}: "
        f"test acc {acc:.4f} ({status}) -> {result.directory}",
        flush=True,
    )
    return result
