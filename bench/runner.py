"""One run end to end: data -> batches -> strategy loss -> trainer -> test predictions -> store.

``run_one`` is what ``bench run`` calls for every planned run; a finished run with the same
config hash is a cache hit and is not retrained. A run trains with a fixed number of torch threads
(:data:`DEFAULT_THREADS` unless given; a resumed run keeps the count its ``env.json`` records),
so its numbers do not depend on ``--jobs`` or ``OMP_NUM_THREADS``. A resumed run reuses its own
``tokenizer.json`` and ``env.json``. Finishing writes the predictions, then ``metrics.json``, then
removes the checkpoints, so a crash at any point leaves a run that resumes or is finished.
``save_model`` (``bench run --save-model``, not part of the config or its hash) first keeps the
selected checkpoint and its tokenizer in ``model/`` (``save_pretrained``; reload it with
``AutoModelForSeq2SeqLM.from_pretrained(run / "model")``).
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, fields, replace
from pathlib import Path

import torch
from accelerate import PartialState

from bench.batching import cached_encode_pairs
from bench.config import RunConfig
from bench.data import (
    DatasetSplits,
    Example,
    LoadOptions,
    apply_noise,
    load_dataset,
    resolve_data_dir,
)
from bench.evaluate import EvalResult, EvalSettings, evaluate
from bench.faults import crash_point
from bench.models import fuse_activations, load_model
from bench.provenance import environment_record, file_sha256
from bench.store import (
    ABSENT,
    FINISHED,
    DamagedRun,
    RunDir,
    check_same_config,
    write_json,
    write_jsonl,
)
from bench.strategy import STRATEGIES, tokenizer_text
from bench.tokenizer import default_cache_dir
from bench.tracking import check_trackers, tracker_dir
from bench.trainer import (
    TrainHooks,
    TrainingJob,
    TrainState,
    load_best,
    make_accelerator,
    train,
)

DEFAULT_THREADS = 1  # torch threads per run: CPU float sums depend on the count, so it is fixed
# (not cores/jobs) and recorded in env.json; one thread is also the fastest under load


@dataclass(frozen=True)
class RunOptions:
    """Everything a run needs besides its config; none of it enters the config or its hash.

    ``suite`` and ``profile`` name the run's place in the store (``runs_dir``) and its record;
    ``data_dir``: the DSS data (default ``$COTBENCH_DATA``); ``force``: retrain a finished run
    (moved aside) or a damaged one; ``threads``: torch threads of a new run (default
    :data:`DEFAULT_THREADS`; a resumed run keeps its own); ``save_model``: keep the selected
    checkpoint in ``<run>/model``; ``log_with``: experiment trackers (:mod:`bench.tracking`).
    """

    suite: str
    profile: str | None = None
    runs_dir: Path = Path("runs")
    data_dir: Path | None = None
    force: bool = False
    threads: int | None = None
    save_model: bool = False
    log_with: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs_dir", Path(self.runs_dir))
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "log_with", tuple(self.log_with))

    def run_dir(self, config: RunConfig) -> RunDir:
        """The directory of ``config``'s run in this store."""
        return RunDir.of(self.runs_dir, self.suite, config)

    def to_dict(self) -> dict:
        """JSON-ready (paths as strings); :meth:`from_dict` reads it back."""
        record = {field.name: getattr(self, field.name) for field in fields(self)}
        return {
            **record,
            "runs_dir": str(self.runs_dir),
            "data_dir": None if self.data_dir is None else str(self.data_dir),
            "log_with": list(self.log_with),
        }

    @classmethod
    def from_dict(cls, record: dict) -> RunOptions:
        """The options of a :meth:`to_dict` record."""
        return cls(**record)

    def resolved(self) -> RunOptions:
        """Absolute store and data paths (the data directory resolved), the same on every node."""
        return replace(
            self,
            runs_dir=self.runs_dir.resolve(),
            data_dir=resolve_data_dir(self.data_dir).resolve(),
        )


@dataclass(frozen=True)
class RunResult:
    """Where a run lives, whether it was a cache hit, and its metrics."""

    directory: Path
    cached: bool
    metrics: dict


@functools.lru_cache(maxsize=8)
def _load_cached(
    name: str,
    options: LoadOptions,
    subsample: float,
    subsample_seed: int,
    max_train: int | None,
    max_eval: int | None,
    full_test: bool,
) -> DatasetSplits:
    return load_dataset(
        name,
        options,
        subsample=subsample,
        subsample_seed=subsample_seed,
        max_train=max_train,
        max_eval=max_eval,
        full_test=full_test,
    )


def load_run_data(config: RunConfig, data_dir: str | Path | None = None) -> DatasetSplits:
    """The run's splits before noise (loads are cached in-process across runs)."""
    options = LoadOptions(
        resolve_data_dir(data_dir), config.teacher, config.label_type, config.synth
    )
    return _load_cached(
        config.dataset,
        options,
        config.subsample,
        config.subsample_seed,
        config.max_train,
        config.max_eval,
        config.full_test,
    )


def tokenizer_corpus(splits: DatasetSplits) -> list[str]:
    """The text a preset's tokenizer is trained on: the strategies' own text
    (:func:`bench.strategy.tokenizer_text`), then the clean train inputs, rationales and labels.

    Strategy- and noise-independent, so every run on the same data shares one tokenizer.
    """
    texts = [tokenizer_text()]
    for ex in splits.train:
        texts.extend((*ex.input_parts, ex.rationale, ex.label, *ex.candidates))
    return texts


def run_one(
    config: RunConfig,
    options: RunOptions,
    *,
    echo: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
    on_validation: Callable[[int, dict], None] | None = None,
) -> RunResult:
    """Train and evaluate one run, or return the finished run with the same config.

    ``options`` (:class:`RunOptions`) say where the run lives and how it trains. ``on_step(step)``
    is called after each optimizer step and ``on_validation(step, metrics)`` after each
    validation evaluation (:class:`bench.trainer.TrainHooks`). A damaged run
    (:class:`~bench.store.DamagedRun`) is an error; with ``options.force`` it is moved aside and
    retrained. A cache hit without the ``save_model`` directory says so (retrain it with
    ``force``); trackers follow only the training of a run that is not a cache hit.
    """
    options = replace(options, log_with=check_trackers(options.log_with))
    config.validate()
    run = options.run_dir(config)
    # one process, or one of several under `accelerate launch` / `torchrun` (gloo on a CPU host)
    process = PartialState(cpu=not torch.cuda.is_available())
    hit = _cache_hit(run, config, options.force, echo if process.is_main_process else None)
    process.wait_for_everyone()
    if hit is not None:
        if options.save_model and not run.model_dir.is_dir() and process.is_main_process:
            echo(f"{run.path}: finished without --save-model; --force retrains it to keep it")
        return hit
    with run.lock(echo) if process.is_main_process else nullcontext() as waited:
        if waited and run.is_finished():  # the other process finished it
            return RunResult(run.path, True, run.read_metrics())
        with _torch_threads(_thread_count(run, options.threads, echo)):
            return _train_and_evaluate(
                config, options, run, TrainHooks(echo, on_step, on_validation)
            )


def _cache_hit(
    run: RunDir, config: RunConfig, force: bool, echo: Callable[[str], None] | None
) -> RunResult | None:
    """The finished run in ``run`` (None: train it). With ``force`` a finished or damaged
    run is moved aside (by the main process: ``echo`` is None on the others)."""
    try:
        state = run.state()
        if state != ABSENT:
            check_same_config(run.path, config)
    except DamagedRun:
        if not force:
            raise
        state = "damaged"
    if state == FINISHED and not force:
        if echo is not None:
            _drop_checkpoints(run)  # left by a crash after metrics.json was written
        return RunResult(run.path, True, run.read_metrics())
    if force and state in (FINISHED, "damaged") and echo is not None:
        echo(f"--force: previous run moved to {run.move_aside()}")
    return None


def _save_model(model: torch.nn.Module, tokenizer, run: RunDir) -> Path:
    """``save_pretrained`` of the model and tokenizer into ``<run>/model`` (written beside it,
    then renamed into place; an earlier attempt's copy is replaced)."""
    target = run.model_dir
    tmp = run.path / f".{RunDir.MODEL}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target


def _drop_checkpoints(run: RunDir) -> None:
    """Remove a finished run's checkpoints: renamed aside first (atomic), then deleted."""
    doomed = run.path / f".{RunDir.CHECKPOINTS}-removed"
    with suppress(FileNotFoundError):
        run.checkpoints_dir.rename(doomed)
    crash_point("checkpoints-moved")
    shutil.rmtree(doomed, ignore_errors=True)


def _thread_count(run: RunDir, threads: int | None, echo: Callable[[str], None]) -> int:
    """The torch threads of ``run``: as recorded when resuming, else given."""
    wanted = threads or DEFAULT_THREADS
    if not run.env_file.is_file():
        return wanted
    recorded = run.read_env().get("torch_threads")
    if not isinstance(recorded, int) or recorded < 1:
        return wanted
    if threads and threads != recorded:
        echo(f"{run.path}: resuming with the {recorded} torch threads it started with")
    return recorded


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` for the duration, then the previous count."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _own_tokenizer(run: RunDir) -> Path | None:
    """A started run's recorded trained tokenizer (checked against its environment record), or
    None."""
    path = run.tokenizer_file
    if not (path.is_file() and run.env_file.is_file()):
        return None
    recorded = run.read_env().get("tokenizer_sha256")
    if recorded is None:
        return None  # a pretrained model's tokenizer, saved for reference only
    if file_sha256(path) != recorded:
        raise DamagedRun(
            run.path, f"{RunDir.TOKENIZER} does not match {RunDir.ENV}'s tokenizer_sha256"
        )
    return path


def _record_start(run: RunDir, config: RunConfig, options: RunOptions, loaded, env: dict) -> None:
    """Write the resolved config (first), the tokenizer and the environment record.

    A resumed run keeps the tokenizer and environment record it started with."""
    write_json(
        run.config_file,
        {
            "suite": options.suite,
            "profile": options.profile,
            "config_hash": config.config_hash(),
            "seed": config.seed,
            "config": config.to_dict(),
        },
    )
    if run.env_file.is_file():
        return
    tmp = run.path / f".{RunDir.TOKENIZER}.{os.getpid()}.tmp"
    if loaded.tokenizer_file is not None:
        shutil.copyfile(loaded.tokenizer_file, tmp)
    elif getattr(loaded.tokenizer, "backend_tokenizer", None) is not None:
        loaded.tokenizer.backend_tokenizer.save(str(tmp))
    if tmp.exists():
        tmp.replace(run.tokenizer_file)
    write_json(run.env_file, env)


def _train_and_evaluate(
    config: RunConfig, options: RunOptions, run: RunDir, hooks: TrainHooks
) -> RunResult:
    """Prepare, train, then test and record the run (resuming from its checkpoints)."""
    started = time.perf_counter()
    job, test = _prepare(config, options, run)
    if not job.accelerator.is_main_process:
        hooks = replace(hooks, echo=lambda _: None)
    state = train(job, run, hooks, RunDir.of(Path(), options.suite, config).path.as_posix())
    return _test_and_record(job, test, state, run, options, started)


def _prepare(
    config: RunConfig, options: RunOptions, run: RunDir
) -> tuple[TrainingJob, tuple[Example, ...]]:
    """Load the data (noise on train only), the model and tokenizer (a resumed run's own),
    write the run's start records and encode the training pairs; the job and the test split."""
    check_same_config(run.path, config)
    own_tokenizer = _own_tokenizer(run)
    splits = load_run_data(config, options.data_dir)
    train_examples = apply_noise(splits.train, config.noise)
    strategy = STRATEGIES.get(config.strategy)(config)
    accelerator = make_accelerator(config, options.log_with, tracker_dir(run.path))
    with accelerator.main_process_first():  # one process trains a preset's tokenizer
        loaded = load_model(
            config.model,
            tokenizer_corpus(splits),
            config.vocab_size,
            config.seed,
            own_tokenizer,
            config.tokenizer,
        )
    model, tokenizer = loaded.model, loaded.tokenizer
    if config.fused_activation:
        fuse_activations(model)
    strategy.setup(model)
    if accelerator.is_main_process:
        sizes = {"train": len(train_examples), "valid": len(splits.valid), "test": len(splits.test)}
        env = {
            **environment_record(accelerator.device),
            "num_processes": accelerator.num_processes,
            "data_sources": splits.sources,
            "model_identity": loaded.identity,
            "tokenizer_sha256": file_sha256(loaded.tokenizer_file)
            if loaded.tokenizer_file
            else None,
            "n_examples": sizes,
        }
        _record_start(run, config, options, loaded, env)
    encoded = cached_encode_pairs(
        tokenizer,
        [strategy.training_pairs(ex, tokenizer.eos_token) for ex in train_examples],
        config.max_input_length,
        config.max_target_length,
        default_cache_dir(),
    )
    settings = EvalSettings.for_run(config, splits.metric)
    job = TrainingJob(
        config, accelerator, model, tokenizer, strategy, encoded, splits.valid, settings
    )
    return job, splits.test


def _test_and_record(
    job: TrainingJob,
    test: Sequence[Example],
    state: TrainState,
    run: RunDir,
    options: RunOptions,
    started: float,
) -> RunResult:
    """Evaluate the last and the best checkpoint on test, then write the predictions and
    ``metrics.json`` (the run is finished) and remove the checkpoints."""
    trained = time.perf_counter()
    results = _test(job, test, state, run, options.save_model)
    timing = {"train_s": trained - started, "eval_s": time.perf_counter() - trained}
    metrics = _metrics(job.config, options, state, results, timing)
    if job.accelerator.is_main_process:
        for which, name in metrics["prediction_files"].items():
            write_jsonl(run.path / name, results[which].records)
        crash_point("predictions-written")
        write_json(run.metrics_file, metrics)  # marks the run finished
        crash_point("metrics-written")
        _drop_checkpoints(run)  # after: a crash before leaves a run that resumes
    job.accelerator.wait_for_everyone()
    return RunResult(run.path, False, metrics)


def _test(
    job: TrainingJob, test: Sequence[Example], state: TrainState, run: RunDir, save_model: bool
) -> dict[str, EvalResult]:
    """The test evaluations of the ``last`` and the ``best`` checkpoint (with ``save_model``
    the selected one is kept in the run's ``model/``); the model holds the best weights after."""
    config, tokenizer, strategy = job.config, job.tokenizer, job.strategy
    model = job.accelerator.unwrap_model(job.model)
    keep = save_model and job.accelerator.is_main_process
    settings = replace(job.eval_settings, generate_rationales=config.generate_rationales)
    results = {"last": evaluate(model, tokenizer, strategy, test, settings, "test")}
    if keep and config.select == "last":
        _save_model(model, tokenizer, run)  # before the best checkpoint replaces it
    if state.best_step == state.step:
        results["best"] = results["last"]
    else:
        load_best(model, strategy, run)
        results["best"] = evaluate(
            model, tokenizer, strategy, test, settings, "test (best checkpoint)"
        )
    if keep and config.select == "best":
        _save_model(model, tokenizer, run)
    return results


def _metrics(
    config: RunConfig,
    options: RunOptions,
    state: TrainState,
    results: dict[str, EvalResult],
    timing: dict[str, float],
) -> dict:
    """The finished run's ``metrics.json``."""
    return {
        "status": FINISHED,
        "suite": options.suite,
        "profile": options.profile,
        "dataset": config.dataset,
        "strategy": config.strategy,
        "seed": config.seed,
        "config_hash": config.config_hash(),
        "selected": config.select,
        "best_step": state.best_step,
        "steps": state.step,
        "valid_best_accuracy": state.best_accuracy,
        "test": {which: results[which].metrics for which in ("best", "last")},
        "primary": results[config.select].metrics,
        "prediction_files": {
            which: RunDir.prediction_file_name(which, which == config.select) for which in results
        },
        "timing": timing,
    }
