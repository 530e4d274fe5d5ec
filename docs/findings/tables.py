"""Markdown tables for docs/findings.md, computed from a results bundle's files only.

    python docs/findings/tables.py results/synth-cpu        # the summary and paired blocks
    python docs/findings/tables.py results/synth-cpu --block ablation:alpha3:dss+mi:0,0.1,1.0
    python docs/findings/tables.py --check docs/findings.md     # exit 1 if a block is stale
    python docs/findings/tables.py --write docs/findings.md     # regenerate every block in place

findings.md embeds each block between ``<!-- begin BLOCK BUNDLE -->`` and ``<!-- end -->``;
``--check`` regenerates every embedded block from its bundle and compares (tests/test_findings.py
runs it in CI), so every number in those tables is traceable to a committed bundle. Blocks:
``summary``, ``paired`` (the bundle's own tables), ``power:POINTS`` (seeds each comparison
needs for a CI half-width of POINTS, from the paired table's variance components), ``ranking``
(exact match against candidate ranking, from the runs' metrics) and
``ablation:KEY:STRATEGIES:VALUES[:K=V;K=V]`` (``bench ablate``'s table, recomputed from the
bundle's runs: each value against the suite's default, paired, Holm-adjusted) and ``grid`` (a
calibration grid's cells, one row each: every strategy's accuracy and the gaps to fine-tuning)
and ``stops`` (per condition: the stop and selected steps, whether the training loss had
settled at the stop, the loss terms there: the evidence that runs trained to a plateau) and
``timing`` (per condition: training throughput, the training process's and the test set's
minutes, as the runs recorded them).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from statistics import median

import pandas as pd

from bench.config import config_from_dict, flatten
from bench.store import write_text_atomic
from reports.bundle import bundle_run_dirs

# config keys that tell the conditions of one strategy apart in the findings bundles
VARIANT_KEYS = ("mi_variant", "alpha3", "noise.type", "noise.level")
# schedule keys: variants where they differ between runs on the same data (a longer-schedule
# check in one cell), not where each cell of a grid has its own
SCHEDULE_KEYS = ("early_stopping_min_steps", "max_steps")
BLOCK = re.compile(r"<!-- begin (\S+) (\S+) -->\n(.*?)<!-- end -->", re.DOTALL)


def flat_configs(bundle: Path) -> dict[str, dict]:
    """config hash -> the flattened config of the bundle's runs."""
    configs = {}
    for run in bundle_run_dirs(bundle):
        record = run.read_config()
        # read back through the config type: runs recorded before a key existed get its default
        configs[record["config_hash"]] = flatten(config_from_dict(record["config"]).to_dict())
    return configs


def variants(bundle: Path, configs: dict[str, dict] | None = None) -> dict[str, str]:
    """config hash -> the variant keys that differ between the bundle's configs, as text (the
    schedule keys only where they differ between runs on the same data; ``configs``:
    :func:`flat_configs` of the bundle, when the caller has read them)."""
    configs = configs if configs is not None else flat_configs(bundle)
    varying = [k for k in VARIANT_KEYS if len({str(c.get(k)) for c in configs.values()}) > 1]
    data: dict[tuple, list[dict]] = {}
    for c in configs.values():
        cell = tuple(sorted((k, str(v)) for k, v in c.items() if k.startswith("synth.")))
        data.setdefault((c.get("dataset"), cell), []).append(c)
    varying += [
        k
        for k in SCHEDULE_KEYS
        if any(len({str(c.get(k)) for c in cell}) > 1 for cell in data.values())
    ]
    return {
        h: ", ".join(
            f"{k}={c[k]}" for k in varying if k != "mi_variant" or c["strategy"] == "dss+mi"
        )
        or "-"
        for h, c in configs.items()
    }


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:.1f}"


def _spread(std: float) -> str:
    return "" if pd.isna(std) else f" ± {100 * std:.1f}"


def summary_block(bundle: Path) -> str:
    """Per condition: accuracy mean ± std over seeds, 95% CI, ECE (10 bins; the top-ranked
    candidate's confidence) with its CI, and the greedy-output ECE."""
    summary = pd.read_csv(bundle / "summary.csv")
    calibration = pd.read_csv(bundle / "calibration.csv").set_index("config_hash")
    names = variants(bundle)
    lines = [
        "| dataset | strategy | variant | seeds | n test | accuracy % (± std) | 95% CI "
        "| ECE % | ECE 95% CI | ECE greedy % |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary.sort_values(["dataset", "strategy", "config_hash"]).itertuples():
        cal = calibration.loc[row.config_hash]
        lines.append(
            f"| {row.dataset} | {row.strategy} | {names[row.config_hash]} | {row.n_seeds} | "
            f"{row.n_test} | {_pct(row.accuracy)}{_spread(row.std)} | "
            f"[{_pct(row.ci_low)}, {_pct(row.ci_high)}] | {_pct(cal.ece_w10)} | "
            f"[{_pct(cal.ece_w10_low)}, {_pct(cal.ece_w10_high)}] | {_pct(cal.ece_w10_greedy)} |"
        )
    return "\n".join(lines) + "\n"


def _gap(a: float, b: float) -> str:
    return "" if pd.isna(a) or pd.isna(b) else f"{100 * (a - b):+.1f}"


def _seed_diffs(cell: object) -> str:
    if pd.isna(cell) or cell == "":
        return "-"
    return ", ".join(f"{100 * float(v):+.1f}" for v in str(cell).split(";"))


def paired_block(bundle: Path) -> str:
    """Every paired comparison: design, difference, CI, per-seed differences, t-test p, Holm p
    over the table's family, the claim."""
    paired = pd.read_csv(bundle / "paired.csv")
    names = variants(bundle)
    family = paired["holm_family"].iloc[0] if not paired.empty else "none"
    lines = [
        "| dataset | a | b | variant (a) | design | seeds | a % | b % | a − b (points) | 95% CI "
        "| per seed | p | Holm p | claim |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in paired.itertuples():
        lines.append(
            f"| {row.dataset} | {row.a} | {row.b} | {names[row.config_hash_a]} | {row.design} | "
            f"{row.n_pairs} | {_pct(row.accuracy_a)} | {_pct(row.accuracy_b)} | "
            f"{_pct(row.diff)} | [{_pct(row.ci_low)}, {_pct(row.ci_high)}] | "
            f"{_seed_diffs(row.seed_diffs)} | {row.p_value:.3g} | {row.p_holm:.3g} | "
            f"{row.claim} |"
        )
    lines.append(f"\nHolm family: {family}.")
    return "\n".join(lines) + "\n"


def power_block(bundle: Path, points: str) -> str:
    """Per comparison: the CI half-width now and the seeds needed for ``points``."""
    from reports.power import power_table

    paired = pd.read_csv(bundle / "paired.csv")
    table = power_table(paired, float(points) / 100)
    lines = [
        f"| dataset | a | b | design | seeds | n test | ± now (points) | seeds for ±{points} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        needed = "more than 200" if pd.isna(row.seeds_needed) else str(int(row.seeds_needed))
        lines.append(
            f"| {row.dataset} | {row.a} | {row.b} | {row.design} | {row.seeds} | {row.n_test} "
            f"| {_pct(row.half_width)} | {needed} |"
        )
    return "\n".join(lines) + "\n"


def ranking_block(bundle: Path) -> str:
    """Per condition: exact match of greedy decoding against ranking the candidates (the most
    probable one taken as the answer), means over seeds, and the chance level of ranking."""
    from reports.bundle import unpack_runs
    from reports.collect import collect_runs

    names = variants(bundle)
    lines = [
        "| dataset | strategy | variant | seeds | exact match % | best-ranked candidate % (± std) "
        "| chance % |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = collect_runs(unpack_runs(bundle, Path(tmp)))
    for key, runs in store.groups():
        rows = store.predictions[store.predictions["run_id"].isin(runs["run_id"])]
        counts = rows.loc[rows["n_candidates"] > 0, "n_candidates"]  # none on open tasks
        ranked = runs["candidate_accuracy"].astype(float)
        lines.append(
            f"| {key['dataset']} | {key['strategy']} | {names[key['config_hash']]} | "
            f"{len(runs)} | {_pct(runs['accuracy'].mean())} | "
            f"{_pct(ranked.mean())}{_spread(ranked.std())} | "
            f"{_pct((1 / counts).mean())} |"
        )
    return "\n".join(lines) + "\n"


def ablation_block(bundle: Path, key: str, strategies: str, values: str, sets: str = "") -> str:
    """``bench ablate``'s table over the bundle's runs (needs every run of the grid in it)."""
    from bench.config import parse_set_options
    from reports.bundle import unpack_runs
    from reports.stats import BootstrapSpec
    from sweeps.ablate import ablation_display, ablation_table, plan_ablation
    from sweeps.keys import parse_values

    provenance = json.loads((bundle / "provenance.json").read_text())
    plan = plan_ablation(
        provenance["suite"],
        key,
        parse_values(values),
        profile=provenance["profile"],
        strategies=strategies.split(","),
        overrides=parse_set_options(sets.split(";")) if sets else None,
    )
    with tempfile.TemporaryDirectory() as tmp:
        table = ablation_table(plan, unpack_runs(bundle, Path(tmp)), BootstrapSpec())
    display = ablation_display(table, key).astype(str)
    lines = ["| " + " | ".join(display.columns) + " |", "|" + "---|" * len(display.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in display.itertuples(index=False)]
    return "\n".join(lines) + "\n"


# the knobs of a synth calibration-grid cell (bench/suites/synth-grid.yaml)
GRID_KEYS = ("synth.n_train", "lr", "early_stopping_min_steps", "max_steps")
POSITIVE_CONTROL_POINTS = 10  # a cell is kept when single-task beats fine-tuning by this much


def _task(config: dict) -> str:
    """A grid cell's task in words, e.g. ``features 2x3 sum, running``."""
    if config["synth.family"] == "chain":
        return f"chain {config['synth.steps']} step, {config['synth.distractors']} distractors"
    trace = config.get("synth.trace", "final")
    return (
        f"features {config['synth.n_lists']}x{config['synth.list_len']} "
        f"{config['synth.combine']}, {trace}"
    )


def grid_block(bundle: Path) -> str:
    """Per grid cell (task, n_train, schedule): each strategy's mean test accuracy over seeds,
    single-task and DSS minus fine-tuning, and whether single-task clears the positive-control
    bar (a 10-point gain over fine-tuning)."""
    summary = pd.read_csv(bundle / "summary.csv")
    configs = flat_configs(bundle)
    summary["task"] = [_task(configs[h]) for h in summary["config_hash"]]
    for key in GRID_KEYS:
        summary[key] = [configs[h][key] for h in summary["config_hash"]]
    cells = summary.pivot_table(
        index=["task", *GRID_KEYS], columns="strategy", values="accuracy", sort=False
    )
    seeds = summary.groupby(["task", *GRID_KEYS], sort=False)["n_seeds"].min()
    lines = [
        "| task | n train | lr | steps (floor-cap) | seeds | finetune % | single-task % | dss % "
        "| single-task − finetune | dss − finetune | positive control |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    cells = cells.reindex(columns=["finetune", "single-task", "dss"])  # a missing arm: blank
    for key, row in cells.iterrows():
        task, n_train, lr, floor, cap = key
        gain = 100 * (row["single-task"] - row["finetune"])
        control = "" if pd.isna(gain) else "yes" if gain >= POSITIVE_CONTROL_POINTS else "no"
        lines.append(
            f"| {task} | {n_train} | {lr:g} | {floor}-{cap} | {seeds[key]} | "
            f"{_pct(row['finetune'])} | {_pct(row['single-task'])} | {_pct(row['dss'])} | "
            f"{_gap(row['single-task'], row['finetune'])} | {_gap(row['dss'], row['finetune'])} "
            f"| {control} |"
        )
    return "\n".join(lines) + "\n"


SETTLED_DELTA = 0.02  # nats: the synth default cell's early_stopping_loss_delta
_LOG_FIELDS = {"kind", "step", "lr", "examples_per_s", "total"}


def _steps(values: list[int]) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}-{max(values)}"


def _condition_names(bundle: Path) -> dict[str, str]:
    """config hash -> the condition's variant text, led by its task cell in a grid bundle."""
    configs = flat_configs(bundle)
    names = variants(bundle, configs)
    cells = {h: f"{_task(c)}, n_train {c['synth.n_train']}" for h, c in configs.items()}
    if len(set(cells.values())) > 1:  # a grid: name each condition's cell too
        names = {h: f"{cells[h]}; {names[h]}" if names[h] != "-" else cells[h] for h in names}
    return names


def _minutes(seconds: list[float]) -> str:
    low, mid, high = (f"{v / 60:.1f}" for v in (min(seconds), median(seconds), max(seconds)))
    return mid if low == high else f"{mid} ({low}-{high})"


def timing_block(bundle: Path) -> str:
    """Per condition, what its runs cost as recorded: training throughput (steps a second,
    the median of the logged windows, mean over seeds: independent of resumes and of
    validation), the training process's minutes (``timing.train_s``: setup, training and
    validation of the process that finished the run; median and range over seeds) and the
    minutes the test set took (``timing.eval_s``)."""
    names = _condition_names(bundle)
    conditions: dict[tuple[str, str], list] = {}
    for run in bundle_run_dirs(bundle):
        record, metrics, log = run.read_config(), run.read_metrics(), run.read_train_log()
        config = record["config"]
        per_step = config["batch_size"] * config["grad_accum"]
        rates = [r["examples_per_s"] / per_step for r in log if r["kind"] == "train"]
        key = (config["strategy"], record["config_hash"])
        timing = metrics["timing"]
        conditions.setdefault(key, []).append(
            (metrics["steps"], median(rates), timing["train_s"], timing["eval_s"])
        )
    lines = [
        "| strategy | variant | seeds | steps | training steps / s | training process min "
        "| test scoring min |",
        "|---|---|---|---|---|---|---|",
    ]
    for (strategy, config_hash), runs in sorted(conditions.items(), key=lambda c: names[c[0][1]]):
        steps, rates, train, test = zip(*runs, strict=True)
        lines.append(
            f"| {strategy} | {names[config_hash]} | {len(runs)} | {_steps(list(steps))} | "
            f"{sum(rates) / len(rates):.1f} | {_minutes(list(train))} | {_minutes(list(test))} |"
        )
    return "\n".join(lines) + "\n"


def stops_block(bundle: Path) -> str:
    """Per condition: where its runs stopped and which step was selected (ranges over seeds),
    how many had a settled training loss at the stop (the lowest loss of the last
    patience x eval_every steps less than 0.02 nats below the lowest before them, whatever
    rule stopped the run), and each loss term's last logged value, mean over seeds."""
    from bench.trainer import training_loss_settled

    names = _condition_names(bundle)
    conditions: dict[tuple[str, str], list] = {}
    for run in bundle_run_dirs(bundle):
        record, metrics, log = run.read_config(), run.read_metrics(), run.read_train_log()
        config = record["config"]
        window = (config["early_stopping_patience"] or 1) * config["eval_every"]
        train = [r for r in log if r["kind"] == "train"]
        settled = training_loss_settled(log, metrics["steps"], window, SETTLED_DELTA)
        key = (config["strategy"], record["config_hash"])
        conditions.setdefault(key, []).append(
            (metrics["steps"], metrics["best_step"], settled, train[-1])
        )
    lines = [
        "| strategy | variant | seeds | stopped at step | selected step "
        f"| loss settled at stop (< {SETTLED_DELTA} nats) | loss terms at stop (mean over seeds) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (strategy, config_hash), runs in sorted(conditions.items(), key=lambda c: names[c[0][1]]):
        last = pd.DataFrame([r[3] for r in runs])
        terms = [c for c in last.columns if c not in _LOG_FIELDS]
        lines.append(
            f"| {strategy} | {names[config_hash]} | {len(runs)} | "
            f"{_steps([r[0] for r in runs])} | {_steps([r[1] for r in runs])} | "
            f"{sum(r[2] for r in runs)} of {len(runs)} | "
            + ", ".join(f"{t} {last[t].mean():.3f}" for t in terms)
            + " |"
        )
    return "\n".join(lines) + "\n"


BLOCKS: dict[str, Callable[..., str]] = {
    "summary": summary_block,
    "paired": paired_block,
    "power": power_block,
    "ranking": ranking_block,
    "ablation": ablation_block,
    "grid": grid_block,
    "stops": stops_block,
    "timing": timing_block,
}


def build(name: str, bundle: Path) -> str:
    """The block ``name`` (``kind`` or ``kind:arg:arg...``) of ``bundle``."""
    kind, *args = name.split(":")
    return BLOCKS[kind](bundle, *args)


def check(document: Path) -> list[str]:
    """The names of the stale blocks of ``document`` (paths relative to the repository)."""
    root = document.resolve().parents[1]
    stale = []
    for name, bundle, body in BLOCK.findall(document.read_text()):
        if build(name, root / bundle) != body:
            stale.append(f"{name} {bundle}")
    return stale


def write(document: Path) -> list[str]:
    """Regenerate every embedded block of ``document`` in place; the names of those that changed.

    The document is replaced atomically, and only when a block changed."""
    root = document.resolve().parents[1]
    text = document.read_text()
    changed = []

    def regenerate(match: re.Match) -> str:
        name, bundle, body = match.groups()
        fresh = build(name, root / bundle)
        if fresh != body:
            changed.append(f"{name} {bundle}")
        return f"<!-- begin {name} {bundle} -->\n{fresh}<!-- end -->"

    updated = BLOCK.sub(regenerate, text)
    if changed:
        write_text_atomic(document, updated)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "target", type=Path, help="a bundle (print) or, with --check/--write, findings.md"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    mode.add_argument("--write", action="store_true", help="regenerate the blocks in place")
    parser.add_argument(
        "--block", action="append", help="blocks to print (default: summary, paired)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = check(args.target)
        for entry in stale:
            print(f"{args.target}: block {entry} differs from its bundle", file=sys.stderr)
        return 1 if stale else 0
    if args.write:
        for entry in write(args.target):
            print(f"{args.target}: block {entry} regenerated")
        return 0
    for name in args.block or ["summary", "paired"]:
        print(f"<!-- begin {name} {args.target} -->\n{build(name, args.target)}<!-- end -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
