"""``load_runs``: a run store or a results bundle as tidy pandas DataFrames.

The notebook entry point: one call, three frames (one row per run, per test example, per
training-log record), whatever the source. A bundle is unpacked into a temporary directory
and read like a run store; the frames hold everything, so nothing points into that directory
afterwards.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from reports.collect import collect_runs

MANIFEST = "MANIFEST.json"  # marks a results bundle (bench export)


@dataclass(frozen=True)
class Runs:
    """Tidy frames of finished runs, keyed by ``run_id`` (the run's path below the store)."""

    runs: pd.DataFrame  # one row per run: suite, profile, dataset, strategy, seed, metrics, ...
    predictions: pd.DataFrame  # one row per (run, test example): correct, confidence, gold, ...
    train_log: pd.DataFrame  # one row per training-log record: step, loss terms, valid accuracy


def load_runs(path: str | Path, suite: str | None = None, profile: str | None = None) -> Runs:
    """The finished runs under ``path``, a run store (``./runs``) or a results bundle
    (optionally one suite and/or profile). Raises :class:`BenchError` when there are none."""
    source = Path(path)
    if not source.is_dir():
        raise BenchError(f"{source}: no such run store or bundle")
    if (source / MANIFEST).is_file():
        from reports.bundle import unpack_runs

        with tempfile.TemporaryDirectory(prefix="cotbench-load-") as tmp:
            store = collect_runs(unpack_runs(source, Path(tmp)), suite, profile)
    else:
        store = collect_runs(source, suite, profile)
    if store.empty:
        raise BenchError(f"{source}: no finished runs (suite {suite}, profile {profile})")
    return Runs(store.runs, store.predictions, store.train_log)
