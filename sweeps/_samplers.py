"""Optuna settings by name: samplers (seeded per worker), pruners, study directions.

``grid`` gives every worker the same seed: Optuna's grid sampler maps trial number k to the k-th
point of its seeded shuffle of the grid, so workers that share the seed never repeat a point.
``tpe`` and ``random`` seed worker i with ``seed + i`` so that workers do not draw the same
parameters; TPE runs with ``constant_liar`` when several workers share the study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.errors import ConfigError

if TYPE_CHECKING:
    from sweeps._spec import SweepSpec

SAMPLERS = ("tpe", "grid", "random")
PRUNERS = ("median", "none")
DIRECTIONS = ("maximize", "minimize")


def make_sampler(spec: SweepSpec, worker: int) -> Any:
    """The sampler of worker number ``worker``."""
    import optuna

    if spec.sampler == "grid":
        return optuna.samplers.GridSampler(spec.space.grid(), seed=spec.seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed + worker)
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=spec.seed + worker, constant_liar=spec.workers > 1)
    raise ConfigError(f"--sampler {spec.sampler}: expected one of {', '.join(SAMPLERS)}")


def make_pruner(name: str) -> Any:
    """``median`` (Optuna's MedianPruner over the validation evaluations) or ``none``."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner {name}: expected one of {', '.join(PRUNERS)}")
