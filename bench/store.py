"""The run store: one directory per run, atomic files, locks, cache hits.

Layout: ``<runs_dir>/<suite>/<dataset>/<strategy>/<config-hash>/seed-<n>/`` holding

- ``config.json``: the fully resolved config (written first) with its hash and the seed;
- ``env.json``: package versions, git commit, device, data and tokenizer checksums;
- ``train_log.jsonl``: one record per logged step and per validation evaluation;
- ``predictions.jsonl``: per-example test records of the selected checkpoint
  (``predictions-last.jsonl`` / ``predictions-best.jsonl``: the other one);
- ``metrics.json``: written last; its presence with ``status: finished`` marks a finished run.

Every file is written to a temporary name and renamed into place. A finished run is never
overwritten: ``--force`` moves it aside to ``seed-<n>.replaced-<UTC time>`` first. A run whose
files cannot be read (:func:`run_state`) is :class:`DamagedRun`: reported, never used.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from bench.config import UNHASHED_KEYS, RunConfig, config_from_dict
from bench.errors import BenchError, FileFormatError

FINISHED = "finished"
STARTED = "started"
ABSENT = "absent"
METRICS_KEYS = ("status", "config_hash", "selected", "primary", "test", "prediction_files")
SEED_DIR = re.compile(r"seed-\d+")  # not the seed-<n>.replaced-<time> dirs that --force leaves
RUN_GLOB = "*/*/*/seed-*"  # under a suite: <dataset>/<strategy>/<config-hash>/seed-<n>


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
    """Parse a JSON file (:class:`FileFormatError` naming the file when it is not JSON)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FileFormatError(f"{path}: not valid JSON ({err})") from None


def read_jsonl(path: Path) -> list[dict]:
    """Parse a JSON-lines file of objects (:class:`FileFormatError` naming file and line)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise FileFormatError(f"{path}: not UTF-8 text ({err})") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise FileFormatError(f"{path}: line {number} is not valid JSON ({err})") from None
        if not isinstance(row, dict):
            raise FileFormatError(f"{path}: line {number} is not a JSON object")
        rows.append(row)
    return rows


class DamagedRun(FileFormatError):
    """A run directory whose files are missing or unreadable: reported, never used."""

    def __init__(self, directory: Path, problem: str) -> None:
        super().__init__(
            f"{directory}: damaged run ({problem}); rerun the command with --force to move it "
            "aside and retrain it"
        )
        self.directory = directory


def _record(directory: Path, name: str, keys: tuple[str, ...]) -> dict:
    """``directory/name`` as a JSON object holding ``keys`` (DamagedRun otherwise)."""
    path = directory / name
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise DamagedRun(directory, f"{name} missing") from None
    except FileFormatError:
        raise DamagedRun(directory, f"{name} is not valid JSON") from None
    if not isinstance(data, dict) or any(key not in data for key in keys):
        raise DamagedRun(directory, f"{name} lacks {', '.join(keys)}")
    return data


def run_state(directory: Path) -> str:
    """:data:`ABSENT`, :data:`STARTED` or :data:`FINISHED` (every file present and readable; of
    the test predictions, the selected checkpoint's must be there, the other checkpoint's may be
    left out, as a bundle exported with ``--predictions selected`` does).

    Raises :class:`DamagedRun` when a file the state needs is missing or malformed. A directory
    that vanishes meanwhile (``--force`` moving it aside) reads as absent.
    """
    directory = Path(directory)
    try:
        if (directory / RunDir.METRICS).exists():
            metrics = _record(directory, RunDir.METRICS, ("status",))
            if metrics["status"] != FINISHED:
                return STARTED
            metrics = _record(directory, RunDir.METRICS, METRICS_KEYS)
            _record(directory, RunDir.CONFIG, ("config",))
            files = metrics["prediction_files"]
            if not isinstance(files, dict) or not files:
                raise DamagedRun(directory, "metrics.json lacks prediction_files")
            for checkpoint, name in files.items():
                optional = checkpoint != metrics.get("selected")
                if optional and not (directory / name).exists():
                    continue
                try:
                    read_jsonl(directory / name)
                except FileNotFoundError:
                    raise DamagedRun(directory, f"{name} missing") from None
                except FileFormatError as err:
                    raise DamagedRun(directory, str(err).removeprefix(f"{directory}/")) from None
            return FINISHED
        if (directory / RunDir.CONFIG).exists():
            _record(directory, RunDir.CONFIG, ("config",))
            return STARTED
    except DamagedRun:
        if not directory.exists():
            return ABSENT
        raise
    return STARTED if directory.exists() else ABSENT


def is_finished(directory: Path) -> bool:
    """True when ``directory`` holds a finished run (:class:`DamagedRun` when damaged)."""
    return run_state(directory) == FINISHED


def _compared(config: dict) -> dict:
    """A recorded config as it counts for identity: defaults filled in, unhashed keys dropped."""
    full = config_from_dict(config).to_dict()
    return {k: v for k, v in full.items() if k not in UNHASHED_KEYS}


def check_same_config(directory: Path, config: RunConfig) -> None:
    """Refuse to reuse a directory whose recorded config differs from ``config`` in a key that
    changes the numbers (``checkpoint_every`` and ``log_every`` may differ)."""
    path = directory / RunDir.CONFIG
    if not path.is_file():
        return
    recorded = _record(directory, RunDir.CONFIG, ("config",))["config"]
    try:
        same = _compared(recorded) == _compared(config.to_dict())
    except BenchError as err:
        raise DamagedRun(directory, f"config.json: {err}") from None
    if not same:
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
def directory_lock(directory: Path, wait: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on a directory (its ``.lock`` file, e.g. a run's or a tokenizer
    cache entry's); yields whether it had to wait for it.

    When another process holds it: BenchError, or with ``wait`` (a message callback) say so and
    wait until that process is done.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / RunDir.LOCK, "w") as handle:
        waited = False
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait is None:
                raise BenchError(
                    f"{directory}: another process is running this run (locked)"
                ) from None
            wait(f"{directory}: another process is running this run; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
            waited = True
        try:
            yield waited
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class RunDir:
    """One run's directory: the names of its files, their readers, its state and its lock.

    Every module that touches a run directory goes through this type, so the layout is written
    down once (here).
    """

    path: Path

    CONFIG: ClassVar[str] = "config.json"
    ENV: ClassVar[str] = "env.json"
    METRICS: ClassVar[str] = "metrics.json"
    TRAIN_LOG: ClassVar[str] = "train_log.jsonl"
    PREDICTIONS: ClassVar[str] = "predictions.jsonl"
    TOKENIZER: ClassVar[str] = "tokenizer.json"
    CHECKPOINTS: ClassVar[str] = "checkpoints"
    BEST_CHECKPOINT: ClassVar[str] = "best.pt"
    LOCK: ClassVar[str] = ".lock"
    MODEL: ClassVar[str] = "model"  # bench run --save-model: save_pretrained of model, tokenizer
    RECORD_FILES: ClassVar[tuple[str, ...]] = (CONFIG, ENV, METRICS, TRAIN_LOG, TOKENIZER)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def of(cls, runs_dir: Path, suite: str, config: RunConfig) -> RunDir:
        """The directory of the run of ``config`` in ``suite`` under ``runs_dir``."""
        return cls(run_dir(runs_dir, suite, config))

    @staticmethod
    def prediction_file_name(select: str, selected: bool) -> str:
        """File name of the test predictions of the ``select`` checkpoint (``last``/``best``):
        ``predictions.jsonl`` for the selected one, ``predictions-<select>.jsonl`` otherwise."""
        return RunDir.PREDICTIONS if selected else f"predictions-{select}.jsonl"

    @property
    def name(self) -> str:
        """The seed directory's name (``seed-<n>``)."""
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / self.CONFIG

    @property
    def env_file(self) -> Path:
        return self.path / self.ENV

    @property
    def metrics_file(self) -> Path:
        return self.path / self.METRICS

    @property
    def train_log_file(self) -> Path:
        return self.path / self.TRAIN_LOG

    @property
    def predictions_file(self) -> Path:
        return self.path / self.PREDICTIONS

    @property
    def tokenizer_file(self) -> Path:
        return self.path / self.TOKENIZER

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def best_checkpoint(self) -> Path:
        return self.checkpoints_dir / self.BEST_CHECKPOINT

    @property
    def lock_file(self) -> Path:
        return self.path / self.LOCK

    @property
    def model_dir(self) -> Path:
        return self.path / self.MODEL

    def read_config(self) -> dict:
        """The ``config.json`` record (``config``, ``config_hash``, ``seed``, ...)."""
        return read_json(self.config_file)

    def read_env(self) -> dict:
        return read_json(self.env_file)

    def read_metrics(self) -> dict:
        return read_json(self.metrics_file)

    def read_train_log(self) -> list[dict]:
        return read_jsonl(self.train_log_file)

    def read_predictions(self, name: str = PREDICTIONS) -> list[dict]:
        """Per-example test records of the selected checkpoint (or of the file ``name``)."""
        return read_jsonl(self.path / name)

    def prediction_files(self) -> dict[str, str]:
        """``metrics.json``'s ``prediction_files``: checkpoint (``last``/``best``) -> file name."""
        return self.read_metrics()["prediction_files"]

    def state(self) -> str:
        """:func:`run_state` of this directory."""
        return run_state(self.path)

    def is_finished(self) -> bool:
        return is_finished(self.path)

    def lock(self, wait: Callable[[str], None] | None = None) -> AbstractContextManager[bool]:
        """:func:`directory_lock` on this directory."""
        return directory_lock(self.path, wait)

    def move_aside(self) -> Path:
        return move_aside(self.path)


def iter_run_dirs(runs_dir: Path, suite: str = "*", finished: bool = True) -> Iterator[RunDir]:
    """Seed directories under ``runs_dir`` (of ``suite``; only the finished ones by default),
    in path order; the ``.replaced-<time>`` directories ``--force`` leaves are never listed."""
    for path in sorted(Path(runs_dir).glob(f"{suite}/{RUN_GLOB}")):
        if SEED_DIR.fullmatch(path.name) and path.is_dir() and (not finished or is_finished(path)):
            yield RunDir(path)


def iter_runs(runs_dir: Path) -> Iterator[Path]:
    """Every finished run directory under ``runs_dir``."""
    for run in iter_run_dirs(runs_dir):
        yield run.path
