"""Real multi-worker sweeps: two worker processes share a seeded grid study on a journal file and
on a throwaway PostgreSQL server, one worker is SIGKILLed mid-trial, and the study must end with
exactly N finished trials, no repeated parameters and the killed trial failed and re-run. Then the
same grid again is all cache hits, and the end of the sweep writes its figures and section.

The PostgreSQL test starts its own server (``initdb`` + ``pg_ctl`` from Debian's ``postgresql``
package, on 127.0.0.1, a random port, a temporary data directory; as the ``postgres`` user when
run as root). Without the server binaries or the ``psycopg`` driver (SQLAlchemy's default for
``postgresql://``) it fails under ``CI=true`` and skips elsewhere.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
import yaml

from bench.store import is_finished, read_json
from sweeps.finish import finish_sweep
from sweeps.liveness import RETRY_ATTR, WORKER_ATTR
from sweeps.objective import RUNS_ATTR
from sweeps.spaces import load_space
from sweeps.spec import SweepSpec
from sweeps.storage import open_storage
from sweeps.study import run_sweep
from tests.test_sweeps_support import write_tiny_suite

pytestmark = pytest.mark.slow

TRIALS = 4
GRID = {"alpha3": [0.0, 0.05, 0.2], "mi_variant": ["code", "paper"]}
LONGER_RUNS = {"max_steps": 12, "eval_every": 4, "checkpoint_every": 4}  # time to kill mid-run
POLL_S = 0.05  # seconds between looks at the study while waiting to kill a worker
RACERS = 6  # first connections started at once on an empty database
SWEEP_LIMIT_S = 240  # a sweep that takes longer than this has hung
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def _require(condition: bool, reason: str) -> None:
    """Skip when ``condition`` fails, or fail under ``CI=true``: CI must run this test."""
    if condition:
        return
    if _ci():
        pytest.fail(reason)
    pytest.skip(reason)


def _postgres_binary(name: str) -> str | None:
    """Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin, off the PATH."""
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback with an empty ``optuna`` database."""
    initdb, pg_ctl = _postgres_binary("initdb"), _postgres_binary("pg_ctl")
    _require(bool(initdb and pg_ctl), "PostgreSQL server binaries not found (Debian: postgresql)")
    try:
        import psycopg
    except ImportError:
        _require(False, "the psycopg driver is not installed (pip install 'psycopg[binary]')")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="cotbench-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the server as the package's postgres user
        _require(_has_user("postgres"), "running as root needs the 'postgres' user")
        shutil.chown(root, user="postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
    try:
        for command in (
            [initdb, "-D", str(data), "-U", "bench", "--auth=trust", "--no-sync"],
            [pg_ctl, "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"],
        ):
            subprocess.run([*prefix, *command], check=True, capture_output=True)
        server = {"host": "127.0.0.1", "port": port, "user": "bench", "dbname": "postgres"}
        with psycopg.connect(**server, autocommit=True) as connection:
            connection.execute("CREATE DATABASE optuna")
        yield f"postgresql://bench@127.0.0.1:{port}/optuna"
    finally:
        if (data / "postmaster.pid").exists():
            stop = [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]
            subprocess.run([*prefix, *stop], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _spec(tmp_path: Path, study: str, storage: str | None, workers: int) -> SweepSpec:
    space_file = tmp_path / "grid.yaml"
    params = {
        "alpha3": {"type": "float", "low": 0.0, "high": 0.5, "grid": GRID["alpha3"]},
        "mi_variant": {"type": "categorical", "choices": GRID["mi_variant"]},
    }
    space_file.write_text(yaml.safe_dump({"strategies": ["dss+mi"], "params": params}))
    return SweepSpec(
        study=study,
        space=load_space(str(space_file)),
        trials=TRIALS,
        suite=str(write_tiny_suite(tmp_path, **LONGER_RUNS)),
        storage=storage,
        runs_dir=str(tmp_path / "runs"),
        workers=workers,
        sampler="grid",
        pruner="none",
    )


def _sweep_killing_one_worker(spec: SweepSpec) -> int:
    """Run ``spec`` in a thread, SIGKILL the worker of the first trial that starts training;
    returns that trial's number."""
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            run_sweep(spec)
        except BaseException as err:  # re-raised in the test's thread
            errors.append(err)

    thread = threading.Thread(target=sweep)
    thread.start()
    storage = open_storage(spec.storage_target)
    killed = None
    while killed is None and thread.is_alive():
        time.sleep(POLL_S)
        try:
            study = optuna.load_study(study_name=spec.study, storage=storage)
        except KeyError:  # not created yet
            continue
        for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            if RUNS_ATTR in trial.user_attrs:  # its run is starting: kill it mid-run
                os.kill(trial.user_attrs[WORKER_ATTR]["pid"], signal.SIGKILL)
                killed = trial.number
                break
    thread.join(SWEEP_LIMIT_S)
    assert not thread.is_alive(), "the sweep hung"
    if errors:
        raise errors[0]
    assert killed is not None, "no trial was seen running"
    return killed


def _check_consistent(spec: SweepSpec, killed: int) -> optuna.Study:
    study = optuna.load_study(study_name=spec.study, storage=open_storage(spec.storage_target))
    finished = study.get_trials(states=FINISHED)
    assert len(finished) == TRIALS
    points = {(t.params["alpha3"], t.params["mi_variant"]) for t in finished}
    assert len(points) == TRIALS  # the seeded grid repeats no point
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.WAITING not in states
    failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert [t.number for t in failed] == [killed]
    retries = [t for t in finished if t.user_attrs.get(RETRY_ATTR) == killed]
    assert len(retries) == 1 and retries[0].params == failed[0].params  # re-run, not lost
    for trial in finished:
        assert trial.user_attrs["study"] == spec.study
        assert trial.user_attrs["trial_number"] == trial.number
        assert all(is_finished(Path(d)) for d in trial.user_attrs[RUNS_ATTR])
    return study


def _values(study: optuna.Study) -> dict[tuple, float]:
    return {tuple(t.params.values()): t.value for t in study.get_trials(states=FINISHED)}


def test_journal_two_workers_with_a_kill_then_cache_hits_and_outputs(tmp_path):
    spec = _spec(tmp_path, "journal", storage=None, workers=2)
    killed = _sweep_killing_one_worker(spec)
    study = _check_consistent(spec, killed)
    assert Path(spec.storage_target).is_file()

    runs = set(Path(spec.runs_dir).glob("tiny/*/*/*/seed-*"))
    again = _spec(tmp_path, "again", storage=None, workers=1)
    run_sweep(again)  # grid ids follow trial numbers, which the retry shifted in the first study
    repeat = optuna.load_study(study_name="again", storage=open_storage(again.storage_target))
    before, after = _values(study), _values(repeat)
    shared = before.keys() & after.keys()
    assert shared and all(after[point] == before[point] for point in shared)
    trained = set(Path(spec.runs_dir).glob("tiny/*/*/*/seed-*")) - runs
    assert len(trained) == len(after.keys() - before.keys())  # shared points were cache hits

    section = read_json(finish_sweep(spec, eval_seeds=(0,)))
    out = Path(spec.runs_dir) / "sweeps" / "journal"
    assert section["kind"] == "sweep" and section["details"]["trials"]["COMPLETE"] == TRIALS
    assert section["details"]["best"]["number"] == study.best_trial.number
    names = [f["png"] for f in section["figures"]]
    assert names == ["optuna-history.png", "optuna-importance.png"]
    assert all((out / name).is_file() for name in names)
    assert [t["csv"] for t in section["tables"]] == ["trials.csv", "reevaluation.csv"]
    assert all((out / t[key]).is_file() for t in section["tables"] for key in t if key != "caption")
    assert (out / "reevaluation.csv").read_text().count("\n") == 2  # header + synth


def test_postgresql_two_workers_with_a_kill(tmp_path, postgres_url):
    spec = _spec(tmp_path, "postgres", storage=postgres_url, workers=2)
    killed = _sweep_killing_one_worker(spec)
    _check_consistent(spec, killed)


def test_first_connections_racing_on_an_empty_database_all_get_a_storage(postgres_url):
    """Workers that start at once all create Optuna's tables; the ones that lose the race (a
    table that now exists, a catalogue key clash) retry instead of failing."""
    import psycopg

    server, _ = postgres_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute("CREATE DATABASE race")
    start = threading.Barrier(RACERS)
    errors: list[BaseException] = []

    def connect() -> None:
        start.wait()
        try:
            open_storage(f"{server}/race")
        except BaseException as err:  # collected: the test's thread asserts there are none
            errors.append(err)

    threads = [threading.Thread(target=connect) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    optuna.create_study(study_name="after-the-race", storage=open_storage(f"{server}/race"))
