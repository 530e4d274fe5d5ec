"""``bench verify --rerun``: retrain a bundle's runs from their recorded configs and compare.

Each run is retrained in a temporary run store with the bundle's own tokenizer: the Unigram
trainer is not deterministic across processes, so the recorded ``tokenizer.json`` is placed in a
temporary ``$COTBENCH_CACHE`` under the key :func:`bench.tokenizer.trained_tokenizer` looks up.
When the bundle and the rerun both ran on the same kind of CPU (``env.json``'s ``cpu``), the test
metrics and the predictions must match exactly; on another or an unrecorded processor (whose
float kernels round differently) the labels, correctness and accuracies must still match
exactly and the probabilities within :data:`CPU_FLOAT_RTOL`; on a GPU only the test accuracies
are compared, within the bundle's ``rerun_tolerance`` (absolute, from ``provenance.json``;
:data:`RERUN_TOLERANCE` if absent).
"""

from __future__ import annotations

import gzip
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from bench.config import RunConfig, config_from_dict
from bench.errors import BenchError
from bench.runner import RunOptions, load_run_data, run_one, tokenizer_corpus
from bench.store import RunDir, read_json
from bench.tokenizer import cache_entry, corpus_hash
from reports.bundle import (
    PROVENANCE,
    RERUN_TOLERANCE,
    RUNS,
    Mismatch,
    bundle_run_dirs,
    bundled_prediction_files,
    differs,
    predictions_kept,
    probability_digits,
    rounded_probabilities,
    run_files,
)

PREDICTION_FIELDS = ("id", "prediction", "correct", "confidence", "candidate_probs")
CPU_FLOAT_RTOL = 1e-4  # probabilities, reruns on another processor type (measured: ~1e-5 after
# 40 steps of the smoke runs between two x86 CPU types)
ACCURACIES = ("accuracy", "candidate_accuracy")
MAX_LINE_MISMATCHES = 20  # per predictions file; the rest are counted in one row
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError)  # a damaged bundle file


def bundle_runs(bundle: str | Path, subset: int | Sequence[str] | None = None) -> list[Path]:
    """The bundle's run directories in sorted order.

    ``subset``: None for all, a number for the first N, or names (datasets, strategies, config
    hashes, ``seed-<n>``) selecting the runs whose path holds any of them.
    """
    root = Path(bundle) / RUNS
    runs = [run.path for run in bundle_run_dirs(Path(bundle))]
    if subset is None:
        return runs
    if isinstance(subset, int):
        return runs[:subset]
    return [run for run in runs if set(subset) & set(run.relative_to(root).parts)]


@contextmanager
def _cache_dir(path: Path) -> Iterator[None]:
    """``$COTBENCH_CACHE`` set to ``path`` for the duration, then restored."""
    old = os.environ.get("COTBENCH_CACHE")
    os.environ["COTBENCH_CACHE"] = str(path)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COTBENCH_CACHE"]
        else:
            os.environ["COTBENCH_CACHE"] = old


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """The bundle run's torch thread count for the duration (CPU float reductions depend on it)."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _seed_tokenizer(cache: Path, config: RunConfig, source: Path, data_dir: Path | None) -> None:
    """Place ``source`` where :func:`bench.tokenizer.trained_tokenizer` looks for the run's."""
    texts = tokenizer_corpus(load_run_data(config, data_dir))
    target = cache_entry(corpus_hash(texts, config.vocab_size), cache)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _rows(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines() if line]


def _differ(stated: Any, rerun: Any, rtol: float | None) -> bool:
    """Exact when ``rtol`` is None; else floats (also inside dicts) within ``rtol``."""
    if rtol is None:
        return differs(stated, rerun, exact=True)
    if isinstance(stated, dict) and isinstance(rerun, dict):
        return stated.keys() != rerun.keys() or any(
            _differ(stated[k], rerun[k], rtol) for k in stated
        )
    if isinstance(stated, float) and isinstance(rerun, float):
        return not math.isclose(stated, rerun, rel_tol=rtol, abs_tol=0.0)
    return stated != rerun


def _compare_predictions(
    file: str, stated: Path, rerun: Path, rtol: float | None = None, digits: int | None = None
) -> list[Mismatch]:
    """Each differing prediction field, as ``line <n> (<id>).<field>``; the rerun's
    probabilities rounded first as the bundle's were (``digits``)."""
    a, b = _rows(stated), [rounded_probabilities(row, digits) for row in _rows(rerun)]
    if len(a) != len(b):
        return [Mismatch(file, "lines", len(a), len(b))]
    found = [
        Mismatch(file, f"line {i} ({x.get('id')}).{field}", x.get(field), y.get(field))
        for i, (x, y) in enumerate(zip(a, b, strict=True), start=1)
        for field in PREDICTION_FIELDS
        if _differ(x.get(field), y.get(field), rtol)
    ]
    if len(found) > MAX_LINE_MISMATCHES:
        rest = len(found) - MAX_LINE_MISMATCHES
        found = [*found[:MAX_LINE_MISMATCHES], Mismatch(file, f"... {rest} more", "", "")]
    return found


def _cpu_rtol(digits: int | None) -> float:
    """Probabilities from another processor: :data:`CPU_FLOAT_RTOL`, or one unit of the last
    kept digit when the bundle rounded them (two close values may round apart)."""
    return CPU_FLOAT_RTOL if digits is None else max(CPU_FLOAT_RTOL, 10.0 ** (1 - digits))


def _compare_exact(
    bundle: Path,
    stated_dir: RunDir,
    rerun_dir: RunDir,
    rtol: float | None,
    kept: str,
    digits: int | None = None,
) -> list[Mismatch]:
    """Metrics and the bundled predictions (``kept``: all or the selected checkpoint's) equal
    (floats within ``rtol`` when given)."""
    rel = str(stated_dir.path.relative_to(bundle))
    stated, rerun = stated_dir.read_metrics(), rerun_dir.read_metrics()
    found = [
        Mismatch(f"{rel}/{RunDir.METRICS}", f"test.{which}.{key}", block.get(key), other.get(key))
        for which in sorted(set(stated["test"]) | set(rerun["test"]))
        for block, other in [(stated["test"].get(which, {}), rerun["test"].get(which, {}))]
        for key in sorted(set(block) | set(other))
        if _differ(block.get(key), other.get(key), rtol)
    ]
    a = stated_dir.read_env().get("tokenizer_sha256")
    b = rerun_dir.read_env().get("tokenizer_sha256")
    if a != b:
        found.append(Mismatch(f"{rel}/{RunDir.ENV}", "tokenizer_sha256", a, b))
    files = run_files(bundle, stated_dir.path)  # shared files resolved
    for name in sorted(bundled_prediction_files(stated, kept).values()):
        stated_file = files.get(f"{name}.gz", stated_dir.path / f"{name}.gz")
        rerun_file = rerun_dir.path / name
        found += _compare_predictions(f"{rel}/{name}.gz", stated_file, rerun_file, rtol, digits)
    return found


def _compare_accuracies(
    bundle: Path, stated_dir: RunDir, rerun_dir: RunDir, tolerance: float
) -> list[Mismatch]:
    file = f"{stated_dir.path.relative_to(bundle)}/{RunDir.METRICS}"
    stated, rerun = stated_dir.read_metrics(), rerun_dir.read_metrics()
    return [
        Mismatch(file, f"test.{which}.{key} (within {tolerance})", block[key], other[key])
        for which, block in sorted(stated["test"].items())
        for key in ACCURACIES
        if key in block
        and key in (other := rerun["test"].get(which, {}))
        and abs(block[key] - other[key]) > tolerance
    ]


def rerun_bundle(
    path: str | Path,
    *,
    subset: int | None = None,
    data_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> list[Mismatch]:
    """Retrain the bundle's runs (the first ``subset`` if given) and list what does not match."""
    bundle = Path(path)
    provenance = read_json(bundle / PROVENANCE)
    tolerance = float(provenance.get("rerun_tolerance", RERUN_TOLERANCE))
    kept, digits = predictions_kept(provenance), probability_digits(provenance)
    runs = bundle_runs(bundle, subset)
    if not runs:
        raise BenchError(f"{bundle}: no runs to rerun")
    found: list[Mismatch] = []
    for directory in runs:
        stated = RunDir(directory)
        rel = str(directory.relative_to(bundle))
        try:
            config = config_from_dict(stated.read_config()["config"])
            env = stated.read_env()
        except UNREADABLE as err:
            found.append(Mismatch(rel, "readable", "yes", f"{type(err).__name__}: {err}"))
            continue
        echo(f"rerun: {rel}")
        with tempfile.TemporaryDirectory(prefix="cotbench-rerun-") as tmp:
            cache = Path(tmp) / "cache"
            tokenizer = run_files(bundle, directory).get(RunDir.TOKENIZER)
            if env.get("tokenizer_sha256") and tokenizer is not None:
                _seed_tokenizer(cache, config, tokenizer, data_dir)
            with _cache_dir(cache), _torch_threads(env.get("torch_threads")):
                options = RunOptions(
                    provenance["suite"],
                    provenance["profile"],
                    runs_dir=Path(tmp) / "runs",
                    data_dir=data_dir,
                    threads=env.get("torch_threads"),
                )
                result = run_one(config, options, echo=echo)
            rerun = RunDir(result.directory)
            rerun_env = rerun.read_env()
            device = rerun_env.get("device")
            on_cpu = env.get("device") == "cpu" and device == "cpu"
            same_cpu = on_cpu and env.get("cpu") == rerun_env.get("cpu")
            if not on_cpu:
                echo(
                    f"bundle run made on {env.get('device')}, rerun on {device}: comparing "
                    f"test accuracies within {tolerance} (absolute)"
                )
            elif not same_cpu:
                echo(
                    f"bundle run made on CPU {env.get('cpu') or '(unrecorded)'}, rerun on "
                    f"{rerun_env.get('cpu')}: labels and accuracies exactly, probabilities "
                    f"within {_cpu_rtol(digits)} (relative)"
                )
            try:
                if on_cpu:
                    rtol = None if same_cpu else _cpu_rtol(digits)
                    found += _compare_exact(bundle, stated, rerun, rtol, kept, digits)
                else:
                    found += _compare_accuracies(bundle, stated, rerun, tolerance)
            except UNREADABLE as err:
                found.append(Mismatch(rel, "readable", "yes", f"{type(err).__name__}: {err}"))
    return found
