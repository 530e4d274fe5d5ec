"""The objective of a sweep trial: mean VALIDATION accuracy of its runs (never test).

A trial's parameters become config overrides of the planned runs (:meth:`SweepSpec.plan`), which
train through the run store: a finished run with the same config is a cache hit, so a repeated
sweep gets its values at once. Each validation evaluation is reported to the pruner
(``trial.report`` + ``trial.should_prune`` from ``run_one``'s ``on_validation``); a trial with
several runs reports them one after another on a shared step axis.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.runner import RunOptions, run_one
from bench.store import RunDir
from sweeps.liveness import WORKER_ATTR
from sweeps.spec import SweepSpec

STUDY_ATTR = "study"  # trial user attr: the study name
NUMBER_ATTR = "trial_number"  # trial user attr: the trial's number
RUNS_ATTR = "run_dirs"  # trial user attr: the trial's run directories


class Objective:
    """Callable objective of one worker; ``on_start`` runs once the trial is tagged."""

    def __init__(
        self, spec: SweepSpec, worker_tag: dict[str, Any], on_start: Callable[[], None]
    ) -> None:
        self.spec = spec
        self.worker_tag = worker_tag
        self.on_start = on_start

    def __call__(self, trial: Any) -> float:
        trial.set_user_attr(WORKER_ATTR, self.worker_tag)
        trial.set_user_attr(STUDY_ATTR, self.spec.study)
        trial.set_user_attr(NUMBER_ATTR, trial.number)
        self.on_start()
        plan = self.spec.plan(self.spec.space.suggest(trial))
        runs_dir = Path(self.spec.runs_dir)
        runs = [RunDir.of(runs_dir, plan.suite, c) for c in plan.configs]
        trial.set_user_attr(RUNS_ATTR, [str(run.path) for run in runs])
        scores = []
        offset = 0  # step offset of the current run on the trial's step axis
        for config in plan.configs:
            scores.append(self._run(trial, config, (plan.suite, plan.profile), offset))
            offset += config.max_steps
        return sum(scores) / len(scores)

    def _run(
        self,
        trial: Any,
        config: RunConfig,
        origin: tuple[str, str],
        offset: int,
    ) -> float:
        import optuna

        def report(step: int, metrics: dict) -> None:
            trial.report(metrics["accuracy"], offset + step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"{config.dataset} {config.strategy} at step {step}")

        suite, profile = origin
        options = RunOptions(suite, profile, self.spec.runs_dir, self.spec.data_dir)
        result = run_one(config, options, on_validation=report)
        # run_one holds the run's lock: a trial with another worker's parameters waits for that
        # worker's run and then reads it as a cache hit
        if result.cached:  # replay the validation curve so the pruner sees this trial
            for record in RunDir(result.directory).read_train_log():
                if record["kind"] == "valid":
                    trial.report(record["accuracy"], offset + record["step"])
        return result.metrics["valid_best_accuracy"]
