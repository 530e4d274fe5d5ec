"""The run store: one directory per run, atomic files, locks, cache hits.

Layout: ``<runs_dir>/<suite>/<dataset>/<strategy>/<config-hash>/seed-<n>/`` holding

- ``config.json``: the fully resolved config (written first) with its hash and the seed;
- ``env.json``: package versions, git commit, device, data and tokenizer checksums;
- ``train_log.jsonl``: one record per logged step and per validation evaluation;
- ``predictions.jsonl``: per-example test records of the selected checkpoint
  (``predictions-last.jsonl`` / ``predictions-best.jsonl``: the other one);
- ``metrics.json``: written last; its presence with ``status: finished`` marks a finished run.

Every file is written to a temporary name and renamed into place. A finished run is never
overwritten: ``--force`` moves it aside to ``seed-<n>.replaced-<UTC time>`` first.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import RunConfig, config_from_dict
from bench.errors import BenchError

FINISHED = "finished"
SEED_DIR = re.compile(r"seed-\d+")  # not the seed-<n>.replaced-<time> dirs that --force leaves


def run_dir(runs_dir: Path, suite: str, config: RunConfig) -> Path:
    """Where the run of ``config`` (in ``suite``) lives."""
    return (
        Path(runs_dir)
        / suite
        / config.dataset
        / config.strategy
        / config.config_hash()
        / f"seed-{config.seed}"
    )


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8"
    ) as tmp:
        tmp.write(text)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.chmod(tmp.name, 0o644)  # NamedTemporaryFile creates 0600
    os.replace(tmp.name, path)


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Atomically write one JSON object per line."""
    write_text_atomic(path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))


def read_json(path: Path) -> Any:
    """Parse a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    """Parse a JSON-lines file."""
    return [
        json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line
    ]


def is_finished(directory: Path) -> bool:
    """True when ``directory`` holds a finished run."""
    path = directory / "metrics.json"
    return path.is_file() and read_json(path).get("status") == FINISHED


def check_same_config(directory: Path, config: RunConfig) -> None:
    """Refuse to reuse a directory whose recorded config differs from ``config``.

    The record is read back through ``config_from_dict``, so that a run recorded before a key
    existed (the key then takes its default, the old behaviour) still matches.
    """
    path = directory / "config.json"
    if path.is_file() and config_from_dict(read_json(path)["config"]).to_dict() != config.to_dict():
        raise BenchError(
            f"{path}: recorded config differs from the requested one (hash collision?)"
        )


def move_aside(directory: Path) -> Path:
    """Rename a run directory out of the way (``--force``) and return its new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = directory.with_name(f"{directory.name}.replaced-{stamp}")
    directory.rename(target)
    return target


@contextmanager
def run_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on a run directory (another process -> BenchError)."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchError(f"{directory}: another process is running this run (locked)") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def iter_runs(runs_dir: Path) -> Iterator[Path]:
    """Every finished run directory under ``runs_dir``."""
    for metrics in sorted(Path(runs_dir).glob("*/*/*/*/seed-*/metrics.json")):
        if SEED_DIR.fullmatch(metrics.parent.name) and is_finished(metrics.parent):
            yield metrics.parent
