"""Optuna storages from the ``--storage`` flag: a journal file by default, or an RDB URL.

* no flag: ``JournalStorage(JournalFileBackend("<runs_dir>/optuna/<study>.journal"))``, an
  append-only file with a file lock, safe for many worker processes on one machine;
* ``sqlite:///path.db``: one process;
* ``postgresql://user@host:port/db`` (any URL Optuna's ``RDBStorage`` accepts): many processes on
  many machines; the same ``bench sweep`` started on several hosts joins one study.

RDB storages run Optuna's heartbeat: a trial whose worker stopped beating (a host that died) is
failed and retried by the next worker that asks for a trial. All of these are standard Optuna
storages, so ``optuna-dashboard <journal file or URL>`` reads them.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

HEARTBEAT_INTERVAL_S = 60  # seconds between a running trial's heartbeats (RDB storages)
GRACE_PERIOD_S = 300  # a running trial silent this long is failed and retried (RDB storages)
SCHEMA_ATTEMPTS = 5  # first connections of several processes race to create the tables
SCHEMA_RETRY_S = 0.5  # seconds between those attempts
SCHEMA_RACE_STATES = {"42P07", "42710"}  # PostgreSQL duplicate_table, duplicate_object
DRIVER_HINT = (  # SQLAlchemy 2.1 runs postgresql:// URLs on psycopg 3
    "pip install 'psycopg[binary]' for postgresql:// URLs (the cotbench[postgres] extra)"
)


def storage_target(storage: str | None, runs_dir: str | Path, study: str) -> str:
    """The ``--storage`` value, or the default journal file of ``study``."""
    if storage:
        return storage
    return str(Path(runs_dir) / "optuna" / f"{study}.journal")


def is_url(target: str) -> bool:
    """True for an RDB URL, False for a journal file path."""
    return "://" in target


def describe_storage(target: str) -> str:
    """The journal path, or the URL with any password hidden (for messages and reports)."""
    if not is_url(target):
        return target
    from sqlalchemy.engine import make_url

    return make_url(target).render_as_string(hide_password=True)


def _rdb_storage(target: str) -> Any:
    import optuna
    import sqlalchemy.exc
    from optuna.exceptions import ExperimentalWarning

    from sweeps.liveness import retry_trial

    def create() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # the heartbeat arguments
            return optuna.storages.RDBStorage(
                target,
                heartbeat_interval=HEARTBEAT_INTERVAL_S,
                grace_period=GRACE_PERIOD_S,
                heartbeat_stale_trial_callback=retry_trial,
            )

    for _ in range(SCHEMA_ATTEMPTS - 1):
        try:
            return create()
        except sqlalchemy.exc.DBAPIError as err:
            if not _lost_schema_race(err):
                raise
            time.sleep(SCHEMA_RETRY_S)  # another process is creating the tables right now
    return create()


def _lost_schema_race(err: DBAPIError) -> bool:
    """True when creating Optuna's tables failed because another process created them first:
    a unique-key clash in the catalogue, or a table/index/type that already exists."""
    import sqlalchemy.exc

    state = getattr(err.orig, "sqlstate", None) or getattr(err.orig, "pgcode", None)
    return isinstance(err, sqlalchemy.exc.IntegrityError) or state in SCHEMA_RACE_STATES


def open_storage(target: str) -> Any:
    """An Optuna storage for a journal file path or an RDB URL (errors as ConfigError)."""
    if not is_url(target):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    import sqlalchemy.exc

    try:
        return _rdb_storage(target)
    except ImportError as err:
        raise ConfigError(
            f"storage {describe_storage(target)}: database driver missing ({err}); {DRIVER_HINT}"
        ) from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise ConfigError(f"storage {describe_storage(target)}: {reason}") from None
