"""The Ray executor: every run of a plan is a Ray task with the run's resources.

``bench run ... --executor ray [--address ray://head:10001]`` (and ``bench ablate``) connects
to the cluster, skips finished runs (cache hits, read on the driver), and submits one task per
remaining run with ``num_cpus=--cpus-per-run`` and ``num_gpus=--gpus-per-run`` (a run on K > 1
GPUs trains with K data-parallel processes inside its task). The run store must be on storage
every node sees (a shared filesystem path, the same on every node): each task writes its run
directory there, and a task whose node or worker process dies is retried (``--retries``) and
resumes from the run's last checkpoint, so the plan ends with the numbers of an uninterrupted
run. The driver prints one line per finished run, as the local executor does.

:func:`connect` and :func:`remote` are the generic pieces (``sweeps`` runs its workers with them).
Ray is optional: ``pip install 'cotbench[ray]'`` on the driver and on every node.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from typing import Any

from bench.config import RunConfig
from bench.errors import ConfigError
from bench.executors import Execution, Outcome, launch_distributed, timed_run
from bench.runner import RunOptions, RunResult
from bench.store import RunDir
from bench.text import plural

# variables the driver passes on to the tasks when they are set (the nodes' own otherwise)
FORWARDED_ENV = ("COTBENCH_CACHE", "HF_HUB_OFFLINE", "HF_HOME", "TOKENIZERS_PARALLELISM")


def connect(execution: Execution) -> Any:
    """Import Ray and connect to ``execution.address`` (a local cluster when None), passing
    :data:`FORWARDED_ENV` on to the tasks; returns the ``ray`` module."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'cotbench[ray]'") from None
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    ray.init(
        address=execution.address,
        runtime_env={"env_vars": env},
        log_to_driver=False,
        configure_logging=False,
    )
    return ray


def remote(ray: Any, function: Callable, execution: Execution, gpus: int) -> Any:
    """``function`` as a Ray task with ``execution``'s CPUs and retries and ``gpus`` GPUs: a
    lost worker is retried, an error in the function is not."""
    return ray.remote(function).options(
        num_cpus=execution.cpus_per_run,
        num_gpus=gpus,
        max_retries=execution.retries,
        retry_exceptions=False,
    )


def _wait_for_lock(run: RunDir) -> None:
    """Block while another process holds the run (a lost attempt that has not died yet)."""
    if run.lock_file.is_file():
        with open(run.lock_file) as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_task(config: RunConfig, options: RunOptions, gpus: int, threads: int) -> Outcome:
    """One run inside a Ray task (a retry resumes from the run's last checkpoint)."""
    import torch

    torch.set_num_threads(threads)
    _wait_for_lock(options.run_dir(config))
    if gpus > 1:  # Ray set CUDA_VISIBLE_DEVICES to this task's GPUs
        return launch_distributed(config, options, gpus)
    return timed_run(config, options)


def run_on_ray(
    configs: list[RunConfig],
    options: RunOptions,
    execution: Execution,
    on_done: Callable[[int, Outcome], None],
) -> list[RunResult]:
    """Train ``configs`` as Ray tasks; ``on_done`` as each finishes; results in plan order."""
    options = options.resolved()  # the same paths on every node
    ray = connect(execution)
    gpus = execution.gpus_per_run or 0
    task = remote(ray, run_task, execution, gpus)
    done: dict[int, Outcome] = {}
    pending: dict = {}
    for index, config in enumerate(configs):
        run = options.run_dir(config)
        if run.is_finished() and not options.force:
            result = RunResult(run.path, True, run.read_metrics())
            done[index] = (result, config, 0.0)
            on_done(len(done), done[index])
        else:
            pending[task.remote(config, options, gpus, execution.cpus_per_run)] = index
    resources = ray.cluster_resources()
    print(
        f"ray: {plural(len(pending), 'run')} submitted to {len(ray.nodes())} node(s) "
        f"({resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs)",
        flush=True,
    )
    start = time.perf_counter()
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            done[index] = ray.get(ready[0])
            on_done(len(done), done[index])
    finally:
        for ref in pending:
            ray.cancel(ref)
        ray.shutdown()
    if configs:
        print(f"ray: plan finished in {time.perf_counter() - start:.0f}s", flush=True)
    return [done[i][0] for i in range(len(configs))]
