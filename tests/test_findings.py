"""docs/findings.md: every generated table equals what its committed bundle gives today."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
SPEC = importlib.util.spec_from_file_location("findings_tables", ROOT / "docs/findings/tables.py")
tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(tables)


def test_findings_tables_are_generated_from_the_bundles():
    document = ROOT / "docs" / "findings.md"
    blocks = tables.BLOCK.findall(document.read_text())
    assert {name.split(":")[0] for name, _, _ in blocks} == set(tables.BLOCKS)
    assert tables.check(document) == []


def test_a_changed_number_is_caught(tmp_path):
    bundle = ROOT / "results" / "smoke-cpu"
    body = tables.summary_block(bundle)
    document = tmp_path / "docs" / "findings.md"
    document.parent.mkdir()
    document.write_text(f"<!-- begin summary {bundle} -->\n{body}<!-- end -->\n")
    assert tables.check(document) == []
    changed = body.replace("| 9.4 |", "| 9.5 |", 1)
    assert changed != body
    document.write_text(f"<!-- begin summary {bundle} -->\n{changed}<!-- end -->\n")
    assert tables.check(document) == [f"summary {bundle}"]


def test_every_decimal_in_the_prose_comes_from_a_table_or_the_papers():
    """Numbers in the text are copies: each must stand in a generated block, in the bundle's
    paper files, or be the significance level."""
    from reports.tables import ALPHA

    text = (ROOT / "docs" / "findings.md").read_text()
    blocks = tables.BLOCK.findall(text)
    prose = tables.BLOCK.sub("", text)
    sources = [body for _, _, body in blocks] + [str(ALPHA)]
    for bundle in {bundle for _, bundle, _ in blocks}:
        sources += [p.read_text() for p in (ROOT / bundle / "papers").glob("*.yaml")]
    corpus = "\n".join(sources)
    decimals = set(re.findall(r"(?<![\w.])\d+\.\d+", prose))
    assert decimals and not {d for d in decimals if d not in corpus}


def test_ranking_block_reads_each_condition_and_its_chance_level():
    """One row per condition of the bundle; chance is one over the candidates (synth: 5)."""
    bundle = ROOT / "results" / "synth-cpu"
    rows = tables.ranking_block(bundle).splitlines()[2:]
    summary = tables.summary_block(bundle).splitlines()[2:]
    assert len(rows) == len(summary)
    for row, stated in zip(rows, summary, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        summary_cells = [c.strip() for c in stated.strip("|").split("|")]
        assert cells[:4] == summary_cells[:4]  # dataset, strategy, variant, seeds
        assert cells[4] == summary_cells[5].split(" ±")[0]  # exact match = summary accuracy
        assert cells[6] == "20.0"


def _fake_grid_bundle(root: Path, cells: dict[tuple[str, int], dict[str, float]]) -> Path:
    """A bundle holding only what ``grid_block`` reads: each run's config and summary.csv."""
    import json

    from bench.config import RunConfig, apply_overrides

    rows = []
    for (family, n_train), accuracies in cells.items():
        for strategy, accuracy in accuracies.items():
            config = apply_overrides(
                RunConfig(strategy=strategy, dataset="synth"),
                {"synth.version": 2, "synth.family": family, "synth.n_train": n_train},
            )
            run = root / "runs" / "synth-grid" / "synth" / strategy / config.config_hash()
            (run / "seed-0").mkdir(parents=True)
            record = {"config": config.to_dict(), "config_hash": config.config_hash(), "seed": 0}
            (run / "seed-0" / "config.json").write_text(json.dumps(record))
            (run / "seed-0" / "metrics.json").write_text("{}")
            rows.append((strategy, config.config_hash(), 1, accuracy))
    pd = tables.pd
    summary = pd.DataFrame(rows, columns=["strategy", "config_hash", "n_seeds", "accuracy"])
    summary.to_csv(root / "summary.csv", index=False)
    return root


def test_grid_block_gives_one_row_per_cell_and_the_positive_control(tmp_path):
    bundle = _fake_grid_bundle(
        tmp_path,
        {
            ("features", 1000): {"finetune": 0.10, "single-task": 0.95, "dss": 0.12},
            ("features", 4000): {"finetune": 0.10, "single-task": 0.15, "dss": 0.10},
            ("chain", 1000): {"finetune": 0.50, "single-task": 0.55},  # dss not finished
        },
    )
    rows = [r.split("|")[1:-1] for r in tables.grid_block(bundle).splitlines()[2:]]
    assert len(rows) == 3
    cells = {(r[0].strip(), int(r[1])): [c.strip() for c in r[5:]] for r in rows}
    assert cells[("features 3x3 sum, final", 1000)] == [
        "10.0",
        "95.0",
        "12.0",
        "+85.0",
        "+2.0",
        "yes",
    ]
    assert cells[("features 3x3 sum, final", 4000)][-3:] == ["+5.0", "+0.0", "no"]
    assert cells[("chain 2 step, 0 distractors", 1000)][2:] == ["", "+5.0", "", "no"]


def test_stops_block_says_where_runs_stopped_and_whether_their_loss_had_settled(tmp_path):
    """The grid bundle's running-rationale single-task runs stopped on a settled loss; a run
    whose logged loss still fell by a nat in its last window counts as not settled."""
    import json
    import shutil

    from reports.bundle import bundle_run_dirs

    bundle = Path(shutil.copytree(ROOT / "results" / "synth-grid", tmp_path / "bundle"))

    def row(block: str, strategy: str, cell: str) -> list[str]:
        for line in block.splitlines()[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] == strategy and cells[1] == cell:
                return cells
        raise AssertionError(f"no row {strategy} {cell}")

    cell = "features 2x3 sum, running, n_train 4000"
    before = row(tables.stops_block(bundle), "single-task", cell)
    runs = [
        r
        for r in bundle_run_dirs(bundle)
        if r.read_config()["config"]["strategy"] == "single-task"
        and r.read_config()["config"]["synth"]["trace"] == "running"
    ]
    assert before[2] == str(len(runs)) == "2" and before[5] == "2 of 2"
    assert before[3] == "-".join(
        dict.fromkeys(str(r.read_metrics()["steps"]) for r in sorted(runs, key=str))
    )
    log = runs[0].read_train_log()
    last = max(i for i, r in enumerate(log) if r["kind"] == "train")
    log[last]["total"] -= 1.0
    runs[0].train_log_file.write_text("".join(json.dumps(r) + "\n" for r in log))
    assert row(tables.stops_block(bundle), "single-task", cell)[5] == "1 of 2"


def test_write_regenerates_a_stale_block_and_leaves_the_prose(tmp_path):
    bundle = ROOT / "results" / "smoke-cpu"
    body = tables.summary_block(bundle)
    stale = body.replace("| 9.4 |", "| 9.5 |", 1)
    assert stale != body
    document = tmp_path / "docs" / "findings.md"
    document.parent.mkdir()
    document.write_text(
        f"Prose 1.\n<!-- begin summary {bundle} -->\n{stale}<!-- end -->\nProse 2.\n"
    )
    assert tables.main(["--write", str(document)]) == 0
    assert document.read_text() == (
        f"Prose 1.\n<!-- begin summary {bundle} -->\n{body}<!-- end -->\nProse 2.\n"
    )
    assert tables.check(document) == []
    assert tables.write(document) == []


def test_a_schedule_is_a_variant_within_one_task_cell_not_across_grid_cells():
    from bench.config import RunConfig, apply_overrides, flatten

    def config(strategy: str, family: str, max_steps: int) -> dict:
        overrides = {"synth.version": 2, "synth.family": family, "max_steps": max_steps}
        run = apply_overrides(RunConfig(strategy=strategy, dataset="synth"), overrides)
        return flatten(run.to_dict())

    grid = {"a": config("dss", "features", 8000), "b": config("dss", "chain", 12000)}
    assert set(tables.variants(Path("unused"), grid).values()) == {"-"}
    longer = {**grid, "c": config("dss", "features", 12000)}
    names = tables.variants(Path("unused"), longer)
    assert names["a"] == "max_steps=8000" and names["c"] == "max_steps=12000"
    assert names["b"] == "max_steps=12000"  # named too: the key is a variant of the bundle


def test_timing_block_reads_each_runs_recorded_throughput_and_minutes(tmp_path):
    import json
    import shutil
    from statistics import median

    from reports.bundle import bundle_run_dirs

    bundle = Path(shutil.copytree(ROOT / "results" / "synth-grid", tmp_path / "bundle"))
    runs = [
        r
        for r in bundle_run_dirs(bundle)
        if r.read_config()["config"]["strategy"] == "finetune"
        and r.read_config()["config"]["synth"]["trace"] == "running"
    ]
    assert len(runs) == 2
    rates = [
        median(r["examples_per_s"] / 32 for r in run.read_train_log() if r["kind"] == "train")
        for run in runs
    ]
    metrics = runs[0].read_metrics()
    metrics["timing"] = {"train_s": 600.0, "eval_s": 30.0}
    runs[0].metrics_file.write_text(json.dumps(metrics))
    metrics = runs[1].read_metrics()
    metrics["timing"] = {"train_s": 1200.0, "eval_s": 30.0}
    runs[1].metrics_file.write_text(json.dumps(metrics))
    cell = "features 2x3 sum, running, n_train 4000"
    rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in tables.timing_block(bundle).splitlines()[2:]
    ]
    row = next(r for r in rows if r[0] == "finetune" and r[1] == cell)
    assert row[2] == "2" and row[4] == f"{sum(rates) / 2:.1f}"
    assert row[5:] == ["15.0 (10.0-20.0)", "0.5"]
