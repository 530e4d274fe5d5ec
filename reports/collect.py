"""Read the run store into tidy pandas frames: one row per run, per test example, per log record.

Only the files a run writes are read, through :class:`bench.store.RunDir` (config, env, metrics,
predictions, training log); a run counts once it is finished. A run's profile is the one its
recorded config names (``unrecorded`` if none). Each prediction's ``correct`` is re-scored from
its prediction and gold, and the counts checked against the run's metrics; a malformed file is a
:class:`~bench.errors.BenchError` naming it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.config import UNHASHED_KEYS, config_from_dict, flatten
from bench.errors import BenchError, FileFormatError
from bench.metrics import accuracy_summary, dataset_metric, rescored
from bench.store import RunDir, is_finished, iter_run_dirs

GROUP_KEYS = ["suite", "profile", "dataset", "strategy", "config_hash"]
IDENTITY_KEYS = {"dataset", "strategy", "seed"}  # always their own columns, never "varying"
UNRECORDED_PROFILE = "unrecorded"  # runs made without a suite profile (direct run_one calls)


@dataclass
class RunStore:
    """Everything the reports read, as frames keyed by ``run_id`` (path below the runs dir)."""

    runs_dir: Path
    runs: pd.DataFrame  # one row per finished run
    predictions: pd.DataFrame  # one row per (run, test example) of the primary checkpoint
    train_log: pd.DataFrame  # one row per training-log record (kind = train | valid)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id -> flat config
    envs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run_id -> env record
    varying: list[str] = field(default_factory=list)  # config keys with more than one value
    variant_keys: list[str] = field(default_factory=list)  # ... within a dataset x strategy
    unfinished: list[str] = field(default_factory=list)  # started run dirs, not finished

    @property
    def empty(self) -> bool:
        """True when no finished run matched."""
        return self.runs.empty

    def run_dir(self, run_id: str) -> RunDir:
        """The directory of ``run_id``."""
        return RunDir(self.runs_dir / run_id)

    def groups(self) -> list[tuple[dict[str, Any], pd.DataFrame]]:
        """``(key, runs)`` per condition: suite x profile x dataset x strategy x config hash."""
        if self.empty:
            return []
        return [
            (dict(zip(GROUP_KEYS, key, strict=True)), runs.sort_values("seed"))
            for key, runs in self.runs.groupby(GROUP_KEYS, sort=True)
        ]

    def example_matrix(
        self, run_ids: list[str], column: str, ids: list[str] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """``column`` as ``[runs, examples]`` over the test ids every run has (or ``ids``)."""
        rows = self.predictions[self.predictions["run_id"].isin(run_ids)]
        table = rows.pivot(index="run_id", columns="id", values=column).loc[run_ids]
        table = table.dropna(axis=1) if ids is None else table[ids]
        return table.to_numpy(dtype=float), [str(c) for c in table.columns]


def _profile(record: dict[str, Any]) -> str:
    return str(record.get("profile") or UNRECORDED_PROFILE)


def _run_row(run_id: str, record: dict, metrics: dict, env: dict) -> dict[str, Any]:
    primary, last = metrics["primary"], metrics["test"]["last"]
    n_examples = env.get("n_examples", {})
    return {
        "run_id": run_id,
        "suite": record["suite"],
        "profile": _profile(record),
        "dataset": metrics["dataset"],
        "strategy": metrics["strategy"],
        "config_hash": metrics["config_hash"],
        "seed": int(metrics["seed"]),
        "model": record["config"]["model"],
        "accuracy": primary["accuracy"],
        "n": primary["n"],
        "n_correct": primary["n_correct"],
        "stderr": primary["stderr"],
        "candidate_accuracy": primary.get("candidate_accuracy"),
        "mean_confidence": primary.get("mean_confidence"),
        "selected": metrics["selected"],
        "best_step": metrics["best_step"],
        "steps": metrics["steps"],
        "valid_best_accuracy": metrics["valid_best_accuracy"],
        "last_accuracy": last["accuracy"],
        "train_s": metrics.get("timing", {}).get("train_s"),
        "eval_s": metrics.get("timing", {}).get("eval_s"),
        "n_train": n_examples.get("train"),
        "n_test": n_examples.get("test"),
    }


def calibration_point(row: dict) -> tuple[float, bool, str]:
    """(confidence, correct, kind) by :data:`reports.calibration.CONFIDENCE_DEFINITION`: for a
    closed task the top-ranked candidate's renormalised probability and that candidate's
    correctness, for an open task the greedy sequence's probability and its correctness."""
    candidates = row.get("candidate_probs")
    if candidates and row.get("candidate_prediction") in candidates:
        top = row["candidate_prediction"]
        total = sum(candidates.values())
        return float(candidates[top]) / total, bool(row["candidate_correct"]), "candidate"
    return float(row["confidence"]), bool(row["correct"]), "sequence"


def greedy_confidence(row: dict) -> float:
    """The greedy output's candidate probability (0 when it is no candidate): the secondary
    confidence, scored with the greedy output's correctness."""
    candidates = row.get("candidate_probs")
    if candidates:
        return float(candidates.get(row["prediction"], 0.0))
    return float(row["confidence"])


def _scored_predictions(run: RunDir, metrics: dict, check: bool = True) -> list[dict]:
    """The primary predictions with ``correct`` re-scored from prediction and gold; with
    ``check``, checked against the counts the run's metrics state (BenchError naming the file
    when they differ)."""
    path = run.predictions_file
    metric = dataset_metric(metrics["dataset"])
    try:
        rows = [rescored(row, metric) for row in run.read_predictions()]
    except KeyError as err:
        raise FileFormatError(f"{path}: a record lacks {err}") from None
    stated = metrics["primary"]
    scored = accuracy_summary([row["correct"] for row in rows])
    if check and (scored["n"], scored["n_correct"]) != (stated.get("n"), stated.get("n_correct")):
        raise BenchError(
            f"{path}: {scored['n_correct']} of {scored['n']} correct when re-scored from "
            f"prediction and gold; {RunDir.METRICS} states {stated.get('n_correct')} of "
            f"{stated.get('n')}"
        )
    return rows


def _prediction_rows(run_id: str, rows: list[dict]) -> pd.DataFrame:
    points = [calibration_point(r) for r in rows]
    return pd.DataFrame(
        {
            "run_id": run_id,
            "id": [str(r["id"]) for r in rows],
            "correct": [bool(r["correct"]) for r in rows],
            "sequence_confidence": [float(r["confidence"]) for r in rows],
            "confidence": [c for c, _, _ in points],
            "confidence_correct": [hit for _, hit, _ in points],
            "confidence_kind": [k for _, _, k in points],
            "greedy_confidence": [greedy_confidence(r) for r in rows],
            "gold": [str(r.get("gold") or "") for r in rows],
            "generated": [str(r.get("generated") or "") for r in rows],
            "n_candidates": [len(r.get("candidate_probs") or {}) for r in rows],  # 0: open task
        }
    )


def _finished(runs_dir: Path, only: Collection[Path] | None) -> Iterable[RunDir]:
    """The finished run directories under ``runs_dir`` (of ``only``, when given)."""
    if only is not None:
        return [RunDir(path) for path in sorted(set(only)) if is_finished(path)]
    return iter_run_dirs(runs_dir) if runs_dir.is_dir() else []


def _unfinished(
    runs_dir: Path, finished: set[Path], suite: str | None, only: Collection[Path] | None
) -> list[str]:
    """The run directories (of ``only``, when given) that are not finished; without ``only``,
    those that have started (a ``config.json``)."""
    if only is None:
        runs = iter_run_dirs(runs_dir, suite or "*", finished=False)
        started = [run.path for run in runs if run.config_file.is_file()]
    else:
        started = list(only)
    return sorted(str(path.relative_to(runs_dir)) for path in started if path not in finished)


def _varying(configs: dict[str, dict[str, Any]], runs: pd.DataFrame) -> tuple[list, list]:
    frame = pd.DataFrame.from_dict(configs, orient="index").map(str)  # None -> "None"
    keys = [k for k in frame.columns if k not in IDENTITY_KEYS | UNHASHED_KEYS]
    varying = [k for k in keys if frame[k].nunique() > 1]
    frame = frame.join(runs.set_index("run_id")[["suite", "profile"]])
    groups = frame.groupby(["suite", "profile", "dataset", "strategy"])
    variant = [k for k in varying if (groups[k].nunique() > 1).any()]
    return varying, variant


def collect_runs(
    runs_dir: str | Path,
    suite: str | None = None,
    profile: str | None = None,
    check_metrics: bool = True,
    only: Collection[Path] | None = None,
) -> RunStore:
    """Every finished run under ``runs_dir`` (optionally one suite and/or profile; with
    ``only``, of those run directories only).

    ``check_metrics=False`` skips the check of the re-scored predictions against each run's
    metrics (``bench verify`` reports those differences cell by cell)."""
    runs_dir = Path(runs_dir)
    rows, predictions, logs = [], [], []
    configs: dict[str, dict[str, Any]] = {}
    envs: dict[str, dict[str, Any]] = {}
    finished = set()
    for run in _finished(runs_dir, only):
        finished.add(run.path)
        try:
            record = run.read_config()
            if suite is not None and record["suite"] != suite:
                continue
            run_id = str(run.path.relative_to(runs_dir))
            metrics = run.read_metrics()
            env = run.read_env() if run.env_file.is_file() else {}
            row = _run_row(run_id, record, metrics, env)
            if profile is not None and row["profile"] != profile:
                continue
            scored = _scored_predictions(run, metrics, check_metrics)
            log = run.read_train_log() if run.train_log_file.is_file() else None
        except FileNotFoundError:
            if run.path.exists():
                raise
            continue  # moved aside meanwhile (`bench run --force`)
        except (KeyError, TypeError, AttributeError) as err:
            problem = f"{type(err).__name__}: {err}"
            raise FileFormatError(f"{run.path}: malformed run files ({problem})") from None
        rows.append(row)
        # read back through the config type: runs recorded before a key existed get its default
        configs[run_id] = flatten(config_from_dict(record["config"]).to_dict())
        envs[run_id] = env
        predictions.append(_prediction_rows(run_id, scored))
        if log is not None:
            logs.append(pd.DataFrame(log).assign(run_id=run_id))
    runs = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["run_id", *GROUP_KEYS, "seed"])
    varying, variant = _varying(configs, runs) if rows else ([], [])
    for key in varying:
        runs[key] = [configs[r][key] for r in runs["run_id"]]
    return RunStore(
        runs_dir=runs_dir,
        runs=runs,
        predictions=pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(),
        train_log=pd.concat(logs, ignore_index=True) if logs else pd.DataFrame(),
        configs=configs,
        envs=envs,
        varying=varying,
        variant_keys=variant,
        unfinished=_unfinished(runs_dir, finished, suite, only) if runs_dir.is_dir() else [],
    )
