"""``bench ablate``: key and value checks before any training, default grids, the noise study's
plan, and one tiny real ablation with its table, figure, report section and cache hits."""

from __future__ import annotations

import csv

import pytest

from bench.config import valid_keys
from bench.errors import ConfigError
from bench.runner import RunOptions
from bench.store import read_json
from sweeps.ablate import AblationPlan, plan_ablation, plan_lines, run_ablation
from sweeps.keys import default_values, parse_values
from tests.test_sweeps_support import sweep_parser, write_tiny_suite


def test_alpha3_default_grid_is_the_issues():
    plan = plan_ablation("smoke", "alpha3", strategies=["dss+mi"])
    assert plan.values == (0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
    assert plan.defaults == {"synth": 0.1}
    assert len(plan.runs) == len(plan.values)
    assert [c.alpha3 for c in plan.configs] == list(plan.values)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("mi_variant", ["code", "paper", "infonce"]),
        ("noise.type", ["none", "shuffle", "drop", "swap", "truncate", "numbers"]),
        ("mi_stop_grad", [False, True]),
        ("lr", [0.1e-3, 0.3e-3, 1e-3, 3e-3]),
    ],
)
def test_default_grids(key, expected):
    assert default_values(key, 1e-3) == pytest.approx(expected) if key == "lr" else expected


def test_the_default_value_joins_the_grid_in_order():
    plan = plan_ablation("smoke", "alpha3", parse_values("0.5,0"), strategies=["dss+mi"])
    assert plan.values == (0.0, 0.1, 0.5)


def test_noise_study_plan():
    plan = plan_ablation(
        "smoke",
        "noise.level",
        strategies=["dss", "dss+mi"],
        overrides={"noise.type": "swap"},
    )
    assert {c.noise.type for c in plan.configs} == {"swap"}
    assert {c.strategy for c in plan.configs} == {"dss", "dss+mi"}
    assert plan.defaults == {"synth": 0.0} and 0.0 in plan.values


@pytest.mark.parametrize(
    ("key", "values", "message"),
    [
        ("alpha9", None, "unknown config key; valid keys: "),
        ("seed", None, "use --seeds"),
        ("log_every", None, "does not change"),
        ("noise.level", ["2"], "noise.level"),
        ("mi_variant", ["bogus"], "mi_variant"),
        ("alpha3", ["-1"], "alpha3"),
        ("max_train", None, "no default values"),
    ],
)
def test_bad_keys_and_values_fail_before_training(tmp_path, key, values, message):
    argv = ["ablate", "--vary", key, "--suite", "smoke", "--runs-dir", str(tmp_path)]
    args = sweep_parser().parse_args(argv + (["--values", ",".join(values)] if values else []))
    with pytest.raises(ConfigError, match=message):
        args.func(args)
    assert not any(tmp_path.iterdir())


def test_unknown_key_lists_the_valid_keys():
    with pytest.raises(ConfigError) as info:
        plan_ablation("smoke", "alpha9")
    listed = str(info.value).split("valid keys: ")[1].split(", ")
    assert {"alpha3", "noise.level", "mi_variant"} <= set(listed) <= set(valid_keys())


def test_set_conflicting_with_vary():
    with pytest.raises(ConfigError, match="conflicts"):
        plan_ablation("smoke", "alpha3", overrides={"alpha3": 0.2})


def test_ablation_trains_only_the_strategies_that_read_the_key():
    plan = plan_ablation("smoke", "alpha3")
    assert plan.inert == ("finetune", "single-task", "dss")
    readers = [(c.strategy, c.alpha3) for v, c in plan.runs if c.strategy in ("dss+mi", "dss+kl")]
    assert len(readers) == 2 * len(plan.values)
    assert [(c.strategy, c.alpha3) for _, c in plan.runs if c.strategy in plan.inert] == [
        ("finetune", 0.1),
        ("single-task", 0.1),
        ("dss", 0.1),
    ]
    assert all(value == c.alpha3 for value, c in plan.runs)
    every = plan_ablation("smoke", "lr")  # a key every strategy reads
    assert every.inert == () and len(every.runs) == 5 * len(every.values)
    none = plan_ablation("smoke", "alpha3", strategies=["dss"])
    assert [c.alpha3 for c in none.configs] == [0.1]
    assert "no planned strategy reads alpha3" in plan_lines(none)[-1]


def test_alpha3_dry_run_plans_only_its_readers_and_shows_each_value(tmp_path, capsys):
    argv = ["ablate", "--vary", "alpha3", "--suite", "smoke", "--runs-dir", str(tmp_path)]
    args = sweep_parser().parse_args([*argv, "--dry-run"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "not reading alpha3: finetune, single-task, dss" in out
    assert "to train: 17 runs" in out  # 7 values x (dss+mi, dss+kl) + 3 default runs
    rows = [line for line in out.splitlines() if line.startswith("  train ")]
    assert len(rows) == 17 and all("alpha3=" in line for line in rows)
    inert = [line for line in rows if " dss+mi " not in line and " dss+kl " not in line]
    assert len(inert) == 3 and all(line.endswith("alpha3=0.1") for line in inert)
    assert not any(tmp_path.iterdir())


def test_dry_run_trains_nothing(tmp_path, capsys):
    argv = ["ablate", "--vary", "mi_variant", "--suite", "smoke", "--strategies", "dss+mi"]
    args = sweep_parser().parse_args([*argv, "--runs-dir", str(tmp_path), "--dry-run"])
    assert args.func(args) == 0
    assert "to train: 3 runs" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_tiny_ablation_writes_table_figure_and_section(tmp_path):
    suite = write_tiny_suite(tmp_path, strategies=("dss+mi", "finetune"))
    runs = tmp_path / "runs"
    plan: AblationPlan = plan_ablation(str(suite), "alpha3", [0.0])
    assert len(plan.runs) == 3  # finetune does not read alpha3: its default run only
    section_path = run_ablation(plan, RunOptions(plan.suite, plan.profile, runs_dir=runs))
    out = runs / "ablations" / "tiny-alpha3"
    assert section_path == out / "section.json"
    section = read_json(section_path)
    assert section["kind"] == "ablation" and section["details"]["values"] == [0.0, 0.1]
    for entry in (*section["tables"], *section["figures"]):
        for key in ("csv", "display_csv", "markdown", "latex", "png", "svg"):
            assert key not in entry or (out / entry[key]).is_file()
    with open(out / "ablation.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["strategy"], r["alpha3"], r["is_default"], r["reads_key"]) for r in rows] == [
        ("dss+mi", "0.0", "False", "True"),
        ("dss+mi", "0.1", "True", "True"),
        ("finetune", "0.1", "True", "False"),
    ]
    assert section["details"]["not_reading_key"] == ["finetune"]
    assert rows[0]["p_value"] and not rows[1]["p_value"]
    assert float(rows[0]["accuracy_low"]) <= float(rows[0]["accuracy"])
    mtimes = {p: p.stat().st_mtime for p in runs.glob("tiny/*/*/*/seed-*/metrics.json")}
    run_ablation(
        plan, RunOptions(plan.suite, plan.profile, runs_dir=runs)
    )  # every run is a cache hit now
    assert {p: p.stat().st_mtime for p in runs.glob("tiny/*/*/*/seed-*/metrics.json")} == mtimes
