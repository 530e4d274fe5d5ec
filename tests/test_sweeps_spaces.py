"""Search spaces and the sweep's pieces that need no training: space files, storages, samplers,
the pruning hook of the objective, and the recovery of trials whose worker died."""

from __future__ import annotations

import dataclasses
import socket

import optuna
import pytest
import yaml

from bench.errors import BenchError, ConfigError
from bench.runner import RunResult
from bench.store import RunDir, write_jsonl
from sweeps.liveness import FAILURE_ATTR, RETRY_ATTR, WORKER_ATTR, WorkerLease, recover_orphans
from sweeps.objective import Objective
from sweeps.spaces import load_space, space_names
from sweeps.spec import SweepSpec
from sweeps.storage import describe_storage, open_storage, storage_target
from sweeps.study import prepare_study
from tests.test_sweeps_support import sweep_parser, write_tiny_suite

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _space_file(tmp_path, params: dict, **extra) -> str:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"description": "test", "params": params, **extra}))
    return str(path)


def test_builtin_spaces():
    assert {"alphas", "noise"} <= set(space_names())
    alphas = load_space("alphas")
    assert [p.key for p in alphas.params] == ["alpha1", "alpha2", "alpha3", "mi_variant"]
    assert alphas.strategies == ("dss+mi",) and alphas.direction == "maximize"
    noise = load_space("noise")
    assert {p.key for p in noise.params} == {"noise.type", "noise.level", "strategy"}
    assert noise.grid_size() == 5 * 4 * 4


def test_suggest_maps_parameters_to_config_keys():
    space = load_space("noise")
    trial = optuna.trial.FixedTrial({"noise.type": "swap", "noise.level": 0.3, "strategy": "dss"})
    assert space.suggest(trial) == {"noise.type": "swap", "noise.level": 0.3, "strategy": "dss"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha9": {"type": "float", "low": 0, "high": 1}}, "unknown config key 'alpha9'"),
        ({"mi_variant": {"type": "categorical", "choices": ["code", "bad"]}}, "mi_variant"),
        ({"alpha3": {"type": "float", "low": -1, "high": 1}}, "alpha3"),
        ({"alpha3": {"type": "float", "low": 1, "high": 0}}, "low <= high"),
        ({"alpha3": {"type": "normal"}}, "type: expected one of"),
        ({"alpha3": {"type": "float", "low": 0, "high": 1, "mean": 0}}, "unknown key"),
    ],
)
def test_bad_spaces_fail_with_one_line(tmp_path, params, message):
    with pytest.raises(ConfigError, match=message):
        load_space(_space_file(tmp_path, params))


def test_grid_needs_values(tmp_path):
    space = load_space(_space_file(tmp_path, {"alpha3": {"type": "float", "low": 0, "high": 1}}))
    with pytest.raises(ConfigError, match="grid values for alpha3"):
        space.grid()


def test_default_storage_and_password_hiding(tmp_path):
    assert storage_target(None, tmp_path, "s") == str(tmp_path / "optuna" / "s.journal")
    assert "secret" not in describe_storage("postgresql://u:secret@localhost:5/db")
    with pytest.raises(ConfigError, match=r"storage postgresql://u:\*\*\*@127\.0\.0\.1:1/db"):
        open_storage("postgresql://u:secret@127.0.0.1:1/db")  # nothing listens on port 1


class _DriverError(Exception):
    """A database driver's error with its SQLSTATE, as psycopg raises them."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "attempts"),
    [("42P07", 2), ("42710", 2), ("42501", 1)],  # duplicate table / object: retried; denied: not
)
def test_only_a_lost_schema_race_is_retried(monkeypatch, sqlstate, attempts):
    import sqlalchemy.exc

    import sweeps.storage as storage

    calls = []

    def rdb_storage(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise sqlalchemy.exc.ProgrammingError(
                "CREATE TABLE studies", {}, _DriverError(sqlstate)
            )
        return "storage"

    monkeypatch.setattr(optuna.storages, "RDBStorage", rdb_storage)
    monkeypatch.setattr(storage, "SCHEMA_RETRY_S", 0)
    if attempts == 1:
        with pytest.raises(ConfigError, match="SQLSTATE 42501"):
            open_storage("postgresql://u@127.0.0.1:1/db")
    else:
        assert open_storage("postgresql://u@127.0.0.1:1/db") == "storage"
    assert len(calls) == attempts


def test_resuming_a_study_with_another_setup_is_refused(tmp_path):
    suite = str(write_tiny_suite(tmp_path))
    space = load_space(_space_file(tmp_path, {"alpha3": {"type": "float", "low": 0, "high": 1}}))
    spec = SweepSpec("s", space, 2, suite=suite, runs_dir=str(tmp_path / "runs"))
    prepare_study(spec)
    prepare_study(spec)  # the same setup resumes
    other = SweepSpec("s", space, 2, suite=suite, runs_dir=spec.runs_dir, overrides={"lr": 0.1})
    with pytest.raises(ConfigError, match="created with another overrides"):
        prepare_study(other)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trials": 0}, "--trials"),
        ({"workers": 2, "storage": "sqlite:///x.db"}, "sqlite storage is for one process"),
        ({"sampler": "grid", "trials": 99}, "only 2 points"),
        ({"sampler": "cmaes"}, "--sampler cmaes"),
        ({"pruner": "hyperband"}, "--pruner hyperband"),
        ({"datasets": ("imagenet",)}, "unknown dataset"),
    ],
)
def test_bad_sweeps_fail_before_training(tmp_path, change, message):
    space = load_space(
        _space_file(tmp_path, {"mi_variant": {"type": "categorical", "choices": ["code", "paper"]}})
    )
    spec = SweepSpec("s", space, 2, suite=str(write_tiny_suite(tmp_path)), runs_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=message):
        prepare_study(dataclasses.replace(spec, **change))
    assert not list(tmp_path.glob("tiny/**/seed-*"))


def _journal_study(tmp_path):
    storage = open_storage(str(tmp_path / "study.journal"))
    return storage, optuna.create_study(study_name="s", storage=storage, direction="maximize")


def test_orphaned_trials_are_failed_and_queued_again(tmp_path):
    storage, study = _journal_study(tmp_path)
    distribution = {"alpha3": optuna.distributions.FloatDistribution(0, 1)}
    dead = study.ask(distribution)
    dead.set_user_attr(WORKER_ATTR, {"host": socket.gethostname(), "pid": 1, "lock": "/nope"})
    remote = study.ask(distribution)
    remote.set_user_attr(WORKER_ATTR, {"host": "elsewhere", "pid": 1, "lock": "/nope"})
    with WorkerLease(tmp_path / "workers") as lease:
        alive = study.ask(distribution)
        alive.set_user_attr(WORKER_ATTR, lease.tag)
        assert recover_orphans(study, storage) == [dead.number]
        assert recover_orphans(study, storage) == []
    states = {t.number: t.state for t in study.get_trials()}
    assert states[dead.number] == optuna.trial.TrialState.FAIL
    assert states[remote.number] == states[alive.number] == optuna.trial.TrialState.RUNNING
    retry = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert len(retry) == 1 and retry[0].params == dead.params
    assert retry[0].user_attrs[RETRY_ATTR] == dead.number and WORKER_ATTR not in retry[0].user_attrs
    assert "died" in study.trials[dead.number].user_attrs[FAILURE_ATTR]
    assert recover_orphans(study, storage) == [alive.number]  # its lease is gone now


class _FakeRuns:
    """Stands in for ``run_one``: calls ``on_validation`` or returns a cached run."""

    def __init__(self, tmp_path, cached: bool) -> None:
        self.tmp_path, self.cached = tmp_path, cached

    def __call__(self, config, options, *, on_validation) -> RunResult:
        directory = self.tmp_path / "run"
        directory.mkdir(exist_ok=True)
        if self.cached:
            write_jsonl(
                RunDir(directory).train_log_file, [{"kind": "valid", "step": 3, "accuracy": 0.25}]
            )
        else:
            on_validation(3, {"accuracy": 0.25})
        return RunResult(directory, self.cached, {"valid_best_accuracy": 0.5})


@pytest.mark.parametrize("cached", [False, True])
def test_objective_reports_validation_to_the_pruner(tmp_path, monkeypatch, cached):
    runs = _FakeRuns(tmp_path, cached)
    monkeypatch.setattr("sweeps.objective.run_one", runs)
    space = load_space(
        _space_file(tmp_path, {"mi_variant": {"type": "categorical", "choices": ["code"]}})
    )
    spec = SweepSpec("s", space, 1, suite=str(write_tiny_suite(tmp_path)))
    started = []
    objective = Objective(spec, {"host": "h"}, on_start=lambda: started.append(True))
    pruner = optuna.pruners.ThresholdPruner(lower=0.5)  # prunes any report below 0.5
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert started == [True] and trial.intermediate_values == {3: 0.25}
    assert trial.user_attrs["study"] == "s" and trial.user_attrs["trial_number"] == 0
    # a live run is pruned; a cached run only replays its curve and returns its value
    assert trial.state == (
        optuna.trial.TrialState.COMPLETE if cached else optuna.trial.TrialState.PRUNED
    )
    assert trial.value == (0.5 if cached else 0.25)


def test_finish_needs_a_completed_trial(tmp_path):
    from sweeps.finish import finish_sweep

    space = load_space(
        _space_file(tmp_path, {"mi_variant": {"type": "categorical", "choices": ["code"]}})
    )
    spec = SweepSpec("s", space, 1, suite=str(write_tiny_suite(tmp_path)), runs_dir=str(tmp_path))
    prepare_study(spec)
    with pytest.raises(BenchError, match="no completed trial"):
        finish_sweep(spec)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--workers", "2", "--storage", "sqlite:///s.db"], "sqlite storage is for one process"),
        (["--space", "nowhere"], "unknown space 'nowhere'"),
        (["--seeds", "a,b"], "--seeds a,b: expected comma-separated integers"),
    ],
)
def test_cli_sweep_errors_before_training(tmp_path, flags, message):
    argv = [
        "sweep",
        "--study",
        "s",
        "--space",
        "noise",
        "--trials",
        "2",
        "--runs-dir",
        str(tmp_path),
    ]
    args = sweep_parser().parse_args([*argv, *flags])
    with pytest.raises(ConfigError, match=message):
        args.func(args)
    assert not any(tmp_path.iterdir())
