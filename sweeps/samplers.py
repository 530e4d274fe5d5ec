"""Optuna settings by name: samplers (seeded per worker), pruners, study directions.

``grid`` gives every worker the same seed: Optuna's grid sampler maps trial number k to the k-th
point of its seeded shuffle of the grid, so workers that share the seed never repeat a point.
``tpe`` and ``random`` seed worker i of a study that already holds n trials when the worker
starts with a seed derived from (``seed``, i, n), so that workers do not draw the same parameters
and a restarted or extended study does not replay the draws of its first start; TPE runs with
``constant_liar`` when several workers share the study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.errors import ConfigError

if TYPE_CHECKING:
    from sweeps.spec import SweepSpec

SAMPLERS = ("tpe", "grid", "random")
PRUNERS = ("median", "none")
DIRECTIONS = ("maximize", "minimize")


def sampler_seed(seed: int, worker: int, existing: int) -> int:
    """The seed of worker ``worker`` starting on a study with ``existing`` trials."""
    import numpy as np

    return int(np.random.SeedSequence([seed, worker, existing]).generate_state(1)[0])


def make_sampler(spec: SweepSpec, worker: int, existing: int = 0) -> Any:
    """The sampler of worker number ``worker``, started when the study holds ``existing``
    trials."""
    import optuna

    if spec.sampler == "grid":
        return optuna.samplers.GridSampler(spec.space.grid(), seed=spec.seed)
    seed = sampler_seed(spec.seed, worker, existing)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, constant_liar=spec.workers > 1)
    raise ConfigError(f"--sampler {spec.sampler}: expected one of {', '.join(SAMPLERS)}")


def make_pruner(name: str) -> Any:
    """``median`` (Optuna's MedianPruner over the validation evaluations) or ``none``."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner {name}: expected one of {', '.join(PRUNERS)}")
