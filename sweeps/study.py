"""``bench sweep``: check everything, create or resume the Optuna study, run its workers.

:func:`prepare_study` fails before any training on a bad space, plan, data directory or storage,
and refuses to resume a study that was created with another setup (space, suite, profile,
datasets, strategies, seeds, ``--set``), whose values would not be comparable.
:func:`run_sweep` then runs the trials in this process (one worker) or in K spawned worker
processes, and leaves no trial of a dead worker RUNNING.
"""

from __future__ import annotations

import time
from typing import Any

from bench.errors import ConfigError
from bench.runner import load_run_data
from sweeps.samplers import make_pruner, make_sampler
from sweeps.spec import SweepSpec
from sweeps.storage import describe_storage, open_storage
from sweeps.workers import counted_trials, recover, run_workers, run_workers_on_ray, work

SETUP_ATTR = "cotbench_setup"  # study user attr: SweepSpec.setup_record() of its first run


def _check_plan(spec: SweepSpec) -> None:
    """Build the runs of every bound, choice and grid value (each parameter in turn) and load
    their data, so that a bad value or a missing dataset fails now."""
    first = {p.key: p.probe_values()[0] for p in spec.space.params}
    for param in spec.space.params:
        for value in param.probe_values():
            for config in spec.plan({**first, param.key: value}).configs:
                load_run_data(config, spec.data_dir)


def prepare_study(spec: SweepSpec) -> Any:
    """Validate ``spec`` and create the study, or load it and check that its setup matches."""
    import optuna

    if spec.trials < 1:
        raise ConfigError(f"--trials {spec.trials}: expected an integer >= 1")
    if spec.workers < 1:
        raise ConfigError(f"--jobs {spec.workers}: expected an integer >= 1")
    target = spec.storage_target
    if spec.workers > 1 and target.startswith("sqlite"):
        raise ConfigError(
            "sqlite storage is for one process; use the default journal file or postgresql:// "
            "with --jobs > 1"
        )
    if spec.sampler == "grid" and spec.trials > spec.space.grid_size():
        raise ConfigError(
            f"--trials {spec.trials}: the grid of space {spec.space.name} has only "
            f"{spec.space.grid_size()} points"
        )
    make_sampler(spec, 0)
    make_pruner(spec.pruner)
    _check_plan(spec)
    setup = spec.setup_record()
    study = optuna.create_study(
        study_name=spec.study,
        storage=open_storage(target),
        direction=spec.study_direction,
        load_if_exists=True,
    )
    recorded = study.user_attrs.get(SETUP_ATTR)
    if recorded is None:
        study.set_user_attr(SETUP_ATTR, setup)
    elif recorded != setup:
        changed = sorted(k for k in setup if recorded.get(k) != setup[k])
        raise ConfigError(
            f"study {spec.study} in storage {describe_storage(target)} was created with another "
            f"{', '.join(changed)}; choose another --study name"
        )
    return study


def run_sweep(spec: SweepSpec, execution: Any = None) -> Any:
    """Run the sweep to its trial budget (or timeout); returns the Optuna study.

    ``execution`` (a :class:`bench.executors.Execution` with ``executor="ray"``) runs the
    workers as Ray tasks instead of local processes.
    """
    study = prepare_study(spec)
    where = describe_storage(spec.storage_target)
    print(
        f"study {spec.study} ({where}): {counted_trials(study)}/{spec.trials} trials counted, "
        f"{spec.workers} worker(s), sampler {spec.sampler}, pruner {spec.pruner}",
        flush=True,
    )
    print(f"dashboard: optuna-dashboard {where}", flush=True)
    deadline = time.time() + spec.timeout if spec.timeout else None
    try:
        if execution is not None and execution.executor == "ray":
            run_workers_on_ray(spec, deadline, execution)
        elif spec.workers == 1:
            work(spec, 0, deadline)
        else:
            run_workers(spec, deadline)
    finally:
        recover(spec)
    return study
