"""``run_perf``: both designs side by side on the same examples, weights and step count."""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass

import torch

from bench.config import RunConfig, apply_overrides
from bench.data import Example
from bench.errors import ConfigError
from bench.evaluate import EvalSettings
from bench.models import LoadedModel, load_model
from bench.perf.designs import DESIGNS, CotbenchDesign, Design, ReferenceDesign, to_device
from bench.perf.eval import compare_eval
from bench.perf.measure import (
    USEFUL_FLOPS_FORMULA,
    StepLog,
    Trainee,
    executed_flops,
    matmul_peak,
    peak_step_memory,
    time_training,
    useful_flops,
)
from bench.runner import load_run_data, tokenizer_corpus
from bench.strategy import STRATEGIES

STRATEGY_NAMES = ("dss", "dss+mi")
QUICK = dict(
    model="tiny-t5-s", dataset="synth", batch=4, input_len=48, target_len=48, steps=3, warmup=1
)
QUICK_OVERRIDES = {
    "vocab_size": 120,
    "synth": {"n_train": 48, "n_valid": 8, "n_test": 8, "steps": 2},
    "max_new_tokens": 16,
}


@dataclass(frozen=True)
class PerfSettings:
    """What ``bench perf`` measures (``quick``: the tiny synth set-up, seconds)."""

    model: str = "tiny-t5"
    dataset: str = "cqa"
    batch: int = 32
    input_len: int = 256
    target_len: int = 128
    steps: int = 10
    warmup: int = 2
    threads: int | None = None
    precision: str = "fp32"
    device: str = "cpu"
    eval_examples: int = 256
    matmul_size: int = 2048
    quick: bool = False

    def validate(self) -> PerfSettings:
        for name in ("batch", "input_len", "target_len", "steps", "eval_examples", "matmul_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')}: expected an integer >= 1")
        if self.warmup < 0:
            raise ConfigError("--warmup: expected an integer >= 0")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("--threads: expected an integer >= 1")
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"--device: expected cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available")
        return self

    def run_config(self, strategy: str) -> RunConfig:
        """The run config of one strategy (length grouping and candidate scoring on)."""
        overrides = {
            "dataset": self.dataset,
            "model": self.model,
            "strategy": strategy,
            "mi_variant": "code",
            "batch_size": self.batch,
            "max_input_length": self.input_len,
            "max_target_length": self.target_len,
            "precision": self.precision,
            "length_grouping": True,
            "length_grouping_by": "input-then-target",
            "closed_eval": "score",
            "eval_length_grouping": True,
            "fused_activation": True,
            **(QUICK_OVERRIDES if self.quick else {}),
        }
        return apply_overrides(RunConfig(), overrides).validate()


@dataclass
class Setup:
    """Everything both designs share: examples, the initial model, the device."""

    settings: PerfSettings
    configs: dict[str, RunConfig]
    train: list[Example]
    test: list[Example]
    metric: str
    closed: bool
    loaded: LoadedModel
    device: torch.device

    def designs(self, strategy: str) -> list[Design]:
        """The reference and cotbench designs of ``strategy`` over the training examples."""
        config = self.configs[strategy]
        tokenizer = self.loaded.tokenizer
        fast = STRATEGIES.get(strategy)(config)
        fast.setup(self.loaded.model)
        pairs = [fast.training_pairs(ex, tokenizer.eos_token) for ex in self.train]
        return [
            ReferenceDesign(tokenizer, pairs, self.loaded.model, config),
            CotbenchDesign(tokenizer, pairs, fast.to(self.device), config),
        ]

    def trainee(self, design: Design, strategy: str) -> Trainee:
        """A fresh copy of the initial weights, prepared by ``design``, and a new AdamW."""
        model = design.prepare(copy.deepcopy(self.loaded.model)).to(self.device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=self.configs[strategy].lr)
        return Trainee(design, strategy, model, optimizer)


def prepare(settings: PerfSettings) -> Setup:
    """Load the data and build the model once (seeded), on the chosen device."""
    settings.validate()
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    configs = {name: settings.run_config(name) for name in STRATEGY_NAMES}
    config = configs["dss"]
    splits = load_run_data(config)
    n = settings.steps * settings.batch
    if len(splits.train) < n:
        raise ConfigError(
            f"{settings.dataset}: {len(splits.train)} training examples, --steps x --batch "
            f"needs {n}"
        )
    loaded = load_model(config.model, tokenizer_corpus(splits), config.vocab_size, config.seed)
    return Setup(
        settings,
        configs,
        list(splits.train[:n]),
        list(splits.test[: settings.eval_examples]),
        splits.metric,
        splits.kind == "closed",
        loaded,
        torch.device(settings.device),
    )


def loss_parity(setup: Setup, strategy: str) -> dict[str, float]:
    """Max abs difference of each loss value, both designs on the same examples, fp32, eval."""
    designs = setup.designs(strategy)
    indices = designs[1].indices(0)
    values = []
    with torch.no_grad():
        for design in designs:
            model = design.prepare(copy.deepcopy(setup.loaded.model)).to(setup.device).eval()
            total, parts = design.loss(model, to_device(design.batch(indices), setup.device))
            values.append({"total": total, **parts})
    ref, fast = values
    if ref.keys() != fast.keys():
        raise RuntimeError(f"loss parts differ: {sorted(ref)} vs {sorted(fast)}")
    diffs = {k: abs(float(ref[k]) - float(fast[k])) for k in ref}
    return {**diffs, "max_abs_diff": max(diffs.values())}


def _design_result(
    setup: Setup, trainee: Trainee, log: StepLog, peak_bytes: int, peak_flops: float
) -> dict:
    tokens = log.total_tokens()
    seconds = sum(log.step_s)
    examples = sum(len(b) for b in log.batches)
    useful = useful_flops(trainee.model, tokens)
    executed = 0
    for indices in log.batches:
        batch = to_device(trainee.design.batch(indices), setup.device)
        executed += executed_flops(trainee.design, trainee.model, batch)
    return {
        "seconds": seconds,
        "examples_per_s": examples / seconds,
        "real_tokens_per_s": tokens.real / seconds,
        "data_share": sum(log.data_s) / seconds,
        "padded_share": tokens.padded_share(),
        "peak_step_bytes": peak_bytes,
        "executed_flops": executed,
        "useful_flops": useful,
        "mfu": useful / seconds / peak_flops,
    }


def _train(setup: Setup, peak_flops: float) -> dict:
    """Both designs of both strategies, timed interleaved in one loop (``time_training``)."""
    settings = setup.settings
    trainees = [setup.trainee(d, name) for name in STRATEGY_NAMES for d in setup.designs(name)]
    max_grad_norm = setup.configs["dss"].max_grad_norm
    logs = time_training(
        trainees, settings.steps, settings.warmup, settings.precision, max_grad_norm
    )
    result: dict = {name: {} for name in STRATEGY_NAMES}
    for t in trainees:
        log = logs[t.key]
        largest = max(range(len(log.batches)), key=lambda i: log.tokens[i].computed)
        batch = to_device(t.design.batch(log.batches[largest]), setup.device)
        peak = peak_step_memory(
            lambda t=t, batch=batch: t.step(batch, settings.precision, max_grad_norm),
            setup.device,
        )
        result[t.strategy][t.design.name] = _design_result(setup, t, log, peak, peak_flops)
    for res in result.values():
        res["speedup"] = res["cotbench"]["examples_per_s"] / res["reference"]["examples_per_s"]
    return result


def run_perf(settings: PerfSettings) -> dict:
    """Every measurement of ``bench perf`` as one JSON-ready dict."""
    setup = prepare(settings)
    model = setup.loaded.model
    dtype = torch.bfloat16 if settings.precision == "bf16" else torch.float32
    peak_flops = matmul_peak(dtype, setup.device, 256 if settings.quick else settings.matmul_size)
    train = _train(setup, peak_flops)
    dss, mi = train["dss"], train["dss+mi"]
    memory_ratio = {d: mi[d]["peak_step_bytes"] / dss[d]["peak_step_bytes"] for d in DESIGNS}
    mi_overhead = {d: mi[d]["seconds"] / dss[d]["seconds"] - 1 for d in DESIGNS}
    evaluation = None
    if setup.closed and setup.test:
        config = setup.configs["dss"]
        eval_settings = EvalSettings.for_run(config, setup.metric)
        strategy = STRATEGIES.get("dss")(config)
        evaluation = compare_eval(
            copy.deepcopy(model).to(setup.device),
            setup.loaded.tokenizer,
            strategy,
            setup.test,
            eval_settings,
        )
    return {
        "settings": {
            **asdict(settings),
            "threads": torch.get_num_threads(),
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_examples": len(setup.train),
            "torch": torch.__version__,
            "load_average": os.getloadavg()[0],
        },
        "train": train,
        "parity": {name: loss_parity(setup, name) for name in STRATEGY_NAMES},
        "memory_mi_over_dss": memory_ratio,
        "mi_step_overhead": mi_overhead,
        "flops": {"useful_formula": USEFUL_FLOPS_FORMULA, "matmul_peak_flops": peak_flops},
        "eval": evaluation,
    }
