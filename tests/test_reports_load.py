"""``reports.load.load_runs``: the same tidy frames from a run store and from every committed
bundle."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import BenchError
from reports.bundle import unpack_runs
from reports.load import load_runs

BUNDLES = sorted(p for p in Path("results").iterdir() if (p / "MANIFEST.json").is_file())


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_every_bundle_loads_into_tidy_frames(bundle):
    runs = load_runs(bundle)
    stated = len([p for p in bundle.glob("runs/*/*/*/*/seed-*") if p.is_dir()])
    assert len(runs.runs) == stated > 0
    assert set(runs.predictions["run_id"]) == set(runs.runs["run_id"])
    per_run = runs.predictions.groupby("run_id").size()
    assert (per_run.loc[runs.runs["run_id"]].to_numpy() == runs.runs["n"].to_numpy()).all()
    assert {"step", "kind", "run_id"} <= set(runs.train_log.columns)


def test_a_run_store_gives_the_same_frames_as_its_bundle(tmp_path):
    bundle = Path("results/smoke-cpu")
    from_bundle = load_runs(bundle)
    from_store = load_runs(unpack_runs(bundle, tmp_path))
    assert from_store.runs.equals(from_bundle.runs)
    assert from_store.predictions.equals(from_bundle.predictions)
    assert load_runs(bundle, suite="smoke", profile="cpu").runs.equals(from_bundle.runs)


def test_nothing_to_load_is_one_clear_error(tmp_path):
    with pytest.raises(BenchError, match="no finished runs"):
        load_runs(tmp_path)
    with pytest.raises(BenchError, match="no such run store"):
        load_runs(tmp_path / "missing")
    with pytest.raises(BenchError, match="no finished runs"):
        load_runs("results/smoke-cpu", suite="nothing")


def test_runs_recorded_before_a_config_key_existed_read_with_its_default(tmp_path):
    """A store whose runs were written by cotbench versions with different config keys (the
    smoke bundle's predate ``full_test``; one run is rewritten as today's code records it)
    reads every key with its default, not as a spurious variant or a KeyError."""
    import json

    from bench.config import config_from_dict

    store = unpack_runs(Path("results/smoke-cpu"), tmp_path)
    record_path = next(store.glob("smoke/synth/dss/*/seed-0/config.json"))
    record = json.loads(record_path.read_text())
    assert "full_test" not in record["config"]
    record["config"] = config_from_dict(record["config"]).to_dict()  # every key of today
    record_path.write_text(json.dumps(record))
    runs = load_runs(store)
    assert "full_test" not in runs.runs.columns and len(runs.runs) == 5
