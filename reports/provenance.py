"""Provenance tables from ``env.json`` and ``config.json``: what produced the numbers.

Each table counts the runs per distinct value, so a mixed store (two commits, two torch
versions, different data checksums) is visible at a glance.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from reports.collect import RunStore


def _counted(values: list[tuple], columns: list[str]) -> pd.DataFrame:
    counts = Counter(values)
    rows = [(*key, n) for key, n in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0])))]
    return pd.DataFrame(rows, columns=[*columns, "runs"])


def provenance_tables(store: RunStore) -> dict[str, pd.DataFrame]:
    """``versions``, ``git``, ``environment``, ``data``, ``tokenizers`` and ``configs`` tables."""
    envs = [store.envs[r] for r in store.runs["run_id"]] if not store.empty else []
    datasets = dict(zip(store.runs.get("run_id", []), store.runs.get("dataset", []), strict=True))
    versions = [
        (package, str(version))
        for env in envs
        for package, version in sorted(env.get("versions", {}).items())
    ]
    git = [
        (str(env.get("git", {}).get("commit")), str(env.get("git", {}).get("dirty")))
        for env in envs
    ]
    environment = [
        (field, str(env.get(field)))
        for env in envs
        for field in ("python", "platform", "device", "torch_threads")
    ]
    data = [
        (datasets[run_id], source, str(digest))
        for run_id, env in zip(store.runs.get("run_id", []), envs, strict=True)
        for source, digest in sorted(env.get("data_sources", {}).items())
    ]
    tokenizers = [(str(env.get("tokenizer_sha256")),) for env in envs]
    configs = (
        store.runs.groupby(["suite", "profile", "dataset", "strategy", "config_hash", "model"])
        .agg(seeds=("seed", lambda s: ",".join(str(v) for v in sorted(s))))
        .reset_index()
        if not store.empty
        else pd.DataFrame()
    )
    return {
        "versions": _counted(versions, ["package", "version"]),
        "git": _counted(git, ["commit", "dirty"]),
        "environment": _counted(environment, ["field", "value"]),
        "data": _counted(data, ["dataset", "source", "sha256"]),
        "tokenizers": _counted(tokenizers, ["tokenizer sha256"]),
        "configs": configs,
    }
