"""Where a plan's runs train: this process, local worker processes, or a Ray cluster.

:class:`Execution` holds the choice (``bench run/ablate --jobs N --gpus-per-run K --executor
local|ray --address ...``) and :func:`run_configs` carries it out, calling ``on_done`` as each
run finishes (progress) and returning the results in plan order:

- ``local`` on a CPU host: ``--jobs 1`` trains in this process; ``--jobs N`` in N spawned
  processes. Every run sets its own torch threads (``--threads``, recorded in ``env.json``), so
  its numbers do not depend on ``--jobs``.
- ``local`` with GPUs (CUDA visible and ``--gpus-per-run`` not 0; default 1): N spawned
  workers, each owning K of the visible GPUs through its own ``CUDA_VISIBLE_DEVICES``; a run on
  K > 1 GPUs is launched under ``torch.distributed.run`` with K processes (data parallel, one
  GPU each). N x K above the visible GPUs is refused before any training.
- ``ray``: every run is a Ray task with the run's resources (:mod:`bench.ray_executor`).

A run's numbers do not depend on where it trained; the run directory's ``env.json`` records the
device and the ``CUDA_VISIBLE_DEVICES`` it saw.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import torch

from bench.config import RunConfig
from bench.errors import BenchError, ConfigError
from bench.runner import RunOptions, RunResult, run_one

EXECUTORS = ("local", "ray")
Outcome = tuple[RunResult, RunConfig, float]  # result, its config, wall seconds


@dataclass(frozen=True)
class Execution:
    """How a plan's runs are spread over processes, GPUs and machines."""

    jobs: int = 1  # local: runs trained at once
    threads: int | None = None  # torch threads per run (None: bench.runner.DEFAULT_THREADS)
    gpus_per_run: int | None = None  # None: 1 when CUDA GPUs are visible, else 0 (CPU)
    executor: str = "local"  # local or ray
    address: str | None = None  # ray: cluster address (None: RAY_ADDRESS or a running/new one)
    cpus_per_run: int = 1  # ray: CPUs reserved per run (its torch threads)
    retries: int = 3  # ray: attempts after a lost node/worker (each resumes from its checkpoint)

    def validate(self) -> Execution:
        """Check the values (not the cluster); returns self."""
        if self.executor not in EXECUTORS:
            raise ConfigError(f"--executor {self.executor}: expected one of {', '.join(EXECUTORS)}")
        for flag, value, low in (
            ("--jobs", self.jobs, 1),
            ("--threads", self.threads or 1, 1),
            ("--cpus-per-run", self.cpus_per_run, 1),
            ("--retries", self.retries, 0),
        ):
            if value < low:
                raise ConfigError(f"{flag} {value}: expected an integer >= {low}")
        if self.gpus_per_run is not None and self.gpus_per_run < 0:
            raise ConfigError(f"--gpus-per-run {self.gpus_per_run}: expected an integer >= 0")
        if self.address and self.executor != "ray":
            raise ConfigError("--address: only with --executor ray")
        return self


def visible_gpus() -> list[str]:
    """The GPUs this process may give out: ``CUDA_VISIBLE_DEVICES``'s entries (indices, UUIDs
    or MIG ids) when set, else every device torch sees; none without CUDA."""
    if not torch.cuda.is_available():
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [device.strip() for device in listed.split(",") if device.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def _distributed_launch() -> bool:
    """True under ``torchrun`` / ``accelerate launch`` (the launcher placed the processes)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def gpu_groups(execution: Execution, visible: list[str]) -> list[list[str]] | None:
    """The GPUs of each local worker, or None to train on the CPU.

    >>> gpu_groups(Execution(jobs=2, gpus_per_run=2), ["0", "1", "2", "3"])
    [['0', '1'], ['2', '3']]
    """
    per_run = execution.gpus_per_run
    if per_run == 0 or (per_run is None and (not visible or _distributed_launch())):
        return None
    per_run = per_run or 1
    needed = execution.jobs * per_run
    if needed > len(visible):
        raise ConfigError(
            f"--jobs {execution.jobs} x --gpus-per-run {per_run} needs {needed} GPUs; "
            f"{len(visible)} visible ({','.join(visible) or 'none'})"
        )
    return [visible[i * per_run : (i + 1) * per_run] for i in range(execution.jobs)]


def timed_run(config: RunConfig, options: RunOptions) -> Outcome:
    """``run_one`` with its wall time."""
    start = time.perf_counter()
    return run_one(config, options), config, time.perf_counter() - start


def run_configs(
    configs: list[RunConfig],
    options: RunOptions,
    execution: Execution,
    on_done: Callable[[int, Outcome], None],
) -> list[RunResult]:
    """Train every config with ``options`` as ``execution`` says; ``on_done(n_finished,
    outcome)`` as each finishes; the results in plan order."""
    execution.validate()
    if execution.executor == "ray":
        from bench.ray_executor import run_on_ray

        return run_on_ray(configs, options, execution, on_done)
    groups = gpu_groups(execution, visible_gpus())
    if groups is None and execution.jobs == 1:
        outcomes = []
        for config in configs:
            outcomes.append(timed_run(config, options))
            on_done(len(outcomes), outcomes[-1])
        return [outcome[0] for outcome in outcomes]
    context = multiprocessing.get_context("spawn")
    if groups is None:  # CPU: each run sets its own thread count (bench.runner)
        pool = ProcessPoolExecutor(execution.jobs, context, initializer=_quiet_interrupt)
        task: Callable[[RunConfig, RunOptions], Outcome] = timed_run
    else:  # each worker takes one group of GPUs for its lifetime
        slots = context.Queue()
        for group in groups:
            slots.put(group)
        threads = max(1, (os.cpu_count() or 1) // execution.jobs)
        pool = ProcessPoolExecutor(
            execution.jobs, context, initializer=_claim_gpus, initargs=(slots, threads)
        )
        task = run_on_claimed_gpus
    with pool:
        futures = [pool.submit(task, config, options) for config in configs]
        done: dict[int, Outcome] = {}
        for future in as_completed(futures):
            index = futures.index(future)
            done[index] = future.result()
            on_done(len(done), done[index])
    return [done[i][0] for i in range(len(configs))]


def _quiet_interrupt() -> None:
    """Worker initializer: Ctrl-C ends the worker without a traceback (the main process reports
    it; the run resumes from its last checkpoint)."""
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))


def _claim_gpus(slots, threads: int) -> None:
    """Worker initializer: own one group of GPUs (before CUDA is initialised here)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(slots.get())
    torch.set_num_threads(threads)
    _quiet_interrupt()


def run_on_claimed_gpus(config: RunConfig, options: RunOptions) -> Outcome:
    """Train on this process's ``CUDA_VISIBLE_DEVICES``: in process on one GPU, or under
    ``torch.distributed.run`` with one process per GPU."""
    devices = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
    finished = options.run_dir(config).is_finished()
    if len(devices) <= 1 or (finished and not options.force):
        return timed_run(config, options)  # one GPU, or a cache hit
    return launch_distributed(config, options, len(devices))


def launch_distributed(config: RunConfig, options: RunOptions, processes: int) -> Outcome:
    """Train one run with ``processes`` data-parallel processes (``torch.distributed.run``,
    this environment's GPUs); returns its outcome read from the run directory."""
    start = time.perf_counter()
    request = {"config": config.to_dict(), "options": options.to_dict()}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(request, handle)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc_per_node", str(processes), "-m", "bench.launch", handle.name,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(handle.name)
    if done.returncode != 0:
        raise BenchError(
            f"{config.dataset} {config.strategy} seed {config.seed}: the {processes}-process "
            f"run failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
        )
    run = options.run_dir(config)
    result = RunResult(run.path, False, run.read_metrics())
    return result, config, time.perf_counter() - start
