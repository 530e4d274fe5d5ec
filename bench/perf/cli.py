"""``bench perf``: the subcommand (wired into ``bench.cli`` by ``add_perf_parser``).

Usage::

    bench perf [--model M] [--dataset D] [--batch B] [--input-len L] [--target-len T]
               [--steps N] [--warmup K] [--threads N] [--precision fp32|bf16]
               [--device cpu|cuda] [--eval-examples N] [--quick] [--json] [--out FILE]

Torch is imported inside the command.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

# flags that --quick sets when they are not given explicitly
TUNABLE = ("model", "dataset", "batch", "input_len", "target_len", "steps", "warmup")


def _cmd_perf(args: argparse.Namespace) -> int:
    from bench.perf.report import render_json, render_table
    from bench.perf.run import QUICK, PerfSettings, run_perf
    from bench.store import write_json

    given = {f.name: getattr(args, f.name) for f in fields(PerfSettings) if f.name in vars(args)}
    if args.quick:
        given.update({k: QUICK[k] for k in TUNABLE if given[k] is None})
    settings = PerfSettings(**{k: v for k, v in given.items() if v is not None})
    result = run_perf(settings)
    print(render_json(result) if args.json else render_table(result))
    if args.output:
        write_json(Path(args.output), result)
    return 0


def add_perf_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``perf`` subcommand to ``bench``'s subparsers."""
    perf = subparsers.add_parser(
        "perf",
        help="training-step and evaluation throughput of cotbench vs the reference design",
    )
    perf.add_argument("--model", help="model preset, path or hub id (default: tiny-t5)")
    perf.add_argument("--dataset", help="dataset (default: cqa)")
    perf.add_argument("--batch", type=int, help="examples per step (default: 32)")
    perf.add_argument("--input-len", type=int, help="max input tokens (default: 256)")
    perf.add_argument("--target-len", type=int, help="max target tokens (default: 128)")
    perf.add_argument("--steps", type=int, help="timed optimizer steps (default: 10)")
    perf.add_argument("--warmup", type=int, help="untimed warm-up steps (default: 2)")
    perf.add_argument("--threads", type=int, help="torch threads (default: torch's current)")
    perf.add_argument("--precision", choices=("fp32", "bf16"), help="default: fp32")
    perf.add_argument("--device", choices=("cpu", "cuda"), help="default: cpu")
    perf.add_argument("--eval-examples", type=int, help="test examples evaluated (default: 256)")
    perf.add_argument(
        "--quick", action="store_true", help="tiny sizes (tiny-t5-s, synth, 3 steps): seconds"
    )
    perf.add_argument("--json", action="store_true", help="print JSON instead of the table")
    perf.add_argument(
        "--out",
        "--output",
        dest="output",
        metavar="FILE",
        help="also write the JSON to this file, atomically (--output is the old name)",
    )
    perf.set_defaults(func=_cmd_perf)
