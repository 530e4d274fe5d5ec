"""Experiment trackers for a run: ``--log-with tensorboard|wandb|mlflow`` through Accelerate.

A run option, not a config key (hashes do not change). The trainer calls ``accelerator.log``
with every training-log record (``train/<term>``: each unweighted loss term, ``train/total``,
``train/lr``, ``train/examples_per_s``) and every validation evaluation (``valid/<metric>``), at
the same steps as ``train_log.jsonl``; the resolved config (dotted keys) is the run's
hyperparameters. TensorBoard writes its event files into ``<run>/trackers/cotbench/``
(``tensorboard --logdir runs`` shows every run); W&B and MLflow log to wherever they are
configured (project ``cotbench``, the run named ``<suite>/<dataset>/<strategy>/<hash>/seed-<n>``).
Each tracker is an optional extra; a missing one fails before any training with the command that
installs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import ConfigError

PROJECT = "cotbench"
TRACKER_DIR = "trackers"  # in the run directory: TensorBoard's event files
TRACKERS = ("tensorboard", "wandb", "mlflow")


def _available(name: str) -> bool:
    from accelerate.utils import (
        is_mlflow_available,
        is_tensorboard_available,
        is_wandb_available,
    )

    checks = {
        "tensorboard": is_tensorboard_available,
        "wandb": is_wandb_available,
        "mlflow": is_mlflow_available,
    }
    return checks[name]()


def check_trackers(names: Sequence[str] | str | None) -> tuple[str, ...]:
    """The tracker names of ``--log-with`` (comma-separated text or a list), each known and
    installed; ConfigError naming the extra to install otherwise."""
    if not names:
        return ()
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    for name in names:
        if name not in TRACKERS:
            raise ConfigError(f"--log-with {name}: unknown tracker; known: {', '.join(TRACKERS)}")
        if not _available(name):
            raise ConfigError(
                f"--log-with {name}: the {name} package is not installed: "
                f"pip install 'cotbench[{name}]'"
            )
    return tuple(dict.fromkeys(names))


def hyperparameters(config: Mapping[str, Any]) -> dict[str, int | float | str | bool]:
    """The resolved config as flat dotted keys, every value a tracker accepts (None -> "null")."""
    from bench.config import flatten

    return {
        key: value if isinstance(value, int | float | str | bool) else str(value).lower()
        for key, value in flatten(config).items()
    }


def start_trackers(accelerator: Any, config: Any, run_name: str) -> None:
    """``init_trackers`` with the run's config and name (nothing when none were asked for)."""
    if not accelerator.log_with:
        return
    accelerator.init_trackers(
        PROJECT,
        config=hyperparameters(config.to_dict()),
        init_kwargs={"wandb": {"name": run_name}, "mlflow": {"run_name": run_name}},
    )


def finish_trackers(accelerator: Any) -> None:
    """Close the trackers (not ``end_training``, which also ends the process group that the
    test evaluation of a multi-process run still uses)."""
    for tracker in accelerator.trackers:
        tracker.finish()


def tracker_dir(directory: Path) -> Path:
    """Where a run's TensorBoard event files go: ``<run>/trackers`` (then ``cotbench/``)."""
    return directory / TRACKER_DIR
