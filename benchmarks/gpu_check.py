"""The GPU check: what a user's (or a lent) GPU runs first, in well under ten minutes, as one JSON.

Usage::

    bash benchmarks/gpu_check.sh [--out gpu_check.json] [--model google/t5-v1_1-base]
    bash benchmarks/gpu_check.sh --dry --out /tmp/gpu_check.json   # the same code on a CPU, tiny

It measures, on ``cuda``:

1. ``bench perf`` at the paper profile's shape: T5-v1.1-base, batch 64, input 1024, targets
   256, bf16 autocast; both designs (cotbench and the reference) of DSS and DSS+MI, with step
   time, examples/s, peak step memory, MFU, the designs' loss parity and the evaluation ratio;
2. a 50-step DSS+MI run of the ``paper`` profile on CQA through the run store (``run_one``:
   fused activation, checkpoint, validation, test), with its loss curve.

Without ``google/t5-v1_1-base`` in the Hugging Face cache it writes a random init of the
published configuration in the hub's layout and loads that (``weights: random`` in the JSON):
step time and memory do not depend on the weights' values. ``--dry`` runs every piece on the
CPU at tiny sizes (``tiny-t5-s`` on the generated task, still bf16 autocast), which is what CI
runs (``tests/test_gpu_check.py``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

PAPER_SHAPE = dict(batch=64, input_len=1024, target_len=256, steps=10, warmup=2)
RUN_STEPS = 50
CURVE_KEYS = ("step", "total", "pred", "explain", "mi", "examples_per_s")
DRY_RUN = {  # --dry: the generated task at tiny sizes (seconds on a CPU)
    "model": "tiny-t5-s",
    "vocab_size": 120,
    "synth": {"n_train": 48, "n_valid": 8, "n_test": 8, "steps": 2},
    "max_input_length": 48,
    "max_target_length": 48,
    "max_new_tokens": 8,
    "batch_size": 8,
    "eval_batch_size": 8,
}


def resolve_model(name: str, work_dir: Path) -> tuple[str, str]:
    """``name`` and ``"pretrained"`` when its weights load offline, else a local random init of
    its published configuration and ``"random"``."""
    from transformers import AutoConfig

    from bench.hub import T5_V1_1, write_random_t5_v1_1

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return name, "pretrained"
    except (OSError, ValueError):
        if name not in T5_V1_1:
            raise
    texts = [f"premise {i}: a person is outside. So the answer is yes" for i in range(200)]
    return str(write_random_t5_v1_1(name, work_dir / name.split("/")[-1], texts)), "random"


def perf_part(model: str, device: str, dry: bool) -> dict:
    """``bench perf`` at the paper shape (``dry``: its quick shape)."""
    from bench.perf.run import QUICK, PerfSettings, run_perf

    if dry:
        settings = PerfSettings(**QUICK, quick=True, precision="bf16", device=device)
    else:
        settings = PerfSettings(
            model=model, dataset="cqa", precision="bf16", device=device, **PAPER_SHAPE
        )
    start = time.perf_counter()
    result = run_perf(settings)
    result["wall_s"] = time.perf_counter() - start
    return result


def run_part(model: str, runs_dir: Path, dry: bool) -> dict:
    """A ``RUN_STEPS``-step DSS+MI run of the paper profile; its losses and metrics."""
    from bench.runner import RunOptions, run_one
    from bench.store import read_jsonl
    from bench.suites import load_suite, plan_runs

    overrides = {
        "max_steps": RUN_STEPS,
        "eval_every": RUN_STEPS,
        "checkpoint_every": RUN_STEPS // 2,
        "log_every": 5,
        "max_eval": 200,
        **(DRY_RUN if dry else {"model": model}),
    }
    _, (config,) = plan_runs(
        load_suite("paper-table"),
        "paper",
        datasets=["synth" if dry else "cqa"],
        strategies=["dss+mi"],
        seeds=[0],
        overrides=overrides,
    )
    start = time.perf_counter()
    options = RunOptions("gpu-check", "paper", runs_dir=runs_dir, force=True)
    result = run_one(config, options)
    log = read_jsonl(result.directory / "train_log.jsonl")
    losses = [r for r in log if r["kind"] == "train"]
    return {
        "config_hash": config.config_hash(),
        "wall_s": time.perf_counter() - start,
        "steps": result.metrics["steps"],
        "timing": result.metrics["timing"],
        "test_accuracy": result.metrics["primary"]["accuracy"],
        "valid": [r for r in log if r["kind"] == "valid"],
        "loss_curve": [
            {
                k: r[k]
                for k in ("step", "total", "pred", "explain", "mi", "examples_per_s")
                if k in r
            }
            for r in losses
        ],
    }


def gpu_check(out: Path, model: str = "google/t5-v1_1-base", dry: bool = False) -> dict:
    """Run both parts and write one JSON to ``out``; returns it."""
    from bench.provenance import environment_record
    from bench.store import write_json

    device = "cpu" if dry else "cuda"
    if not dry and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device (use --dry to run the CPU check)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        source, weights = ("tiny-t5-s", "random") if dry else resolve_model(model, work)
        report = {
            "dry": dry,
            "model": model if not dry else "tiny-t5-s",
            "weights": weights,
            "environment": environment_record(torch.device(device)),
            "perf": perf_part(source, device, dry),
            "run": run_part(source, work / "runs", dry),
        }
    if device == "cuda":
        report["environment"]["gpu_memory_bytes"] = torch.cuda.get_device_properties(0).total_memory
    losses = [r["total"] for r in report["run"]["loss_curve"]]
    report["checks"] = {
        "run_losses_finite": bool(losses) and all(math.isfinite(v) for v in losses),
        "run_steps": report["run"]["steps"] == RUN_STEPS,
        "perf_parity_max_abs_diff": max(
            p["max_abs_diff"] for p in report["perf"]["parity"].values()
        ),
    }
    report["wall_s"] = time.perf_counter() - started
    write_json(out, report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run the check, print a summary; 0 when the run's checks pass."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu_check.json", help="JSON file to write")
    parser.add_argument("--model", default="google/t5-v1_1-base", help="hub id or local path")
    parser.add_argument("--dry", action="store_true", help="tiny sizes on the CPU (CI)")
    args = parser.parse_args(argv)
    report = gpu_check(Path(args.out), args.model, args.dry)
    steps = report["perf"]["settings"]["steps"]
    for strategy, designs in report["perf"]["train"].items():
        for design in ("reference", "cotbench"):
            d = designs[design]
            print(
                f"{strategy:7s} {design:9s} {d['seconds'] / steps:.3f} s/step  "
                f"{d['peak_step_bytes'] / 2**30:.2f} GiB peak  mfu {d['mfu']:.2f}"
            )
    curve = report["run"]["loss_curve"]
    print(f"{RUN_STEPS}-step dss+mi: loss {curve[0]['total']:.3f} -> {curve[-1]['total']:.3f}")
    print(f"checks: {report['checks']}; written to {args.out} ({report['wall_s']:.0f}s)")
    return 0 if report["checks"]["run_losses_finite"] and report["checks"]["run_steps"] else 1


if __name__ == "__main__":
    sys.exit(main())
