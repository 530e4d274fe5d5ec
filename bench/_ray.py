"""The Ray executor: every run of a plan is a Ray task with the run's resources.

``bench run ... --executor ray [--address ray://head:10001]`` (and ``bench ablate``) connects
to the cluster, skips finished runs (cache hits, read on the driver), and submits one task per
remaining run with ``num_cpus=--cpus-per-run`` and ``num_gpus=--gpus-per-run`` (a run on K > 1
GPUs trains with K data-parallel processes inside its task). The run store must be on storage
every node sees (a shared filesystem path, the same on every node): each task writes its run
directory there, and a task whose node or worker process dies is retried (``--retries``) and
resumes from the run's last checkpoint, so the plan ends with the numbers of an uninterrupted
run. The driver prints one line per finished run, as the local executor does.

Ray is optional: ``pip install 'cotbench[ray]'`` on the driver and on every node.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from bench._text import plural
from bench.config import RunConfig
from bench.errors import ConfigError
from bench.executors import Execution, Outcome, launch_distributed, timed_run
from bench.runner import RunResult
from bench.store import is_finished, read_json, run_dir

# variables the driver passes on to the tasks when they are set (the nodes' own otherwise)
FORWARDED_ENV = ("COTBENCH_CACHE", "HF_HUB_OFFLINE", "HF_HOME", "TOKENIZERS_PARALLELISM")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'cotbench[ray]'") from None
    return ray


def _wait_for_lock(directory: Path) -> None:
    """Block while another process holds the run (a lost attempt that has not died yet)."""
    lock = directory / ".lock"
    if lock.is_file():
        with open(lock) as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_task(config: RunConfig, kwargs: dict, gpus: int, threads: int) -> Outcome:
    """One run inside a Ray task (a retry resumes from the run's last checkpoint)."""
    import torch

    torch.set_num_threads(threads)
    _wait_for_lock(run_dir(Path(kwargs["runs_dir"]), kwargs["suite"], config))
    if gpus > 1:  # Ray set CUDA_VISIBLE_DEVICES to this task's GPUs
        return launch_distributed(config, kwargs, gpus)
    return timed_run(config, kwargs)


def run_on_ray(
    configs: list[RunConfig],
    kwargs: dict,
    execution: Execution,
    on_done: Callable[[int, Outcome], None],
) -> list[RunResult]:
    """Train ``configs`` as Ray tasks; ``on_done`` as each finishes; results in plan order."""
    ray = _import_ray()
    kwargs = {
        **kwargs,
        "runs_dir": str(Path(kwargs["runs_dir"]).resolve()),  # the same path on every node
        "data_dir": str(Path(kwargs["data_dir"]).resolve()) if kwargs.get("data_dir") else None,
    }
    if kwargs["data_dir"] is None:
        from bench.data import resolve_data_dir

        kwargs["data_dir"] = str(resolve_data_dir(None).resolve())
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    ray.init(
        address=execution.address,
        runtime_env={"env_vars": env},
        log_to_driver=False,
        configure_logging=False,
    )
    gpus = execution.gpus_per_run or 0
    task = ray.remote(run_task).options(
        num_cpus=execution.cpus_per_run,
        num_gpus=gpus,
        max_retries=execution.retries,
        retry_exceptions=False,  # an error in the run is not retried; a lost worker is
    )
    done: dict[int, Outcome] = {}
    pending: dict = {}
    for index, config in enumerate(configs):
        directory = run_dir(Path(kwargs["runs_dir"]), kwargs["suite"], config)
        if is_finished(directory) and not kwargs.get("force"):
            result = RunResult(directory, True, read_json(directory / "metrics.json"))
            done[index] = (result, config, 0.0)
            on_done(len(done), done[index])
        else:
            pending[task.remote(config, kwargs, gpus, execution.cpus_per_run)] = index
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


def sweep_task(spec, worker: int, deadline: float | None, threads: int) -> None:
    """One sweep worker's trial loop inside a Ray task (see :func:`sweeps._workers.work`)."""
    import torch

    from sweeps._workers import work

    torch.set_num_threads(threads)
    work(spec, worker, deadline)


def run_sweep_on_ray(spec, deadline: float | None, execution: Execution) -> None:
    """Run ``spec.workers`` sweep workers as Ray tasks sharing the study's storage.

    The run store and a journal storage must be on storage every node sees (or use a
    PostgreSQL URL); a worker whose node dies is retried, and its trial is retried by the
    storage's recovery (this host's workers, or an RDB storage's heartbeat across hosts).
    """
    from dataclasses import replace

    from sweeps._storage import is_url

    ray = _import_ray()
    shared = replace(
        spec,
        runs_dir=str(Path(spec.runs_dir).resolve()),
        data_dir=str(Path(spec.data_dir).resolve()) if spec.data_dir else None,
        storage=spec.storage_target
        if is_url(spec.storage_target)
        else str(Path(spec.storage_target).resolve()),
    )
    env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
    ray.init(
        address=execution.address,
        runtime_env={"env_vars": env},
        log_to_driver=False,
        configure_logging=False,
    )
    task = ray.remote(sweep_task).options(
        num_cpus=execution.cpus_per_run,
        num_gpus=execution.gpus_per_run or 0,
        max_retries=execution.retries,
        retry_exceptions=False,
    )
    try:
        refs = [
            task.remote(shared, worker, deadline, execution.cpus_per_run)
            for worker in range(spec.workers)
        ]
        print(f"ray: {spec.workers} sweep workers on {len(ray.nodes())} node(s)", flush=True)
        ray.get(refs)
    finally:
        ray.shutdown()
