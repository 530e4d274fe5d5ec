"""The dataset registry and the generic loading wrapper (subsample, evaluation caps)."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.data.example import DatasetSplits
from bench.data.options import LoadOptions
from bench.errors import ConfigError, DataError
from bench.registry import Registry

Loader = Callable[[LoadOptions], DatasetSplits]

DATASETS: Registry[Loader] = Registry("dataset")


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """``--data-dir`` > ``$COTBENCH_DATA`` > ``./data``."""
    if data_dir:
        return Path(data_dir)
    env = os.environ.get("COTBENCH_DATA")
    return Path(env) if env else Path("data")


def load_dataset(
    name: str,
    options: LoadOptions,
    *,
    subsample: float = 1.0,
    subsample_seed: int = 0,
    max_train: int | None = None,
    max_eval: int | None = None,
    full_test: bool = False,
) -> DatasetSplits:
    """Load dataset ``name`` and apply the generic cuts.

    ``subsample`` keeps that fraction of train (seeded), ``max_train`` then caps train, and
    ``max_eval`` caps valid and test (first examples, so that every run scores the same ones);
    with ``full_test`` it caps valid only.
    """
    if not 0.0 < subsample <= 1.0:
        raise ConfigError(f"subsample: expected a fraction in (0, 1], got {subsample}")
    splits = DATASETS.get(name)(options)
    train = splits.train
    if subsample < 1.0:
        keep = sorted(
            random.Random(subsample_seed).sample(range(len(train)), round(subsample * len(train)))
        )
        train = tuple(train[i] for i in keep)
    if max_train is not None:
        train = train[:max_train]
    valid, test = splits.valid, splits.test
    if max_eval is not None:
        valid = valid[:max_eval]
        test = test if full_test else test[:max_eval]
    for split, examples in (("train", train), ("valid", valid), ("test", test)):
        if not examples:
            files = ", ".join(sorted(splits.sources)) or "no files read"
            raise DataError(
                f"dataset {name}: the {split} split is empty ({files}); a run needs examples in "
                "train, valid and test"
            )
    return replace(splits, train=train, valid=valid, test=test)
