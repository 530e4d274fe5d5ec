"""Fault injection (issue 17): crashes at named points (``bench.faults``), damaged checkpoints,
corrupt run and bundle files, OS errors, bad input, restarted sweeps and thread counts. Every
fault ends in a run that resumes to the uninterrupted run's numbers, or in one ``error:`` line
naming the path (exit code 2); nothing is silently wrong. Tiny configs: about a minute in all."""

from __future__ import annotations

import errno
import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from bench import faults, tokenizer
from bench.cli import main
from bench.data import DATASETS, DatasetSplits, LoadOptions, load_dataset
from bench.errors import BenchError, DataError
from bench.provenance import file_sha256
from bench.runner import RunOptions, run_one
from bench.store import DamagedRun, read_json, read_jsonl, run_dir, write_json
from reports.bundle import MANIFEST, verify_bundle
from tests.helpers import (
    TINY,
    Interrupted,
    interrupt_at,
    one_line_error,
    run_numbers,
    tiny_config,
)

pytestmark = pytest.mark.slow

RESULTS = Path(__file__).resolve().parent.parent / "results"
SUITE = "faults"  # the name of the suite file below, as its runs record it
CONFIG = {"strategy": "dss"}  # the run every crash test interrupts


class SimulatedCrash(BaseException):
    """Raised at a crash point instead of SIGKILL (no handler below catches BaseException)."""


def _quiet(_: str) -> None:
    pass


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Every test of this module shares one tokenizer cache of its own."""
    monkeypatch.setenv("COTBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "faults-cache"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every crash test must reproduce."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COTBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "faults-cache"))
        config = tiny_config(**CONFIG)
        runs = tmp_path_factory.mktemp("reference")
        result = run_one(config, RunOptions(SUITE, runs_dir=runs), echo=_quiet)
    return config, result.directory


@pytest.fixture
def crash_at(monkeypatch):
    """``crash_at(point)``: the next time the code reaches ``point`` it raises SimulatedCrash."""

    def die(point: str) -> None:
        monkeypatch.delenv(faults.ENV)  # once: the rerun passes the same point
        raise SimulatedCrash(point)

    monkeypatch.setattr(faults, "_die", die)
    return lambda point: monkeypatch.setenv(faults.ENV, point)


def _interrupted(config, runs: Path, step: int = 5) -> Path:
    with pytest.raises(Interrupted):
        run_one(config, RunOptions(SUITE, runs_dir=runs), on_step=interrupt_at(step), echo=_quiet)
    return run_dir(runs, SUITE, config)


# -- 1. a resume uses the run's own tokenizer --------------------------------------------------


def test_resume_with_another_tokenizer_cache_keeps_the_runs_tokenizer(
    reference, tmp_path, monkeypatch
):
    """The Unigram trainer differs between processes: a resume with an empty or different cache
    must not retrain the tokenizer (defect 1: accuracy 0.109 instead of 0.078)."""
    config, whole = reference
    directory = _interrupted(config, tmp_path / "runs")
    env_before = (directory / "env.json").read_text()
    other = tmp_path / "other-cache"  # a cache whose tokenizer for this corpus differs
    monkeypatch.setenv("COTBENCH_CACHE", str(other))
    train = tokenizer._train
    monkeypatch.setattr(tokenizer, "_train", lambda texts, size: train(texts[::-1], size - 7))
    messages = []
    resumed = run_one(config, RunOptions(SUITE, runs_dir=tmp_path / "runs"), echo=messages.append)
    assert not list(other.glob("tokenizers/*/tokenizer.json"))  # nothing was trained
    assert (directory / "env.json").read_text() == env_before
    assert run_numbers(resumed.directory) == run_numbers(whole)


# -- 2. finishing a run is crash-safe -----------------------------------------------------------


@pytest.mark.parametrize(
    "point", ["checkpoint-saved", "predictions-written", "metrics-written", "checkpoints-moved"]
)
def test_a_crash_at_any_point_resumes_to_the_same_numbers(reference, tmp_path, crash_at, point):
    config, whole = reference
    crash_at(point)
    with pytest.raises(SimulatedCrash):
        run_one(config, RunOptions(SUITE, runs_dir=tmp_path), echo=_quiet)
    rerun = run_one(config, RunOptions(SUITE, runs_dir=tmp_path), echo=_quiet)
    assert rerun.cached == (point in {"metrics-written", "checkpoints-moved"})
    assert run_numbers(rerun.directory) == run_numbers(whole)
    assert sorted(p.name for p in rerun.directory.iterdir() if p.is_dir()) == []


def test_a_half_removed_checkpoint_restarts_from_a_good_one(reference, tmp_path):
    """A kill inside the old rmtree left a checkpoint without its model file (defect 2): the
    rerun says so and retrains from step 0 to the same numbers instead of a traceback."""
    config, whole = reference
    directory = _interrupted(config, tmp_path)
    (checkpoint,) = (directory / "checkpoints").glob("step-*")
    (checkpoint / "pytorch_model.bin").unlink()
    messages = []
    rerun = run_one(config, RunOptions(SUITE, runs_dir=tmp_path), echo=messages.append)
    assert any("damaged checkpoint" in m and "pytorch_model.bin" in m for m in messages)
    assert any("restarts from step 0" in m for m in messages)
    assert run_numbers(rerun.directory) == run_numbers(whole)


def test_an_unreadable_rng_state_is_not_skipped(reference, tmp_path):
    """Accelerate skips an unreadable RNG file silently and the last checkpoint's predictions
    then differ (defect 8); the checksums catch it."""
    config, whole = reference
    directory = _interrupted(config, tmp_path)
    (checkpoint,) = (directory / "checkpoints").glob("step-*")
    rng = checkpoint / "random_states_0.pkl"
    rng.write_bytes(rng.read_bytes()[:20])
    messages = []
    rerun = run_one(config, RunOptions(SUITE, runs_dir=tmp_path), echo=messages.append)
    assert any("random_states_0.pkl does not match" in m for m in messages)
    assert run_numbers(rerun.directory) == run_numbers(whole)


def _suite_file(tmp_path: Path) -> Path:
    overrides = dict(TINY)
    body = {
        "description": "fault tests",
        "datasets": ["synth"],
        "strategies": [CONFIG["strategy"]],
        "seeds": [0],
        "profiles": {"tiny": {"overrides": overrides}},
    }
    path = tmp_path / f"{SUITE}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_sigkill_after_metrics_then_rerun_is_a_clean_cache_hit(reference, tmp_path):
    """A real SIGKILL (``COTBENCH_CRASH_AT``) in a ``bench run`` process."""
    _, whole = reference
    suite, runs = _suite_file(tmp_path), tmp_path / "runs"
    command = [sys.executable, "-m", "bench.cli", "run", "--suite", str(suite)]
    command += ["--runs-dir", str(runs)]
    env = {**os.environ, faults.ENV: "metrics-written"}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    (directory,) = runs.glob("*/*/*/*/seed-0")
    assert (directory / "checkpoints").is_dir()
    env.pop(faults.ENV)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "(cached)" in again.stdout, again.stderr[-2000:]
    assert not (directory / "checkpoints").exists()
    assert run_numbers(directory) == run_numbers(whole)


# -- 3. the tokenizer cache: one trainer per entry -----------------------------------------------


def test_concurrent_runs_train_one_tokenizer(tmp_path, monkeypatch):
    """Check-then-train let two ``--jobs`` workers train, and the last writer won (defect 3)."""
    calls = []
    train = tokenizer._train

    def slow_train(texts, size):
        calls.append(size)
        time.sleep(0.5)  # the other worker arrives meanwhile
        return train(texts, size)

    monkeypatch.setattr(tokenizer, "_train", slow_train)
    texts = [f"problem {i} plus {i * 3} is {i * 4}" for i in range(40)]
    paths = []

    def load() -> None:
        paths.append(tokenizer.trained_tokenizer(texts, 60, tmp_path)[1].read_bytes())

    workers = [threading.Thread(target=load) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(calls) == 1 and len(paths) == 2 and paths[0] == paths[1]
    assert not list(tmp_path.rglob("*.tmp"))


# -- 4. damaged runs, corrupt files and OS errors: one line, exit 2 -----------------------------


def _finished_copy(reference, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the reference run in a store of the suite file's layout; (runs, run dir)."""
    _, whole = reference
    runs = tmp_path / "runs"
    target = run_dir(runs, SUITE, tiny_config(**CONFIG))
    shutil.copytree(whole, target)
    return runs, target


CORRUPTIONS = {
    "metrics truncated": ("metrics.json", lambda p: p.write_text(p.read_text()[:40])),
    "metrics empty": ("metrics.json", lambda p: p.write_text("")),
    "metrics keyless": ("metrics.json", lambda p: p.write_text('{"status": "finished"}')),
    "config garbage": ("config.json", lambda p: p.write_bytes(b"\x00\xffgarbage")),
    "config deleted": ("config.json", Path.unlink),
    "predictions deleted": ("predictions.jsonl", Path.unlink),
    "predictions truncated": ("predictions.jsonl", lambda p: p.write_text(p.read_text()[:70])),
    # the other checkpoint's predictions may be absent (a --predictions selected bundle's runs)
    # but not broken
    "last predictions truncated": (
        "predictions-last.jsonl",
        lambda p: p.write_text(p.read_text()[:70]),
    ),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_damaged_run_is_never_a_cache_hit(reference, tmp_path, capsys, corruption):
    """Each corruption crashed ``bench run`` or counted as a cache hit (defect 4); it is one line
    naming the run and the file, and ``--force`` moves it aside and retrains."""
    name, damage = CORRUPTIONS[corruption]
    runs, directory = _finished_copy(reference, tmp_path)
    damage(directory / name)
    suite = _suite_file(tmp_path)
    args = ["run", "--suite", str(suite), "--runs-dir", str(runs)]
    one_line_error(capsys, main(args), str(directory), name, "--force")
    with pytest.raises(DamagedRun):
        run_one(tiny_config(**CONFIG), RunOptions(SUITE, runs_dir=runs), echo=_quiet)
    report = ["report", "--runs-dir", str(runs), "--out", str(tmp_path / "r.html")]
    one_line_error(capsys, main(report), str(directory))
    assert main([*args, "--dry-run"]) == 0 and "DAMAGED" in capsys.readouterr().out


def test_force_replaces_a_damaged_run(reference, tmp_path):
    runs, directory = _finished_copy(reference, tmp_path)
    (directory / "metrics.json").write_text("{")
    messages = []
    forced = run_one(
        tiny_config(**CONFIG), RunOptions(SUITE, runs_dir=runs, force=True), echo=messages.append
    )
    assert "moved to" in messages[0] and not forced.cached
    assert run_numbers(forced.directory) == run_numbers(reference[1])


def test_reports_rescore_correct_from_prediction_and_gold(reference, tmp_path):
    """Flipped ``correct`` fields gave a summary of 0.375 beside a runs table of 0.094 in one
    report (defect 4): reports re-score them, and a metrics.json that disagrees is an error."""
    from reports.collect import collect_runs

    runs, directory = _finished_copy(reference, tmp_path)
    path = directory / "predictions.jsonl"
    rows = read_jsonl(path)
    path.write_text("".join(json.dumps({**r, "correct": not r["correct"]}) + "\n" for r in rows))
    store = collect_runs(runs)
    assert store.predictions["correct"].mean() == store.runs["accuracy"].iloc[0]
    metrics = read_json(directory / "metrics.json")
    metrics["primary"]["n_correct"] += 1
    write_json(directory / "metrics.json", metrics)
    with pytest.raises(BenchError, match="re-scored from prediction and gold"):
        collect_runs(runs)


def test_report_survives_a_run_moved_aside_meanwhile(reference, tmp_path, monkeypatch):
    """``bench run --force`` renaming a run while ``bench report`` reads the store (defect 8)."""
    import reports.collect as collect

    runs, _ = _finished_copy(reference, tmp_path)
    listed = collect.iter_run_dirs

    def moving(runs_dir, *args, **kwargs):
        for run in listed(runs_dir, *args, **kwargs):
            run.move_aside()
            yield run

    monkeypatch.setattr(collect, "iter_run_dirs", moving)
    assert collect.collect_runs(runs).empty


def test_os_errors_are_one_line_naming_the_path(reference, tmp_path, capsys, monkeypatch):
    """A full disk, and --runs-dir / --out under a path that cannot be a directory (defect 4)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    suite = _suite_file(tmp_path)
    code = main(["run", "--suite", str(suite), "--runs-dir", str(blocker / "runs")])
    one_line_error(capsys, code, str(blocker))
    runs, _ = _finished_copy(reference, tmp_path)
    code = main(["report", "--runs-dir", str(runs), "--out", str(blocker / "r.html")])
    one_line_error(capsys, code, str(blocker))
    import bench.store

    def full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(bench.store, "write_text_atomic", full)
    code = main(["run", "--suite", str(suite), "--runs-dir", str(tmp_path / "fresh")])
    one_line_error(capsys, code, "No space left on device", "config.json")


def test_ctrl_c_is_one_line_saying_rerunning_resumes(monkeypatch, capsys):
    import bench.plan

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.plan, "execute_plan", interrupted)
    assert main(["run", "--suite", "smoke", "--runs-dir", "/nonexistent-runs"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rerunning the same command resumes" in err


# -- 5. bad input fails before anything trains ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("datasets: [synth\nseeds: [0]\n", "not valid YAML at line 2"),
        ("datasets: [synth]\nstrategies: [dss]\nseeds: 0\n", "seeds: expected a list"),
        ("datasets: synth\n", "datasets: expected a list"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_malformed_suite_files_are_one_line(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code = main(["run", "--suite", str(path), "--runs-dir", str(tmp_path), "--dry-run"])
    one_line_error(capsys, code, "suite", needle)


def test_an_empty_split_is_refused(monkeypatch):
    """An empty split file gave a finished run with accuracy NaN (defect 5)."""
    splits = load_dataset("synth", LoadOptions(Path("data"), synth=tiny_config().synth))
    empty = DatasetSplits("x", splits.train, splits.valid, (), "closed", "exact", {"x/t.json": ""})
    monkeypatch.setattr(DATASETS, "get", lambda name: lambda options: empty)
    with pytest.raises(DataError, match=r"test split is empty \(x/t\.json\)"):
        load_dataset("x", LoadOptions(Path("data")))


def test_a_diverging_run_is_an_error_not_a_finished_run(tmp_path):
    """``lr`` large enough for NaN was stored as finished (defect 5)."""
    config = tiny_config(strategy="finetune", lr=1e30, max_steps=4)
    with pytest.raises(BenchError, match="training loss is nan"):
        run_one(config, RunOptions(SUITE, runs_dir=tmp_path), echo=_quiet)
    assert not (run_dir(tmp_path, SUITE, config) / "metrics.json").exists()


# -- 6. verify: re-scored predictions, the run list, a garbage manifest --------------------------


@pytest.fixture
def smoke_bundle(tmp_path) -> Path:
    return Path(shutil.copytree(RESULTS / "smoke-cpu", tmp_path / "bundle"))


def _rehash(bundle: Path) -> None:
    files = {
        str(p.relative_to(bundle)): file_sha256(p)
        for p in sorted(bundle.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    write_json(bundle / MANIFEST, {"algorithm": "sha256", "files": files})


def test_verify_rescores_correct_and_checks_the_run_list(smoke_bundle):
    (predictions,) = smoke_bundle.glob("runs/*/synth/dss/*/seed-0/predictions.jsonl.gz")
    rows = [json.loads(line) for line in gzip.decompress(predictions.read_bytes()).splitlines()]
    rows[0]["correct"] = not rows[0]["correct"]
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)
    predictions.write_bytes(gzip.compress(text.encode(), mtime=0))
    dropped = next(smoke_bundle.glob("runs/*/synth/finetune/*/seed-0"))
    shutil.rmtree(dropped)
    _rehash(smoke_bundle)
    cells = {(m.file, m.cell) for m in verify_bundle(smoke_bundle)}
    rel = str(predictions.relative_to(smoke_bundle))
    assert (rel, "correct (records that differ from prediction vs gold)") in cells
    assert ("provenance.json", f"runs: {dropped.relative_to(smoke_bundle / 'runs')}") in cells


def test_verify_a_garbage_manifest_is_one_line(smoke_bundle, capsys):
    (smoke_bundle / MANIFEST).write_text("[1, 2")
    one_line_error(capsys, main(["verify", str(smoke_bundle)]), MANIFEST, "not valid JSON")
    (smoke_bundle / MANIFEST).write_text('{"files": 3}')
    one_line_error(capsys, main(["verify", str(smoke_bundle)]), MANIFEST)


# -- 7. sweeps: a restarted or extended study does not replay its trials -------------------------


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_restarted_sweep_draws_new_parameters(sampler):
    import optuna

    from sweeps.samplers import make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = SimpleNamespace(sampler=sampler, seed=0, workers=1)
    study = optuna.create_study(sampler=make_sampler(spec, 0, 0))

    def objective(trial):
        return trial.suggest_float("alpha3", 0.0, 1.0)

    study.optimize(objective, n_trials=4)
    study.sampler = make_sampler(spec, 0, len(study.trials))  # the same worker, restarted
    study.optimize(objective, n_trials=4)
    values = [t.params["alpha3"] for t in study.trials]
    assert len(set(values)) == 8


# -- 8. smaller ones -------------------------------------------------------------------------


def test_changing_checkpoint_every_keeps_the_cache_hit(reference, tmp_path):
    runs, _ = _finished_copy(reference, tmp_path)
    config = tiny_config(**CONFIG, checkpoint_every=3, log_every=2)
    assert run_one(config, RunOptions(SUITE, runs_dir=runs), echo=_quiet).cached


# -- 9. the thread count is the run's, not the environment's --------------------------------------


def test_a_run_uses_its_own_thread_count_whatever_the_process_has(tmp_path):
    """The serial run used 2 threads and each --jobs 2 run 1, and the numbers differed (defect
    9): a run sets and records its count, and a resumed run keeps the one it recorded."""
    config = tiny_config(strategy="finetune", max_steps=2, eval_every=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = run_one(config, RunOptions(SUITE, runs_dir=tmp_path / "a"), echo=_quiet)
        torch.set_num_threads(1)
        b = run_one(config, RunOptions(SUITE, runs_dir=tmp_path / "b"), echo=_quiet)
    finally:
        torch.set_num_threads(before)
    assert read_json(a.directory / "env.json")["torch_threads"] == 1
    assert read_json(b.directory / "env.json")["torch_threads"] == 1
    assert run_numbers(a.directory) == run_numbers(b.directory)
    config = tiny_config(strategy="finetune")
    directory = _interrupted(config, tmp_path / "c", step=3)
    env = read_json(directory / "env.json")
    write_json(directory / "env.json", {**env, "torch_threads": 2})
    sha = file_sha256(directory / "env.json")
    messages = []
    run_one(config, RunOptions(SUITE, runs_dir=tmp_path / "c", threads=1), echo=messages.append)
    assert file_sha256(directory / "env.json") == sha
    assert any("resuming with the 2 torch threads" in m for m in messages)


def test_a_damaged_encoding_cache_entry_is_rebuilt(reference, tmp_path):
    config, whole = reference
    entries = list(Path(os.environ["COTBENCH_CACHE"]).glob("encoded/*.pt"))
    assert entries
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:100])
    fresh = run_one(config, RunOptions(SUITE, runs_dir=tmp_path), echo=_quiet)
    assert run_numbers(fresh.directory) == run_numbers(whole)
