"""Two processes under ``torchrun`` (CPU, gloo; on GPUs ``accelerate launch --multi_gpu``):
each trains on its share of every batch, only the main process writes, and the run directory
ends complete and finished."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from bench.store import iter_runs, read_json, read_jsonl
from tests.helpers import TINY

pytestmark = pytest.mark.slow


def test_two_process_run_is_complete(tmp_path):
    suite = tmp_path / "mp.yaml"
    suite.write_text(
        yaml.safe_dump(
            {
                "description": "two-process check",
                "datasets": ["synth"],
                "strategies": ["dss"],
                "seeds": [0],
                "profiles": {
                    "cpu": {"overrides": {k: v for k, v in TINY.items() if k != "dataset"}}
                },
            }
        )
    )
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "-m", "bench.cli", "run", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs"),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (directory,) = iter_runs(tmp_path / "runs")
    assert read_json(directory / "env.json")["num_processes"] == 2
    metrics = read_json(directory / "metrics.json")
    assert metrics["steps"] == TINY["max_steps"]
    assert len(read_jsonl(directory / "predictions.jsonl")) == TINY["synth"]["n_test"]
    assert not (directory / "checkpoints").exists()
