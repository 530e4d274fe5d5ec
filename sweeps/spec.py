"""A sweep's settings as one picklable record, and the run configs of a trial's parameters.

Workers are spawned processes, so everything they need travels in :class:`SweepSpec`. A trial's
runs are the planned runs of the suite (profile, datasets, strategies, seeds, ``--set``) with the
trial's parameters as config overrides: ordinary runs in the run store, shared with ``bench run``
and ``bench ablate`` through their config hash.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.config import RunConfig
from bench.suites import load_suite, plan_runs
from sweeps.spaces import SearchSpace
from sweeps.storage import storage_target


@dataclass(frozen=True)
class TrialPlan:
    """The runs of one parameter setting."""

    suite: str  # the suite's name (its runs live under <runs_dir>/<suite>/)
    profile: str
    configs: tuple[RunConfig, ...]


@dataclass(frozen=True)
class SweepSpec:
    """Everything a sweep (and each of its worker processes) needs."""

    study: str  # Optuna study name
    space: SearchSpace
    trials: int  # trials to finish (COMPLETE or PRUNED), over all workers together
    suite: str = "smoke"  # built-in suite name or suite YAML path
    profile: str | None = None  # None: the suite's default profile
    datasets: tuple[str, ...] | None = None  # None: the suite's
    strategies: tuple[str, ...] | None = None  # None: the space's, else the suite's
    seeds: tuple[int, ...] | None = None  # None: the profile's
    overrides: Mapping[str, Any] = field(default_factory=dict)  # --set, applied to every trial
    storage: str | None = None  # journal path or RDB URL; None: <runs_dir>/optuna/<study>.journal
    runs_dir: str = "runs"
    data_dir: str | None = None
    workers: int = 1  # worker processes on this machine
    timeout: float | None = None  # seconds after which no new trial starts
    sampler: str = "tpe"  # tpe, grid or random
    pruner: str = "median"  # median or none
    seed: int = 0  # sampler seed
    direction: str | None = None  # None: the space's

    @property
    def storage_target(self) -> str:
        """The journal file path or RDB URL."""
        return storage_target(self.storage, self.runs_dir, self.study)

    @property
    def optuna_dir(self) -> Path:
        """Where worker lock files and the trial-creation lock live."""
        return Path(self.runs_dir) / "optuna"

    @property
    def study_direction(self) -> str:
        """``maximize`` or ``minimize``."""
        return self.direction or self.space.direction

    def plan(self, params: Mapping[str, Any], seeds: Sequence[int] | None = None) -> TrialPlan:
        """The runs of ``params`` (config overrides), duplicates removed, validated."""
        suite = load_suite(self.suite)
        strategies = self.strategies or self.space.strategies
        profile, configs = plan_runs(
            suite,
            self.profile,
            datasets=list(self.datasets) if self.datasets else None,
            strategies=list(strategies) if strategies else None,
            seeds=list(seeds or self.seeds or []) or None,
            overrides={**self.overrides, **params},
        )
        unique = {(c.config_hash(), c.seed): c for c in configs}  # a strategy param merges rows
        return TrialPlan(suite.name, profile, tuple(unique.values()))

    def setup_record(self) -> dict[str, Any]:
        """What makes trials comparable; stored on the study and checked when it is resumed."""
        plan = self.plan({})
        record = {
            "space": self.space.to_dict(),
            "direction": self.study_direction,
            "suite": plan.suite,
            "profile": plan.profile,
            "datasets": sorted({c.dataset for c in plan.configs}),
            "strategies": sorted({c.strategy for c in plan.configs}),
            "seeds": sorted({c.seed for c in plan.configs}),
            "overrides": dict(self.overrides),
        }
        return json.loads(json.dumps(record))
