"""End-to-end runs of the tiny config: store layout, determinism, resume, cache hits, --force,
locks, and the CLI's plan and error paths."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bench.cli import main
from bench.errors import BenchError
from bench.executors import Execution
from bench.plan import execute_plan
from bench.runner import RunOptions, run_one
from bench.store import RunDir, iter_runs, read_json, read_jsonl, run_dir
from tests.helpers import Interrupted, interrupt_at, one_line_error, run_numbers, tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    config = tiny_config(strategy="dss+mi")
    return config, run_one(config, RunOptions("t", runs_dir=runs), echo=lambda _: None)


def test_run_directory_holds_every_file(reference_run):
    config, result = reference_run
    d = result.directory
    assert d == run_dir(d.parents[4], "t", config)
    for name in (
        "config.json",
        "env.json",
        "metrics.json",
        "predictions.jsonl",
        "train_log.jsonl",
        "tokenizer.json",
    ):
        assert (d / name).is_file(), name
    assert not (d / "checkpoints").exists()
    recorded = read_json(d / "config.json")
    assert recorded["config_hash"] == config.config_hash() and recorded["seed"] == config.seed
    env = read_json(d / "env.json")
    assert env["versions"]["torch"] and "synth" in next(iter(env["data_sources"].values()))
    rows = read_jsonl(d / "predictions.jsonl")
    assert len(rows) == config.synth.n_test
    assert {
        "id",
        "input",
        "gold",
        "prediction",
        "correct",
        "confidence",
        "candidate_probs",
    } <= rows[0].keys()
    assert abs(sum(rows[0]["candidate_probs"].values()) - 1) < 1e-5
    log = read_jsonl(d / "train_log.jsonl")
    assert {"pred", "explain", "mi", "total"} <= log[0].keys()
    assert [r["step"] for r in log if r["kind"] == "valid"] == [3, 6]


def test_same_seed_gives_identical_numbers(reference_run, tmp_path):
    config, first = reference_run
    second = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert run_numbers(second.directory) == run_numbers(first.directory)


def test_interrupted_run_resumes_to_the_same_numbers(reference_run, tmp_path):
    config, uninterrupted = reference_run
    with pytest.raises(Interrupted):
        run_one(
            config, RunOptions("t", runs_dir=tmp_path), on_step=interrupt_at(5), echo=lambda _: None
        )
    directory = run_dir(tmp_path, "t", config)
    assert not (directory / "metrics.json").exists()
    assert [p.name for p in (directory / "checkpoints").glob("step-*")] == ["step-00000004"]
    resumed = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert not resumed.cached
    assert run_numbers(resumed.directory) == run_numbers(uninterrupted.directory)


def test_run_with_the_speed_keys_resumes_exactly_and_keeps_test_order(reference_run, tmp_path):
    """Two-level length grouping and grouped evaluation: still pure in (seed, step), resumable,
    and the predictions in test order."""
    _, plain = reference_run
    config = tiny_config(
        strategy="dss+mi",
        length_grouping=True,
        length_grouping_by="input-then-target",
        eval_length_grouping=True,
        closed_eval="score",
    )
    whole = run_one(config, RunOptions("t", runs_dir=tmp_path / "whole"), echo=lambda _: None)
    with pytest.raises(Interrupted):
        run_one(
            config, RunOptions("t", runs_dir=tmp_path), on_step=interrupt_at(5), echo=lambda _: None
        )
    resumed = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert run_numbers(resumed.directory) == run_numbers(whole.directory)
    ids = [r["id"] for r in read_jsonl(whole.directory / "predictions.jsonl")]
    assert ids == [r["id"] for r in read_jsonl(plain.directory / "predictions.jsonl")]
    assert run_numbers(whole.directory).log != run_numbers(plain.directory).log  # other batches


def test_cache_hit_and_force(tmp_path):
    config = tiny_config(strategy="finetune", max_steps=2, eval_every=2)
    first = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    again = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=lambda _: None)
    assert again.cached and again.metrics == first.metrics
    messages = []
    forced = run_one(config, RunOptions("t", runs_dir=tmp_path, force=True), echo=messages.append)
    assert not forced.cached and "moved to" in messages[0]
    moved = list(first.directory.parent.glob("seed-0.replaced-*"))
    assert len(moved) == 1 and (moved[0] / "metrics.json").is_file()
    assert list(iter_runs(tmp_path)) == [forced.directory]  # the moved-aside run is not listed


def test_locked_run_waits_for_the_other_process(tmp_path):
    """A run another process holds is waited for, not an error for the whole command."""
    config = tiny_config(strategy="finetune", max_steps=2, eval_every=2)
    run = RunDir.of(tmp_path, "t", config)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with run.lock():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    with pytest.raises(BenchError, match="locked"), run.lock():
        pass  # without a wait callback the lock is refused at once
    threading.Timer(0.5, release.set).start()
    messages: list[str] = []
    result = run_one(config, RunOptions("t", runs_dir=tmp_path), echo=messages.append)
    holder.join()
    assert "waiting for it to finish" in messages[0]
    assert not result.cached and (result.directory / "metrics.json").is_file()


def test_cli_dry_run_plans_without_training(tmp_path, capsys):
    assert main(["run", "--suite", "smoke", "--runs-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "5 runs" in out and "to train: 5 runs" in out
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "alpha1=-1"], "alpha1"),
        (["--set", "bogus=1"], "unknown config key 'bogus'"),
        (["--strategies", "dss+zz"], "unknown strategy"),
        (["--profile", "gpu9"], "unknown profile"),
        (["--datasets", "imagenet"], "unknown dataset"),
        (["--seeds", "a,b"], "--seeds a,b"),
        (["--seeds", "-1"], "--seeds -1"),
        (["--set", "vocab_size=0"], "vocab_size"),
        (["--set", "lr=.inf"], "lr: expected a finite number"),
        (["--set", "alpha3=.nan"], "alpha3"),
        (["--set", "lr=0"], "lr: expected a value > 0"),
    ],
)
def test_cli_bad_config_is_one_line_exit_2(tmp_path, capsys, args, message):
    """Bad settings fail before anything trains (or is written), dry run or not."""
    for dry_run in ([], ["--dry-run"]):
        code = main(["run", "--suite", "smoke", "--runs-dir", str(tmp_path), *dry_run, *args])
        one_line_error(capsys, code, message)
    assert not any(tmp_path.iterdir())


def test_cli_unknown_suite(capsys):
    assert main(["run", "--suite", "nope"]) == 2
    assert "unknown suite 'nope'" in capsys.readouterr().err


def test_metrics_json_is_valid_json(reference_run):
    _, result = reference_run
    assert json.loads((result.directory / "metrics.json").read_text())["status"] == "finished"


def test_cli_missing_data_fails_before_training(tmp_path, capsys):
    args = ["run", "--suite", "paper-table", "--datasets", "svamp", "--runs-dir", str(tmp_path)]
    assert main([*args, "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "svamp" in err and "bench data fetch" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_parallel_jobs_give_the_same_numbers_in_plan_order(tmp_path):
    configs = [tiny_config(strategy=s, max_steps=2, eval_every=2) for s in ("finetune", "dss")]
    serial = execute_plan(configs, RunOptions("t", runs_dir=tmp_path / "a"))
    parallel = execute_plan(configs, RunOptions("t", runs_dir=tmp_path / "b"), Execution(jobs=2))
    assert [r.metrics["strategy"] for r in parallel] == ["finetune", "dss"]
    for one, other in zip(serial, parallel, strict=True):
        assert read_jsonl(one.directory / "predictions.jsonl") == read_jsonl(
            other.directory / "predictions.jsonl"
        )
    with pytest.raises(BenchError, match="--jobs 0"):
        execute_plan(configs, RunOptions("t", runs_dir=tmp_path / "c"), Execution(jobs=0))


def test_save_model_keeps_the_selected_checkpoint_without_changing_the_config(tmp_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from bench.evaluate import EvalSettings, evaluate
    from bench.runner import load_run_data
    from bench.strategy import STRATEGIES

    config = tiny_config(strategy="finetune")
    result = run_one(
        config, RunOptions("t", runs_dir=tmp_path, save_model=True), echo=lambda _: None
    )
    assert result.directory == run_dir(tmp_path, "t", config)  # same hash, same place
    saved = RunDir(result.directory).model_dir
    model = AutoModelForSeq2SeqLM.from_pretrained(saved)
    tokenizer = AutoTokenizer.from_pretrained(saved)
    splits = load_run_data(config)
    settings = EvalSettings.for_run(config, splits.metric)
    records = evaluate(
        model, tokenizer, STRATEGIES.get("finetune")(config), splits.test, settings
    ).records
    recorded = read_jsonl(result.directory / "predictions.jsonl")  # the selected checkpoint's
    assert [r["prediction"] for r in records] == [r["prediction"] for r in recorded]
    assert [r["confidence"] for r in records] == pytest.approx([r["confidence"] for r in recorded])
    env = read_json(result.directory / "env.json")
    assert env["model_identity"] == {
        "source": "preset",
        "preset": config.model,
        "weights": "random init",
    }
    messages = []
    run_one(config, RunOptions("t", runs_dir=tmp_path / "other"), echo=lambda _: None)
    again = run_one(
        config, RunOptions("t", runs_dir=tmp_path / "other", save_model=True), echo=messages.append
    )
    assert again.cached and "--force retrains it" in messages[0]


def test_run_options_round_trip_through_json_and_resolve(tmp_path, monkeypatch):
    """What a distributed launch or a Ray task receives is the options it was given."""
    options = RunOptions(
        "t", "tiny", runs_dir="runs", data_dir=None, force=True, threads=2, log_with=["tensorboard"]
    )
    assert options.runs_dir == Path("runs") and options.log_with == ("tensorboard",)
    assert RunOptions.from_dict(json.loads(json.dumps(options.to_dict()))) == options
    monkeypatch.setenv("COTBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    resolved = options.resolved()
    assert resolved.runs_dir == tmp_path / "runs" and resolved.data_dir == tmp_path / "data"
    assert (resolved.suite, resolved.force, resolved.threads) == ("t", True, 2)
