"""GPU-aware local jobs, checked on a CPU host by faking the visible GPUs: each worker owns its
own ``CUDA_VISIBLE_DEVICES`` (recorded in ``env.json``), a run on K > 1 GPUs is launched with K
data-parallel processes, N x K above the visible GPUs is one ``error:`` line, and the numbers
equal an in-process run's."""

from __future__ import annotations

import os

import pytest
import torch

from bench import executors
from bench.cli import main
from bench.errors import ConfigError
from bench.executors import Execution, gpu_groups
from bench.plan import execute_plan
from bench.runner import RunOptions
from bench.store import read_json
from tests.helpers import tiny_config

GPUS = ["3", "5", "7", "9"]  # what CUDA_VISIBLE_DEVICES of a 4-GPU job slot could say


def test_gpu_groups_split_the_visible_gpus():
    assert gpu_groups(Execution(jobs=2, gpus_per_run=2), GPUS) == [["3", "5"], ["7", "9"]]
    assert gpu_groups(Execution(jobs=3), GPUS) == [["3"], ["5"], ["7"]]  # default: 1 each
    assert gpu_groups(Execution(jobs=2), []) is None  # no GPU: CPU as before
    assert gpu_groups(Execution(jobs=2, gpus_per_run=0), GPUS) is None  # CPU on request
    with pytest.raises(ConfigError, match=r"--jobs 3 x --gpus-per-run 2 needs 6 GPUs; 4 visible"):
        gpu_groups(Execution(jobs=3, gpus_per_run=2), GPUS)
    with pytest.raises(ConfigError, match="needs 1 GPUs; 0 visible"):
        gpu_groups(Execution(gpus_per_run=1), [])


def test_too_many_gpus_is_one_error_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(executors, "visible_gpus", lambda: GPUS[:3])
    argv = ["run", "--suite", "smoke", "--runs-dir", str(tmp_path), "--jobs", "2"]
    assert main([*argv, "--gpus-per-run", "2"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --jobs 2 x --gpus-per-run 2 needs 4 GPUs; 3 visible (3,5,7)\n"
    assert not list(tmp_path.rglob("config.json"))  # nothing started
    assert main([*argv, "--address", "x:1"]) == 2  # --address belongs to --executor ray
    assert "only with --executor ray" in capsys.readouterr().err


@pytest.mark.slow
def test_each_worker_owns_its_gpu_and_numbers_do_not_change(monkeypatch, tmp_path):
    configs = [tiny_config(strategy="dss", seed=s) for s in (0, 1)]
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))  # as each of the 2 workers
    try:
        local = execute_plan(configs, RunOptions("t", runs_dir=tmp_path / "a"))
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(executors, "visible_gpus", lambda: GPUS)
    on_gpus = execute_plan(configs, RunOptions("t", runs_dir=tmp_path / "b"), Execution(jobs=2))
    for one, other in zip(local, on_gpus, strict=True):
        assert one.metrics["test"] == other.metrics["test"]
        assert read_json(other.directory / "env.json")["cuda_visible_devices"] in ("3", "5")
        assert "cuda_visible_devices" not in read_json(one.directory / "env.json")


@pytest.mark.slow
def test_a_run_on_two_gpus_trains_with_two_processes(monkeypatch, tmp_path):
    monkeypatch.setattr(executors, "visible_gpus", lambda: GPUS)
    (result,) = execute_plan(
        [tiny_config(strategy="dss")],
        RunOptions("t", runs_dir=tmp_path),
        Execution(jobs=1, gpus_per_run=2),
    )
    env = read_json(result.directory / "env.json")
    assert env["cuda_visible_devices"] == "3,5" and env["num_processes"] == 2
    assert result.metrics["steps"] == tiny_config().max_steps
