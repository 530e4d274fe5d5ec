"""Results bundles: export three tiny runs (two DSS seeds, one fine-tune, so the paired table has a
row), verify them, and check that verify names the cell of each kind of tampering (a changed
accuracy, a removed prediction line, a changed config, a file changed without updating the
manifest, a changed ECE or verdict, a bundled paper number without a source); rerun a bundle's
run from its config and tokenizer, and name a changed prediction the static checks cannot see."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.cli import main
from bench.errors import BenchError
from bench.provenance import file_sha256
from bench.runner import RunOptions, run_one
from bench.store import read_json, write_json
from reports.bundle import (
    LINKS,
    MANIFEST,
    REL_TOL,
    RERUN_TOLERANCE,
    bundle_links,
    differs,
    export_bundle,
    gzip_bytes,
    refresh_bundle,
    rounding_tolerance,
    run_files,
    verify_bundle,
)
from reports.rerun import bundle_runs, rerun_bundle
from tests.helpers import tiny_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    for strategy, seed in (("dss", 0), ("dss", 1), ("finetune", 0)):
        config = tiny_config(strategy=strategy, seed=seed)
        run_one(config, RunOptions("t", profile="tiny", runs_dir=runs), echo=lambda _: None)
    return runs


@pytest.fixture(scope="module")
def bundle(runs_dir, tmp_path_factory) -> Path:
    return export_bundle(runs_dir, "t", "tiny", tmp_path_factory.mktemp("out") / "t-tiny")


@pytest.fixture
def copy(bundle, tmp_path) -> Path:
    return Path(shutil.copytree(bundle, tmp_path / "bundle"))


def _run(bundle: Path, seed: int = 0) -> Path:
    return next(bundle.glob(f"runs/t/synth/dss/*/seed-{seed}"))


def _rehash(bundle: Path) -> None:
    manifest = read_json(bundle / MANIFEST)
    manifest["files"] = {name: file_sha256(bundle / name) for name in manifest["files"]}
    write_json(bundle / MANIFEST, manifest)


def _cells(found) -> set[tuple[str, str]]:
    return {(m.file, m.cell) for m in found}


def _edit_csv(path: Path, column: str, new) -> str:
    """Set ``column`` of the first row of the CSV at ``path`` to ``new(old)``; return the old."""
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    old = rows[0][column]
    rows[0][column] = new(old)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return old


def test_export_writes_a_complete_verifiable_bundle(bundle, runs_dir):
    files = read_json(bundle / MANIFEST)["files"]
    run = _run(bundle).relative_to(bundle)
    present = run_files(bundle, bundle / run)
    for name in ("config.json", "env.json", "metrics.json", "train_log.jsonl", "tokenizer.json"):
        assert str(present[name].relative_to(bundle)) in files
    assert {"predictions.jsonl.gz", "predictions-last.jsonl.gz"} <= present.keys()
    rows = gzip.decompress(present["predictions.jsonl.gz"].read_bytes()).splitlines()
    assert rows and all("input" not in json.loads(row) and "id" in json.loads(row) for row in rows)
    tables = {"summary.csv", "paired.csv", "calibration.csv", "verdicts.csv"}
    papers = {f"papers/{p.name}" for p in Path("reports/papers").glob("*.yaml")}
    assert papers and tables | papers | {"provenance.json"} <= files.keys()
    assert "dss,finetune" in (bundle / "paired.csv").read_text()
    provenance = read_json(bundle / "provenance.json")
    assert provenance["tables"]["bootstrap"]["seed"] == 0
    assert provenance["tables"]["method"].startswith("95% t-interval over seeds")
    assert sorted(provenance["tables"]["papers"]) == sorted(papers)
    assert run.parent.name in provenance["config_hashes"] and len(provenance["config_hashes"]) == 2
    assert verify_bundle(bundle) == []
    with pytest.raises(BenchError, match="already exists"):
        export_bundle(runs_dir, "t", "tiny", bundle)


def test_export_is_deterministic(bundle, runs_dir, tmp_path):
    again = export_bundle(runs_dir, "t", "tiny", tmp_path / "again")
    assert read_json(again / MANIFEST)["files"] == read_json(bundle / MANIFEST)["files"]


def test_changed_accuracy_is_named(copy):
    path = _run(copy) / "metrics.json"
    metrics = read_json(path)
    metrics["test"]["best"]["accuracy"] = metrics["primary"]["accuracy"] = 0.5
    write_json(path, metrics)
    _rehash(copy)
    found = _cells(verify_bundle(copy))
    name = str(path.relative_to(copy))
    assert {(name, "test.best.accuracy"), (name, "primary.accuracy")} == found


def test_removed_prediction_line_is_named(copy):
    path = _run(copy, seed=1) / "predictions.jsonl.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    path.write_bytes(gzip_bytes(b"".join(lines[1:])))
    _rehash(copy)
    found = _cells(verify_bundle(copy))
    name = str(path.parent.relative_to(copy) / "metrics.json")
    assert (name, "test.best.n") in found and (name, "primary.n") in found
    assert any(file == "summary.csv" and cell.endswith("n_test") for file, cell in found)


def test_changed_config_is_named(copy):
    path = _run(copy) / "config.json"
    record = read_json(path)
    record["config"]["lr"] = 0.1
    write_json(path, record)
    _rehash(copy)
    found = _cells(verify_bundle(copy))
    assert (str(path.relative_to(copy)), "config_hash") in found


def test_file_changed_without_rehash_is_named(copy):
    path = _run(copy) / "train_log.jsonl"
    path.write_text(path.read_text() + json.dumps({"kind": "train"}) + "\n")
    (copy / "extra.txt").write_text("x")
    found = verify_bundle(copy)
    assert _cells(found) == {(str(path.relative_to(copy)), "sha256"), ("extra.txt", "sha256")}


def test_changed_ece_is_named(copy):
    _edit_csv(copy / "calibration.csv", "ece_w10", lambda old: str(float(old) + 0.01))
    _rehash(copy)
    found = _cells(verify_bundle(copy))
    assert len(found) == 1
    ((file, cell),) = found
    assert file == "calibration.csv" and cell.startswith("row 1 (") and cell.endswith(" ece_w10")


def test_changed_verdict_is_named(copy):
    old = _edit_csv(copy / "verdicts.csv", "verdict", lambda _: "reproduced")
    assert old == "missing"  # no paper number is on the tiny synthetic dataset
    _rehash(copy)
    found = _cells(verify_bundle(copy))
    assert len(found) == 1
    ((file, cell),) = found
    assert file == "verdicts.csv" and cell.startswith("row 1 (") and cell.endswith(" verdict")


def test_paper_number_without_source_is_named(copy):
    path = next((copy / "papers").glob("*.yaml"))
    data = yaml.safe_load(path.read_text())
    del data["results"][1]["source"]
    path.write_text(yaml.safe_dump(data))
    _rehash(copy)
    result = data["results"][1]
    cell = f"results[1] ({result['strategy']} on {result['dataset']}) source.table"
    assert _cells(verify_bundle(copy)) == {(f"papers/{path.name}", cell)}


def test_unreadable_metrics_are_named(copy):
    path = _run(copy) / "metrics.json"
    path.write_text("not json")
    found = _cells(verify_bundle(copy))
    name = str(path.relative_to(copy))
    assert (name, "sha256") in found and (str(path.parent.relative_to(copy)), "readable") in found


def test_cli_exit_codes(bundle, copy, runs_dir, tmp_path, capsys):
    assert main(["verify", str(bundle)]) == 0
    assert "ok: 27 files, 3 runs verified" in capsys.readouterr().out
    (_run(copy) / "env.json").write_text("{}\n")
    assert main(["verify", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "file" in out and "recomputed" in out and "env.json | sha256" in out
    args = ["export", "--suite", "t", "--profile", "tiny", "--runs-dir", str(runs_dir)]
    assert main([*args, "--out", str(bundle)]) == 2
    assert main([*args, "--out", str(copy), "--force"]) == 0
    assert main(["verify", str(copy)]) == 0
    assert main(["verify", str(tmp_path)]) == 2


def test_rerun_matches_and_names_a_changed_confidence(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COTBENCH_CACHE", str(tmp_path / "cache"))
    runs = tmp_path / "runs"
    run_one(tiny_config(strategy="dss"), RunOptions("t", profile="tiny", runs_dir=runs), echo=print)
    bundle = export_bundle(runs, "t", "tiny", tmp_path / "bundle")
    shutil.rmtree(runs)
    shutil.rmtree(tmp_path / "cache")

    def no_training(*_):
        raise AssertionError("the rerun must reuse the bundle's tokenizer")

    monkeypatch.setattr("bench.tokenizer._train", no_training)
    assert main(["verify", "--rerun", str(bundle), "--subset", "1"]) == 0
    assert "1 run retrained and matched" in capsys.readouterr().out
    assert not (tmp_path / "cache").exists()

    tampered = Path(shutil.copytree(bundle, tmp_path / "tampered"))
    path = run_files(tampered, _run(tampered))["predictions.jsonl.gz"]
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    rows[0]["confidence"] /= 2
    path.write_bytes(gzip_bytes("".join(json.dumps(r) + "\n" for r in rows).encode()))
    metrics = read_json(_run(tampered) / "metrics.json")
    mean = sum(r["confidence"] for r in rows) / len(rows)
    metrics["test"]["best"]["mean_confidence"] = metrics["primary"]["mean_confidence"] = mean
    write_json(_run(tampered) / "metrics.json", metrics)
    _rehash(tampered)
    assert verify_bundle(tampered) == []
    found = _cells(rerun_bundle(tampered, echo=lambda _: None))
    rel = _run(tampered).relative_to(tampered)
    assert (f"{rel}/predictions.jsonl.gz", f"line 1 ({rows[0]['id']}).confidence") in found
    assert (f"{rel}/metrics.json", "test.best.mean_confidence") in found

    env = read_json(_run(tampered) / "env.json")
    write_json(_run(tampered) / "env.json", {**env, "device": "cuda:0"})
    lines: list[str] = []
    assert rerun_bundle(tampered, echo=lines.append) == []  # accuracies within the tolerance
    assert any("made on cuda:0, rerun on cpu" in line and "0.02" in line for line in lines)


def test_rerun_subsets_by_count_and_by_name(bundle):
    runs = bundle_runs(bundle)
    assert bundle_runs(bundle, 1) == runs[:1]
    finetune = bundle_runs(bundle, ["finetune"])
    assert finetune and all("finetune" in run.parts for run in finetune)
    assert bundle_runs(bundle, ["seed-1"]) == [run for run in runs if run.name == "seed-1"]
    assert bundle_runs(bundle, ["nothing-like-this"]) == []
    assert read_json(bundle / "provenance.json")["rerun_tolerance"] == RERUN_TOLERANCE


def test_extra_pairs_are_compared_recorded_and_verified(runs_dir, tmp_path):
    bundle = export_bundle(runs_dir, "t", "tiny", tmp_path / "pairs", pairs=[("finetune", "dss")])
    paired = pd.read_csv(bundle / "paired.csv")
    assert {("finetune", "dss"), ("dss", "finetune")} <= set(
        zip(paired["a"], paired["b"], strict=True)
    )
    assert ["finetune", "dss"] in read_json(bundle / "provenance.json")["tables"]["pairs"]
    assert verify_bundle(bundle) == []


def test_duplicate_files_are_stored_once_and_linked(bundle):
    links = bundle_links(bundle)
    tokenizers = {t for name, t in links.items() if name.endswith("/tokenizer.json")}
    assert len(tokenizers) == 1  # three runs, one tokenizer file
    (shared,) = tokenizers
    files = read_json(bundle / MANIFEST)["files"]
    assert shared in files and LINKS in files
    assert not any((bundle / name).exists() for name in links)


def test_a_link_to_an_unlisted_file_is_named(copy):
    links = bundle_links(copy)
    name = next(iter(links))
    write_json(copy / LINKS, {**links, name: "shared/nothing.json"})
    _rehash(copy)
    assert (LINKS, name) in _cells(verify_bundle(copy))


def test_a_bundle_without_links_still_verifies(copy):
    """Bundles written before shared files existed keep every file in its run directory."""
    for name, target in bundle_links(copy).items():
        shutil.copyfile(copy / target, copy / name)
    shutil.rmtree(copy / "shared")
    manifest = read_json(copy / MANIFEST)
    manifest["files"] = {
        str(p.relative_to(copy)): file_sha256(p)
        for p in sorted(copy.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    write_json(copy / MANIFEST, manifest)
    assert verify_bundle(copy) == []


def test_refresh_recomputes_stale_tables_and_keeps_the_runs(copy):
    _edit_csv(copy / "paired.csv", "ci_low", lambda old: str(float(old) - 0.1))
    _rehash(copy)
    assert any(file == "paired.csv" for file, _ in _cells(verify_bundle(copy)))
    before = read_json(copy / MANIFEST)["files"]
    refresh_bundle(copy)
    assert verify_bundle(copy) == []
    after = read_json(copy / MANIFEST)["files"]
    kept = {k: v for k, v in before.items() if k.startswith(("runs/", "shared/", "papers/"))}
    assert kept == {k: v for k, v in after.items() if k.startswith(("runs/", "shared/", "papers/"))}
    assert after["paired.csv"] != before["paired.csv"]
    with pytest.raises(BenchError, match="not a results bundle"):
        refresh_bundle(copy / "runs")


def test_rerun_on_another_processor_compares_probabilities_within_a_tolerance(tmp_path):
    """CPU float kernels differ between processor types: a bundle made on another CPU (or an
    unrecorded one) must give the same labels and accuracies, and probabilities within 1e-4."""
    from reports.rerun import CPU_FLOAT_RTOL

    runs = tmp_path / "runs"
    run_one(tiny_config(strategy="dss"), RunOptions("t", profile="tiny", runs_dir=runs), echo=print)
    bundle = export_bundle(runs, "t", "tiny", tmp_path / "bundle")

    def made_elsewhere(name: str, scale: float) -> Path:
        copy = Path(shutil.copytree(bundle, tmp_path / name))
        env = read_json(_run(copy) / "env.json")
        write_json(_run(copy) / "env.json", {**env, "cpu": "another processor"})
        for checkpoint in ("predictions.jsonl.gz", "predictions-last.jsonl.gz"):
            path = run_files(copy, _run(copy))[checkpoint]
            rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
            rows[0]["confidence"] *= scale
            path.write_bytes(gzip_bytes("".join(json.dumps(r) + "\n" for r in rows).encode()))
        _rehash(copy)
        return copy

    lines: list[str] = []
    assert rerun_bundle(made_elsewhere("close", 1 + CPU_FLOAT_RTOL / 10), echo=lines.append) == []
    assert any("rerun on" in line and "within 0.0001" in line for line in lines)
    found = _cells(rerun_bundle(made_elsewhere("far", 1 + 10 * CPU_FLOAT_RTOL), echo=print))
    assert any(cell.endswith(".confidence") for _, cell in found)


def test_selected_only_bundle_holds_and_verifies_the_selected_predictions(
    runs_dir, bundle, tmp_path
):
    slim = export_bundle(runs_dir, "t", "tiny", tmp_path / "slim", predictions="selected")
    assert read_json(slim / "provenance.json")["predictions"] == "selected"
    assert "predictions" not in read_json(bundle / "provenance.json")  # old bundles read as before
    assert set(run_files(bundle, _run(bundle))) >= {
        "predictions.jsonl.gz",
        "predictions-last.jsonl.gz",
    }
    slim_files = set(run_files(slim, _run(slim)))
    assert "predictions.jsonl.gz" in slim_files and "predictions-last.jsonl.gz" not in slim_files
    for table in ("summary.csv", "paired.csv", "calibration.csv"):
        assert (slim / table).read_text() == (bundle / table).read_text()
    assert verify_bundle(slim) == []
    assert rerun_bundle(slim, subset=1, echo=lambda _: None) == []
    # without the provenance's word, the missing file is named
    provenance = read_json(slim / "provenance.json")
    del provenance["predictions"]
    write_json(slim / "provenance.json", provenance)
    _rehash(slim)
    missing = f"{_run(slim).relative_to(slim)}/predictions-last.jsonl.gz"
    assert (missing, "file") in _cells(verify_bundle(slim))
    with pytest.raises(BenchError, match="predictions: expected one of"):
        export_bundle(runs_dir, "t", "tiny", tmp_path / "bad", predictions="best")


def test_rounded_probabilities_make_a_smaller_bundle_that_verifies_and_reruns(
    runs_dir, bundle, tmp_path
):
    """``digits``: each test probability kept to that many significant digits; the tables
    come from the rounded files, verification allows the stated mean confidence the rounding
    error, and a rerun rounds its own probabilities the same way before the exact compare."""
    rounded = export_bundle(runs_dir, "t", "tiny", tmp_path / "rounded", digits=3)
    assert read_json(rounded / "provenance.json")["probability_digits"] == 3
    assert "probability_digits" not in read_json(bundle / "provenance.json")
    path = run_files(rounded, _run(rounded))["predictions.jsonl.gz"]
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    values = [r["confidence"] for r in rows] + [
        p for r in rows for p in (r["candidate_probs"] or {}).values()
    ]
    assert values and all(float(f"{v:.3g}") == v for v in values)
    assert any(float(f"{v:.3g}") != v for v in _values(bundle))  # the original had more
    assert (
        path.stat().st_size < run_files(bundle, _run(bundle))["predictions.jsonl.gz"].stat().st_size
    )
    summary, original = (pd.read_csv(b / "summary.csv") for b in (rounded, bundle))
    assert summary["accuracy"].tolist() == original["accuracy"].tolist()
    assert verify_bundle(rounded) == []
    assert rerun_bundle(rounded, subset=1, echo=lambda _: None) == []
    # the allowance is the rounding's error, not more
    assert rounding_tolerance(3) == pytest.approx(0.005) and rounding_tolerance(None) == REL_TOL
    assert not differs(0.3 * 1.004, 0.3, False, rounding_tolerance(3))
    assert differs(0.3 * 1.01, 0.3, False, rounding_tolerance(3))
    metrics = read_json(_run(rounded) / "metrics.json")
    metrics["primary"]["mean_confidence"] += 0.01
    write_json(_run(rounded) / "metrics.json", metrics)
    _rehash(rounded)
    rel = _run(rounded).relative_to(rounded)
    assert (f"{rel}/metrics.json", "primary.mean_confidence") in _cells(verify_bundle(rounded))
    provenance = read_json(rounded / "provenance.json")
    write_json(rounded / "provenance.json", {**provenance, "probability_digits": "three"})
    _rehash(rounded)
    assert ("provenance.json", "probability_digits") in _cells(verify_bundle(rounded))
    with pytest.raises(BenchError, match="probability digits: expected 3 to 17"):
        export_bundle(runs_dir, "t", "tiny", tmp_path / "bad", digits=2)


def _values(bundle: Path) -> list[float]:
    path = run_files(bundle, _run(bundle))["predictions.jsonl.gz"]
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    return [r["confidence"] for r in rows]
