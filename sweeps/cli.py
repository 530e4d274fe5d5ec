"""The ``bench ablate`` and ``bench sweep`` subcommands: thin layers over :mod:`sweeps`.

``bench/cli.py`` calls :func:`add_sweep_parsers`; each command imports the library when it runs
and reports bad input as a :class:`~bench.errors.ConfigError` (one ``error:`` line, exit code 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.cli_args import (
    add_executor_arguments,
    add_jobs_argument,
    add_plan_arguments,
    add_run_options,
    execution_from_args,
    run_options_from_args,
)
from bench.errors import ConfigError

DEFAULT_EVAL_SEEDS = "0,1,2"


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _ints(flag: str, value: str | None) -> list[int] | None:
    try:
        return [int(v) for v in _split(value) or []] or None
    except ValueError:
        raise ConfigError(f"{flag} {value}: expected comma-separated integers") from None


def _cmd_ablate(args: argparse.Namespace) -> int:
    from bench.config import parse_set_options
    from bench.plan import describe_plan
    from sweeps.ablate import plan_ablation, plan_lines, run_ablation
    from sweeps.keys import parse_values

    plan = plan_ablation(
        args.suite,
        args.vary,
        parse_values(args.values) if args.values else None,
        profile=args.profile,
        datasets=_split(args.datasets),
        strategies=_split(args.strategies),
        seeds=_ints("--seeds", args.seeds),
        overrides=parse_set_options(args.set),
    )
    execution = execution_from_args(args)
    options = run_options_from_args(args, plan.suite, plan.profile)
    print("\n".join(plan_lines(plan)))
    values = [f"{plan.key}={value}" for value, _ in plan.runs]
    print(describe_plan(plan.suite, plan.profile, plan.configs, args.runs_dir, notes=values))
    if args.dry_run:
        return 0
    section = run_ablation(plan, options, out=args.out, execution=execution)
    print(f"ablation table, figure and report section in {section.parent}")
    return 0


def _spec(args: argparse.Namespace) -> Any:
    from bench.config import parse_set_options
    from sweeps.spaces import load_space
    from sweeps.spec import SweepSpec

    datasets, strategies = _split(args.datasets), _split(args.strategies)
    seeds = _ints("--seeds", args.seeds)
    return SweepSpec(
        study=args.study,
        space=load_space(args.space),
        trials=args.trials,
        suite=args.suite,
        profile=args.profile,
        datasets=tuple(datasets) if datasets else None,
        strategies=tuple(strategies) if strategies else None,
        seeds=tuple(seeds) if seeds else None,
        overrides=parse_set_options(args.set),
        storage=args.storage,
        runs_dir=args.runs_dir,
        data_dir=args.data_dir,
        workers=args.workers,
        timeout=args.timeout,
        sampler=args.sampler,
        pruner=args.pruner,
        seed=args.seed,
        direction=args.direction,
    )


def _cmd_sweep(args: argparse.Namespace) -> int:
    from sweeps.finish import finish_sweep
    from sweeps.study import run_sweep

    spec = _spec(args)
    eval_seeds = [] if args.no_eval else _ints("--eval-seeds", args.eval_seeds) or []
    from bench.executors import Execution

    execution = Execution(
        executor=args.executor,
        address=args.address,
        gpus_per_run=args.gpus_per_run,
        cpus_per_run=args.cpus_per_run,
        retries=args.retries,
    ).validate()
    run_sweep(spec, execution)
    section = finish_sweep(spec, eval_seeds=eval_seeds, out=args.out)
    print(f"sweep tables, figures and report section in {section.parent}")
    return 0


def add_sweep_parsers(subparsers: Any) -> None:
    """Add ``ablate`` and ``sweep`` to ``bench``'s subparsers."""
    from sweeps.samplers import DIRECTIONS, PRUNERS, SAMPLERS

    ablate = subparsers.add_parser(
        "ablate", help="grid over one config key: table, figure and report section"
    )
    ablate.add_argument("--vary", required=True, metavar="KEY", help="config key, e.g. alpha3")
    ablate.add_argument("--values", help="comma-separated values (default: the key's default grid)")
    add_plan_arguments(ablate)
    ablate.add_argument(
        "--out", help="output directory (default: <runs-dir>/ablations/<suite>-<key>)"
    )
    ablate.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    add_run_options(ablate)
    add_jobs_argument(ablate)
    ablate.set_defaults(func=_cmd_ablate)

    sweep = subparsers.add_parser(
        "sweep", help="Optuna study over a search space; objective: validation accuracy"
    )
    sweep.add_argument("--study", required=True, help="study name")
    sweep.add_argument("--space", required=True, help="built-in space (alphas, noise) or YAML file")
    sweep.add_argument(
        "--trials", type=int, required=True, help="finished trials wanted, over all workers"
    )
    add_plan_arguments(sweep, suite_default="smoke")
    sweep.add_argument(
        "--storage",
        help="Optuna RDB URL, e.g. postgresql://user@host/db, or a journal file path "
        "(default: <runs-dir>/optuna/<study>.journal)",
    )
    sweep.add_argument(
        "--jobs",
        "--workers",
        dest="workers",
        metavar="N",
        type=int,
        default=1,
        help="worker processes, each running trials (default: 1; --workers is the old name)",
    )
    sweep.add_argument("--timeout", type=float, help="seconds after which no trial starts")
    add_executor_arguments(
        sweep,
        "worker",
        "one task per worker; the runs dir and journal on storage every node sees, or a "
        "postgresql:// storage",
    )
    sweep.add_argument(
        "--gpus-per-run", type=int, help="with --executor ray: GPUs per worker (default 0)"
    )
    sweep.add_argument("--sampler", choices=SAMPLERS, default="tpe", help="default: tpe")
    sweep.add_argument("--pruner", choices=PRUNERS, default="median", help="default: median")
    sweep.add_argument("--seed", type=int, default=0, help="sampler seed (default: 0)")
    sweep.add_argument("--direction", choices=DIRECTIONS, help="default: the space's")
    sweep.add_argument(
        "--eval-seeds",
        default=DEFAULT_EVAL_SEEDS,
        help=f"seeds of the best trial's test re-evaluation (default: {DEFAULT_EVAL_SEEDS})",
    )
    sweep.add_argument("--no-eval", action="store_true", help="skip the test re-evaluation")
    sweep.add_argument("--out", help="output directory (default: <runs-dir>/sweeps/<study>)")
    sweep.set_defaults(func=_cmd_sweep)
