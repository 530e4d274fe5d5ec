"""``bench ablate``: a grid over one config key, trained through the run store and summarised.

:func:`plan_ablation` expands suite x profile x datasets x strategies x seeds for every value of
the key and validates every config (so bad keys and values fail before any training); a strategy
that does not read the key (:func:`bench.strategy.reads_key`, e.g. ``finetune`` and ``alpha3``)
is planned once, at the default value, and its default run stands for every value;
:func:`run_ablation` trains what is not a cache hit, then writes the ablation table (test accuracy
and ECE with 95% bootstrap CIs, a paired test of each value against the key's default), the
ablation figure and the report section into the output directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.config import RunConfig
from bench.errors import ConfigError
from bench.executors import Execution
from bench.plan import execute_plan
from bench.runner import RunOptions
from bench.store import RunDir
from bench.strategy import reads_key
from bench.suites import load_suite, plan_runs
from bench.text import plural
from reports.arms import Arm, collect_arms, compare_arms
from reports.calibration import CONFIDENCE_DEFINITION, ece
from reports.display import difference_text, estimate_text, pct
from reports.figures import ablation_figure, save_figure
from reports.sections import ABLATIONS, export_section_table, figure_entry, write_section
from reports.stats import BootstrapSpec, accuracy_interval, metric_interval
from reports.tables import estimate_columns, interval_columns, with_family_holm
from sweeps.keys import check_vary_key, coerce_values, config_value, default_values

TABLE_NAME = "ablation"
FIGURE_NAME = "ablation"
ABLATION_FAMILY = "every value-vs-default comparison of the ablation table"


@dataclass(frozen=True)
class AblationPlan:
    """Every run of an ablation, validated, with the key's default per dataset."""

    suite: str
    profile: str
    key: str
    values: tuple[Any, ...]  # the grid, in order, every default included
    defaults: dict[str, Any]  # dataset -> the key's value from the suite, profile and --set
    runs: tuple[tuple[Any, RunConfig], ...]  # (value, config) in training order
    inert: tuple[str, ...] = ()  # strategies that do not read the key: default runs only

    @property
    def configs(self) -> list[RunConfig]:
        """The run configs in training order."""
        return [config for _, config in self.runs]


def plan_ablation(
    suite: str,
    key: str,
    values: Sequence[Any] | None = None,
    *,
    profile: str | None = None,
    datasets: list[str] | None = None,
    strategies: list[str] | None = None,
    seeds: list[int] | None = None,
    overrides: dict[str, Any] | None = None,
) -> AblationPlan:
    """Validate the key and values and expand the grid (raises ConfigError before any training).

    ``values=None`` takes the key's default grid; the key's default value is always added.
    Strategies that do not read ``key`` get their default-value runs only.
    """
    check_vary_key(key)
    overrides = dict(overrides or {})
    if key in overrides:
        raise ConfigError(f"--set {key}=... conflicts with --vary {key}")
    parsed = load_suite(suite)
    selection = {"datasets": datasets, "strategies": strategies, "seeds": seeds}
    profile_name, base = plan_runs(parsed, profile, overrides=overrides, **selection)
    defaults = {c.dataset: config_value(c, key) for c in base}
    grid = (
        list(values) if values is not None else default_values(key, next(iter(defaults.values())))
    )
    grid = _ordered(coerce_values(key, [*grid, *defaults.values()]))
    inert = tuple(dict.fromkeys(c.strategy for c in base if not reads_key(c.strategy, key)))
    runs = []
    for value in grid:
        _, configs = plan_runs(
            parsed, profile_name, overrides={**overrides, key: value}, **selection
        )
        runs.extend(
            (value, config)
            for config in configs
            if config.strategy not in inert or value == defaults[config.dataset]
        )
    return AblationPlan(parsed.name, profile_name, key, tuple(grid), defaults, tuple(runs), inert)


def _ordered(values: list[Any]) -> list[Any]:
    """Numbers in increasing order; anything else as given."""
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return sorted(values) if numeric else values


def plan_lines(plan: AblationPlan) -> list[str]:
    """The ablation's own lines of a dry run: the grid and which strategies skip it."""
    lines = [f"ablation of {plan.key}: {', '.join(map(str, plan.values))}"]
    if plan.inert and all(c.strategy in plan.inert for c in plan.configs):
        lines.append(f"no planned strategy reads {plan.key}: only their default runs are planned")
    elif plan.inert:
        defaults = ", ".join(f"{d}: {v}" for d, v in plan.defaults.items())
        lines.append(
            f"not reading {plan.key}: {', '.join(plan.inert)} (their default runs, "
            f"{plan.key} = {defaults}, stand for every value)"
        )
    return lines


def default_out_dir(runs_dir: str | Path, plan: AblationPlan) -> Path:
    """``<runs_dir>/ablations/<suite>-<key>``."""
    return Path(runs_dir) / ABLATIONS / f"{plan.suite}-{plan.key}"


def _arms(plan: AblationPlan, runs_dir: Path) -> dict[tuple[str, str, Any], Arm]:
    groups: dict[tuple[str, str, Any], list[RunDir]] = {}
    for value, config in plan.runs:
        groups.setdefault((config.dataset, config.strategy, value), []).append(
            RunDir.of(runs_dir, plan.suite, config)
        )
    return collect_arms(runs_dir, groups)


def ablation_table(plan: AblationPlan, runs_dir: str | Path, spec: BootstrapSpec) -> pd.DataFrame:
    """One row per dataset x strategy x value: accuracy and ECE with CIs, paired test vs default.

    ``diff`` is the test-accuracy difference to the key's default value on the same test examples
    (NaN for the default itself, or when the value changes the test examples); ``p_holm`` adjusts
    the p-values over the whole table. ``reads_key`` is False for a strategy that does not read
    the key: its one row is its default run, which stands for every value.
    """
    rows = []
    arms = _arms(plan, Path(runs_dir))
    for (dataset, strategy, value), arm in arms.items():
        default = arms[(dataset, strategy, plan.defaults[dataset])]
        calibration = metric_interval(ece, [arm.confidence, arm.confidence_correct], spec)
        row = {
            "dataset": dataset,
            "strategy": strategy,
            plan.key: value,
            "is_default": value == plan.defaults[dataset],
            "reads_key": strategy not in plan.inert,
            "seeds": arm.correct.shape[0],
            "n": arm.correct.shape[1],
            **interval_columns("accuracy", accuracy_interval(arm.correct, spec.level)),
            **interval_columns("ece", calibration),
            "valid_accuracy": arm.valid_accuracy,
        }
        row.update(
            estimate_columns(None) if row["is_default"] else compare_arms(arm, default, spec)
        )
        rows.append(row)
    return with_family_holm(pd.DataFrame(rows), ABLATION_FAMILY)


def ablation_display(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """The table as text: percentages, intervals, the default value marked."""
    marked = [
        f"{value} ({'default' if reads else f'default; does not read {key}'})"
        if default
        else str(value)
        for value, default, reads in zip(
            table[key], table["is_default"], table["reads_key"], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "dataset": table["dataset"],
            "strategy": table["strategy"],
            key: marked,
            "seeds": table["seeds"],
            **estimate_text(table, "accuracy", "test acc (%)", "95% CI"),
            **estimate_text(table, "ece", "ECE (%)", "ECE 95% CI"),
            "valid acc (%)": table["valid_accuracy"].map(pct),
            **difference_text(table, "Δ vs default (points)", "Δ 95% CI"),
        }
    )


def run_ablation(
    plan: AblationPlan,
    options: RunOptions,
    *,
    out: str | Path | None = None,
    spec: BootstrapSpec | None = None,
    execution: Execution | None = None,
) -> Path:
    """Train the plan with ``options`` (its suite and profile; finished runs are cache hits,
    trained as ``execution`` says: processes, GPUs, a Ray cluster), write table, figure and
    section.

    Returns the path of the section file.
    """
    if (options.suite, options.profile) != (plan.suite, plan.profile):
        raise ValueError(
            f"run options for suite {options.suite} profile {options.profile}, "
            f"plan for {plan.suite} {plan.profile}"
        )
    spec = spec or BootstrapSpec()
    runs_dir = options.runs_dir
    out_dir = Path(out) if out is not None else default_out_dir(runs_dir, plan)
    execute_plan(plan.configs, options, execution)
    table = ablation_table(plan, runs_dir, spec)
    where = f"suite {plan.suite}, profile {plan.profile}"
    caption = (
        f"Ablation of {plan.key} ({where}): test accuracy of the checkpoint chosen on validation "
        f"and ECE (10 equal-width bins), {spec.describe()}; Δ = paired difference to the default "
        f"value on the same test examples, sign-flip p-value, Holm-adjusted over the table. "
        f"{CONFIDENCE_DEFINITION}."
    )
    entry = export_section_table(
        table, ablation_display(table, plan.key), out_dir, TABLE_NAME, caption
    )
    figure = ablation_figure(table, plan.key, plan.values, plan.defaults)
    inert = (
        f" {', '.join(plan.inert)} do not read {plan.key}: each trains once, at the default, "
        "and its default run stands for every value (a dotted line in the figure)."
        if plan.inert
        else ""
    )
    figure_paths = save_figure(figure, out_dir, FIGURE_NAME)
    figure_caption = (
        f"Test accuracy and ECE against {plan.key} per strategy ({where}); band = 95% CI; "
        "dashed line = the default value."
    )
    return write_section(
        out_dir,
        kind="ablation",
        title=f"Ablation: {plan.key} ({where})",
        text=(
            f"{plan.key} takes the values {', '.join(map(str, plan.values))} in "
            f"{plural(len(plan.runs), 'run')}; each value is compared with the default "
            f"({', '.join(f'{d}: {v}' for d, v in plan.defaults.items())}) on the same test "
            "examples. Checkpoints are chosen on validation; the table reports test." + inert
        ),
        tables=[entry],
        figures=[figure_entry(figure_paths, figure_caption)],
        details={
            "suite": plan.suite,
            "profile": plan.profile,
            "key": plan.key,
            "values": list(plan.values),
            "defaults": plan.defaults,
            "not_reading_key": list(plan.inert),
            "runs": [RunDir.of(Path(), plan.suite, c).path.as_posix() for c in plan.configs],
            "bootstrap": spec.describe(),
        },
    )
