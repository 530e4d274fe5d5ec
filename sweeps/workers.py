"""Sweep workers: the trial loop of one process, and K spawned processes sharing one budget.

Each worker repeats, holding this host's trial-creation lock: recover trials of dead workers
(:func:`~sweeps.liveness.recover_orphans`), stop if COMPLETE + PRUNED + RUNNING trials reach the
budget, else let ``study.optimize(n_trials=1)`` create the next trial. The objective releases the
lock as soon as its trial is tagged, so counting and creating are atomic among this host's
workers: N trials requested gives exactly N finished trials, not N per worker (workers on other
hosts, sharing an RDB storage, can overshoot by one trial each, as with Optuna's
``MaxTrialsCallback``). A FAIL trial does not count; its retry (a WAITING copy) is picked up by
the next ``ask``.

:func:`run_workers` spawns the K processes and starts a replacement for any worker killed by a
signal; a worker that stops on an error stops the sweep with an error once the others finish.
:func:`run_workers_on_ray` runs the K workers as Ray tasks instead.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.executors import Execution
from sweeps.liveness import WorkerLease, recover_orphans
from sweeps.objective import Objective
from sweeps.samplers import make_pruner, make_sampler
from sweeps.spec import SweepSpec
from sweeps.storage import is_url, open_storage


class AskLock:
    """An exclusive file lock around "recover, count, create the next trial" on this host."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a")  # noqa: SIM115 (closed by close())
        self._held = False

    def acquire(self) -> None:
        """Block until this process holds the lock."""
        fcntl.flock(self._handle, fcntl.LOCK_EX)
        self._held = True

    def release(self) -> None:
        """Release the lock if held (safe to call twice)."""
        if self._held:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._held = False

    def close(self) -> None:
        """Release and close."""
        self.release()
        self._handle.close()


def ask_lock(spec: SweepSpec) -> AskLock:
    """The trial-creation lock of ``spec``'s study."""
    return AskLock(spec.optuna_dir / f"{spec.study}.ask.lock")


def counted_trials(study: Any) -> int:
    """Trials that count against the budget: COMPLETE, PRUNED and RUNNING."""
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    return len(study.get_trials(deepcopy=False, states=states))


def recover(spec: SweepSpec) -> list[int]:
    """Fail and requeue the trials of dead workers on this host (under the creation lock)."""
    import optuna

    storage = open_storage(spec.storage_target)
    study = optuna.load_study(study_name=spec.study, storage=storage)
    lock = ask_lock(spec)
    try:
        lock.acquire()
        return recover_orphans(study, storage)
    finally:
        lock.close()


def work(spec: SweepSpec, worker: int, deadline: float | None) -> None:
    """Run trials until the study's budget is reached or ``deadline`` (epoch seconds) passes."""
    import optuna

    storage = open_storage(spec.storage_target)
    study = optuna.load_study(
        study_name=spec.study, storage=storage, pruner=make_pruner(spec.pruner)
    )
    # seeded by the trials already there, so a restarted or extended study draws new points
    study.sampler = make_sampler(spec, worker, len(study.get_trials(deepcopy=False)))
    lock = ask_lock(spec)
    try:
        with WorkerLease(spec.optuna_dir / "workers") as lease:
            objective = Objective(spec, lease.tag, on_start=lock.release)
            while deadline is None or time.time() < deadline:
                lock.acquire()
                try:
                    recover_orphans(study, storage)
                    if counted_trials(study) >= spec.trials:
                        break
                    study.optimize(objective, n_trials=1)
                finally:
                    lock.release()
    finally:
        lock.close()


def worker_main(spec: SweepSpec, worker: int, deadline: float | None) -> None:
    """Entry point of a spawned worker: share the cores, run :func:`work`, errors as one line."""
    import torch

    torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // spec.workers))
    try:
        work(spec, worker, deadline)
    except BenchError as err:
        print(f"error: sweep worker {worker}: {err}", file=sys.stderr, flush=True)
        sys.exit(err.exit_code)
    except OSError as err:
        from bench.cli import describe_os_error

        print(
            f"error: sweep worker {worker}: {describe_os_error(err)}", file=sys.stderr, flush=True
        )
        sys.exit(BenchError.exit_code)


def run_workers(spec: SweepSpec, deadline: float | None) -> None:
    """Run ``spec.workers`` worker processes to the end; replace any killed by a signal.

    At most ``spec.trials`` replacements are started (each kill loses at most one trial's work).
    Raises BenchError when a worker exits with an error.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    numbers = itertools.count()

    def start() -> Any:
        worker = next(numbers)
        process = context.Process(
            target=worker_main, args=(spec, worker, deadline), name=f"sweep-worker-{worker}"
        )
        process.start()
        return process

    running = [start() for _ in range(spec.workers)]
    restarts, failures = 0, []
    try:
        while running:
            wait([p.sentinel for p in running])
            for process in [p for p in running if p.exitcode is not None]:
                running.remove(process)
                if process.exitcode == 0:
                    continue
                if process.exitcode > 0:
                    failures.append(f"{process.name} exited with code {process.exitcode}")
                    continue
                cause = signal.Signals(-process.exitcode).name
                print(f"{process.name} (pid {process.pid}) killed by {cause}", flush=True)
                if restarts < spec.trials:
                    restarts += 1
                    running.append(start())
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.join()
    if failures:
        raise BenchError(f"sweep {spec.study}: {'; '.join(failures)} (its error is above)")


def ray_worker(spec: SweepSpec, worker: int, deadline: float | None, threads: int) -> None:
    """One sweep worker's trial loop inside a Ray task (see :func:`work`)."""
    import torch

    torch.set_num_threads(threads)
    work(spec, worker, deadline)


def run_workers_on_ray(spec: SweepSpec, deadline: float | None, execution: Execution) -> None:
    """Run ``spec.workers`` sweep workers as Ray tasks sharing the study's storage.

    The run store and a journal storage must be on storage every node sees (or use a
    PostgreSQL URL); a worker whose node dies is retried, and its trial is retried by the
    storage's recovery (this host's workers, or an RDB storage's heartbeat across hosts).
    """
    from dataclasses import replace

    from bench.ray_executor import connect, remote

    shared = replace(
        spec,
        runs_dir=str(Path(spec.runs_dir).resolve()),
        data_dir=str(Path(spec.data_dir).resolve()) if spec.data_dir else None,
        storage=spec.storage_target
        if is_url(spec.storage_target)
        else str(Path(spec.storage_target).resolve()),
    )
    ray = connect(execution)
    task = remote(ray, ray_worker, execution, execution.gpus_per_run or 0)
    try:
        refs = [
            task.remote(shared, worker, deadline, execution.cpus_per_run)
            for worker in range(spec.workers)
        ]
        print(f"ray: {spec.workers} sweep workers on {len(ray.nodes())} node(s)", flush=True)
        ray.get(refs)
    finally:
        ray.shutdown()
