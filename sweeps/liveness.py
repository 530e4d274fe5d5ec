"""Worker liveness on one machine, and the recovery of trials that a dead worker left RUNNING.

Optuna's journal storage has no heartbeat, so a worker killed mid-trial (SIGKILL, OOM) would
leave its trial RUNNING forever. Instead each worker holds an exclusive ``flock`` on its own lock
file (``<runs_dir>/optuna/workers/<host>-<pid>-<token>.lock``) for as long as it lives, and tags
every trial it runs with the user attr ``worker = {"host", "pid", "lock"}``. The kernel drops the
lock when the process dies, however it dies, so a RUNNING trial whose worker is on this host and
whose lock is free (or gone) is an orphan. :func:`recover_orphans` (run by every worker before it
asks for a trial, and by the coordinator when a worker exits) marks it FAIL and enqueues a WAITING
copy with the same parameters and grid point (:func:`retry_trial`), which the next ``ask`` picks
up. Workers on other hosts are covered by the RDB storages' heartbeat, which retries the same way.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WORKER_ATTR = "worker"  # trial user attr: the worker running it
RETRY_ATTR = "retry_of"  # trial user attr: the number of the failed trial it repeats
FAILURE_ATTR = "failure"  # trial user attr: why a trial was marked FAIL by recovery


class WorkerLease:
    """An exclusive lock file held while this worker process lives; ``tag`` names it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        host, pid = socket.gethostname(), os.getpid()
        self.path = (directory / f"{host}-{pid}-{uuid.uuid4().hex[:8]}.lock").resolve()
        self._handle = open(self.path, "w")  # noqa: SIM115 (held until close)
        fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.tag = {"host": host, "pid": pid, "lock": str(self.path)}

    def close(self) -> None:
        """Release and remove the lock file (a clean exit)."""
        self.path.unlink(missing_ok=True)
        self._handle.close()

    def __enter__(self) -> WorkerLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_dead(tag: Mapping[str, Any]) -> bool:
    """True when the worker of ``tag`` ran on this host and no longer holds its lock."""
    if tag.get("host") != socket.gethostname():
        return False
    try:
        handle = open(tag["lock"])  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return True
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
    return True


def retry_trial(study: Any, trial: Any) -> None:
    """Enqueue a WAITING copy of the failed ``trial``: its parameters, grid point and user attrs.

    Matches Optuna's stale-trial callback signature, so RDB heartbeats use it too.
    """
    import optuna

    user_attrs = {k: v for k, v in trial.user_attrs.items() if k not in {WORKER_ATTR, FAILURE_ATTR}}
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=trial.params,
            distributions=trial.distributions,
            user_attrs={**user_attrs, RETRY_ATTR: trial.number},
            system_attrs=trial.system_attrs,
        )
    )


def recover_orphans(study: Any, storage: Any) -> list[int]:
    """Fail and retry every RUNNING trial whose worker died on this host; their numbers."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    study_id = storage.get_study_id_from_name(study.study_name)
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = trial.user_attrs.get(WORKER_ATTR)
        if tag is None or not is_dead(tag):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        reason = f"worker {tag['host']}:{tag['pid']} died while running this trial"
        try:
            storage.set_trial_user_attr(trial_id, FAILURE_ATTR, reason)
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:  # recovered by another process meanwhile
            continue
        retry_trial(study, storage.get_trial(trial_id))
        recovered.append(trial.number)
    return recovered
