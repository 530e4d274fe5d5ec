"""Results bundles: ``bench export`` writes one, ``bench verify`` re-derives its numbers.

A bundle holds, for every finished run of one suite and profile, the files of the run store below
``runs/<suite>/<dataset>/<strategy>/<config-hash>/seed-<n>/`` (predictions gzip-compressed with a
zero timestamp, so equal runs give equal bytes, and without the ``input`` texts, which are the
datasets' own and stay out of committed files); the tables ``summary.csv``, ``paired.csv`` (paired
tests of :data:`reports.tables.DEFAULT_PAIRS`), ``calibration.csv`` (ECE variants, MCE, Brier with
CIs) and ``verdicts.csv`` (paper numbers against ours), all computed from the bundle's own runs; the
paper reference files they were judged against (``papers/<name>.yaml``); ``provenance.json``
(versions, commits, config hashes, data checksums, the tables' statistics, settings and pairs) and
``MANIFEST.json`` (the sha256 of every other file; written last). A run file with identical copies
elsewhere in the bundle (the tokenizer every run shares, the last checkpoint's predictions when it
was also the best) is stored once under ``shared/`` and ``shared/links.json`` says where each copy
belongs; bundles written before that keep every file in place and read the same. A bundle
exported with ``predictions="selected"`` (``bench export --predictions selected``, recorded in
``provenance.json``) holds only the selected checkpoint's predictions of each run, the ones every
table reads, about half the size when early stopping makes the last checkpoint differ from the best;
the other checkpoint's metrics then stay as the run stated them. ``bench refresh`` recomputes an
existing bundle's tables with the current statistics.

Verification checks the manifest and that the runs present are the runs ``provenance.json``
lists, re-scores each prediction's ``correct`` from its prediction and gold, recomputes each
run's test metrics from its predictions and its config hash from its recorded config, and
recomputes every cell of the four tables with the recorded settings and the bundled paper
files: counts and accuracies exactly, strings exactly,
other floats to a relative tolerance of :data:`REL_TOL` (and :data:`ABS_TOL` near zero). Every
number and claim of a bundled paper file must name its source table. ``bench verify --rerun``
(:mod:`reports.rerun`) also retrains the runs and compares the results.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import yaml

from bench.config import config_from_dict
from bench.errors import BenchError, FileFormatError
from bench.metrics import accuracy_summary, dataset_metric, rescored
from bench.provenance import file_sha256, git_commit, package_versions
from bench.store import RunDir, iter_run_dirs, read_json, write_json, write_text_atomic
from reports.calibration_tables import calibration_table
from reports.collect import collect_runs
from reports.paper import load_papers, verdict_table
from reports.stats import BootstrapSpec
from reports.tables import DEFAULT_PAIRS, paired_table, summary_table

MANIFEST = "MANIFEST.json"
PROVENANCE = "provenance.json"
RERUN_TOLERANCE = (
    0.02  # absolute test accuracy, for `verify --rerun` on other hardware than the bundle's
)
SUMMARY = "summary.csv"
PAIRED = "paired.csv"
CALIBRATION = "calibration.csv"
VERDICTS = "verdicts.csv"
PAPERS = "papers"
RUNS = "runs"
SHARED = "shared"
LINKS = f"{SHARED}/links.json"  # {path of a run file: the shared file that holds its bytes}
MIN_SHARED_BYTES = 4096  # smaller duplicate files stay in their run directories
# a bundle's test predictions: every checkpoint's, or only the selected one's
PREDICTIONS_KEPT = ("all", "selected")
REL_TOL = 1e-9  # for floats other than accuracies (mean confidence, stderr, CI bounds)
MIN_DIGITS, MAX_DIGITS = 3, 17  # significant digits a bundle may keep of each probability
ABS_TOL = 1e-12  # so that tiny values (e.g. confidences near 0) are still compared
EXACT_METRICS = ("accuracy", "n", "n_correct", "candidate_accuracy")
SETTINGS_EXACT = ("boot_resamples", "boot_seed")
# Per table: the columns that name a row, and the columns compared exactly (counts, accuracies)
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    SUMMARY: (
        ("dataset", "strategy", "config_hash"),
        ("n_seeds", "n_test", "n_train", "accuracy", *SETTINGS_EXACT),
    ),
    PAIRED: (
        ("dataset", "a", "b", "config_hash_a", "config_hash_b"),
        ("n_seeds_a", "n_seeds_b", "n_test", "accuracy_a", "accuracy_b", *SETTINGS_EXACT),
    ),
    CALIBRATION: (
        ("dataset", "strategy", "config_hash"),
        ("n_seeds", "n_test", "accuracy", *SETTINGS_EXACT),
    ),
    VERDICTS: (
        ("paper", "strategy", "dataset", "config_hash"),
        ("n_seeds", "n_test", "paper_accuracy", "accuracy", *SETTINGS_EXACT),
    ),
}


class Mismatch(NamedTuple):
    """A number (or hash) the bundle states that verification could not re-derive."""

    file: str  # path inside the bundle
    cell: str  # which value, e.g. ``test.best.accuracy`` or ``sha256``
    stated: Any
    recomputed: Any


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: no file name, mtime 0."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def bundled_prediction_files(metrics: dict[str, Any], kept: str = "all") -> dict[str, str]:
    """checkpoint -> prediction file name of the files a bundle holds for a run with ``metrics``:
    every checkpoint's (``kept="all"``) or only the selected one's."""
    files = metrics["prediction_files"]
    return {k: v for k, v in files.items() if kept == "all" or k == metrics["selected"]}


def predictions_kept(provenance: dict[str, Any]) -> str:
    """Which predictions a bundle holds (``all`` in bundles written before the choice existed)."""
    return provenance.get("predictions", "all")


def probability_digits(provenance: dict[str, Any]) -> int | None:
    """The significant digits a bundle keeps of each probability (None: as the run wrote them,
    also in bundles written before the choice existed)."""
    return provenance.get("probability_digits")


def rounded_probabilities(row: dict[str, Any], digits: int | None) -> dict[str, Any]:
    """``row`` with ``confidence`` and each ``candidate_probs`` value rounded to ``digits``
    significant digits (unchanged when ``digits`` is None)."""
    if digits is None:
        return row

    def rounded(value: float) -> float:
        return float(f"{value:.{digits}g}")

    row = {**row, "confidence": rounded(row["confidence"])}
    if row.get("candidate_probs") is not None:
        row["candidate_probs"] = {k: rounded(v) for k, v in row["candidate_probs"].items()}
    return row


def _copy_run(source: RunDir, target: Path, kept: str, digits: int | None) -> None:
    target.mkdir(parents=True)
    for name in RunDir.RECORD_FILES:
        if (source.path / name).is_file():
            shutil.copyfile(source.path / name, target / name)
    for name in bundled_prediction_files(source.read_metrics(), kept).values():
        rows = [
            rounded_probabilities({k: v for k, v in row.items() if k != "input"}, digits)
            for row in source.read_predictions(name)
        ]
        text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
        (target / f"{name}.gz").write_bytes(gzip_bytes(text.encode()))


def bundle_run_dirs(bundle: Path) -> list[RunDir]:
    """The bundle's run directories that hold a metrics file, in sorted order."""
    return [
        run for run in iter_run_dirs(bundle / RUNS, finished=False) if run.metrics_file.is_file()
    ]


def _distinct(values: Iterable[Any]) -> list[Any]:
    """The distinct JSON values of ``values``, in canonical order."""
    unique = {json.dumps(v, sort_keys=True): v for v in values}
    return [unique[key] for key in sorted(unique)]


def _provenance(
    bundle: Path, suite: str, profile: str, spec: BootstrapSpec, pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    runs = list(iter_run_dirs(bundle / RUNS, finished=False))
    envs = {
        str(run.path.relative_to(bundle / RUNS)): run.read_env()
        for run in runs
        if run.env_file.is_file()
    }
    configs = [run.read_config() for run in runs if run.config_file.is_file()]
    data: dict[str, str] = {}
    for env in envs.values():
        data.update(env.get("data_sources", {}))
    return {
        "suite": suite,
        "profile": profile,
        "exported_with": {"versions": package_versions(), "git": git_commit()},
        "versions": _distinct(e.get("versions") for e in envs.values()),
        "git": _distinct(e.get("git") for e in envs.values()),
        "config_hashes": sorted({c["config_hash"] for c in configs}),
        "data_sources": data,
        "tokenizer_sha256": _distinct(e.get("tokenizer_sha256") for e in envs.values()),
        "runs": sorted(envs),
        "rerun_tolerance": RERUN_TOLERANCE,
        "tables": {
            "files": list(TABLES),
            "bootstrap": {
                "resamples": spec.resamples,
                "seed": spec.seed,
                "level": spec.level,
            },
            "method": spec.describe(),
            "pairs": [list(pair) for pair in pairs],
            "papers": sorted(str(p.relative_to(bundle)) for p in (bundle / PAPERS).glob("*.yaml")),
        },
    }


def _tables_csv(
    bundle: Path,
    suite: str,
    profile: str,
    spec: BootstrapSpec,
    pairs: list[tuple[str, str]],
    *,
    verdicts: bool = True,
) -> dict[str, str]:
    """The tables of the bundle's runs as CSV (raw numbers); the verdicts (against the bundle's
    ``papers/``) only with ``verdicts``."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = unpack_runs(bundle, Path(tmp))
        store = collect_runs(runs, suite=suite, profile=profile, check_metrics=False)
        summary = summary_table(store, spec)
        tables = {
            SUMMARY: summary,
            PAIRED: paired_table(store, spec, pairs),
            CALIBRATION: calibration_table(store, spec),
        }
        if verdicts:
            tables[VERDICTS] = verdict_table(store, summary, load_papers(bundle / PAPERS))
        return {name: table.to_csv(index=False) for name, table in tables.items()}


def _share_duplicates(bundle: Path) -> None:
    """Keep every run file that has identical copies (a tokenizer shared by all runs, the last
    checkpoint's predictions when it was also the best) once, as ``shared/<sha256><suffixes>``,
    and record each copy's place in :data:`LINKS`."""
    by_hash: dict[str, list[Path]] = {}
    for path in sorted((bundle / RUNS).rglob("*")):
        if path.is_file() and path.stat().st_size >= MIN_SHARED_BYTES:
            by_hash.setdefault(file_sha256(path), []).append(path)
    links = {}
    for digest, paths in sorted(by_hash.items()):
        if len(paths) < 2:
            continue
        target = bundle / SHARED / f"{digest}{''.join(paths[0].suffixes)}"
        target.parent.mkdir(exist_ok=True)
        paths[0].replace(target)
        for path in paths[1:]:
            path.unlink()
        links.update({str(p.relative_to(bundle)): str(target.relative_to(bundle)) for p in paths})
    if links:
        write_json(bundle / LINKS, dict(sorted(links.items())))


def bundle_links(bundle: Path) -> dict[str, str]:
    """The bundle's shared-file links (none in bundles written before they existed)."""
    path = bundle / LINKS
    return read_json(path) if path.is_file() else {}


def run_files(bundle: Path, directory: Path) -> dict[str, Path]:
    """``{file name: where its bytes are}`` of one bundled run directory, links resolved."""
    files = {p.name: p for p in directory.iterdir() if p.is_file()}
    prefix = str(directory.relative_to(bundle)) + "/"
    for name, target in bundle_links(bundle).items():
        if name.startswith(prefix) and "/" not in name[len(prefix) :]:
            files[name[len(prefix) :]] = bundle / target
    return files


def _write_manifest(bundle: Path) -> None:
    files = {
        str(p.relative_to(bundle)): file_sha256(p)
        for p in sorted(bundle.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    write_json(bundle / MANIFEST, {"algorithm": "sha256", "files": files})


def export_bundle(
    runs_dir: str | Path,
    suite: str,
    profile: str,
    out: str | Path,
    *,
    spec: BootstrapSpec | None = None,
    force: bool = False,
    pairs: Sequence[tuple[str, str]] = (),
    predictions: str = "all",
    digits: int | None = None,
) -> Path:
    """Write the bundle of ``suite``/``profile`` from ``runs_dir`` to ``out`` and return it.

    ``paired.csv`` compares :data:`reports.tables.DEFAULT_PAIRS` and the strategy ``pairs`` (a, b).

    ``spec`` is the :class:`reports.stats.BootstrapSpec` of the tables (default settings if
    None); the verdicts are judged against the installed paper files (``reports/papers``), which
    are copied into the bundle. An existing ``out`` is replaced only with ``force``.
    ``predictions``: ``all`` (every checkpoint's) or ``selected`` (only the selected one's).
    ``digits``: keep each probability to that many significant digits (None: as written); the
    tables are computed from the rounded files, and verification allows the run's stated
    mean confidence that rounding's error.
    """
    if predictions not in PREDICTIONS_KEPT:
        raise BenchError(f"predictions: expected one of {PREDICTIONS_KEPT}, got {predictions!r}")
    if digits is not None and not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise BenchError(
            f"probability digits: expected {MIN_DIGITS} to {MAX_DIGITS} or none, got {digits}"
        )
    spec = spec or BootstrapSpec()
    runs_dir, out = Path(runs_dir), Path(out)
    if out.exists() and not force:
        raise BenchError(f"{out}: already exists (use --force to replace it)")
    run_ids = list(collect_runs(runs_dir, suite=suite, profile=profile).runs["run_id"])
    if not run_ids:
        raise BenchError(f"{runs_dir}: no finished runs of suite {suite!r}, profile {profile!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for run_id in run_ids:
            _copy_run(RunDir(runs_dir / run_id), staging / RUNS / run_id, predictions, digits)
        (staging / PAPERS).mkdir()
        for paper in _installed_papers():
            shutil.copyfile(paper, staging / PAPERS / paper.name)
        all_pairs = list(dict.fromkeys([*DEFAULT_PAIRS, *pairs]))
        tables = _tables_csv(staging, suite, profile, spec, all_pairs)
        for name, text in tables.items():
            write_text_atomic(staging / name, text)
        provenance = _provenance(staging, suite, profile, spec, all_pairs)
        if predictions != "all":  # bundles keeping everything read as before
            provenance["predictions"] = predictions
        if digits is not None:
            provenance["probability_digits"] = digits
        write_json(staging / PROVENANCE, provenance)
        _seal(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _seal(staging: Path, out: Path) -> None:
    """Store duplicates once, write the manifest, and put ``staging`` at ``out`` (an old
    ``out`` is removed after)."""
    _share_duplicates(staging)
    _write_manifest(staging)
    old = staging.with_name(f"{staging.name}-replaced")
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def refresh_bundle(path: str | Path) -> Path:
    """Recompute a bundle's tables from its own runs with this version's statistics (the
    recorded bootstrap settings, pairs and paper files) and store its duplicate files once.

    Runs, predictions and paper files are kept byte for byte; the provenance records the
    statistics used; the bundle is replaced atomically.
    """
    bundle = Path(path)
    if bundle.is_symlink() or not (bundle / MANIFEST).is_file():
        raise BenchError(f"{bundle}: not a results bundle (no {MANIFEST})")
    provenance = read_json(bundle / PROVENANCE)
    settings = provenance["tables"]
    spec = BootstrapSpec.from_settings(settings["bootstrap"])
    pairs = [(a, b) for a, b in settings["pairs"]]
    staging = Path(tempfile.mkdtemp(dir=bundle.parent, prefix=f".{bundle.name}.tmp-"))
    try:
        for source in iter_run_dirs(bundle / RUNS, finished=False):
            target = staging / source.path.relative_to(bundle)
            target.mkdir(parents=True)
            for name, file in run_files(bundle, source.path).items():
                shutil.copyfile(file, target / name)
        shutil.copytree(bundle / PAPERS, staging / PAPERS)
        suite, profile = provenance["suite"], provenance["profile"]
        for name, text in _tables_csv(staging, suite, profile, spec, pairs).items():
            write_text_atomic(staging / name, text)
        settings["method"] = spec.describe()
        settings["bootstrap"].pop("permutations", None)  # the sign-flip test these replaced
        write_json(staging / PROVENANCE, provenance)
        _seal(staging, bundle)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return bundle


def _installed_papers() -> list[Path]:
    """The paper files :func:`reports.paper.load_papers` reads by default."""
    from importlib import resources

    folder = Path(str(resources.files("reports") / PAPERS))
    return sorted(folder.glob("*.yaml"))


def unpack_runs(bundle: Path, target: Path) -> Path:
    """The bundle's runs as a run store (predictions decompressed) under ``target``."""
    for source in iter_run_dirs(bundle / RUNS, finished=False):
        directory = target / source.path.relative_to(bundle / RUNS)
        directory.mkdir(parents=True)
        for name, path in run_files(bundle, source.path).items():
            if name.endswith(".gz"):
                (directory / name[: -len(".gz")]).write_bytes(gzip.decompress(path.read_bytes()))
            else:
                shutil.copyfile(path, directory / name)
    return target


def manifest_files(bundle: str | Path) -> dict[str, str]:
    """``{path: sha256}`` as the bundle's manifest states it."""
    path = Path(bundle) / MANIFEST
    if not path.is_file():
        raise BenchError(f"{bundle}: not a results bundle (no {MANIFEST})")
    files = read_json(path)
    files = files.get("files") if isinstance(files, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise FileFormatError(f'{path}: expected {{"files": {{path: sha256}}}}')
    return files


def _check_manifest(bundle: Path, stated: dict[str, str]) -> list[Mismatch]:
    present = {
        str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file() and p.name != MANIFEST
    }
    found = []
    for name in sorted(present | set(stated)):
        actual = file_sha256(bundle / name) if name in present else "missing"
        if stated.get(name, "not in manifest") != actual:
            found.append(Mismatch(name, "sha256", stated.get(name, "not in manifest"), actual))
    return found


def rounding_tolerance(digits: int | None) -> float:
    """The relative error of a value rounded to ``digits`` significant digits (and of a mean
    of such values), or :data:`REL_TOL` when nothing was rounded."""
    return REL_TOL if digits is None else max(REL_TOL, 0.5 * 10.0 ** (1 - digits))


def differs(stated: Any, recomputed: Any, exact: bool, rel_tol: float = REL_TOL) -> bool:
    """Whether two stated/recomputed values differ: ``exact``, or floats to ``rel_tol``."""
    if isinstance(stated, float) and isinstance(recomputed, float):
        if math.isnan(stated) and math.isnan(recomputed):
            return False
        if not exact:
            return not math.isclose(stated, recomputed, rel_tol=rel_tol, abs_tol=ABS_TOL)
    return stated != recomputed


def _prediction_metrics(path: Path, metric: str) -> tuple[dict[str, Any], int]:
    """The test metrics of a gzipped predictions file, ``correct`` re-scored from prediction and
    gold, and how many records state a ``correct`` (or ``candidate_correct``) that differs."""
    stated = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line]
    rows = [rescored(r, metric) for r in stated]
    flipped = sum(
        r.get(key) != s.get(key)
        for r, s in zip(rows, stated, strict=True)
        for key in ("correct", "candidate_correct")
    )
    metrics: dict[str, Any] = accuracy_summary([r["correct"] for r in rows])
    scored = [r for r in rows if r.get("candidate_probs") is not None]
    if scored:
        correct = [r["candidate_correct"] for r in scored]
        metrics["candidate_accuracy"] = accuracy_summary(correct)["accuracy"]
    if rows:
        metrics["mean_confidence"] = sum(r["confidence"] for r in rows) / len(rows)
    return metrics, flipped


def _compare(
    file: str, prefix: str, stated: dict, recomputed: dict, rel_tol: float = REL_TOL
) -> list[Mismatch]:
    return [
        Mismatch(file, f"{prefix}.{key}", stated.get(key), value)
        for key, value in recomputed.items()
        if differs(stated.get(key), value, key in EXACT_METRICS, rel_tol)
    ]


def _check_run(bundle: Path, run: RunDir, kept: str, digits: int | None) -> list[Mismatch]:
    directory = run.path
    rel = str(directory.relative_to(bundle))
    metrics_file, config_file = f"{rel}/{RunDir.METRICS}", f"{rel}/{RunDir.CONFIG}"
    metrics, record = run.read_metrics(), run.read_config()
    found = []
    recomputed_hash = config_from_dict(record["config"]).config_hash()
    for file, cell, stated in (
        (config_file, "config_hash", record["config_hash"]),
        (metrics_file, "config_hash", metrics["config_hash"]),
        (rel, "config_hash (directory)", directory.parent.name),
    ):
        if stated != recomputed_hash:
            found.append(Mismatch(file, cell, stated, recomputed_hash))
    if directory.name != f"seed-{record['config']['seed']}":
        found.append(Mismatch(config_file, "config.seed", record["config"]["seed"], directory.name))
    files = run_files(bundle, directory)
    for checkpoint, name in sorted(bundled_prediction_files(metrics, kept).items()):
        path = files.get(f"{name}.gz", directory / f"{name}.gz")
        if not path.is_file():
            found.append(Mismatch(f"{rel}/{name}.gz", "file", "present", "missing"))
            continue
        recomputed, flipped = _prediction_metrics(path, dataset_metric(metrics["dataset"]))
        if flipped:
            cell = "correct (records that differ from prediction vs gold)"
            found.append(Mismatch(f"{rel}/{name}.gz", cell, flipped, 0))
        stated, tolerance = metrics["test"][checkpoint], rounding_tolerance(digits)
        found += _compare(metrics_file, f"test.{checkpoint}", stated, recomputed, tolerance)
        if checkpoint == metrics["selected"]:
            found += _compare(metrics_file, "primary", metrics["primary"], recomputed, tolerance)
    return found


def _read_csv(text: str) -> pd.DataFrame:
    """A table's CSV text as a frame (an empty table is written as a blank line)."""
    return pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame()


def _check_table(name: str, stated_csv: str, recomputed_csv: str) -> list[Mismatch]:
    """Every cell of table ``name`` as stated against as recomputed."""
    keys, exact = TABLES[name]
    stated, recomputed = _read_csv(stated_csv), _read_csv(recomputed_csv)
    if list(stated.columns) != list(recomputed.columns) or len(stated) != len(recomputed):
        return [
            Mismatch(
                name,
                "shape",
                f"{len(stated)} rows: {', '.join(stated.columns)}",
                f"{len(recomputed)} rows: {', '.join(recomputed.columns)}",
            )
        ]
    found = []
    for i in range(len(stated)):
        row = recomputed.iloc[i]
        label = "/".join(str(row[k]) for k in keys if k in row and not _is_nan(row[k]))
        for column in stated.columns:
            a, b = _plain(stated.iloc[i][column]), _plain(row[column])
            if differs(a, b, column in exact):
                found.append(Mismatch(name, f"row {i + 1} ({label}) {column}", a, b))
    return found


def _is_nan(value: Any) -> bool:
    """Whether ``value`` is a float NaN (an empty CSV cell)."""
    return isinstance(value, float) and math.isnan(value)


def _check_papers(bundle: Path) -> list[Mismatch]:
    """Every number and claim of the bundled paper files names its source table."""
    files = sorted((bundle / PAPERS).glob("*.yaml"))
    if not files:
        return [Mismatch(PAPERS, "file", "*.yaml", "missing")]
    found = []
    for path in files:
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            found.append(Mismatch(f"{PAPERS}/{path.name}", "readable", "yes", str(err)))
            continue
        items = [
            *(
                ("results", i, f"{r.get('strategy')} on {r.get('dataset')}", r)
                for i, r in enumerate(data.get("results", []))
            ),
            *(
                ("claims", i, f"{c.get('a')} vs {c.get('b')}", c)
                for i, c in enumerate(data.get("claims", []))
            ),
        ]
        for kind, i, what, item in items:
            source = item.get("source")
            if not isinstance(source, dict) or not source.get("table"):
                cell = f"{kind}[{i}] ({what}) source.table"
                found.append(Mismatch(f"{PAPERS}/{path.name}", cell, "missing", "required"))
    return found


def _check_tables(bundle: Path, provenance: dict[str, Any], verdicts: bool) -> list[Mismatch]:
    settings = provenance["tables"]
    spec = BootstrapSpec.from_settings(settings["bootstrap"])
    pairs = [(a, b) for a, b in settings["pairs"]]
    suite, profile = provenance["suite"], provenance["profile"]
    recomputed = _tables_csv(bundle, suite, profile, spec, pairs, verdicts=verdicts)
    found = []
    for name, text in recomputed.items():
        found += _check_table(name, (bundle / name).read_text(), text)
    return found


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (``3 == 3.0`` then holds across dtypes)."""
    return value.item() if hasattr(value, "item") else value


def verify_bundle(path: str | Path) -> list[Mismatch]:
    """Every stated number or hash of the bundle at ``path`` that does not re-derive."""
    bundle = Path(path)
    stated = manifest_files(bundle)
    found = _check_manifest(bundle, stated)
    found += _guarded(LINKS, _check_links, bundle, stated)
    has_provenance = (bundle / PROVENANCE).is_file()
    recorded = read_json(bundle / PROVENANCE) if has_provenance else {}
    kept, digits = predictions_kept(recorded), probability_digits(recorded)
    if kept not in PREDICTIONS_KEPT:
        found.append(Mismatch(PROVENANCE, "predictions", kept, f"one of {PREDICTIONS_KEPT}"))
        kept = "all"
    if digits is not None and (type(digits) is not int or not MIN_DIGITS <= digits <= MAX_DIGITS):
        wanted = f"an integer from {MIN_DIGITS} to {MAX_DIGITS}"
        found.append(Mismatch(PROVENANCE, "probability_digits", digits, wanted))
        digits = None
    for run in bundle_run_dirs(bundle):
        rel = str(run.path.relative_to(bundle))
        found += _guarded(rel, _check_run, bundle, run, kept, digits)
    for name in (PROVENANCE, *TABLES):
        if not (bundle / name).is_file():
            return [*found, Mismatch(name, "file", "present", "missing")]
    papers = _guarded(PAPERS, _check_papers, bundle)
    # verdicts are recomputed only from paper files that parse (every number with a source)
    provenance = read_json(bundle / PROVENANCE)
    found += _guarded(PROVENANCE, _check_run_list, bundle, provenance)
    return [*found, *papers, *_guarded("tables", _check_tables, bundle, provenance, not papers)]


def _check_links(bundle: Path, stated: dict[str, str]) -> list[Mismatch]:
    """Every link names a run file and a shared file the manifest lists."""
    return [
        Mismatch(LINKS, name, target, "not a listed shared file")
        for name, target in bundle_links(bundle).items()
        if not name.startswith(f"{RUNS}/")
        or not target.startswith(f"{SHARED}/")
        or target not in stated
    ]


def _check_run_list(bundle: Path, provenance: dict[str, Any]) -> list[Mismatch]:
    """The runs present are the runs ``provenance.json`` lists."""
    present = {str(run.path.relative_to(bundle / RUNS)) for run in bundle_run_dirs(bundle)}
    listed = set(provenance["runs"])
    return [
        Mismatch(
            PROVENANCE,
            f"runs: {run}",
            "listed" if run in listed else "not listed",
            "present" if run in present else "missing",
        )
        for run in sorted(listed ^ present)
    ]


def _guarded(file: str, check: Callable[..., list[Mismatch]], *args: Any) -> list[Mismatch]:
    """``check(*args)``, or one mismatch naming ``file`` when its inputs cannot be read."""
    try:
        return check(*args)
    except (OSError, ValueError, KeyError, TypeError, EOFError) as err:
        return [Mismatch(file, "readable", "yes", f"{type(err).__name__}: {err}")]


def render_mismatches(found: list[Mismatch]) -> str:
    """A plain-text table: file | cell | stated | recomputed."""
    rows = [("file", "cell", "stated", "recomputed"), *(tuple(map(str, m)) for m in found)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = (" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(line.rstrip() for line in lines)
