"""Experiment trackers (``--log-with``): a real TensorBoard run whose event files, read back,
hold the same scalars as ``train_log.jsonl`` and the resolved config; a tracker that is not
installed or not known fails before any training with the extra to install."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.errors import ConfigError
from bench.runner import RunOptions, run_one
from bench.store import read_json, read_jsonl
from bench.tracking import check_trackers, hyperparameters, tracker_dir
from tests.helpers import tiny_config


def test_tensorboard_event_files_hold_the_training_log(tmp_path):
    pytest.importorskip("tensorboard", reason="pip install 'cotbench[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny_config(strategy="dss+mi")
    result = run_one(
        config, RunOptions("t", runs_dir=tmp_path, log_with=["tensorboard"]), echo=lambda _: None
    )
    assert read_json(result.directory / "config.json")["config_hash"] == config.config_hash()
    events = EventAccumulator(str(tracker_dir(result.directory) / "cotbench"))
    events.Reload()
    logged = {
        tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]
    }
    log = read_jsonl(result.directory / "train_log.jsonl")
    expected: dict[str, dict[int, float]] = {}
    for record in log:
        for key, value in record.items():
            if key not in ("kind", "step") and isinstance(value, int | float):
                expected.setdefault(f"{record['kind']}/{key}", {})[record["step"]] = value
    assert {"train/pred", "train/explain", "train/mi", "train/total", "train/lr"} <= set(expected)
    assert "valid/accuracy" in expected and set(logged) == set(expected)
    for tag, values in expected.items():
        assert logged[tag] == pytest.approx(values, rel=1e-6, abs=1e-12), tag  # float32 events
    # the resolved config, flattened, is the run's hyperparameters (and an hparams yaml)
    assert any(tracker_dir(result.directory).rglob("hparams.yml"))


def test_hyperparameters_are_flat_tracker_values():
    params = hyperparameters(tiny_config().to_dict())
    assert params["noise.level"] == 0.0 and params["max_eval"] == "none"
    assert all(isinstance(v, int | float | str | bool) for v in params.values())


def test_missing_or_unknown_trackers_fail_with_the_extra_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.tracking._available", lambda name: False)
    with pytest.raises(ConfigError, match=r"pip install 'cotbench\[wandb\]'"):
        check_trackers("wandb")
    assert check_trackers(None) == ()
    argv = ["run", "--suite", "smoke", "--runs-dir", str(tmp_path), "--log-with", "mlflow"]
    assert main(argv) == 2
    assert "pip install 'cotbench[mlflow]'" in capsys.readouterr().err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="unknown tracker; known: tensorboard, wandb, mlflow"):
        check_trackers("neptune")
