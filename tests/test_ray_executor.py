"""The Ray executor against a real local two-node cluster: a head and a worker node started as
separate processes (``ray start --head`` / ``ray start --address``), a two-run plan sent with
``bench run --executor ray``, the worker node killed while both runs are half-way (each has a
checkpoint), and the plan still finishing with the numbers of a local run: the lost run is
retried on the head and resumes from its checkpoint. Then the same plan is all cache hits.
Before that, a grid sweep's two workers run as Ray tasks on the same cluster.
Runtime ~1.5 min on 2 cores.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
import yaml

from bench.plan import execute_plan
from bench.runner import RunOptions
from bench.store import is_finished, read_jsonl, run_dir
from bench.suites import load_suite, plan_runs
from sweeps.storage import open_storage
from tests.helpers import TINY
from tests.test_sweeps_support import write_tiny_suite

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCHEDULE = {"max_steps": 150, "checkpoint_every": 10, "eval_every": 75, "log_every": 10}


@pytest.fixture(autouse=True)
def _ray_installed():
    """Ray is the ``ray`` extra (in ``dev``): fails, never skips, in CI."""
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("ray missing: pip install 'cotbench[ray]'")
        pytest.skip("ray missing: pip install 'cotbench[ray]'")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """One ``ray start --block`` process in its own session (its whole node dies with it)."""

    def __init__(self, args: list[str], env: dict, log: Path) -> None:
        self.log = log
        command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *args]
        with open(log, "w") as out:
            self.process = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_started(self, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while "Ray runtime started" not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.time() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL every process of the node (raylet, its workers, the running task)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head (1 CPU, this machine's driver connects to it) and one worker node (1 CPU);
    the last test of this module kills the worker node."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "RAY_USAGE_STATS_ENABLED": "0",
        "COTBENCH_CACHE": str(tmp_path / "cache"),  # the tokenizer the local run trains
        "OMP_NUM_THREADS": "1",
        # notice a dead node within ~2 s instead of ~30 s
        "RAY_health_check_period_ms": "500",
        "RAY_health_check_timeout_ms": "500",
        "RAY_health_check_failure_threshold": "3",
    }
    head = Node(
        [
            "--head",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",  # loopback only
            "--num-cpus=1",
            "--num-gpus=0",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
        ],
        env,
        tmp_path / "head.log",
    )
    nodes = [head]
    try:
        head.wait_started()
        worker = Node(
            [
                f"--address=127.0.0.1:{port}",
                "--node-ip-address=127.0.0.1",
                "--num-cpus=1",
                "--num-gpus=0",
            ],
            env,
            tmp_path / "worker.log",
        )
        nodes.append(worker)
        worker.wait_started()
        yield f"127.0.0.1:{port}", worker, env
    finally:
        for node in reversed(nodes):
            node.kill()
        shutil.rmtree(temp, ignore_errors=True)


def _suite(tmp_path: Path) -> Path:
    overrides = {**{k: v for k, v in TINY.items() if k != "dataset"}, **SCHEDULE}
    path = tmp_path / "raycheck.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "description": "Ray executor check",
                "datasets": ["synth"],
                "strategies": ["dss", "dss+mi"],
                "seeds": [0],
                "default_profile": "cpu",
                "profiles": {"cpu": {"overrides": overrides}},
            }
        )
    )
    return path


def _numbers(directory: Path) -> tuple:
    losses = [
        {k: v for k, v in r.items() if k != "examples_per_s"}
        for r in read_jsonl(directory / "train_log.jsonl")
    ]
    return read_jsonl(directory / "predictions.jsonl"), losses


def test_sweep_workers_run_as_ray_tasks(cluster, tmp_path):
    import optuna

    address, _, env = cluster
    space = tmp_path / "grid.yaml"
    params = {"alpha3": {"type": "float", "low": 0.0, "high": 0.5, "grid": [0.0, 0.2]}}
    space.write_text(yaml.safe_dump({"strategies": ["dss+mi"], "params": params}))
    runs = tmp_path / "runs"
    command = [
        sys.executable, "-m", "bench.cli", "sweep", "--study", "onray", "--space", str(space),
        "--trials", "2", "--workers", "2", "--sampler", "grid", "--pruner", "none",
        "--suite", str(write_tiny_suite(tmp_path)), "--runs-dir", str(runs), "--no-eval",
        "--executor", "ray", "--address", address,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ray: 2 sweep workers on 2 node(s)" in done.stdout
    study = optuna.load_study(
        study_name="onray", storage=open_storage(str(runs / "optuna" / "onray.journal"))
    )
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(t.params["alpha3"] for t in trials) == [0.0, 0.2]


def test_plan_survives_a_killed_worker_node_with_the_local_numbers(cluster, tmp_path, monkeypatch):
    address, worker, env = cluster
    suite = _suite(tmp_path)
    _, configs = plan_runs(load_suite(str(suite)), None)
    monkeypatch.setenv("COTBENCH_CACHE", env["COTBENCH_CACHE"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the Ray tasks (--cpus-per-run 1)
    try:
        local = execute_plan(configs, RunOptions("raycheck", "cpu", runs_dir=tmp_path / "local"))
    finally:
        torch.set_num_threads(threads)

    runs = tmp_path / "shared-runs"  # "shared storage": every node of this cluster sees it
    directories = [run_dir(runs, "raycheck", c) for c in configs]
    command = [
        sys.executable, "-m", "bench.cli", "run", "--suite", str(suite), "--runs-dir", str(runs),
        "--executor", "ray", "--address", address,
    ]  # fmt: skip
    driver = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.time() + 240
        while not all(list((d / "checkpoints").glob("step-*")) for d in directories):
            assert driver.poll() is None, driver.stdout.read()
            assert time.time() < deadline, "the runs never reached a checkpoint"
            time.sleep(0.05)
        assert not any(is_finished(d) for d in directories), "a run ended before the kill"
        worker.kill()  # one run was training there: its node is gone mid-run
        output, _ = driver.communicate(timeout=240)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, output
    assert "ray: 2 runs submitted to 2 node(s)" in output
    for one, directory in zip(local, directories, strict=True):
        assert _numbers(directory) == _numbers(one.directory)

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("(cached)") == 2 and "ray: 0 runs submitted" in again.stdout
