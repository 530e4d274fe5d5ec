"""The reports' subcommands: ``bench report``, ``export``, ``refresh`` and ``verify``.

``bench`` finds :func:`add_report_parsers` through the ``cotbench.commands`` entry-point group.
Usage::

    bench report [--suite S] [--profile P] [--runs-dir runs | --bundle DIR] [--out DIR|FILE]
                 [--tables-dir DIR] [--force] [--pair A:B ...] [--resamples N]
                 [--bootstrap-seed N] [--power POINTS [--power-n N]]
    bench export --suite S --profile P [--runs-dir runs] --out DIR [--force] [--pair A:B ...]
                 [--predictions all|selected] [--probability-digits N]
    bench refresh DIR
    bench verify DIR [--rerun [--subset all|N|NAMES] [--data-dir DIR]]

Where the report goes: :mod:`reports.output` (``report/<suite>-<profile>/index.html`` by
default). Heavy imports (pandas, matplotlib, torch) happen inside the commands.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.errors import BenchError, ConfigError
from bench.text import plural


def parse_pair(text: str) -> tuple[str, str]:
    """``"dss+kl:dss"`` -> ``("dss+kl", "dss")``; each side may carry a ``[key=value,...]``
    qualifier (:func:`reports.arm_spec.parse_arm`, checked here)."""
    from reports.arm_spec import parse_arm

    a, sep, b = text.partition(":")
    if not sep or not a.strip() or not b.strip():
        raise ConfigError(f"--pair {text!r}: expected A:B, e.g. dss+kl:dss")
    for arm in (a, b):
        parse_arm(arm)
    return a.strip(), b.strip()


def _cmd_report(args: argparse.Namespace) -> int:
    from reports.output import check_outside_bundle, report_location

    html, tables_dir = report_location(
        args.out, suite=args.suite, profile=args.profile, bundle=args.bundle
    )
    args.html, args.tables_dir = html, Path(args.tables_dir) if args.tables_dir else tables_dir
    if args.bundle is None:
        return _report(args, args.runs_dir)
    from bench.store import read_json
    from reports.bundle import PAPERS, PROVENANCE, unpack_runs

    bundle = Path(args.bundle)
    if args.power is None:
        check_outside_bundle(bundle, args.html, args.tables_dir)
    with tempfile.TemporaryDirectory() as tmp:  # judged against the bundle's own paper files
        runs = unpack_runs(bundle, Path(tmp))
        if args.power is not None:  # the comparisons the bundle's paired table holds
            recorded = read_json(bundle / PROVENANCE)["tables"]["pairs"]
            return _plan_seeds(args, runs, [(a, b) for a, b in recorded])
        return _report(args, runs, source=f"Bundle: {bundle}", papers_dir=bundle / PAPERS)


def _report(args: argparse.Namespace, runs_dir: str | Path, **where) -> int:
    from reports.report import build_report
    from reports.stats import BootstrapSpec

    spec = BootstrapSpec(resamples=args.resamples, seed=args.bootstrap_seed)
    if args.power is not None:
        return _plan_seeds(args, runs_dir)
    result = build_report(
        runs_dir,
        suite=args.suite,
        profile=args.profile,
        out=args.html,
        tables_dir=args.tables_dir,
        spec=spec,
        pairs=[parse_pair(p) for p in args.pair],
        n_examples=args.examples,
        force=args.force,
        **where,
    )
    print(f"report: {result.html.resolve().as_uri()} ({plural(result.n_runs, 'finished run')})")
    tables, figures = plural(len(result.tables), "file"), plural(len(result.figures), "file")
    print(f"tables: {tables}, figures: {figures}")
    for message in result.missing:
        print(f"missing: {message}")
    return 0


def _plan_seeds(
    args: argparse.Namespace, runs_dir: str | Path, recorded: list[tuple[str, str]] = ()
) -> int:
    """``--power``: the seeds each paired comparison needs for the target half-width."""
    from reports.collect import collect_runs
    from reports.power import power_table, power_text
    from reports.stats import BootstrapSpec
    from reports.tables import DEFAULT_PAIRS, paired_table

    if not args.power > 0:
        raise ConfigError(f"--power: expected a half-width in points > 0, got {args.power}")
    spec = BootstrapSpec(resamples=args.resamples, seed=args.bootstrap_seed)
    store = collect_runs(runs_dir, suite=args.suite, profile=args.profile)
    extra = [parse_pair(p) for p in args.pair]
    pairs = list(dict.fromkeys([*DEFAULT_PAIRS, *recorded, *extra]))
    paired = paired_table(store, spec, pairs)
    if paired.empty:
        raise ConfigError(f"{runs_dir}: no paired comparison to plan from")
    print(power_text(power_table(paired, args.power / 100, spec.level, args.power_n)))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from reports.bundle import export_bundle

    out = export_bundle(
        args.runs_dir,
        args.suite,
        args.profile,
        args.out,
        force=args.force,
        pairs=[parse_pair(p) for p in args.pair],
        predictions=args.predictions,
        digits=args.probability_digits,
    )
    print(f"bundle written to {out}")
    return 0


def _cmd_refresh(args: argparse.Namespace) -> int:
    from reports.bundle import refresh_bundle

    print(f"bundle refreshed: {refresh_bundle(args.path)}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from bench.store import RunDir
    from reports.bundle import manifest_files, render_mismatches, verify_bundle

    subset = _subset(args.subset)
    files = manifest_files(args.path)
    found = verify_bundle(args.path)
    if args.rerun:
        from reports.rerun import bundle_runs, rerun_bundle

        found += rerun_bundle(args.path, subset=subset, data_dir=args.data_dir)
    if found:
        print(render_mismatches(found))
        return 1
    n_runs = sum(name.endswith(f"/{RunDir.METRICS}") for name in files)
    print(f"ok: {plural(len(files), 'file')}, {plural(n_runs, 'run')} verified")
    if args.rerun:
        print(f"ok: {plural(len(bundle_runs(args.path, subset)), 'run')} retrained and matched")
    return 0


def _subset(value: str) -> int | list[str] | None:
    """``--subset``: ``all`` (None), a positive number of runs, or comma-separated names."""
    if value == "all":
        return None
    if value.isdigit():
        if int(value) < 1:
            raise BenchError(f"--subset: expected a positive number, names or 'all', got {value!r}")
        return int(value)
    return [name.strip() for name in value.split(",") if name.strip()]


def add_report_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report``, ``export``, ``refresh`` and ``verify`` to ``bench``'s subparsers."""
    report = subparsers.add_parser(
        "report", help="tables, calibration, figures and one self-contained HTML report"
    )
    report.add_argument(
        "--suite", help="only this suite, by name or suite YAML file (default: every suite)"
    )
    report.add_argument("--profile", help="only this profile (default: every profile)")
    source = report.add_mutually_exclusive_group()
    source.add_argument("--runs-dir", default="runs", help="run store directory (default: ./runs)")
    source.add_argument("--bundle", help="a results bundle (bench export) instead of a run store")
    report.add_argument(
        "--out",
        help="a folder (index.html, tables/) or an .html file (tables in <stem>-tables beside "
        "it); default: report/<suite>-<profile>/, or <bundle>-report/ beside --bundle",
    )
    report.add_argument(
        "--tables-dir",
        help="CSV/Markdown/LaTeX tables and figures/ (default: see --out)",
    )
    report.add_argument(
        "--force",
        action="store_true",
        help="replace another report's files (or files no report wrote) at --out",
    )
    report.add_argument(
        "--pair",
        action="append",
        default=[],
        metavar="A:B",
        help="also compare strategy A with B (dss+mi:dss and dss:finetune always); a side may "
        "name config values, e.g. 'single-task[noise.type=swap,noise.level=1.0]:finetune'",
    )
    report.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    report.add_argument("--bootstrap-seed", type=int, default=0, help="resampling seed")
    report.add_argument(
        "--power",
        type=float,
        metavar="POINTS",
        help="instead of a report, print how many seeds each comparison needs for a CI "
        "half-width of POINTS accuracy points (from the observed seed and example variance)",
    )
    report.add_argument(
        "--power-n", type=int, help="with --power: plan for this many test examples"
    )
    report.add_argument(
        "--examples", type=int, default=5, help="example predictions per dataset (default 5)"
    )
    report.set_defaults(func=_cmd_report)

    export = subparsers.add_parser(
        "export", help="write a results bundle (runs, summary CSV, provenance, manifest)"
    )
    export.add_argument("--suite", required=True, help="suite name as recorded in the runs")
    export.add_argument("--profile", required=True, help="profile as recorded in the runs")
    export.add_argument("--runs-dir", default="runs", help="run store directory (default: ./runs)")
    export.add_argument("--out", required=True, help="bundle directory to create")
    export.add_argument("--force", action="store_true", help="replace an existing bundle")
    export.add_argument(
        "--pair",
        action="append",
        default=[],
        metavar="A:B",
        help="also compare strategy A with B in paired.csv (dss+mi:dss and dss:finetune "
        "always); a side may name config values, e.g. 'dss+mi[mi_variant=paper]:dss'",
    )
    export.add_argument(
        "--predictions",
        choices=["all", "selected"],
        default="all",
        help="keep every checkpoint's test predictions (default) or only the selected "
        "checkpoint's, the ones the tables read (about half the size under early stopping)",
    )
    export.add_argument(
        "--probability-digits",
        type=int,
        default=None,
        metavar="N",
        help="keep each test probability to N significant digits (3-17; default: as the run "
        "wrote it); the tables are computed from what the bundle keeps",
    )
    export.set_defaults(func=_cmd_export)

    refresh = subparsers.add_parser(
        "refresh",
        help="recompute a bundle's tables with this version's statistics, store duplicates once",
    )
    refresh.add_argument("path", help="bundle directory")
    refresh.set_defaults(func=_cmd_refresh)

    verify = subparsers.add_parser(
        "verify", help="re-derive a bundle's hashes, metrics and summary table from its files"
    )
    verify.add_argument("path", help="bundle directory")
    verify.add_argument(
        "--rerun", action="store_true", help="also retrain the runs and compare their results"
    )
    verify.add_argument(
        "--subset",
        default="all",
        help="with --rerun: 'all', the first N runs (sorted), or comma-separated names "
        "(datasets, strategies, config hashes, seed-<n>), e.g. --subset cqa,dss",
    )
    verify.add_argument(
        "--data-dir", help="DSS data directory (default: $COTBENCH_DATA, else ./data)"
    )
    verify.set_defaults(func=_cmd_verify)
