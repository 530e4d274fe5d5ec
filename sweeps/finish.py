"""The end of a sweep: best parameters, their re-evaluation on TEST next to the defaults, figures.

The study chose its best trial on validation accuracy. :func:`finish_sweep` retrains the best
parameters and the defaults (the plan without the trial's parameters) with several seeds, compares
them on the same test examples (paired bootstrap CI and sign-flip p-value, Holm over datasets and
default strategies), draws Optuna's optimisation-history and parameter-importance figures, and
writes the trials table and the report section into ``<runs_dir>/sweeps/<study>/``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.plan import execute_plan
from bench.runner import RunOptions
from bench.store import RunDir
from reports.arms import collect_arms, compare_arms
from reports.display import difference_text, estimate_text, pct
from reports.figures import save_figure
from reports.sections import SWEEPS, export_section_table, figure_entry, write_section
from reports.stats import BootstrapSpec, accuracy_interval
from reports.tables import interval_columns, with_family_holm
from sweeps.spec import SweepSpec, TrialPlan
from sweeps.storage import describe_storage, open_storage

FIGURE_CAPTIONS = {
    "history": "Optimisation history: validation accuracy of each trial and the best so far.",
    "importance": "Parameter importances (Optuna's default evaluator) for validation accuracy.",
}
REEVALUATION_FAMILY = "every best-vs-default comparison of the re-evaluation table"


def default_out_dir(spec: SweepSpec) -> Path:
    """``<runs_dir>/sweeps/<study>``."""
    return Path(spec.runs_dir) / SWEEPS / spec.study


def _groups(plan: TrialPlan, runs_dir: Path) -> dict[tuple[str, str], list[RunDir]]:
    groups: dict[tuple[str, str], list[RunDir]] = {}
    for config in plan.configs:
        groups.setdefault((config.dataset, config.strategy), []).append(
            RunDir.of(runs_dir, plan.suite, config)
        )
    return groups


def reevaluation_table(
    best: TrialPlan, defaults: TrialPlan, runs_dir: str | Path, spec: BootstrapSpec
) -> pd.DataFrame:
    """Per dataset and default strategy: test accuracy of the defaults and of the best
    parameters (95% CIs) and their paired difference on the same test examples, Holm over
    the table."""
    best_arms = collect_arms(runs_dir, _groups(best, Path(runs_dir)))
    default_arms = collect_arms(runs_dir, _groups(defaults, Path(runs_dir)))
    rows = []
    for (dataset, strategy), default in default_arms.items():
        for (best_dataset, best_strategy), tuned in best_arms.items():
            if best_dataset != dataset:
                continue
            row = {
                "dataset": dataset,
                "default_strategy": strategy,
                "best_strategy": best_strategy,
                "seeds": tuned.correct.shape[0],
                "n": tuned.correct.shape[1],
                **interval_columns(
                    "default_accuracy", accuracy_interval(default.correct, spec.level)
                ),
                **interval_columns("best_accuracy", accuracy_interval(tuned.correct, spec.level)),
                **compare_arms(tuned, default, spec),
            }
            rows.append(row)
    return with_family_holm(pd.DataFrame(rows), REEVALUATION_FAMILY)


def reevaluation_display(table: pd.DataFrame) -> pd.DataFrame:
    """The re-evaluation table as text."""
    return pd.DataFrame(
        {
            "dataset": table["dataset"],
            "default": table["default_strategy"],
            "best": table["best_strategy"],
            "seeds": table["seeds"],
            **estimate_text(table, "default_accuracy", "default acc (%)", "default 95% CI"),
            **estimate_text(table, "best_accuracy", "best acc (%)", "best 95% CI"),
            **difference_text(table, "Δ (points)", "Δ 95% CI"),
        }
    )


def trials_frames(study: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every trial (raw) and its display version: number, state, value, parameters."""
    raw = study.trials_dataframe(attrs=("number", "state", "value", "params", "user_attrs"))
    params = [c for c in raw.columns if c.startswith("params_")]
    display = raw[["number", "state", "value", *params]].copy()
    display["value"] = display["value"].map(pct)
    display.columns = [c.removeprefix("params_") for c in display.columns]
    return raw, display


def optuna_figures(study: Any, directory: Path) -> dict[str, list[Path]]:
    """Optuna's optimisation-history and parameter-importance plots as PNG and SVG, drawn inside
    an ``rc_context`` so that the style they set does not leak into later figures.

    Returns ``{"history": paths, "importance": paths}``; importance is left out when Optuna cannot
    compute it (fewer than two finished trials, or no parameter that varies).
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from optuna.exceptions import ExperimentalWarning
    from optuna.visualization.matplotlib import (
        plot_optimization_history,
        plot_param_importances,
    )

    paths = {}
    plots = {"history": plot_optimization_history, "importance": plot_param_importances}
    for name, plot in plots.items():
        with matplotlib.rc_context(), warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            warnings.simplefilter("ignore", UserWarning)  # PED-ANOVA on tied values
            try:
                ax = plot(study)
            except (ValueError, RuntimeError):  # too few trials for importances
                continue
            figure = ax.figure
            figure.set_layout_engine("constrained")
            paths[name] = save_figure(figure, directory, f"optuna-{name}")
            plt.close(figure)
    return paths


def finish_sweep(
    spec: SweepSpec,
    *,
    eval_seeds: Sequence[int] = (),
    out: str | Path | None = None,
    bootstrap: BootstrapSpec | None = None,
) -> Path:
    """Write the sweep's tables, figures and report section; returns the section's path.

    With ``eval_seeds``, the best parameters and the defaults are trained with those seeds
    (finished runs are cache hits) and compared on test.
    """
    import optuna
    from optuna.trial import TrialState

    bootstrap = bootstrap or BootstrapSpec()
    out_dir = Path(out) if out is not None else default_out_dir(spec)
    study = optuna.load_study(study_name=spec.study, storage=open_storage(spec.storage_target))
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        raise BenchError(f"study {spec.study}: no completed trial yet")
    best = study.best_trial
    counts = {s.name: len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
    raw, display = trials_frames(study)
    trials_caption = (
        f"Trials of study {spec.study}: validation accuracy (%) of each trial's runs (mean), "
        "and its parameters."
    )
    tables = [export_section_table(raw, display, out_dir, "trials", trials_caption)]
    figures = [
        figure_entry(paths, FIGURE_CAPTIONS[name])
        for name, paths in optuna_figures(study, out_dir).items()
    ]
    if eval_seeds:
        best_plan = spec.plan(best.params, seeds=eval_seeds)
        default_plan = spec.plan({}, seeds=eval_seeds)
        configs = list({*best_plan.configs, *default_plan.configs})
        execute_plan(
            sorted(configs, key=lambda c: (c.dataset, c.strategy, c.config_hash(), c.seed)),
            RunOptions(best_plan.suite, best_plan.profile, spec.runs_dir, spec.data_dir),
        )
        table = reevaluation_table(best_plan, default_plan, spec.runs_dir, bootstrap)
        caption = (
            f"Best trial #{best.number} of study {spec.study} re-evaluated on test with seeds "
            f"{', '.join(map(str, eval_seeds))} next to the defaults; {bootstrap.describe()}; "
            "Δ = paired difference on the same test examples, sign-flip p-value, Holm-adjusted."
        )
        display = reevaluation_display(table)
        tables.append(export_section_table(table, display, out_dir, "reevaluation", caption))
    text = (
        f"Optuna study {spec.study} over space {spec.space.name} "
        f"({spec.space.description}); objective: mean validation accuracy, "
        f"{spec.study_direction}; sampler {spec.sampler} (seed {spec.seed}), pruner {spec.pruner}."
        f" Best trial #{best.number}: validation accuracy {pct(best.value)}%, parameters "
        + ", ".join(f"{k}={v}" for k, v in best.params.items())
        + "."
    )
    return write_section(
        out_dir,
        kind="sweep",
        title=f"Sweep: {spec.study} (space {spec.space.name}, suite {spec.suite})",
        text=text,
        tables=tables,
        figures=figures,
        details={
            "study": spec.study,
            "storage": describe_storage(spec.storage_target),
            "space": spec.space.to_dict(),
            "sampler": spec.sampler,
            "pruner": spec.pruner,
            "seed": spec.seed,
            "trials": counts,
            "best": {"number": best.number, "value": best.value, "params": best.params},
            "eval_seeds": list(eval_seeds),
        },
    )
