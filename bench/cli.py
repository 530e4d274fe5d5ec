"""The ``bench`` command line: a thin layer over library functions.

The core's commands are here (``data``, ``run``, ``list``, ``perf``); other packages add theirs
(``reports``: ``report``, ``export``, ``refresh``, ``verify``; ``sweeps``: ``ablate``, ``sweep``)
through the ``cotbench.commands`` entry-point group, so the core imports nothing above it. Each
subcommand imports what it needs when it runs, so ``bench --help`` stays fast. A
:class:`~bench.errors.BenchError` or an ``OSError`` (a missing or unreadable path, a full or
read-only disk) becomes one ``error: ...`` line naming the path and exit code 2 (a traceback only
with ``--debug``); Ctrl-C ends with one line saying that rerunning resumes (exit code 130).
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points

from bench import __version__
from bench.cli_args import (
    add_jobs_argument,
    add_plan_arguments,
    add_run_options,
    execution_from_args,
    parse_seeds,
    run_options_from_args,
)
from bench.errors import BenchError
from bench.perf.cli import add_perf_parser
from bench.text import plain_text

COMMANDS_GROUP = "cotbench.commands"  # entry points: name -> function adding subcommands


class CommandsError(BenchError):
    """A package's subcommands (an entry point of :data:`COMMANDS_GROUP`) failed to load."""


def _cmd_data_check(args: argparse.Namespace) -> int:
    from bench.data.check import check_data

    report = check_data(args.data_dir)
    print(report.render())
    return report.exit_code


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from bench.data.fetch import DEFAULT_URL, fetch_data

    target = fetch_data(
        args.data_dir, url=args.url or DEFAULT_URL, sha256=args.sha256, force=args.force
    )
    print(f"data unpacked into {target}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from bench.config import parse_set_options
    from bench.plan import describe_plan, execute_plan
    from bench.suites import load_suite, plan_runs

    suite = load_suite(args.suite)
    profile, configs = plan_runs(
        suite,
        args.profile,
        datasets=_split(args.datasets),
        strategies=_split(args.strategies),
        seeds=parse_seeds(args.seeds),
        overrides=parse_set_options(args.set),
    )
    execution = execution_from_args(args)
    options = run_options_from_args(args, suite.name, profile)
    print(describe_plan(suite.name, profile, configs, args.runs_dir))
    if args.dry_run:
        return 0
    execute_plan(configs, options, execution)
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from bench.data import DATASETS
    from bench.models import MODELS
    from bench.strategy import STRATEGIES
    from bench.suites import load_suite, suite_names

    print("suites:")
    for name in suite_names():
        suite = load_suite(name)
        print(f"  {name}: {suite.description}")
        for profile, body in suite.profiles.items():
            default = " (default)" if profile == suite.default_profile else ""
            print(f"    profile {profile}{default}: {body.get('description', '')}")
    print("strategies: " + ", ".join(STRATEGIES.names()))
    print("datasets: " + ", ".join(DATASETS.names()))
    print("model presets: " + ", ".join(MODELS.names()) + " (or a local path / Hugging Face id)")
    return 0


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def quiet_third_party() -> None:
    """Silence library chatter that says nothing to a bench user (``--debug`` keeps it):
    matplotlib's font and layout messages (logged, or warned at the caller's line), and
    transformers' encoder-decoder training notice."""
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"matplotlib(\.|$)")
    for message in (
        r"No artists with labels found",
        r".*layout not applied",
        r".*(?:Tight|tight|constrained)[_ ]?layout",
        r"Glyph \d+ .* missing from",
    ):
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    # transformers' EncoderDecoderModel (minilm-bert2bert) on every training step
    warnings.filterwarnings(
        "ignore", message=r"Version v4\.12\.0 introduces", category=FutureWarning
    )


class PrintCompletion(argparse.Action):
    """``--print-completion SHELL``: the shell's completion script for ``bench`` (shtab)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        try:
            import shtab
        except ImportError:
            parser.exit(
                2, "error: --print-completion needs shtab: pip install 'cotbench[completion]'\n"
            )
        print(shtab.complete(parser, shell=values))
        parser.exit(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="bench", description=plain_text(__doc__.splitlines()[0]))
    parser.add_argument("--version", action="version", version=f"cotbench {__version__}")
    parser.add_argument(
        "--print-completion",
        choices=("bash", "zsh", "tcsh"),
        action=PrintCompletion,
        help="print the shell's completion script, e.g. bench --print-completion bash > "
        "~/.local/share/bash-completion/completions/bench (pip install 'cotbench[completion]')",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks and third-party warnings"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect or fetch the DSS data").add_subparsers(
        dest="data_command", required=True
    )
    check = data.add_parser(
        "check", help="table of datasets x splits: counts, parse rates, teacher accuracy"
    )
    check.add_argument("--data-dir", help="data directory (default: $COTBENCH_DATA, else ./data)")
    check.set_defaults(func=_cmd_data_check)
    fetch = data.add_parser("fetch", help="download and unpack the DSS authors' datasets.zip")
    fetch.add_argument("--data-dir", help="data directory (default: $COTBENCH_DATA, else ./data)")
    fetch.add_argument("--url", help="archive URL (default: the DSS repository's datasets.zip)")
    fetch.add_argument("--sha256", help="expected sha256 of the archive")
    fetch.add_argument("--force", action="store_true", help="overwrite existing files")
    fetch.set_defaults(func=_cmd_data_fetch)

    run = sub.add_parser("run", help="train and evaluate a suite (finished runs are cache hits)")
    add_plan_arguments(run)
    add_run_options(run)
    add_jobs_argument(run)
    run.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    run.set_defaults(func=_cmd_run)

    lister = sub.add_parser("list", help="suites, profiles, strategies, datasets, model presets")
    lister.set_defaults(func=_cmd_list)
    add_perf_parser(sub)
    for provider in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        _provided_commands(provider)(sub)
    return parser


def _provided_commands(provider: EntryPoint) -> Callable[[argparse._SubParsersAction], None]:
    """The function of a ``cotbench.commands`` entry point that adds its package's subcommands
    (:class:`CommandsError` when it cannot be loaded)."""
    try:
        return provider.load()
    except Exception as err:
        raise CommandsError(
            f"the {provider.name!r} commands ({provider.value}) could not be loaded "
            f"({type(err).__name__}: {err}); reinstall cotbench: pip install -e ."
        ) from err


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bench`` console script."""
    try:
        parser = build_parser()
    except CommandsError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    args = parser.parse_args(argv)
    if not args.debug:
        quiet_third_party()
    try:
        return args.func(args)
    except BenchError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if args.debug:
            raise
        print(f"error: {describe_os_error(err)}", file=sys.stderr)
        return BenchError.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(
            "interrupted: finished runs are kept; rerunning the same command resumes",
            file=sys.stderr,
        )
        return 130


def describe_os_error(err: OSError) -> str:
    """``<path>: <reason>`` (both paths of a rename), as one line."""
    reason = err.strerror or str(err) or type(err).__name__
    paths = [p for p in (err.filename, getattr(err, "filename2", None)) if p is not None]
    if not paths:
        return f"{reason} ({type(err).__name__})"
    return f"{' -> '.join(map(str, paths))}: {reason}"


if __name__ == "__main__":
    sys.exit(main())
