"""Command-line flags shared by every subcommand that plans runs (run, ablate, sweep)."""

from __future__ import annotations

import argparse

from bench.errors import ConfigError


def add_plan_arguments(parser: argparse.ArgumentParser, suite_default: str | None = None) -> None:
    """``--suite --profile --datasets --strategies --seeds --set --runs-dir --data-dir``.

    ``--suite`` is required unless ``suite_default`` names one.
    """
    suite_help = "built-in suite name or a suite YAML file"
    if suite_default is None:
        parser.add_argument("--suite", required=True, help=suite_help)
    else:
        parser.add_argument(
            "--suite", default=suite_default, help=f"{suite_help} (default: {suite_default})"
        )
    parser.add_argument("--profile", help="suite profile (default: the suite's default profile)")
    parser.add_argument("--datasets", help="comma-separated subset of the suite's datasets")
    parser.add_argument("--strategies", help="comma-separated subset of the suite's strategies")
    parser.add_argument("--seeds", help="comma-separated seeds (default: the profile's)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key in every run, e.g. --set alpha3=0.2 --set noise.type=swap",
    )
    parser.add_argument("--runs-dir", default="runs", help="run store directory (default: ./runs)")
    parser.add_argument(
        "--data-dir", help="DSS data directory (default: $COTBENCH_DATA, else ./data)"
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--force --save-model --log-with``: whether finished runs retrain, what a run keeps
    and reports besides its results (none of it is part of the config or its hash)."""
    parser.add_argument(
        "--force", action="store_true", help="retrain finished runs (old ones are moved aside)"
    )
    parser.add_argument(
        "--save-model",
        action="store_true",
        help="keep each new run's selected checkpoint and tokenizer in <run>/model "
        "(save_pretrained; not part of the config hash)",
    )
    parser.add_argument(
        "--log-with",
        metavar="TRACKERS",
        help="comma-separated experiment trackers for each new run: tensorboard (event files "
        "in <run>/trackers), wandb, mlflow (pip install 'cotbench[NAME]')",
    )


def add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    """``--jobs N --threads T --gpus-per-run K --executor local|ray --address A
    --cpus-per-run C --retries R``: where the plan's runs train (:mod:`bench.executors`)."""
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="runs trained at once, each in its own process (default 1), or with its own GPUs",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads per run, whatever --jobs is (default 1; a resumed run keeps its "
        "own); recorded in env.json, since CPU float results depend on it",
    )
    parser.add_argument(
        "--gpus-per-run",
        type=int,
        help="GPUs each run owns (CUDA_VISIBLE_DEVICES per worker; K > 1: K data-parallel "
        "processes); default 1 when GPUs are visible, else 0; 0 trains on the CPU",
    )
    add_executor_arguments(
        parser, "run", "one task per run; the run store must be on storage every node sees"
    )


def add_executor_arguments(parser: argparse.ArgumentParser, unit: str, shared: str) -> None:
    """``--executor local|ray --address A --cpus-per-run C --retries R`` for tasks that are
    each one ``unit`` (a run, a sweep worker); ``shared`` says what every node must see."""
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help=f"local processes (default) or a Ray cluster (pip install 'cotbench[ray]'): {shared}",
    )
    parser.add_argument(
        "--address",
        help="with --executor ray: the cluster, e.g. ray://head:10001 or head:6379 "
        "(default: $RAY_ADDRESS, else the cluster started on this machine, else a new one)",
    )
    parser.add_argument(
        "--cpus-per-run",
        type=int,
        default=1,
        help=f"with --executor ray: CPUs reserved per {unit}, its torch threads (default 1)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help=f"with --executor ray: retries of a {unit} whose node or worker died; a retry "
        "resumes from the last checkpoint (default 3)",
    )


def run_options_from_args(args: argparse.Namespace, suite: str, profile: str | None):
    """The :class:`~bench.runner.RunOptions` of the plan and run flags above (the trackers
    checked, so a missing one fails before any training)."""
    from bench.runner import RunOptions
    from bench.tracking import check_trackers

    return RunOptions(
        suite,
        profile,
        runs_dir=args.runs_dir,
        data_dir=args.data_dir,
        force=args.force,
        save_model=args.save_model,
        log_with=check_trackers(args.log_with),
    )


def execution_from_args(args: argparse.Namespace):
    """The :class:`~bench.executors.Execution` of the flags above (validated)."""
    from bench.executors import Execution

    return Execution(
        jobs=args.jobs,
        threads=args.threads,
        gpus_per_run=args.gpus_per_run,
        executor=args.executor,
        address=args.address,
        cpus_per_run=args.cpus_per_run,
        retries=args.retries,
    ).validate()


def parse_seeds(value: str | None, flag: str = "--seeds") -> list[int] | None:
    """``"0,1,2"`` -> ``[0, 1, 2]`` (None when not given); anything else is a ConfigError."""
    if not value:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items or not all(v.isdigit() for v in items):
        raise ConfigError(f"{flag} {value}: expected comma-separated integers >= 0, e.g. 0,1,2")
    return [int(v) for v in items]
