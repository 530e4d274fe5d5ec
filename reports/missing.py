"""What the run store lacks: planned runs of a suite profile that have not finished.

A built-in suite (or a suite file) names datasets x strategies x seeds per profile; every
planned run whose directory holds no finished run is listed as ``not started`` (no directory)
or ``unfinished`` (started, not finished).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from reports.collect import RunStore

MISSING_COLUMNS = ["suite", "profile", "dataset", "strategy", "seed", "status", "path"]


def _profiles(store: RunStore, suite: str, profile: str | None, default: str) -> list[str]:
    if profile is not None:
        return [profile]
    if store.empty:
        return [default]
    seen = store.runs.loc[store.runs["suite"] == suite, "profile"].unique()
    return sorted(seen) or [default]


def missing_runs(store: RunStore, suite: str | None, profile: str | None) -> pd.DataFrame:
    """Planned but unfinished runs of ``suite`` (default: every built-in suite in the store)."""
    from bench.store import is_finished, run_dir
    from bench.suites import load_suite, plan_runs, suite_names

    if suite is not None:
        names = [suite]
    elif store.runs_dir.is_dir():
        names = sorted(p.name for p in store.runs_dir.iterdir() if p.name in suite_names())
    else:
        names = []
    rows = []
    for name in names:
        try:
            parsed = load_suite(name)
        except BenchError:
            continue
        for profile_name in _profiles(store, parsed.name, profile, parsed.default_profile):
            if profile_name not in parsed.profiles:
                continue
            for config in plan_runs(parsed, profile_name)[1]:
                directory = run_dir(store.runs_dir, parsed.name, config)
                if is_finished(directory):
                    continue
                status = "unfinished" if directory.exists() else "not started"
                rows.append(
                    {
                        "suite": parsed.name,
                        "profile": profile_name,
                        "dataset": config.dataset,
                        "strategy": config.strategy,
                        "seed": config.seed,
                        "status": status,
                        "path": str(Path(directory).relative_to(store.runs_dir)),
                    }
                )
    return pd.DataFrame(rows, columns=MISSING_COLUMNS)
