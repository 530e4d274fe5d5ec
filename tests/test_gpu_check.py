"""``benchmarks/gpu_check.py`` on a CPU (``--dry``): every part a GPU runs (``bench perf`` of
both designs in bf16, the paper profile's 50-step DSS+MI run, the JSON and its checks) at tiny
sizes, so that the script a lent GPU runs has been executed. ~15 s."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.store import read_json

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks/gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_gpu_check_writes_one_json(tmp_path, capsys):
    gpu_check = _script()
    out = tmp_path / "check.json"
    assert gpu_check.main(["--dry", "--out", str(out)]) == 0
    report = read_json(out)
    assert report["dry"] and report["environment"]["device"] == "cpu"
    assert report["perf"]["settings"]["precision"] == "bf16"
    for designs in report["perf"]["train"].values():
        assert {"reference", "cotbench", "speedup"} <= designs.keys()
        assert designs["cotbench"]["peak_step_bytes"] > 0
    curve = report["run"]["loss_curve"]
    assert [r["step"] for r in curve] == list(range(5, gpu_check.RUN_STEPS + 1, 5))
    assert {"total", "pred", "explain", "mi"} <= curve[0].keys()
    assert report["checks"]["run_losses_finite"] and report["checks"]["run_steps"]
    assert report["checks"]["perf_parity_max_abs_diff"] < 1e-4
    assert f"{gpu_check.RUN_STEPS}-step dss+mi: loss" in capsys.readouterr().out


def test_the_shell_wrapper_parses_and_refuses_without_a_gpu(tmp_path):
    assert subprocess.run(["bash", "-n", ROOT / "benchmarks/gpu_check.sh"]).returncode == 0
    done = subprocess.run(
        ["bash", ROOT / "benchmarks/gpu_check.sh", "--out", tmp_path / "x.json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert done.returncode == 1 and "no CUDA device" in done.stderr
