"""The run-directory type: file names in one place, seed directories found by one glob."""

from __future__ import annotations

from bench.store import RunDir, iter_run_dirs, write_json, write_jsonl


def _finished_run(run: RunDir) -> None:
    write_json(run.config_file, {"config": {}, "config_hash": "abc", "seed": 0})
    write_jsonl(run.predictions_file, [{"id": "1", "prediction": "a", "gold": "a"}])
    metrics = {
        "status": "finished",
        "config_hash": "abc",
        "selected": "last",
        "primary": 1.0,
        "test": {},
        "prediction_files": {"last": RunDir.PREDICTIONS},
    }
    write_json(run.metrics_file, metrics)


def test_iter_run_dirs_lists_finished_seed_directories_only(tmp_path):
    base = tmp_path / "suite" / "synth" / "dss" / "abc"
    finished, started = RunDir(base / "seed-0"), RunDir(base / "seed-1")
    _finished_run(finished)
    write_json(started.config_file, {"config": {}})
    _finished_run(RunDir(base / "seed-2.replaced-20260101T000000Z"))

    assert list(iter_run_dirs(tmp_path)) == [finished]
    assert list(iter_run_dirs(tmp_path, finished=False)) == [finished, started]
    assert list(iter_run_dirs(tmp_path, suite="other")) == []
    assert finished.is_finished() and not started.is_finished()
    assert finished.read_predictions()[0]["prediction"] == "a"
    assert finished.prediction_files() == {"last": "predictions.jsonl"}


def test_prediction_file_names():
    assert RunDir.prediction_file_name("best", selected=True) == "predictions.jsonl"
    assert RunDir.prediction_file_name("last", selected=False) == "predictions-last.jsonl"
